"""The layer protocol: a frozen spec, its parameter specs and the context of ``apply``.

A layer spec holds configuration only. Building a network asks each layer for
``output_shape(input_shape)`` and ``param_specs(input_shape)``; the network creates the
parameters (through one helper, :func:`tgraph.params.create_param`) and later calls
``apply(x, params, ctx)`` to get the layer's output expression. Two more methods have
defaults that most layers keep: ``pre_activation`` (the logits under a final activation)
and ``local_objective`` (a cost the layer can be trained on by itself, for unsupervised
pretraining).

A layer with state that training changes besides its gradient step (running averages,
persistent Gibbs chains) keeps it in non-trainable parameters and records their new
values with ``ctx.add_update(variable, value)``; the training step applies them, the
evaluation and prediction passes (``ctx.deterministic``) add none.

Shapes are tuples of ints with ``None`` for the batch dimension: ``(None, 784)``.
"""

import operator
from typing import ClassVar

import attrs
from pytensor.compile.sharedvalue import SharedVariable

from tgraph.errors import ShapeError, SpecError, layer_label
from tgraph.init import get_initializer
from tgraph.random import RandomDraws, RandomSource
from tgraph.validate import (
    Check,
    int_tuple,
    non_negative_float,
    optional,
    optional_positive_float,
    positive_int,
)

__all__ = [
    "Layer",
    "ParamSpec",
    "ApplyContext",
    "PassUpdates",
    "LocalObjective",
    "weight_and_bias",
    "TRAINABLE",
    "REGULARIZABLE",
    "WEIGHT_TAGS",
    "BIAS_TAGS",
    "STATE_TAGS",
    "check_ndim",
    # re-exported from tgraph.validate for the modules that import them from here
    "positive_int",
    "non_negative_float",
    "optional_positive_float",
    "int_tuple",
]

TRAINABLE = "trainable"
REGULARIZABLE = "regularizable"
WEIGHT_TAGS = frozenset({TRAINABLE, REGULARIZABLE})  # trained and penalised by l1 / l2
BIAS_TAGS = frozenset({TRAINABLE})  # biases and scales: trained, never penalised
STATE_TAGS = frozenset()  # layer state (running averages): saved with the weights, no gradient


def _as_dims(value):
    """A sequence of integer-like values (numpy ints too) -> tuple of ints."""
    try:
        return tuple(operator.index(d) for d in value)
    except TypeError:
        return value  # the validator reports it


def _as_optional_int(value):
    try:
        return value if value is None else operator.index(value)
    except TypeError:
        return value


_dims = Check("a tuple of positive integers, e.g. (784, 500), or () for a scalar",
              lambda v: isinstance(v, tuple) and all(isinstance(d, int) and d > 0 for d in v))
_param_name = Check("a non-empty string without '/', e.g. 'W'",
                    lambda v: isinstance(v, str) and v != "" and "/" not in v)


@attrs.frozen
class ParamSpec:
    """What a layer needs as a parameter; the network turns it into a shared variable.

    Attributes:
        name: short name within the layer, e.g. ``"W"`` or ``"b"``.
        shape: tuple of ints.
        init: an initializer name (``"ones"``, ``"glorot_uniform"``, ...) or object
            (see :mod:`tgraph.init`); names are resolved on construction.
        fan_in: inputs per output unit, for the initializers scaled by it (Glorot,
            He); None (default) where it means nothing, e.g. a normalization scale.
        fan_out: outputs per input unit (Glorot), or None.
        activation: the activation following the parameter (for ``gain="auto"``).
        tags: :data:`WEIGHT_TAGS` (default: trainable and regularizable),
            :data:`BIAS_TAGS` (trainable only) or :data:`STATE_TAGS` (neither: updated
            by the layer through ``ctx.add_update``, saved with the weights).
    """

    field_error: ClassVar[type] = SpecError

    name: str = attrs.field(validator=_param_name)
    shape: tuple = attrs.field(converter=_as_dims, validator=_dims)
    init: object = attrs.field(converter=get_initializer)
    fan_in: int | None = attrs.field(default=None, converter=_as_optional_int,
                                     validator=optional(positive_int))
    fan_out: int | None = attrs.field(default=None, converter=_as_optional_int,
                                      validator=optional(positive_int))
    activation: str = "linear"
    tags: frozenset = attrs.field(default=WEIGHT_TAGS, converter=frozenset)


