"""The callback protocol: documented no-op hooks the trainer calls on its events.

Keras' habits: hooks are named ``on_<phase>_<begin|end>``; a callback stops training
by setting ``trainer.stop_training = True``; it resets its own state in
:meth:`Callback.on_train_begin` (unless resumed from a checkpoint).
"""

import numpy as np

from tgraph.errors import ConfigError

__all__ = ["Callback", "Monitor"]


class Callback:
    """Base class of callbacks; override the hooks you need.

    ``self.trainer`` is set before ``on_train_begin``; through it a callback reads the
    model (``trainer.model``), the counters (``trainer.epoch``, ``trainer.iteration``)
    and can evaluate a split (``trainer.evaluate("test")``).
    """

    trainer = None

    def set_trainer(self, trainer):
        """Attach the trainer (called once before training)."""
        self.trainer = trainer

    def on_train_begin(self, logs=None):
        """Training starts (also after a resume, with ``trainer.resumed`` True)."""

    def on_train_end(self, logs=None):
        """Training ended (stopped early, finished, or max epochs reached)."""

    def on_epoch_begin(self, epoch, logs=None):
        """Epoch ``epoch`` (1-based) starts."""

    def on_epoch_end(self, epoch, logs=None):
        """Epoch ``epoch`` ended; ``logs`` holds its mean loss and last validation values."""

    def on_batch_end(self, iteration, logs=None):
        """Minibatch ``iteration`` (1-based count over all epochs) was trained.

        ``logs`` has ``loss``, ``epoch``, ``batch`` (0-based index in the epoch).
        """

    def on_validation_end(self, iteration, logs=None):
        """The validation set was evaluated after ``iteration`` minibatches.

        ``logs`` has ``valid_loss`` and, for classifiers, ``valid_error``.
        """

    def state_dict(self):
        """JSON-able state (numpy arrays allowed) saved in checkpoints."""
        return {}

    def load_state_dict(self, state):
        """Restore a :meth:`state_dict` result (on resume, before ``on_train_begin``)."""


class Monitor:
    """Tracks the best value of a monitored quantity.

    Args:
        monitor: the log key, e.g. ``"valid_error"``.
        mode: ``"min"`` or ``"max"``.
        min_delta: an improvement must exceed the best by more than this.
    """

    def __init__(self, monitor, mode="min", min_delta=0.0):
        if mode not in ("min", "max"):
            raise ConfigError(f"`mode` (={mode!r}) must be 'min' or 'max'")
        if min_delta < 0:
            raise ConfigError(f"`min_delta` (={min_delta!r}) must be >= 0")
        self.monitor, self.mode, self.min_delta = monitor, mode, float(min_delta)
        self.reset()

    def reset(self):
        """Forget the best value."""
        self.best = np.inf if self.mode == "min" else -np.inf

    def value(self, logs):
        """The monitored value in ``logs``, or None if absent."""
        if self.monitor in (logs or {}):
            return float(logs[self.monitor])
        return None

    def improves(self, value):
        """True if ``value`` beats the best by more than ``min_delta``."""
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta
