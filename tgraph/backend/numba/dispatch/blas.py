"""Numba code of PyTensor's BLAS ops, so the Numba backend can fuse updates.

PyTensor's ``GemmOptimizer`` rewrites ``W - lr * (x.T @ delta + c * W)`` (an SGD step
with L2 decay) into one in-place ``Gemm``: ``W <- (1 - lr c) W - lr x.T @ delta``, the
fusion Theano made. PyTensor's Numba linker disables those rewrites because it has no
Numba code for the ops they create; this module provides it (``Dot22``,
``Dot22Scalar``, ``Gemm``, ``Gemv``, ``Ger``) and tgraph's mode
(:mod:`tgraph.backend.numba.mode`) enables the rewrites. The products run on
:func:`tgraph.backend.numba.kernels.blas.gemm_kernel` (tgraph's tiled kernel or BLAS).

One refinement over Theano's ``Gemm``: with ``beta`` not 0 or 1 (an SGD step with L2
decay) ``z`` is scaled in a Numba loop, then BLAS is called with ``beta = 1``: the same
products, but OpenBLAS's own ``beta`` pass is three times slower than the loop
((784, 500) float32: 50 us, 16 us).
"""

import numba
import numpy as np
from pytensor.link.numba.dispatch.basic import register_funcify_and_cache_key
from pytensor.tensor.blas import Dot22, Dot22Scalar, Gemm, Gemv

from tgraph.backend.numba.kernels.blas import JIT, SOURCE_KEY, gemm_kernel
from tgraph.backend.numba.runtime.cache import source_key

try:  # PyTensor 3.0 has a Ger op (rank-1 update); 3.1+ removed it
    from pytensor.tensor.blas import Ger
except ImportError:
    Ger = None

__all__ = []

_SOURCE_KEY = source_key([__file__]) + SOURCE_KEY  # this module's code and the kernel's


def _key(op, node, name, n_threads):
    dtypes = "-".join(v.type.dtype for v in node.inputs)
    return (f"tgraph_blas_{name}_{getattr(op, 'inplace', '')}_{dtypes}_threads{n_threads}"
            f"_{_SOURCE_KEY}")


@register_funcify_and_cache_key(Dot22)
def _numba_dot22(op, node, **kwargs):
    dtype = node.outputs[0].type.dtype
    gemm, n_threads = gemm_kernel(dtype)
    zero, one = np.dtype(dtype).type(0), np.dtype(dtype).type(1)

    @numba.njit(**JIT)
    def dot22(x, y):
        out = np.empty((x.shape[0], y.shape[1]), dtype=x.dtype)
        gemm(one, x, y, zero, out, n_threads)
        return out

    return dot22, _key(op, node, "dot22", n_threads)


@register_funcify_and_cache_key(Dot22Scalar)
def _numba_dot22scalar(op, node, **kwargs):
    dtype = node.outputs[0].type.dtype
    gemm, n_threads = gemm_kernel(dtype)
    zero = np.dtype(dtype).type(0)

    @numba.njit(**JIT)
    def dot22scalar(x, y, a):
        out = np.empty((x.shape[0], y.shape[1]), dtype=x.dtype)
        gemm(a.item(), x, y, zero, out, n_threads)
        return out

    return dot22scalar, _key(op, node, "dot22scalar", n_threads)


@register_funcify_and_cache_key(Gemm)
def _numba_gemm(op, node, **kwargs):
    dtype = node.outputs[0].type.dtype
    gemm, n_threads = gemm_kernel(dtype)
    inplace = op.inplace
    one = np.dtype(dtype).type(1)

    @numba.njit(**JIT)
    def gemm_op(z, a, x, y, b):
        shape = (x.shape[0], y.shape[1])
        if z.shape != shape:
            z = np.ascontiguousarray(np.broadcast_to(z, shape))
        elif not inplace or not z.flags.c_contiguous:
            z = z.copy()
        beta = b.item()
        if beta == 0:
            z[...] = 0  # BLAS ignores z when beta == 0, but NaN * 0 must not leak
        elif beta != 1:
            z *= beta  # what OpenBLAS's beta pass computes, three times faster
        gemm(a.item(), x, y, one, z, n_threads)
        return z

    return gemm_op, _key(op, node, "gemm", n_threads)


@register_funcify_and_cache_key(Gemv)
def _numba_gemv(op, node, **kwargs):
    inplace = op.inplace

    @numba.njit(**JIT)
    def gemv(y, alpha, a, x, beta):
        out = y if inplace else y.copy()
        b = beta.item()
        prod = alpha.item() * np.dot(np.ascontiguousarray(a), np.ascontiguousarray(x))
        if b == 0:
            out[...] = prod
        else:
            out *= b
            out += prod
        return out

    return gemv, _key(op, node, "gemv", 1)


if Ger is not None:
    @register_funcify_and_cache_key(Ger)
    def _numba_ger(op, node, **kwargs):
        destructive = op.destructive

        @numba.njit(**JIT)
        def ger(a, alpha, x, y):
            out = a if destructive else a.copy()
            s = alpha.item()
            for i in range(x.shape[0]):
                xi = s * x[i]
                for j in range(y.shape[0]):
                    out[i, j] += xi * y[j]
            return out

        return ger, _key(op, node, "ger", 1)
