"""Weight initializers: frozen specs that draw an array of a given shape.

An initializer is called as ``init(shape, rng, fan_in=..., fan_out=..., activation=...)``
and returns a float64 numpy array; the parameter helper casts it to the model dtype.
``fan_in`` and ``fan_out`` may be None (a parameter where they mean nothing, such as a
normalization scale); the initializers that scale by them (Glorot, He) then raise.
Names usable in specs: ``glorot_uniform`` (alias ``xavier_uniform``), ``glorot_normal``
(``xavier_normal``), ``he_normal``, ``he_uniform``, ``normal``, ``uniform``, ``zeros``,
``ones``, ``constant``, ``orthogonal``.
"""

import attrs
import numpy as np

from tgraph.errors import ConfigError
from tgraph.registry import Registry
from tgraph.validate import Check, positive_float

__all__ = [
    "Initializer",
    "GlorotUniform",
    "GlorotNormal",
    "HeNormal",
    "HeUniform",
    "Normal",
    "Uniform",
    "Zeros",
    "Ones",
    "Constant",
    "Orthogonal",
    "INITIALIZERS",
    "get_initializer",
]

INITIALIZERS = Registry("initializer")

_SIGMOID_GAIN = 4.0  # Glorot & Bengio (2010); the deeplearning.net MLP tutorial


class Initializer:
    """Base class of initializers; subclasses implement ``__call__``."""

    def __call__(self, shape, rng, *, fan_in=None, fan_out=None, activation="linear"):
        """Draw an array.

        Args:
            shape: tuple of ints, the parameter's shape.
            rng: a ``numpy.random.Generator``.
            fan_in: number of inputs feeding one output unit, or None.
            fan_out: number of outputs fed by one input unit, or None.
            activation: name of the activation that follows (used by ``gain="auto"``).

        Returns:
            A float64 array of ``shape``.
        """
        raise NotImplementedError


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_gain = Check("'auto' or a number > 0",
              lambda v: (isinstance(v, str) and v == "auto") or positive_float.accepts(v))


def _glorot_gain(gain, activation):
    if gain == "auto":
        return _SIGMOID_GAIN if activation == "sigmoid" else 1.0
    return float(gain)


def _require_fans(initializer, **fans):
    """Raise a :class:`ConfigError` if a fan the initializer scales by is None."""
    missing = [name for name, fan in fans.items() if fan is None]
    if missing:
        names = " and ".join(f"`{m}`" for m in missing)
        raise ConfigError(
            f"{type(initializer).__name__} scales by {names}, which the parameter's ParamSpec "
            f"leaves None; give ParamSpec({', '.join(f'{m}=...' for m in missing)}) or use an "
            "initializer without fans, e.g. 'zeros', 'ones' or Normal(std=...)."
        )


@INITIALIZERS.register("xavier_uniform")
@INITIALIZERS.register("glorot_uniform")
@attrs.frozen
class GlorotUniform(Initializer):
    """Uniform on ``[-a, a]``, ``a = gain * sqrt(6 / (fan_in + fan_out))``.

    Glorot & Bengio (2010). ``gain="auto"`` is 4 before a sigmoid and 1 otherwise,
    as in the deeplearning.net MLP tutorial.
    """

    gain: float | str = attrs.field(default="auto", validator=_gain)

    def __call__(self, shape, rng, *, fan_in=None, fan_out=None, activation="linear"):
        _require_fans(self, fan_in=fan_in, fan_out=fan_out)
        bound = _glorot_gain(self.gain, activation) * np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-bound, bound, size=shape)


@INITIALIZERS.register("xavier_normal")
@INITIALIZERS.register("glorot_normal")
@attrs.frozen
class GlorotNormal(Initializer):
    """Normal with ``std = gain * sqrt(2 / (fan_in + fan_out))`` (Glorot & Bengio 2010)."""

    gain: float | str = attrs.field(default="auto", validator=_gain)

    def __call__(self, shape, rng, *, fan_in=None, fan_out=None, activation="linear"):
        _require_fans(self, fan_in=fan_in, fan_out=fan_out)
        std = _glorot_gain(self.gain, activation) * np.sqrt(2.0 / (fan_in + fan_out))
        return rng.normal(0.0, std, size=shape)


