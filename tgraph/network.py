"""Spec list -> built network: shapes inferred, parameters created, forward expressions.

>>> net = build([Input((784,)), Dense(10, activation="softmax")], seed=1)
>>> net.shapes
((None, 784), (None, 10))
"""

import attrs
import numpy as np
import pytensor
import pytensor.tensor as pt

from tgraph.errors import ConfigError, ShapeError, SpecError, TGraphError, layer_label
from tgraph.layers.base import ApplyContext, Layer
from tgraph.layers.core import Input
from tgraph.params import create_param
from tgraph.random import RandomDraws, RandomSource

__all__ = ["Network", "Forward", "build", "infer_shapes"]

_DTYPES = ("float32", "float64")


@attrs.frozen
class Forward:
    """Symbolic result of running the network on an input.

    Attributes:
        output: the last layer's output.
        pre_activation: the last layer's input to its activation (logits), or None.
        updates: ``(shared variable, new value)`` pairs of the pass: random-stream
            updates, then the layers' own (``ctx.add_update``); empty when
            deterministic.
    """

    output: object
    pre_activation: object
    updates: tuple


@attrs.define(eq=False)
class Network:
    """A built network: its specs, shapes, parameters and random streams.

    Attributes:
        specs: the layer specs (immutable).
        shapes: output shape of each layer, batch dimension ``None``.
        params: list of :class:`tgraph.params.Param`, in layer order.
        dtype: float dtype of parameters and activations.
        random: the :class:`tgraph.random.RandomSource` of stochastic layers.
        seed: the seed parameters and random streams were drawn from.
        legacy_init: whether the parameters were drawn from ``RandomState(seed)``.
    """

    specs: tuple
    shapes: tuple
    params: list
    dtype: str
    random: RandomSource
    seed: int
    legacy_init: bool = False

    @property
    def input_shape(self):
        """Shape of one input batch, e.g. ``(None, 784)``."""
        return self.shapes[0]

    @property
    def output_shape(self):
        """Shape of one output batch, e.g. ``(None, 10)``."""
        return self.shapes[-1]

    def input_variable(self, name="x"):
        """A new symbolic input of the network's input shape and dtype."""
        return pt.tensor(name, dtype=self.dtype, shape=self.input_shape)

    def layer_params(self, index):
        """Dict ``{short name: shared variable}`` of layer ``index``."""
        return {p.name.rsplit("/", 1)[1]: p.variable for p in self.params if p.layer_index == index}

    def context(self, *, deterministic):
        """A new :class:`ApplyContext` for one pass (random streams unless deterministic)."""
        random = None if deterministic else RandomDraws(self.random)
        return ApplyContext(deterministic=deterministic, random=random)

    def forward(self, x, *, deterministic, absorb=None):
        """Symbolic forward pass.

        Args:
            x: symbolic input batch of shape :attr:`input_shape`.
            deterministic: ``True`` for evaluation/prediction (dropout off, no updates).
            absorb: an activation name; if the last layer ends with this activation
                and has a :meth:`~tgraph.layers.Layer.pre_activation`, also return that
                (the logits, for a stable loss).

        Returns:
            A :class:`Forward`.
        """
        ctx = self.context(deterministic=deterministic)
        with pytensor.config.change_flags(floatX=self.dtype):
            x = self._run(x, ctx, range(len(self.specs) - 1))
            x, pre = self._last_layer(x, ctx, absorb)
        return Forward(x, pre, ctx.updates)

    def layer_input(self, x, index):
        """The input of layer ``index`` for network input ``x``, computed deterministically.

        What greedy layer-wise pretraining trains layer ``index`` on (the layers below
        without dropout and with their running averages).
        """
        with pytensor.config.change_flags(floatX=self.dtype):
            return self._run(x, self.context(deterministic=True), range(index))

    def _run(self, x, ctx, indices):
        for i in indices:
            layer = self.specs[i]
            x = layer.apply(x, self.layer_params(i), ctx.for_layer(i, layer))
            x = _restore_static_shape(x, self.shapes[i])
        return x

    def _last_layer(self, x, ctx, absorb):
        """The last layer's output and, if it ends with ``absorb``, its pre-activation."""
        i = len(self.specs) - 1
        layer, params = self.specs[i], self.layer_params(i)
        layer_ctx, pre = ctx.for_layer(i, layer), None
        if absorb and getattr(layer, "activation", None) == absorb:
            pre = layer.pre_activation(x, params, layer_ctx.fork())
        x = layer.apply(x, params, layer_ctx)
        return _restore_static_shape(x, self.shapes[i]), pre

    def num_params(self, index=None):
        """Number of scalar parameters of layer ``index`` (or of the whole network)."""
        return sum(p.variable.get_value(borrow=True).size for p in self.params
                   if index is None or p.layer_index == index)