def weight_and_bias(weight_shape, units, *, fan_in, fan_out, init, bias_init, activation,
                    use_bias=True):
    """The parameter specs of ``activation(x W + b)``-style layers: ``W`` and ``b``.

    Args:
        weight_shape: shape of ``W``, e.g. ``(D, units)`` (Dense) or
            ``(filters, C, kh, kw)`` (Conv2D).
        units: length of ``b``, the number of output units or channels.
        fan_in: inputs per output unit (``D``; ``C * kh * kw``).
        fan_out: outputs per input unit (``units``; ``filters * kh * kw``).
        init: initializer of ``W`` (name or object).
        bias_init: initializer of ``b``.
        activation: the activation that follows (for ``gain="auto"``).
        use_bias: whether to include ``b``.

    Returns:
        ``(W,)`` or ``(W, b)``: ``W`` trainable and regularizable, ``b`` trainable and
        not regularizable (Lasagne's convention).
    """
    fans = {"fan_in": fan_in, "fan_out": fan_out, "activation": activation}
    weight = ParamSpec("W", weight_shape, init, **fans)
    if not use_bias:
        return (weight,)
    return weight, ParamSpec("b", (units,), bias_init, tags=BIAS_TAGS, **fans)


class PassUpdates:
    """The (shared variable, new value) pairs recorded by the layers of one forward pass.

    Each variable may be updated once per pass; :meth:`add` refuses a second update and
    names both layers.
    """

    def __init__(self):
        self._values = {}  # shared variable -> new value
        self._owners = {}  # shared variable -> label of the layer that added it

    def add(self, variable, value, owner):
        """Record ``variable <- value`` for the layer labelled ``owner``.

        Raises:
            SpecError: ``variable`` is not a shared variable, already has an update in
                this pass, or ``value`` does not fit its type.
        """
        if not isinstance(variable, SharedVariable):
            raise SpecError(
                f"{owner}: add_update needs a shared variable (a parameter of the layer), "
                f"got {variable!r} ({type(variable).__name__})"
            )
        if variable in self._values:
            raise SpecError(
                f"{owner}: {variable.name!r} already has an update in this pass, from "
                f"{self._owners[variable]}; a variable may be updated once per pass: combine "
                "the two new values into one"
            )
        self._values[variable] = _fit_type(variable, value, owner)
        self._owners[variable] = owner

    @property
    def pairs(self):
        """Tuple of ``(shared variable, new value)`` in the order they were added."""
        return tuple(self._values.items())


def _fit_type(variable, value, owner):
    try:
        return variable.type.filter_variable(value, allow_convert=True)
    except TypeError:
        kind = getattr(value, "type", type(value).__name__)
        raise SpecError(
            f"{owner}: the update of {variable.name!r} has type {kind}, the variable "
            f"{variable.type}; cast it, e.g. pytensor.tensor.cast(value, "
            f"{getattr(variable.type, 'dtype', '...')!r})"
        ) from None


def _as_draws(random):
    return RandomDraws(random) if isinstance(random, RandomSource) else random