@INITIALIZERS.register("he_normal")
@attrs.frozen
class HeNormal(Initializer):
    """Normal with ``std = gain * sqrt(2 / fan_in)`` (He et al. 2015)."""

    gain: float = attrs.field(default=1.0, validator=positive_float)

    def __call__(self, shape, rng, *, fan_in=None, fan_out=None, activation="linear"):
        _require_fans(self, fan_in=fan_in)
        return rng.normal(0.0, self.gain * np.sqrt(2.0 / fan_in), size=shape)


@INITIALIZERS.register("he_uniform")
@attrs.frozen
class HeUniform(Initializer):
    """Uniform on ``[-a, a]``, ``a = gain * sqrt(6 / fan_in)`` (He et al. 2015)."""

    gain: float = attrs.field(default=1.0, validator=positive_float)

    def __call__(self, shape, rng, *, fan_in=None, fan_out=None, activation="linear"):
        _require_fans(self, fan_in=fan_in)
        bound = self.gain * np.sqrt(6.0 / fan_in)
        return rng.uniform(-bound, bound, size=shape)


@INITIALIZERS.register("normal")
@attrs.frozen
class Normal(Initializer):
    """Normal with the given ``std`` and ``mean`` (default std 0.01, as in the dropout net)."""

    std: float = attrs.field(default=0.01, validator=positive_float)
    mean: float = 0.0

    def __call__(self, shape, rng, *, fan_in=None, fan_out=None, activation="linear"):
        return rng.normal(self.mean, self.std, size=shape)


@INITIALIZERS.register("uniform")
@attrs.frozen
class Uniform(Initializer):
    """Uniform on ``[low, high)``."""

    low: float = -0.05
    high: float = 0.05

    def __attrs_post_init__(self):
        if not (_is_number(self.low) and _is_number(self.high) and self.low < self.high):
            raise ConfigError(f"Uniform: `low` (={self.low!r}) must be a number < `high` "
                              f"(={self.high!r}).")

    def __call__(self, shape, rng, *, fan_in=None, fan_out=None, activation="linear"):
        return rng.uniform(self.low, self.high, size=shape)


@INITIALIZERS.register("constant")
@attrs.frozen
class Constant(Initializer):
    """Every entry equal to ``value``."""

    value: float = 0.0

    def __call__(self, shape, rng, *, fan_in=None, fan_out=None, activation="linear"):
        return np.full(shape, self.value, dtype=np.float64)


@INITIALIZERS.register("zeros")
@attrs.frozen
class Zeros(Initializer):
    """All zeros (the logistic-regression tutorial's init; the usual bias init)."""

    def __call__(self, shape, rng, *, fan_in=None, fan_out=None, activation="linear"):
        return np.zeros(shape)


@INITIALIZERS.register("ones")
@attrs.frozen
class Ones(Initializer):
    """All ones."""

    def __call__(self, shape, rng, *, fan_in=None, fan_out=None, activation="linear"):
        return np.ones(shape)


@INITIALIZERS.register("orthogonal")
@attrs.frozen
class Orthogonal(Initializer):
    """A (semi-)orthogonal matrix times ``gain`` (Saxe et al. 2014).

    For more than two dimensions the shape is flattened to ``(shape[0], prod(rest))``
    (Lasagne's convention).
    """

    gain: float = attrs.field(default=1.0, validator=positive_float)

    def __call__(self, shape, rng, *, fan_in=None, fan_out=None, activation="linear"):
        if len(shape) < 2:
            raise ConfigError(
                f"`Orthogonal` needs a parameter with 2 or more dimensions, got shape {shape}."
            )
        flat = (shape[0], int(np.prod(shape[1:])))
        u, _, vt = np.linalg.svd(rng.normal(0.0, 1.0, flat), full_matrices=False)
        q = u if u.shape == flat else vt
        return self.gain * q.reshape(shape)


def get_initializer(spec):
    """Turn a name or an initializer into an initializer.

    Args:
        spec: a registered name (``"glorot_uniform"``), or any callable with the
            :class:`Initializer` signature.

    Returns:
        The initializer.

    Raises:
        ConfigError: unknown name, or not callable.
    """
    if isinstance(spec, str):
        return INITIALIZERS.get(spec)()
    if not callable(spec):
        raise ConfigError(
            f"initializer {spec!r} is neither a name nor callable; "
            f"use one of: {', '.join(INITIALIZERS.names())}"
        )
    return spec
