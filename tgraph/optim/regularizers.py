"""L1 and L2 weight penalties, per layer and model-wide, added to the training loss only."""

from typing import ClassVar

import attrs
import pytensor.tensor as pt

from tgraph.errors import SpecError
from tgraph.validate import non_negative_float

__all__ = ["Regularization", "penalty"]


@attrs.frozen
class Regularization:
    """Model-wide penalties on every regularizable parameter (weights, not biases).

    They add to any per-layer ``l1`` / ``l2`` of the layer spec.

    Attributes:
        l1: coefficient of ``sum |W|``.
        l2: coefficient of ``sum W**2`` (the tutorials' ``L2_reg * L2_sqr``).
    """

    field_error: ClassVar[type] = SpecError  # part of the model spec, like the layers

    l1: float = attrs.field(default=0.0, validator=non_negative_float)
    l2: float = attrs.field(default=0.0, validator=non_negative_float)


def penalty(params, regularization=Regularization()):
    """The weight penalty of ``params`` as a symbolic scalar.

    Args:
        params: list of :class:`tgraph.params.Param`.
        regularization: model-wide coefficients added to each layer's own.

    Returns:
        ``sum_p (l1_p * sum|p| + l2_p * sum p**2)`` over regularizable params, or ``None``
        when every coefficient is zero.
    """
    terms = []
    for p in params:
        if not (p.regularizable and p.trainable):
            continue
        l1, l2, w = p.l1 + regularization.l1, p.l2 + regularization.l2, p.variable
        if l1:
            terms.append(pt.cast(l1, w.dtype) * pt.abs(w).sum())
        if l2:
            terms.append(pt.cast(l2, w.dtype) * pt.sqr(w).sum())
    return pt.add(*terms) if len(terms) > 1 else (terms[0] if terms else None)
