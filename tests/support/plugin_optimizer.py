"""An optimizer as another package would ship it (for the entry-point and by-name tests)."""

import attrs
import pytensor.tensor as pt

from tgraph import optim


@attrs.define(eq=False)
class SignSGD(optim.Optimizer):
    """``p <- p - lr * sign(g)``: every step moves each weight by exactly ``lr``."""

    def updates(self, params, grads):
        return [(p, p - pt.cast(self.lr, p.dtype) * pt.sign(g)) for p, g in zip(params, grads)]
