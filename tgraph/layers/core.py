"""Core layers: Input, Dense, Activation, Flatten, Reshape."""

import math

import attrs
import pytensor.tensor as pt

from tgraph.errors import ConfigError, ShapeError, SpecError
from tgraph.init import get_initializer
from tgraph.layers.base import Layer, check_ndim, weight_and_bias
from tgraph.ops.activations import get_activation
from tgraph.validate import (
    boolean,
    int_tuple,
    non_negative_float,
    optional_positive_float,
    positive_int,
)

__all__ = ["Input", "Dense", "Activation", "Flatten", "Reshape", "known_activation", "known_init",
           "CLASSES"]

CLASSES = "classes"
"""``Dense(CLASSES, ...)``: one unit per class, resolved from the data when a run builds the
model (see :func:`tgraph.config.resolve_for_data`)."""


def known_activation(instance, attribute, value):
    """attrs validator: a registered activation name."""
    try:
        get_activation(value)
    except ConfigError as err:
        raise ConfigError(f"{type(instance).__name__}: `{attribute.name}`: {err}") from None


def known_init(instance, attribute, value):
    """attrs validator: an initializer name or object."""
    try:
        get_initializer(value)
    except ConfigError as err:
        raise ConfigError(f"{type(instance).__name__}: `{attribute.name}`: {err}") from None


def _positive_dims(instance, attribute, value):
    if value is None:
        return
    if not isinstance(value, tuple) or not value or not all(
        isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in value
    ):
        raise SpecError(
            f"{type(instance).__name__}: `{attribute.name}` (={value!r}) must be a non-empty "
            "tuple of positive integers, without the batch dimension, e.g. (784,) or (1, 28, 28), "
            "or None (Input()) for the shape of the data's examples."
        )


def _optional_int_tuple(value):
    return None if value is None else int_tuple()(value)


@attrs.frozen
class Input(Layer):
    """The network's input: one example's shape, without the batch dimension.

    Attributes:
        shape: e.g. ``(784,)`` for flat MNIST or ``(1, 28, 28)`` for images (NCHW); None
            (``Input()``): the shape of the data's examples, set when a run builds the
            model from its data (flattened when the next layer takes (batch, features);
            see :func:`tgraph.config.resolve_for_data`).
    """

    shape: tuple | None = attrs.field(default=None, converter=_optional_int_tuple,
                                      validator=_positive_dims)

    def output_shape(self, input_shape):
        if self.shape is None:
            raise ShapeError("Input() has no shape: it takes the shape of the data's examples "
                             "when `tgraph train` (or tgraph.config.resolve_for_data) builds the "
                             "model from its data; give Input(shape=...) to build it without data")
        return (None, *self.shape)

    def apply(self, x, params, ctx):
        return x


def _units(instance, attribute, value):
    if value != CLASSES:
        positive_int(instance, attribute, value)


@attrs.frozen
class Dense(Layer):
    """Fully connected layer ``y = activation(x @ W + b)``.

    Input (N, D) -> output (N, units). ``W`` has shape (D, units), ``b`` (units,).

    Attributes:
        units: number of output units, or ``"classes"`` (:data:`CLASSES`): one unit per
            class of the data, set when a run builds the model from its data.
        activation: activation name (see :mod:`tgraph.ops.activations`).
        use_bias: add a bias ``b`` (not regularized).
        init: initializer of ``W`` (name or object), Glorot uniform by default.
        bias_init: initializer of ``b``.
        l1: L1 penalty ``l1 * sum|W|`` added to the training loss.
        l2: L2 penalty ``l2 * sum(W ** 2)`` added to the training loss.
        max_norm: if set, each column of ``W`` (the weights into one unit) is rescaled
            after every update to have an L2 norm of at most ``max_norm``
            (Srivastava et al. 2014).
    """

    units: int = attrs.field(validator=_units)
    activation: str = attrs.field(default="linear", validator=known_activation)
    use_bias: bool = attrs.field(default=True, validator=boolean)
    init: object = attrs.field(default="glorot_uniform", validator=known_init)
    bias_init: object = attrs.field(default="zeros", validator=known_init)
    l1: float = attrs.field(default=0.0, validator=non_negative_float)
    l2: float = attrs.field(default=0.0, validator=non_negative_float)
    max_norm: float | None = attrs.field(default=None, validator=optional_positive_float)

    def output_shape(self, input_shape):
        check_ndim(input_shape, 2, "(batch, features); insert Flatten() before it")
        if self.units == CLASSES:
            raise ShapeError('Dense("classes") has one unit per class of the data: the number is '
                             "set when `tgraph train` (or tgraph.config.resolve_for_data) builds "
                             "the model from its data; give a number of units to build it without")
        return (input_shape[0], self.units)

    def param_specs(self, input_shape):
        n_in = input_shape[1]
        return weight_and_bias((n_in, self.units), self.units, fan_in=n_in, fan_out=self.units,
                               init=self.init, bias_init=self.bias_init,
                               activation=self.activation, use_bias=self.use_bias)

    def pre_activation(self, x, params, ctx):
        """``x @ W + b`` (N, units)."""
        z = pt.dot(x, params["W"])
        return z + params["b"] if self.use_bias else z

    def apply(self, x, params, ctx):
        return get_activation(self.activation)(self.pre_activation(x, params, ctx))


@attrs.frozen
class Activation(Layer):
    """Applies an activation function; shape unchanged."""

    activation: str = attrs.field(validator=known_activation)

    def pre_activation(self, x, params, ctx):
        """The input itself."""
        return x

    def apply(self, x, params, ctx):
        return get_activation(self.activation)(x)


@attrs.frozen
class Flatten(Layer):
    """Flattens all but the batch dimension: (N, d1, d2, ...) -> (N, d1 * d2 * ...)."""

    def output_shape(self, input_shape):
        if len(input_shape) < 2:
            raise ShapeError(f"needs an input with a batch dimension, got shape {input_shape}")
        return (input_shape[0], math.prod(input_shape[1:]))

    def apply(self, x, params, ctx):
        return x.flatten(2) if x.ndim != 2 else x


def _reshape_target(instance, attribute, value):
    ok = isinstance(value, tuple) and value and all(
        isinstance(d, int) and not isinstance(d, bool) and (d > 0 or d == -1) for d in value
    )
    if not ok or value.count(-1) > 1:
        raise SpecError(
            f"Reshape: `shape` (={value!r}) must be a tuple of positive integers (at most one -1), "
            "without the batch dimension, e.g. (1, 28, 28)."
        )


@attrs.frozen
class Reshape(Layer):
    """Reshapes each example: (N, ...) -> (N, *shape). One entry may be -1 (inferred)."""

    shape: tuple = attrs.field(converter=int_tuple(), validator=_reshape_target)

    def output_shape(self, input_shape):
        size = math.prod(input_shape[1:])
        known = math.prod(d for d in self.shape if d != -1)
        target = tuple(size // known if d == -1 else d for d in self.shape)
        if math.prod(target) != size or (-1 in self.shape and size % known):
            raise ShapeError(
                f"cannot reshape examples of shape {input_shape[1:]} ({size} values) "
                f"to {self.shape}; the target must hold exactly {size} values"
            )
        return (input_shape[0], *target)

    def apply(self, x, params, ctx):
        known = tuple(x.type.shape[1:])
        if None in known:  # no static shape: PyTensor infers the -1 entry at run time
            return x.reshape((x.shape[0], *self.shape))
        return x.reshape((x.shape[0], *self.output_shape((None, *known))[1:]))
