"""The optimizer protocol, its base class and the optimizer registry.

An optimizer is any object with one method::

    updates(params, grads) -> list of (shared_variable, new_value_expression)

``params`` are the trainable shared variables, ``grads`` their symbolic gradients.
Everything the optimizer keeps between steps lives in shared variables that appear as
keys of the returned updates, which is how tgraph finds, saves and restores its state.
If the object has a ``lr`` shared variable (as :class:`Optimizer` subclasses do),
learning-rate schedules change it without recompiling.

New optimizers become available by name through :func:`register_optimizer`, or from
another package through the ``tgraph.optimizers`` entry-point group.
"""

import attrs
import numpy as np
import pytensor

from tgraph.errors import ConfigError
from tgraph.registry import Registry
from tgraph.validate import optional_positive_float, positive_float

__all__ = [
    "Optimizer",
    "OPTIMIZERS",
    "register_optimizer",
    "get_optimizer",
    "optimizer_state",
    "learning_rate_of",
    "set_learning_rate",
]

OPTIMIZERS = Registry("optimizer", entry_point_group="tgraph.optimizers")


def register_optimizer(name):
    """Class decorator registering an optimizer under ``name`` (usable in specs and CLI)."""
    return OPTIMIZERS.register(name)


@attrs.define(eq=False)
class Optimizer:
    """Base class: configuration fields plus state kept in shared variables.

    Subclasses are attrs classes that add their hyperparameters as fields and implement
    :meth:`updates`, creating state with :meth:`slot` and :meth:`scalar_state`.

    Attributes:
        learning_rate: the initial step size; the live value is the shared :attr:`lr`.
        clip_norm: if set, all gradients are rescaled together so that their global L2
            norm is at most ``clip_norm`` (Pascanu et al. 2013) before the update.
    """

    learning_rate: float = attrs.field(default=0.01, validator=positive_float)
    clip_norm: float | None = attrs.field(default=None, kw_only=True,
                                          validator=optional_positive_float)
    _state: dict = attrs.field(factory=dict, init=False, repr=False)

    @property
    def lr(self):
        """The learning rate as a float32 shared scalar (created on first use)."""
        if "lr" not in self._state:
            self._state["lr"] = pytensor.shared(np.float32(self.learning_rate), name="optimizer/lr")
        return self._state["lr"]

    def slot(self, param, name):
        """A zero-initialised shared variable shaped like ``param``, kept per (param, name).

        Its name is ``"<param name>/<name>"``, e.g. ``"1_dense/W/velocity"``.
        """
        key = (param, name)
        if key not in self._state:
            value = np.zeros_like(param.get_value(borrow=True))
            self._state[key] = pytensor.shared(value, name=f"{param.name}/{name}",
                                               shape=value.shape)
        return self._state[key]

    def scalar_state(self, name, value=0.0):
        """A float32 shared scalar named ``"optimizer/<name>"`` (e.g. Adam's step count)."""
        if name not in self._state:
            self._state[name] = pytensor.shared(np.float32(value), name=f"optimizer/{name}")
        return self._state[name]

    def updates(self, params, grads):
        """Update pairs for ``params`` given ``grads``.

        Args:
            params: list of trainable shared variables.
            grads: list of symbolic gradients, one per parameter, same shapes.

        Returns:
            List of ``(shared variable, new value)`` pairs, parameters and state.
        """
        raise NotImplementedError


def get_optimizer(spec, **kwargs):
    """Turn a name or an optimizer object into an optimizer.

    Args:
        spec: a registered name (``"adam"``) or an object with an ``updates`` method.
        **kwargs: constructor arguments when ``spec`` is a name (e.g. ``learning_rate``).

    Raises:
        ConfigError: unknown name, or an object without ``updates``.
    """
    if isinstance(spec, str):
        return OPTIMIZERS.get(spec)(**kwargs)
    if isinstance(spec, type):
        spec = spec(**kwargs)
    if not callable(getattr(spec, "updates", None)):
        raise ConfigError(
            f"optimizer {spec!r} has no `updates(params, grads)` method; give a name "
            f"({', '.join(OPTIMIZERS.names())}) or an object with that method"
        )
    return spec


def optimizer_state(updates, params):
    """The state variables in ``updates``: every updated shared variable that is not a param."""
    param_set = set(params)
    return [var for var, _ in updates if var not in param_set]


def learning_rate_of(optimizer):
    """Current learning rate of ``optimizer`` as a float, or None if it has no ``lr``."""
    lr = getattr(optimizer, "lr", None)
    return float(lr.get_value()) if lr is not None and hasattr(lr, "get_value") else None


def set_learning_rate(optimizer, value):
    """Set the live learning rate (no recompilation).

    Raises:
        ConfigError: the optimizer keeps no shared ``lr``.
    """
    lr = getattr(optimizer, "lr", None)
    if lr is None or not hasattr(lr, "set_value"):
        raise ConfigError(
            f"{type(optimizer).__name__} has no shared `lr`; derive it from "
            "tgraph.optim.Optimizer to use learning-rate schedules"
        )
    lr.set_value(np.asarray(value, dtype=lr.dtype))