def _restore_static_shape(x, shape):
    if tuple(x.type.shape[1:]) == tuple(shape[1:]):
        return x
    return pt.specify_shape(x, (None, *shape[1:]))


def _check_specs(specs):
    if not isinstance(specs, (list, tuple)) or not specs:
        raise SpecError("a model is a non-empty list of layer specs, starting with Input(shape=...)")
    for i, layer in enumerate(specs):
        if not isinstance(layer, Layer):
            raise SpecError(
                f"layer {i} is {layer!r} ({type(layer).__name__}), not a layer spec; "
                "use the classes in tgraph.layers, e.g. Dense(500, activation='tanh')"
            )
        try:
            attrs.validate(layer)
        except TGraphError as err:
            raise type(err)(f"{layer_label(i, layer)}: {err}") from None
    if not isinstance(specs[0], Input):
        raise SpecError(
            f"{layer_label(0, specs[0])}: the first layer must be Input(shape=...), "
            "e.g. Input(shape=(784,)) for flat MNIST"
        )
    for i, layer in enumerate(specs[1:], start=1):
        if isinstance(layer, Input):
            raise SpecError(f"{layer_label(i, layer)}: only the first layer may be an Input")


def infer_shapes(specs):
    """Output shape of every layer, checking that each layer accepts its input.

    Args:
        specs: list of layer specs starting with :class:`Input`.

    Returns:
        Tuple of shapes, one per layer (batch dimension ``None``).

    Raises:
        SpecError: the list is malformed or a field is bad.
        ShapeError: a layer does not accept its input shape; the message names the
            layer index and type, the shape it got and what it expects.
    """
    _check_specs(specs)
    shapes, shape = [], None
    for i, layer in enumerate(specs):
        try:
            shape = tuple(layer.output_shape(shape))
        except ShapeError as err:
            raise ShapeError(f"{layer_label(i, layer)}: {err}") from None
        if any(d is not None and d <= 0 for d in shape[1:]):
            raise ShapeError(
                f"{layer_label(i, layer)}: output shape {shape} has an empty dimension; "
                "the input is too small for this layer"
            )
        shapes.append(shape)
    return tuple(shapes)


def build(specs, *, seed=1234, dtype="float32", legacy_init=False):
    """Build a network from a list of layer specs.

    Args:
        specs: list of layer specs; the first is :class:`tgraph.layers.Input`.
        seed: seed of the initializers and of the random streams (dropout).
        dtype: ``"float32"`` (default) or ``"float64"``.
        legacy_init: draw the initial weights, in layer order, from
            ``numpy.random.RandomState(seed)``, the stream of Theano-era scripts
            (``rng = numpy.random.RandomState(23455)``), so that a port of such a
            script starts from its exact weights; initializers then get a
            ``RandomState`` instead of a ``Generator``. Default: a ``Generator``
            seeded by ``SeedSequence([seed, ...])``.

    Returns:
        A :class:`Network` with freshly initialised parameters.

    Raises:
        SpecError, ShapeError, ConfigError: see :func:`infer_shapes`.
    """
    if dtype not in _DTYPES:
        raise SpecError(f"`dtype` (={dtype!r}) must be one of {_DTYPES}")
    specs = tuple(specs) if isinstance(specs, (list, tuple)) else specs
    shapes = infer_shapes(specs)
    if legacy_init:
        init_rng = np.random.RandomState(int(seed))
    else:
        init_rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x1417]))
    params = []
    for i, layer in enumerate(specs):
        input_shape = shapes[i - 1] if i else None
        for spec in _param_specs(layer, i, input_shape):
            params.append(_create_labelled(spec, layer, i, init_rng, dtype))
    return Network(specs, shapes, params, dtype, RandomSource(seed), int(seed),
                   bool(legacy_init))


def _param_specs(layer, index, input_shape):
    """``layer.param_specs``, with a bad :class:`ParamSpec`'s error naming the layer."""
    try:
        return tuple(layer.param_specs(input_shape))
    except TGraphError as err:
        raise type(err)(f"{layer_label(index, layer)}: {err}") from None


def _create_labelled(spec, layer, index, rng, dtype):
    """:func:`create_param`, with an initializer's error naming the layer and parameter."""
    try:
        return create_param(spec, layer, index, rng, dtype)
    except TGraphError as err:
        raise type(err)(f"{layer_label(index, layer)}: parameter `{spec.name}`: {err}") from None
    except AttributeError as err:
        if not isinstance(rng, np.random.RandomState) or err.obj is not rng:
            raise
        raise ConfigError(
            f"{layer_label(index, layer)}: parameter `{spec.name}`: its initializer calls "
            f"`rng.{err.name}`, which numpy.random.RandomState lacks; with legacy_init the "
            "initializers draw from a RandomState: use its methods (uniform, normal, ...) "
            "or set legacy_init = False"
        ) from None
