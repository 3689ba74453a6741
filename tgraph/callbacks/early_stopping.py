"""Early stopping: the deeplearning.net tutorials' patience, and epoch-based patience."""

import math

import attrs
import numpy as np

from tgraph.callbacks.base import Callback, Monitor
from tgraph.errors import ConfigError

__all__ = ["TutorialPatience", "EarlyStopping"]


class _RestoresBest:
    """Puts the run's best model (``trainer.best_model``) back at the end of training.

    With ``restore_best`` the callback asks for the best model to be chosen on its own
    monitor and mode (:meth:`best_model_monitor`); it keeps no weights itself.
    """

    def best_model_monitor(self):
        return (self.monitor, self.mode) if self.restore_best else None

    def _restore(self):
        if self.restore_best:
            self.trainer.best_model.restore(self.trainer.model)


def _positive_int(instance, attribute, value):
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{type(instance).__name__}: `{attribute.name}` (={value!r}) must be "
                          "a positive integer")


def _threshold(instance, attribute, value):
    if not 0 < value <= 1:
        raise ConfigError(f"TutorialPatience: `improvement_threshold` (={value!r}) must be in "
                          "(0, 1]")


@attrs.define(eq=False)
class TutorialPatience(_RestoresBest, Callback):
    """Early stopping exactly as in the deeplearning.net tutorials (``logistic_sgd.py``).

    Patience is counted in minibatch iterations. The validation error is computed every
    ``validation_frequency = min(n_train_batches, patience // 2)`` iterations; a new best
    extends patience to ``max(patience, iter * patience_increase)`` only if it beats the
    old best by the factor ``improvement_threshold``; training stops as soon as
    ``patience <= iter``, where ``iter`` is the 0-based index of the minibatch just
    trained. At each new best the test error is computed (logged as ``test_error``).

    Attributes:
        patience: initial patience in minibatches (5000 for logistic regression,
            10000 for the MLP and LeNet).
        patience_increase: factor applied to ``iter`` on a significant improvement (2).
        improvement_threshold: relative improvement considered significant (0.995).
        monitor: the validation quantity (``"valid_error"``, as the tutorials).
        restore_best: put the best-validation weights back when training ends (the
            run's best model, chosen on ``monitor``).
        test_at_best: evaluate the test split at each new best.

    It asks for validation every ``min(n_train_batches, patience // 2)`` minibatches
    and for one step at a time only near the iteration where patience may run out.
    """

    mode = "min"  # the tutorials minimise the validation error

    patience: int = attrs.field(default=5000, validator=_positive_int)
    patience_increase: float = 2
    improvement_threshold: float = attrs.field(default=0.995, validator=_threshold)
    monitor: str = "valid_error"
    restore_best: bool = True
    test_at_best: bool = True
    current_patience: int = attrs.field(init=False)
    best: float = attrs.field(init=False)
    best_iter: int | None = attrs.field(init=False)
    test_error: float | None = attrs.field(init=False)

    def __attrs_post_init__(self):
        self._reset()

    def _reset(self):
        self.current_patience, self.best = self.patience, np.inf
        self.best_iter = self.test_error = None

    def validation_frequency(self, n_train_batches):
        """The tutorials' ``min(n_train_batches, patience // 2)`` (at least 1)."""
        return max(1, min(n_train_batches, self.patience // 2))

    def next_batch_action(self, iteration):
        """Training stops once ``patience <= iteration - 1``: not before that iteration."""
        return max(iteration, math.ceil(self.current_patience) + 1)

    def log_keys(self):
        return {"validation": ("test_error",)} if self.test_at_best else {}

    def on_train_begin(self, logs=None):
        self.trainer.check_monitor(self, self.monitor, "validation")
        if not self.trainer.resumed:
            self._reset()

    def on_validation_end(self, iteration, logs=None):
        value = logs.get(self.monitor)
        it = iteration - 1  # the tutorials' 0-based ``iter``
        if value is not None and value < self.best:
            if value < self.best * self.improvement_threshold:
                self.current_patience = max(self.current_patience, it * self.patience_increase)
            self.best, self.best_iter = value, iteration
            if self.test_at_best:
                self.test_error = self.trainer.evaluate("test").get("error")
                logs["test_error"] = self.test_error

    def on_batch_end(self, iteration, logs=None):
        if self.current_patience <= iteration - 1:
            self.trainer.stop_training = True
            self.trainer.stop_reason = (f"patience {self.current_patience:g} <= iteration "
                                        f"{iteration - 1} (deeplearning.net early stopping)")

    def on_train_end(self, logs=None):
        self._restore()

    def state_dict(self):
        return {"patience": self.current_patience, "best": self.best, "best_iter": self.best_iter,
                "test_error": self.test_error}

    def load_state_dict(self, state):
        self.current_patience, self.best = state["patience"], state["best"]
        self.best_iter, self.test_error = state["best_iter"], state["test_error"]


def _non_negative_int(instance, attribute, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{type(instance).__name__}: `{attribute.name}` (={value!r}) must be "
                          "an integer >= 0 (epochs)")


@attrs.define(eq=False)
class EarlyStopping(_RestoresBest, Callback):
    """Stop when a monitored value has not improved for ``patience`` epochs (Keras, Lightning).

    The value is read from the epoch logs (after that epoch's validation).

    Attributes:
        monitor: log key, default ``"valid_error"``.
        patience: epochs without improvement before stopping.
        min_delta: smallest change counted as an improvement (for patience; the best
            model is the best value, see :class:`tgraph.callbacks.base.BestModel`).
        mode: ``"min"`` or ``"max"``.
        restore_best: put the run's best model (chosen on ``monitor`` and ``mode``)
            back when training ends.
    """

    monitor: str = "valid_error"
    patience: int = attrs.field(default=10, validator=_non_negative_int)
    min_delta: float = 0.0
    mode: str = "min"
    restore_best: bool = True
    tracker: Monitor = attrs.field(init=False)
    wait: int = attrs.field(init=False)
    best_epoch: int | None = attrs.field(init=False)

    def __attrs_post_init__(self):
        self.tracker = Monitor(self.monitor, self.mode, self.min_delta)
        self._reset()

    def _reset(self):
        self.tracker.reset()
        self.wait, self.best_epoch = 0, None

    def on_train_begin(self, logs=None):
        self.trainer.check_monitor(self, self.monitor, "epoch")
        if not self.trainer.resumed:
            self._reset()

    def on_epoch_end(self, epoch, logs=None):
        value = self.tracker.value(logs)
        if value is None or math.isnan(value):
            return
        if self.tracker.improves(value):
            self.tracker.best, self.best_epoch, self.wait = value, epoch, 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.trainer.stop_training = True
            self.trainer.stop_reason = (f"{self.monitor} did not improve for {self.wait} epochs "
                                        f"(best {self.tracker.best:.6g} at epoch {self.best_epoch})")

    def on_train_end(self, logs=None):
        self._restore()

    def state_dict(self):
        return {"best": self.tracker.best, "wait": self.wait, "best_epoch": self.best_epoch}

    def load_state_dict(self, state):
        self.tracker.best, self.wait = state["best"], state["wait"]
        self.best_epoch = state["best_epoch"]
