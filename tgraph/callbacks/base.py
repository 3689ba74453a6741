"""The callback protocol: documented no-op hooks the trainer calls on its events.

Keras' habits: hooks are named ``on_<phase>_<begin|end>``; a callback stops training
by setting ``trainer.stop_training = True``; it resets its own state in
:meth:`Callback.on_train_begin` (unless resumed from a checkpoint).

A callback also declares what the trainer needs to schedule it, through methods with
defaults: :meth:`Callback.validation_frequency`, :meth:`Callback.next_batch_action`,
:meth:`Callback.best_model_monitor`, :meth:`Callback.log_keys` and the
:attr:`Callback.order` attribute. The trainer knows no callback class; it asks these.

The callbacks every run has (a history, the NaN guard) are registered here by the
modules that define them (:func:`register_default_callback`); the trainer asks
:func:`default_callbacks` for them, so it names no callback class either.

"The best model so far" has one owner, the trainer's :class:`BestModel`; callbacks
that restore or save it ask ``trainer.best_model``.
"""

import math

import numpy as np

from tgraph.errors import ConfigError

__all__ = ["Callback", "Monitor", "BestModel", "register_default_callback", "default_callbacks"]

_DEFAULT_FACTORIES = []


def register_default_callback(factory):
    """Make ``factory()`` one of the callbacks every :class:`tgraph.Trainer` run has.

    Args:
        factory: a callable returning a new callback (e.g. the class itself).

    Returns:
        ``factory``, so that this works as a class decorator.
    """
    if factory not in _DEFAULT_FACTORIES:
        _DEFAULT_FACTORIES.append(factory)
    return factory


def default_callbacks():
    """New instances of the registered default callbacks (:class:`tgraph.callbacks.History`
    and :class:`tgraph.callbacks.TerminateOnNaN` once :mod:`tgraph.callbacks` is imported).

    A :class:`tgraph.Trainer` adds them itself (``default_callbacks=True``) unless the
    callbacks it is given already hold one of the same class.
    """
    return [factory() for factory in _DEFAULT_FACTORIES]


class Callback:
    """Base class of callbacks; override the hooks you need.

    ``self.trainer`` is set before ``on_train_begin``; through it a callback reads the
    model (``trainer.model``), the counters (``trainer.epoch``, ``trainer.iteration``),
    the best model so far (``trainer.best_model``) and can evaluate a split
    (``trainer.evaluate("test")``).

    Attributes:
        order: callbacks run in increasing ``order`` (stable for equal values) at every
            event: the default 0; :class:`tgraph.callbacks.History` -20 and
            :class:`tgraph.callbacks.TerminateOnNaN` -10 run first;
            :class:`tgraph.callbacks.ModelCheckpoint` 100 runs last, so that the
            states it saves are up to date.
    """

    trainer = None
    order = 0

    def set_trainer(self, trainer):
        """Attach the trainer (called once before training)."""
        self.trainer = trainer

    # -- what the callback asks of the trainer -------------------------------------------

    def validation_frequency(self, n_batches):
        """How often this callback wants validation, in minibatches.

        Args:
            n_batches: minibatches per epoch.

        Returns:
            An int >= 1, or None for no preference (the default). The trainer validates
            at the smallest frequency asked for (default: once per epoch).
        """
        return None

    def next_batch_action(self, iteration):
        """First iteration >= ``iteration`` whose ``on_batch_end`` may stop training or
        use the weights; None if the callback only watches the losses.

        The trainer runs several steps per call up to that iteration. Default: every
        iteration for a callback that overrides :meth:`on_batch_end`, else None.
        """
        if type(self).on_batch_end is Callback.on_batch_end:
            return None
        return iteration

    def best_model_monitor(self):
        """``(log key, "min" | "max")`` the run's best model must be chosen on for this
        callback (e.g. early stopping that restores the best weights), or None (default).

        All callbacks that ask must agree; the default is ``("valid_error", "min")``.
        """
        return None

    def log_keys(self):
        """Log keys this callback adds: ``{"validation": (...), "epoch": (...)}``.

        A key added to the validation logs also reaches the epoch logs. Asked before
        ``on_train_begin`` (``self.trainer`` may not be set yet). Default: none.
        """
        return {}

    # -- events --------------------------------------------------------------------------

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
        value = (logs or {}).get(self.monitor)
        return None if value is None else float(value)

    def improves(self, value):
        """True if ``value`` beats the best by more than ``min_delta``."""
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta


class BestModel:
    """The best model so far: the weights at the best value of one monitored log key.

    The trainer owns one (``trainer.best_model``) and updates it after every validation
    (for a validation key such as ``valid_error``) or at the end of every epoch (for an
    epoch key such as ``loss``), before the callbacks see the logs. Early stopping
    restores it, :class:`tgraph.callbacks.ModelCheckpoint` writes it to
    ``best.tgraph``, :func:`tgraph.run.train` saves it as ``model.tgraph``. Any
    strict improvement counts (no ``min_delta``: that is a stopping rule's business).

    Args:
        monitor: the log key, default ``"valid_error"``.
        mode: ``"min"`` or ``"max"``.

    Attributes:
        value: the best value (None before the first).
        epoch: the epoch (1-based) of the best value, or None.
        iteration: the iteration of the best value, or None.
        weights: ``{name: array}`` copy of the best weights, or None.
    """

    def __init__(self, monitor="valid_error", mode="min"):
        self._tracker = Monitor(monitor, mode)
        self.reset()

    @property
    def monitor(self):
        return self._tracker.monitor

    @property
    def mode(self):
        return self._tracker.mode

    def reset(self):
        """Forget the best model."""
        self._tracker.reset()
        self.value = self.epoch = self.iteration = self.weights = None

    def observe(self, logs, model, epoch, iteration):
        """Take ``model``'s weights if ``logs`` holds a better value; returns True if so."""
        value = self._tracker.value(logs)
        if value is None or math.isnan(value) or not self._tracker.improves(value):
            return False
        self._tracker.best = self.value = value
        self.epoch, self.iteration = epoch, iteration
        self.weights = model.get_weights()
        return True

    def improved_at(self, iteration):
        """True if the best model is the one of ``iteration``."""
        return self.iteration is not None and self.iteration == iteration

    def restore(self, model):
        """Put the best weights into ``model``; returns False if there is no best yet."""
        if self.weights is None:
            return False
        model.set_weights(self.weights)
        return True

    def state_dict(self):
        return {"monitor": self.monitor, "mode": self.mode, "value": self.value,
                "epoch": self.epoch, "iteration": self.iteration, "weights": self.weights}

    def load_state_dict(self, state):
        """Restore a :meth:`state_dict` of a best model on the same monitor and mode.

        Raises:
            ConfigError: the state was chosen on another monitor or mode.
        """
        if (state["monitor"], state["mode"]) != (self.monitor, self.mode):
            raise ConfigError(
                f"the checkpoint's best model was chosen on {state['monitor']} "
                f"({state['mode']}), this run chooses it on {self.monitor} ({self.mode}); "
                "resume with the same callbacks")
        self.value, self.epoch = state["value"], state["epoch"]
        self.iteration, self.weights = state["iteration"], state["weights"]
        if self.value is not None:
            self._tracker.best = self.value