@attrs.frozen(eq=False)
class ApplyContext:
    """What ``apply`` may use besides its input and parameters, and its update channel.

    The network makes one context per layer and forward pass; the contexts of one pass
    share ``random`` and ``record``, so :attr:`updates` of any of them lists the whole
    pass's updates so far.

    Attributes:
        deterministic: ``True`` for evaluation and prediction (dropout off, running
            averages instead of batch statistics, no updates).
        random: the pass's :class:`tgraph.random.RandomDraws` (a
            :class:`tgraph.random.RandomSource` given here is wrapped in one), or
            ``None`` when ``deterministic`` is ``True``.
        index: the layer's position in the spec list (keys its random stream).
        label: the layer as messages name it, e.g. ``"layer 2 (BatchNorm)"``.
        record: the pass's :class:`PassUpdates`.
    """

    deterministic: bool
    random: RandomDraws | None = attrs.field(default=None, converter=_as_draws)
    index: int = 0
    label: str | None = None
    record: PassUpdates = attrs.field(factory=PassUpdates, repr=False)

    def for_layer(self, index, layer):
        """The context of layer ``index`` (spec ``layer``) in the same pass."""
        return attrs.evolve(self, index=index, label=layer_label(index, layer))

    def fork(self):
        """A context for a side computation of the same pass whose updates are dropped.

        Its random draws repeat the pass's next ones symbolically (PyTensor merges the
        identical nodes, so both see the same numbers); what it records is not applied.
        """
        random = self.random.fork() if self.random is not None else None
        return attrs.evolve(self, random=random, record=PassUpdates())

    def add_update(self, variable, value):
        """Record ``variable <- value`` for the training step of this pass.

        Args:
            variable: a shared variable, usually one of the layer's non-trainable
                parameters (e.g. a running mean).
            value: its symbolic new value (cast to the variable's dtype if needed).

        Raises:
            SpecError: the pass is deterministic (evaluation and prediction apply no
                updates), the variable already has an update in this pass, or the
                value does not fit the variable.
        """
        owner = self.label or f"layer {self.index}"
        if self.deterministic:
            raise SpecError(
                f"{owner}: add_update in a deterministic pass (evaluation or prediction), "
                "which applies no updates; add updates only when not ctx.deterministic"
            )
        if self.random is not None and variable in self.random.generators_drawn:
            raise SpecError(
                f"{owner}: {variable.name!r} is a random generator this pass draws from; "
                "its update is recorded by the draws"
            )
        self.record.add(variable, value, owner)

    def uniform(self, shape, dtype):
        """A uniform [0, 1) draw from this layer's random stream (recorded for the step).

        Raises:
            SpecError: the pass is deterministic and has no random streams.
        """
        if self.random is None:
            raise SpecError(
                f"{self.label or f'layer {self.index}'}: draws random numbers in a "
                "deterministic pass (evaluation or prediction); draw only when not "
                "ctx.deterministic"
            )
        return self.random.uniform(self.index, shape, dtype)

    @property
    def updates(self):
        """The pass's ``(shared variable, new value)`` pairs: random streams, then layers."""
        draws = self.random.updates if self.random is not None else ()
        return (*draws, *self.record.pairs)


def _scalar(instance, attribute, value):
    if getattr(value, "ndim", None) != 0:
        raise SpecError(
            f"LocalObjective: `{attribute.name}` must be a symbolic scalar (ndim 0), got "
            f"{value!r} with ndim {getattr(value, 'ndim', None)}; reduce it, e.g. with .mean()"
        )


def _scalar_dict(instance, attribute, value):
    for name, monitor in value.items():
        if getattr(monitor, "ndim", None) != 0:
            raise SpecError(
                f"LocalObjective: monitor {name!r} must be a symbolic scalar (ndim 0), got "
                f"{monitor!r} with ndim {getattr(monitor, 'ndim', None)}"
            )


@attrs.frozen(eq=False)
class LocalObjective:
    """A layer's own training objective on its input (unsupervised, layer-wise training).

    Returned by :meth:`Layer.local_objective` of layers that can be trained by
    themselves, such as an RBM (contrastive divergence, Hinton 2002) or a denoising
    autoencoder (Vincent et al. 2008), as in greedy layer-wise pretraining (Hinton et
    al. 2006; Bengio et al. 2007).

    Attributes:
        cost: symbolic scalar whose gradient with respect to the layer's trainable
            parameters is the training direction (minimised). It need not be a
            meaningful value by itself: for contrastive divergence it is the free-energy
            difference between the data and the chain's sample, with the sample held
            constant in the gradient.
        monitors: ``{name: symbolic scalar}`` reported during that training, e.g.
            ``{"reconstruction_cross_entropy": ...}``; values to watch, not to minimise.
    """

    cost: object = attrs.field(validator=_scalar)
    monitors: dict = attrs.field(factory=dict, converter=dict, validator=_scalar_dict)


