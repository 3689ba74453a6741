"""Learning-rate schedules: they set the optimizer's shared ``lr`` (no recompilation)."""

import math

import attrs

from tgraph.callbacks.base import Callback, Monitor
from tgraph.errors import ConfigError
from tgraph.optim.base import learning_rate_of, set_learning_rate

__all__ = ["StepDecay", "ExponentialDecay", "ReduceLROnPlateau"]


def _factor(instance, attribute, value):
    if not 0 < value < 1:
        raise ConfigError(f"{type(instance).__name__}: `{attribute.name}` (={value!r}) must be "
                          "in (0, 1)")


def _positive_int(instance, attribute, value):
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{type(instance).__name__}: `{attribute.name}` (={value!r}) must be "
                          "a positive integer")


def _non_negative(instance, attribute, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ConfigError(f"{type(instance).__name__}: `{attribute.name}` (={value!r}) must be "
                          "a number >= 0")


class _EpochSchedule(Callback):
    """Sets ``lr = initial * factor(epoch)`` at the start of every epoch."""

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.trainer.model.optimizer
        set_learning_rate(optimizer, optimizer.learning_rate * self.factor(epoch))

    def factor(self, epoch):
        raise NotImplementedError


@attrs.define(eq=False)
class StepDecay(_EpochSchedule):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs.

    ``lr(epoch) = lr0 * gamma ** floor((epoch - 1) / step_size)`` (epochs are 1-based).
    """

    step_size: int = attrs.field(default=10, validator=_positive_int)
    gamma: float = attrs.field(default=0.1, validator=_factor)

    def factor(self, epoch):
        return self.gamma ** ((epoch - 1) // self.step_size)


@attrs.define(eq=False)
class ExponentialDecay(_EpochSchedule):
    """``lr(epoch) = lr0 * gamma ** (epoch - 1)``."""

    gamma: float = attrs.field(default=0.95, validator=_factor)

    def factor(self, epoch):
        return self.gamma ** (epoch - 1)


@attrs.define(eq=False)
class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` after ``patience`` epochs without improvement.

    Attributes:
        monitor: epoch-log key (default ``"valid_loss"``).
        factor: multiplier in (0, 1).
        patience: epochs without improvement before a reduction.
        min_delta, mode: see :class:`tgraph.callbacks.base.Monitor`.
        min_lr: the learning rate never goes below this.
        cooldown: epochs to wait after a reduction before counting again.
    """

    monitor: str = "valid_loss"
    factor: float = attrs.field(default=0.1, validator=_factor)
    patience: int = attrs.field(default=5, validator=_positive_int)
    min_delta: float = 0.0
    mode: str = "min"
    min_lr: float = attrs.field(default=0.0, validator=_non_negative)
    cooldown: int = attrs.field(default=0, validator=_non_negative)
    tracker: Monitor = attrs.field(init=False)
    wait: int = attrs.field(init=False, default=0)
    cooling: int = attrs.field(init=False, default=0)

    def __attrs_post_init__(self):
        self.tracker = Monitor(self.monitor, self.mode, self.min_delta)

    def on_train_begin(self, logs=None):
        self.trainer.check_monitor(self, self.monitor, "epoch")
        if not self.trainer.resumed:
            self.tracker.reset()
            self.wait, self.cooling = 0, 0

    def on_epoch_end(self, epoch, logs=None):
        value = self.tracker.value(logs)
        if value is None or math.isnan(value):
            return
        if self.cooling:
            self.cooling -= 1
        if self.tracker.improves(value):
            self.tracker.best, self.wait = value, 0
        elif not self.cooling:
            self.wait += 1
            if self.wait >= self.patience:
                self._reduce()

    def _reduce(self):
        optimizer = self.trainer.model.optimizer
        set_learning_rate(optimizer, max(learning_rate_of(optimizer) * self.factor, self.min_lr))
        self.wait, self.cooling = 0, self.cooldown

    def state_dict(self):
        return {"best": self.tracker.best, "wait": self.wait, "cooling": self.cooling}

    def load_state_dict(self, state):
        self.tracker.best, self.wait, self.cooling = state["best"], state["wait"], state["cooling"]
