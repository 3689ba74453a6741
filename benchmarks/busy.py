"""A busy machine: busy-loop processes competing for the cores, and the shares they leave.

The scenario of issue 16: with one busy-loop process beside it on the 2 cores, a
framework should keep about one free core's worth (>= 45%) of its idle throughput.
:func:`busy_loops` starts the competing processes (and always ends them);
:func:`busy_summary` turns idle and busy timings into the benchmark's ``busy_share``.
"""

import contextlib
import statistics
import subprocess
import sys

__all__ = ["BUSY_LOOP", "busy_loops", "busy_summary"]

# A pure-Python busy loop: one core's worth of CPU demand, no memory traffic. It says
# "busy" once it runs (after the interpreter's start) and checks every ~10**6 iterations
# (some ms) whether its parent is still the process that started it, so that a benchmark
# killed with SIGKILL (no ``finally``) leaves no loop running.
BUSY_LOOP = """
import os
parent = os.getppid()
print("busy", flush=True)
while os.getppid() == parent:
    for _ in range(1_000_000):
        pass
"""


@contextlib.contextmanager
def busy_loops(count):
    """``count`` busy-loop processes (:data:`BUSY_LOOP`) running while the body runs.

    The body starts once every one of them is looping; they are killed and reaped when
    the body ends, also when it raises (an exception, Ctrl-C's KeyboardInterrupt).

    Args:
        count: number of processes (0: none, the body runs on an idle machine).

    Yields:
        The list of their :class:`subprocess.Popen` objects.
    """
    if count < 0:
        raise ValueError(f"busy_loops: `count` (={count}) must be >= 0")
    procs = []
    try:
        for _ in range(count):
            procs.append(subprocess.Popen([sys.executable, "-c", BUSY_LOOP],
                                          stdin=subprocess.DEVNULL,
                                          stdout=subprocess.PIPE,
                                          stderr=subprocess.DEVNULL, text=True))
        for proc in procs:
            if proc.stdout.readline().strip() != "busy":
                raise RuntimeError(f"busy loop {proc.pid} exited before looping "
                                   f"(exit code {proc.wait()})")
        yield procs
    finally:
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.wait()
            proc.stdout.close()


def _median_rates(timings, batch_size):
    """``{framework: median samples/s}`` of ``{framework: [(seconds, steps, faults)]}``."""
    return {name: statistics.median(steps * batch_size / seconds for seconds, steps, _ in ts)
            for name, ts in timings.items()}


def busy_summary(idle, busy, batch_size, count):
    """The busy-machine figures of one spec.

    Args:
        idle: ``{framework: [(seconds, steps, minor faults) per round]}`` on the idle
            machine ("tgraph" and each timed peer).
        busy: the same with ``count`` busy-loop processes running.
        batch_size: samples per step.
        count: number of busy-loop processes.

    Returns:
        Dict with ``busy_processes`` (``count``), ``busy_samples_per_s`` (tgraph's median
        samples/s on the busy machine), ``busy_share`` (that / tgraph's idle median),
        ``peers_busy_samples_per_s`` and ``peers_busy_share`` ({peer: the same}).
    """
    idle_rates, busy_rates = _median_rates(idle, batch_size), _median_rates(busy, batch_size)
    share = {name: busy_rates[name] / idle_rates[name] for name in busy_rates}
    return {"busy_processes": count,
            "busy_samples_per_s": busy_rates["tgraph"],
            "busy_share": share["tgraph"],
            "peers_busy_samples_per_s": {n: r for n, r in busy_rates.items() if n != "tgraph"},
            "peers_busy_share": {n: s for n, s in share.items() if n != "tgraph"}}
