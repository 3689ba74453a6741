"""Subprocesses that a test interrupts with SIGINT, whatever the test run inherited."""

import signal

__all__ = ["default_sigint"]


def default_sigint():
    """``preexec_fn`` of a subprocess a test sends SIGINT: Python turns SIGINT into
    KeyboardInterrupt only where it starts with the default disposition, and a test run
    started in the background by a non-interactive shell (``cmd &``) inherits SIGINT
    ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
