"""The layer protocol: a frozen spec with two pure methods, and its parameter specs.

A layer spec holds configuration only. Building a network asks each layer for
``output_shape(input_shape)`` and ``param_specs(input_shape)``; the network creates the
parameters (through one helper, :func:`tgraph.params.create_param`) and later calls
``apply(x, params, ctx)`` to get the layer's output expression.

Shapes are tuples of ints with ``None`` for the batch dimension: ``(None, 784)``.
"""

import attrs

from tgraph.errors import ShapeError, SpecError

__all__ = [
    "Layer",
    "ParamSpec",
    "ApplyContext",
    "TRAINABLE",
    "REGULARIZABLE",
    "positive_int",
    "non_negative_float",
    "optional_positive_float",
    "int_tuple",
    "check_ndim",
]

TRAINABLE = "trainable"
REGULARIZABLE = "regularizable"


@attrs.frozen
class ParamSpec:
    """What a layer needs as a parameter; the network turns it into a shared variable.

    Attributes:
        name: short name within the layer, e.g. ``"W"`` or ``"b"``.
        shape: tuple of ints.
        init: an initializer (see :mod:`tgraph.ops.init`).
        fan_in: inputs per output unit (for scaled initializers).
        fan_out: outputs per input unit.
        activation: the activation following the parameter (for ``gain="auto"``).
        tags: ``trainable`` and/or ``regularizable`` (biases are not regularizable).
    """

    name: str
    shape: tuple
    init: object
    fan_in: int
    fan_out: int
    activation: str = "linear"
    tags: frozenset = frozenset({TRAINABLE, REGULARIZABLE})


@attrs.frozen
class ApplyContext:
    """What ``apply`` may use besides its input and parameters.

    Attributes:
        deterministic: ``True`` for evaluation and prediction (dropout off).
        random: a :class:`tgraph.random.RandomSource` for stochastic layers, or ``None``
            when ``deterministic`` is ``True``.
        index: the layer's position in the spec list (keys its random stream).
    """

    deterministic: bool
    random: object = None
    index: int = 0


@attrs.frozen(kw_only=True)
class Layer:
    """Base class of layer specs.

    Subclasses override :meth:`output_shape`, :meth:`apply` and, if they have
    parameters, :meth:`param_specs`. Layers with per-layer regularization have
    ``l1`` / ``l2`` fields; layers with a norm constraint have ``max_norm``.

    Attributes:
        name: optional name shown in summaries and parameter names.
    """

    name: str | None = attrs.field(default=None)

    def output_shape(self, input_shape):
        """Shape of the output for an input of ``input_shape`` (batch may be None).

        Raises:
            ShapeError: the layer does not accept this input shape.
        """
        return input_shape

    def param_specs(self, input_shape):
        """The parameters this layer needs for an input of ``input_shape``."""
        return ()

    def apply(self, x, params, ctx):
        """Output expression for input expression ``x``.

        Args:
            x: symbolic input of the shape given to :meth:`output_shape`.
            params: dict of parameter name -> shared variable.
            ctx: an :class:`ApplyContext`.

        Returns:
            The symbolic output. Layers that end in an activation also have
            ``pre_activation(x, params, ctx)``, which the loss uses for logits.
        """
        raise NotImplementedError


def _type_name(instance):
    return type(instance).__name__


def positive_int(instance, attribute, value):
    """attrs validator: an int > 0."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise SpecError(
            f"{_type_name(instance)}: `{attribute.name}` (={value!r}) must be a positive integer."
        )


def non_negative_float(instance, attribute, value):
    """attrs validator: a real number >= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise SpecError(
            f"{_type_name(instance)}: `{attribute.name}` (={value!r}) must be a number >= 0."
        )


def optional_positive_float(instance, attribute, value):
    """attrs validator: ``None`` or a real number > 0."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise SpecError(
            f"{_type_name(instance)}: `{attribute.name}` (={value!r}) must be None or a number > 0."
        )


def int_tuple(n=None):
    """attrs converter: an int or a sequence of ints -> tuple of ints (of length ``n``)."""

    def convert(value):
        if isinstance(value, int) and not isinstance(value, bool) and n is not None:
            return (value,) * n
        try:
            return tuple(value)
        except TypeError:
            return value  # the validator reports it

    return convert


def check_ndim(input_shape, ndim, what):
    """Raise a :class:`ShapeError` unless ``input_shape`` has ``ndim`` dimensions.

    Args:
        input_shape: the shape the layer receives.
        ndim: the number of dimensions it needs (batch included).
        what: the expected layout and how to get it, for the message.
    """
    if len(input_shape) != ndim:
        raise ShapeError(
            f"expects a {ndim}-D input {what}, got shape {_fmt(input_shape)}"
        )


def _fmt(shape):
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + (",)" if len(shape) == 1 else ")")
