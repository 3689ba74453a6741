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
    "LocalObjective",
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
    updates: list = attrs.field(factory=list, eq=False)

    def add_update(self, variable, new_value):
        """Record that a training step sets shared ``variable`` to ``new_value``.

        For state a layer carries between steps (persistent Gibbs chains, running
        averages); the training step applies every recorded pair.
        """
        self.updates.append((variable, new_value))


@attrs.frozen
class LocalObjective:
    """What an unsupervised layer trains on its own (see :meth:`Layer.local_objective`).

    Attributes:
        cost: scalar whose gradient with respect to the layer's trainable parameters is
            the training direction (it need not be a loss: for contrastive divergence it
            is a free-energy difference with the chain end held constant).
        monitors: ``{name: scalar}`` quantities to report; the first one is the value a
            pretraining phase logs as its ``loss`` (lower is better).
    """

    cost: object
    monitors: dict = attrs.field(factory=dict)


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

    def local_objective(self, x, params, ctx):
        """The layer's own training objective on input ``x``, or None (the default).

        Layers trained greedily before supervised fine-tuning (RBMs, autoencoders)
        return a :class:`LocalObjective`; they record state updates (persistent chains)
        with ``ctx.add_update``.

        Args:
            x: symbolic input batch (static batch size).
            params: dict of the layer's parameters plus its local state (see
                :meth:`local_state_specs`).
            ctx: an :class:`ApplyContext` with ``deterministic=False``.
        """
        return None

    def local_state_specs(self, input_shape, batch_size):
        """Non-trainable state the local objective keeps between steps (default none).

        Created by the pretraining phase, which knows the batch size, e.g. an RBM's
        persistent chain of shape (batch_size, units).
        """
        return ()


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
