"""JAX implementations of the pooling ops (:mod:`tgraph.ops.pool`).

``jax.lax.reduce_window`` and its VJPs.
"""

import jax
import jax.numpy as jnp
import numpy as np
from pytensor.link.jax.dispatch import jax_funcify

from tgraph.backend.jax.conv import static_size
from tgraph.ops.conv import known_pair
from tgraph.ops.pool import AvgPool2D, AvgPool2DGrad, MaxPool2D, MaxPool2DGrad

__all__ = []


def _windows(op, x, init, combine):
    """``combine`` over each window of ``x`` (padded past the border with ``init``)."""
    (kh, kw), (sh, sw) = op.pool, op.stride
    oh, ow = op.out_dims(x.shape[2], x.shape[3])
    pad_h = max(0, (oh - 1) * sh + kh - x.shape[2])
    pad_w = max(0, (ow - 1) * sw + kw - x.shape[3])
    return jax.lax.reduce_window(x, init, combine, (1, 1, kh, kw), (1, 1, sh, sw),
                                 ((0, 0), (0, 0), (0, pad_h), (0, pad_w)))[:, :, :oh, :ow]


def _max_pool(op):
    """``x -> max_pool(x)`` for ``op``'s window and stride."""
    return lambda x: _windows(op, x, np.array(-np.inf, x.dtype), jax.lax.max)


def _avg_pool(op):
    """``x -> avg_pool(x)``: the mean over the values of each window that exist."""

    def run(x):
        zero = np.array(0, x.dtype)  # a concrete init: JAX then knows the monoid
        counts = _windows(op, jnp.ones((1, 1, *x.shape[2:]), x.dtype), zero, jax.lax.add)
        return _windows(op, x, zero, jax.lax.add) / counts

    return run


@jax_funcify.register(MaxPool2D)
def _jax_max_pool(op, **kwargs):
    return _max_pool(op)


@jax_funcify.register(MaxPool2DGrad)
def _jax_max_pool_grad(op, **kwargs):
    return lambda x, out, gz: jax.vjp(_max_pool(op), x)[1](gz)[0]


@jax_funcify.register(AvgPool2D)
def _jax_avg_pool(op, **kwargs):
    return _avg_pool(op)


@jax_funcify.register(AvgPool2DGrad)
def _jax_avg_pool_grad(op, node, **kwargs):
    known = known_pair(node.inputs[1])

    def run(gz, x_hw):
        hw = [static_size(k, None, f"AvgPool2DGrad axis {a}") for a, k in zip((2, 3), known)]
        x0 = jnp.zeros((*gz.shape[:2], *hw), gz.dtype)
        return jax.vjp(_avg_pool(op), x0)[1](gz)[0]

    return run
