"""Numba code of the pooling ops (:mod:`tgraph.ops.pool`).

The kernels' parallel parts (:mod:`tgraph.backend.numba.kernels.pool`) are compiled once
per dtype and called through pointers (:mod:`tgraph.backend.numba.runtime.opaque`);
window and stride are arguments. A 2x2 max pooling with stride 2 has kernels of its own,
chosen when the op's code is generated (only the one used is compiled).
"""

import numpy as np
from pytensor.link.numba.dispatch.basic import numba_njit, register_funcify_and_cache_key

from tgraph.backend.numba.kernels import pool as kernels
from tgraph.backend.numba.runtime import opaque
from tgraph.backend.numba.runtime.cache import source_key
from tgraph.ops import pool as pool_ops
from tgraph.ops.pool import AvgPool2D, AvgPool2DGrad, MaxPool2D, MaxPool2DGrad

__all__ = ["SOURCE_KEY"]

# Changes to the ops, to this file or to the kernels must invalidate PyTensor's on-disk
# Numba cache of the graphs that use them.
SOURCE_KEY = source_key([pool_ops.__file__, __file__]) + kernels.SOURCE_KEY


def _cache_key(op):
    return f"tgraph.{type(op).__name__}{op.pool}{op.stride}{op.ignore_border}-{SOURCE_KEY}"


@register_funcify_and_cache_key(MaxPool2D)
def _numba_max_pool(op, node=None, **kwargs):
    (kh, kw), (sh, sw) = op.pool, op.stride
    op_out_dims = _numba_out_dims(op)

    dtype = node and node.outputs[0].type.dtype
    if (kh, kw, sh, sw) == (2, 2, 2, 2):  # chosen here: one kernel is compiled, not both
        opaque.prefetch(dtype, kernels.MAX_POOL_2X2_PLANES)

        @numba_njit
        def max_pool2d_2x2(x):
            oh, ow = op_out_dims(x.shape[2], x.shape[3])
            return kernels.max_pool_2x2(np.ascontiguousarray(x), oh, ow)

        return max_pool2d_2x2, _cache_key(op)
    opaque.prefetch(dtype, kernels.MAX_POOL_PLANES)

    @numba_njit
    def max_pool2d_forward(x):
        oh, ow = op_out_dims(x.shape[2], x.shape[3])
        return kernels.max_pool_general(np.ascontiguousarray(x), kh, kw, sh, sw, oh, ow)

    return max_pool2d_forward, _cache_key(op)


@register_funcify_and_cache_key(MaxPool2DGrad)
def _numba_max_pool_grad(op, node=None, **kwargs):
    (kh, kw), (sh, sw) = op.pool, op.stride

    dtype = node and node.outputs[0].type.dtype
    if (kh, kw, sh, sw) == (2, 2, 2, 2):
        opaque.prefetch(dtype, kernels.MAX_POOL_GRAD_2X2_PLANES)

        @numba_njit
        def max_pool2d_grad_2x2(x, out, gz):
            x, out = np.ascontiguousarray(x), np.ascontiguousarray(out)
            return kernels.max_pool_grad_2x2(x, out, np.ascontiguousarray(gz))

        return max_pool2d_grad_2x2, _cache_key(op)
    opaque.prefetch(dtype, kernels.MAX_POOL_GRAD_PLANES)

    @numba_njit
    def max_pool2d_grad(x, out, gz):
        x, out = np.ascontiguousarray(x), np.ascontiguousarray(out)
        return kernels.max_pool_grad_general(x, out, np.ascontiguousarray(gz), kh, kw, sh, sw)

    return max_pool2d_grad, _cache_key(op)


@register_funcify_and_cache_key(AvgPool2D)
def _numba_avg_pool(op, node=None, **kwargs):
    (kh, kw), (sh, sw) = op.pool, op.stride
    op_out_dims = _numba_out_dims(op)
    opaque.prefetch(node and node.outputs[0].type.dtype, kernels.AVG_POOL_PLANES)

    @numba_njit
    def avg_pool2d_forward(x):
        oh, ow = op_out_dims(x.shape[2], x.shape[3])
        return kernels.avg_pool(np.ascontiguousarray(x), kh, kw, sh, sw, oh, ow)

    return avg_pool2d_forward, _cache_key(op)


@register_funcify_and_cache_key(AvgPool2DGrad)
def _numba_avg_pool_grad(op, node=None, **kwargs):
    (kh, kw), (sh, sw) = op.pool, op.stride
    opaque.prefetch(node and node.outputs[0].type.dtype, kernels.AVG_POOL_GRAD_PLANES)

    @numba_njit
    def avg_pool2d_grad(gz, x_hw):
        return kernels.avg_pool_grad(np.ascontiguousarray(gz), x_hw[0], x_hw[1], kh, kw, sh, sw)

    return avg_pool2d_grad, _cache_key(op)


def _numba_out_dims(op):
    """A jitted ``(h, w) -> (oh, ow)`` for ``op``'s configuration."""
    (kh, kw), (sh, sw), ignore = op.pool, op.stride, op.ignore_border

    @numba_njit
    def out_dims(h, w):
        return _nb_out_size(h, kh, sh, ignore), _nb_out_size(w, kw, sw, ignore)

    return out_dims


@numba_njit
def _nb_out_size(size, pool, stride, ignore_border):
    if ignore_border:
        return max(0, (size - pool) // stride + 1)
    if stride >= pool:
        return (size - 1) // stride + 1
    return max(0, (size - 1 - pool + stride) // stride) + 1
