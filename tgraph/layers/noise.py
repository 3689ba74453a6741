"""Stochastic layers: Dropout."""

import attrs

from tgraph.layers.base import Layer
from tgraph.ops.dropout import dropout
from tgraph.validate import unit_interval

__all__ = ["Dropout"]


@attrs.frozen
class Dropout(Layer):
    """Sets a random fraction ``rate`` of the inputs to zero during training.

    Inverted dropout: the kept units are scaled by ``1 / (1 - rate)`` in training, so
    evaluation and prediction use the input unchanged (Srivastava et al. 2014).

    Attributes:
        rate: probability of dropping each unit, in [0, 1).
    """

    rate: float = attrs.field(validator=unit_interval.explained("the fraction of units dropped"))

    def apply(self, x, params, ctx):
        if ctx.deterministic or self.rate == 0:
            return x
        return dropout(x, self.rate, ctx.random, key=ctx.index)