@attrs.frozen(kw_only=True)
class Layer:
    """Base class of layer specs.

    Subclasses override :meth:`output_shape`, :meth:`apply` and, if they have
    parameters, :meth:`param_specs`; a layer ending in an activation also overrides
    :meth:`pre_activation`, and a layer that can be trained on its own input
    :meth:`local_objective`. Layers with per-layer regularization have ``l1`` / ``l2``
    fields; layers with a norm constraint have ``max_norm``.

    Attributes:
        name: optional name shown in summaries and parameter names.
    """

    field_error: ClassVar[type] = SpecError  # bad field values raise SpecError

    name: str | None = attrs.field(default=None)

    def output_shape(self, input_shape):
        """Shape of the output for an input of ``input_shape`` (batch may be None).

        Raises:
            ShapeError: the layer does not accept this input shape.
        """
        return input_shape

    def param_specs(self, input_shape):
        """The :class:`ParamSpec` of each parameter for an input of ``input_shape``."""
        return ()

    def apply(self, x, params, ctx):
        """Output expression for input expression ``x``.

        Args:
            x: symbolic input of the shape given to :meth:`output_shape`.
            params: dict of parameter name -> shared variable.
            ctx: an :class:`ApplyContext`; a layer with state records its new values
                with ``ctx.add_update`` when ``ctx.deterministic`` is False.

        Returns:
            The symbolic output.
        """
        raise NotImplementedError

    def pre_activation(self, x, params, ctx):
        """The input of the layer's final activation (its logits), or None.

        A layer overriding it promises ``apply(x) == activation(pre_activation(x))``
        with ``activation`` its field of that name. When the loss has a stable form on
        logits (``nll`` after ``softmax``) and the last layer ends with that activation,
        the network gives the loss this pre-activation; the layer's output and updates
        still come from :meth:`apply` (the shared subexpressions are computed once).
        The default, None, means the layer has no separate activation.

        Args:
            x, params: as for :meth:`apply`.
            ctx: a fork of the pass's context (:meth:`ApplyContext.fork`): its random
                draws repeat those of :meth:`apply`, its updates are dropped.

        Returns:
            The symbolic pre-activation, or None.
        """
        return None

    def local_objective(self, x, params, ctx):
        """The cost of training this layer alone on its input ``x``, or None.

        Layers trained without labels in greedy layer-wise pretraining (an RBM, an
        autoencoder) return a :class:`LocalObjective`; the pretraining step takes the
        gradient of its ``cost`` with respect to this layer's trainable parameters and
        applies ``ctx.updates`` as well (random streams, persistent chains). The
        default, None, means the layer has no such objective.

        Args:
            x: symbolic input batch of the layer: the output of the layers below it,
                computed deterministically.
            params: dict of parameter name -> shared variable.
            ctx: a training (not deterministic) :class:`ApplyContext`: draw with
                ``ctx.uniform``, record chain states with ``ctx.add_update``.

        Returns:
            A :class:`LocalObjective`, or None.
        """
        return None

    def local_state_specs(self, input_shape, batch_size):
        """The state :meth:`local_objective` keeps between steps (default: none).

        Greedy pretraining creates it when it builds the layer's phase, which is when
        the batch size is known, and passes it in ``params`` beside the parameters; the
        layer updates it with ``ctx.add_update``. E.g. an RBM's persistent Gibbs chain
        (Tieleman 2008), of shape (batch_size, units).

        Args:
            input_shape: the layer's input shape, batch ``None``.
            batch_size: examples per minibatch of the phase.

        Returns:
            A tuple of :class:`ParamSpec` with ``tags=STATE_TAGS``.
        """
        return ()


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
