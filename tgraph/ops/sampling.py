"""Symbolic random draws for sampling layers: several uniform arrays from one key draw.

A layer that samples many arrays in one step (the k Gibbs steps of an RBM) draws one
``(count, 2)`` block of 64-bit keys from its shared generator and expands each key with
Threefry (:mod:`tgraph.ops.threefry`), so a step has one generator update however many
arrays it samples. The numbers are reproducible in numpy: ``keys =
generator.integers(0, 2**32, size=(count, 2), dtype="int64")`` on a copy of the
generator, then ``tgraph.ops.threefry._uniform_array(keys[i], shape, dtype)``.
"""

import pytensor.tensor as pt
from pytensor.tensor.random import basic as ptrb

from tgraph.ops.threefry import threefry_uniform

__all__ = ["uniform_draws", "bernoulli"]


def uniform_draws(rng, shapes, dtype):
    """Uniform [0, 1) arrays of ``shapes``, from one key draw of the shared generator ``rng``.

    Args:
        rng: a PyTensor shared generator (``RandomSource.generator(key)``).
        shapes: list of shapes (ints or symbolic scalars), one per array.
        dtype: float dtype of the arrays.

    Returns:
        ``(draws, update)``: the list of arrays, and the ``(rng, next_rng)`` pair the
        training step must apply.
    """
    next_rng, keys = ptrb.integers(0, 2**32, size=(len(shapes), 2), rng=rng, dtype="int64",
                                   return_next_rng=True)
    draws = [threefry_uniform(keys[i], shape, dtype) for i, shape in enumerate(shapes)]
    return draws, (rng, next_rng)


def bernoulli(probs, uniform):
    """Binary sample ``1 if uniform < probs else 0``, of ``probs``' shape and dtype.

    Args:
        probs: probabilities in [0, 1].
        uniform: uniform [0, 1) numbers of the same shape.
    """
    return pt.cast(pt.lt(uniform, probs), probs.dtype)
