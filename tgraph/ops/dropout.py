"""Inverted dropout (Srivastava et al. 2014; the deeplearning.net dropout tutorial)."""

import pytensor.tensor as pt

__all__ = ["dropout"]


def dropout(x, rate, random, key=None):
    """Zero each entry of ``x`` with probability ``rate``; scale the rest by ``1/(1-rate)``.

    Args:
        x: symbolic tensor of any shape.
        rate: drop probability in [0, 1).
        random: a :class:`tgraph.random.RandomSource`.
        key: the generator key (the layer index); defaults to a new key.

    Returns:
        Tensor of ``x``'s shape and dtype. Its expectation over the mask equals ``x``.
    """
    if key is None:
        key = len(random.generators)
    u = random.uniform(key, x.shape, x.dtype)
    scale = pt.cast(1.0 / (1.0 - rate), x.dtype)
    return pt.switch(u >= pt.cast(rate, x.dtype), x * scale, pt.zeros((), dtype=x.dtype))
