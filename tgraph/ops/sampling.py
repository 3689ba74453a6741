"""Binary samples for sampling layers (RBMs, masking corruption)."""

import pytensor.tensor as pt

__all__ = ["bernoulli"]


def bernoulli(probs, uniform):
    """Binary sample ``1 if uniform < probs else 0``, of ``probs``' shape and dtype.

    Args:
        probs: probabilities in [0, 1].
        uniform: uniform [0, 1) numbers of the same shape (e.g. ``ctx.uniform``).
    """
    return pt.cast(pt.lt(uniform, probs), probs.dtype)
