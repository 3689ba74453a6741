"""The one helper that turns a layer's :class:`ParamSpec` into a shared variable."""

import attrs
import numpy as np
import pytensor

from tgraph.layers.base import REGULARIZABLE, TRAINABLE

__all__ = ["Param", "create_param", "param_prefix"]


@attrs.define(eq=False)
class Param:
    """A model parameter and what tgraph knows about it.

    Attributes:
        variable: the PyTensor shared variable holding the value.
        layer_index: index of the owning layer in the spec list.
        tags: ``trainable`` / ``regularizable``.
        l1, l2: the owning layer's penalties (applied if regularizable).
        max_norm: the owning layer's norm constraint (applied to regularizable params).
    """

    variable: object
    layer_index: int
    tags: frozenset
    l1: float = 0.0
    l2: float = 0.0
    max_norm: float | None = None

    @property
    def name(self):
        """Unique name, ``"<layer index>_<layer name>/<param>"``, e.g. ``"1_dense/W"``."""
        return self.variable.name

    @property
    def trainable(self):
        return TRAINABLE in self.tags

    @property
    def regularizable(self):
        return REGULARIZABLE in self.tags


def param_prefix(index, layer):
    """Name prefix of a layer's parameters: ``"1_dense"`` or ``"1_hidden"`` if named."""
    return f"{index}_{layer.name or type(layer).__name__.lower()}"


def create_param(spec, layer, index, rng, dtype):
    """Create the shared variable for ``spec`` of ``layer``.

    Args:
        spec: the :class:`ParamSpec`.
        layer: the layer spec (its ``l1``, ``l2``, ``max_norm`` fields are read if present).
        index: the layer's index in the spec list.
        rng: ``numpy.random.Generator`` used by the initializer.
        dtype: the parameter dtype, e.g. ``"float32"``.

    Returns:
        A :class:`Param`.
    """
    value = spec.init(spec.shape, rng, fan_in=spec.fan_in, fan_out=spec.fan_out,
                      activation=spec.activation)
    value = np.ascontiguousarray(value, dtype=dtype)
    variable = pytensor.shared(value, name=f"{param_prefix(index, layer)}/{spec.name}",
                               shape=value.shape)
    return Param(variable, index, spec.tags, l1=getattr(layer, "l1", 0.0),
                 l2=getattr(layer, "l2", 0.0), max_norm=getattr(layer, "max_norm", None))
