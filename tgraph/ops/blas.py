"""Numba implementations of PyTensor's BLAS ops, so the Numba backend can fuse updates.

PyTensor's ``GemmOptimizer`` rewrites ``W - lr * (x.T @ delta + c * W)`` (an SGD step
with L2 decay) into one in-place ``Gemm``: ``W <- (1 - lr c) W - lr x.T @ delta``, the
fusion Theano made. PyTensor's Numba linker disables those rewrites because it has no
Numba code for the ops they create; this module provides it (``Dot22``,
``Dot22Scalar``, ``Gemm``, ``Gemv``, ``Ger``) and :func:`tgraph.backend.get_mode`
enables the rewrites. A float32 product of at least 5 x 64 values runs on tgraph's
register-tiled kernel (:mod:`tgraph.ops._gemm_kernels`; 1.4-3x OpenBLAS's AVX2 kernels on
a dense layer's shapes, split over Numba's threads when large); the others call BLAS
``?gemm`` through Numba's own binding with the transpose flags that avoid copies (on
one thread while a model runs, :mod:`tgraph.threads`; large products as blocks of rows
on Numba's threads, :mod:`tgraph.ops._blas_rows`).

Two refinements over PyTensor's rewrites and Theano's ``Gemm``:

* ``Dot22Scalar`` only for a product nobody else reads (:data:`DOT22SCALAR_REWRITE`).
  PyTensor turns ``lr * dot(x.T, delta)`` into ``Dot22Scalar`` even when the plain
  ``dot(x.T, delta)`` is also needed (RMSprop and Adam use ``lr * g`` and ``g ** 2``),
  which computes the weight gradient twice; tgraph's mode uses this rewrite instead.
* ``Gemm`` with ``beta`` not 0 or 1 (an SGD step with L2 decay) scales ``z`` in a
  Numba loop, then calls BLAS with ``beta = 1``: the same products, but OpenBLAS's own
  ``beta`` pass is three times slower than the loop ((784, 500) float32: 50 us, 16 us).
"""

import numba
import numpy as np
from numba.core import types
from numba.np.linalg import _BLAS
from pytensor.graph.rewriting.basic import dfs_rewriter, node_rewriter
from pytensor.link.numba.dispatch.basic import register_funcify_and_cache_key
from pytensor.tensor.blas import Dot22, Dot22Scalar, Gemm, Gemv, _dot22
from pytensor.tensor.math import mul
from pytensor.tensor.rewriting.blas import blas_optdb, local_dot22_to_dot22scalar

from tgraph.ops import _blas_rows, _gemm_kernels, _opaque
from tgraph.ops._blas_rows import split_blas_gemm
from tgraph.ops._gemm_kernels import fits, gemm_into

try:  # PyTensor 3.0 has a Ger op (rank-1 update); 3.1+ removed it
    from pytensor.tensor.blas import Ger
except ImportError:
    Ger = None

__all__ = ["gemm_kernel", "DOT22SCALAR_REWRITE", "TGRAPH_REWRITES_TAG"]

_JIT = {"cache": True, "no_cpython_wrapper": False, "error_model": "numpy"}
_KINDS = {"float32": ord("s"), "float64": ord("d")}
_CACHE_VERSION = 3
_SOURCE_HASH = _opaque.source_key([__file__, _blas_rows.__file__, _gemm_kernels.__file__])


def _xxgemm(dtype):
    return _BLAS().numba_xxgemm(types.float32 if dtype == "float32" else types.float64)


def make_blas_gemm(dtype):
    """An njit ``gemm(alpha, a, b, beta, c)``: ``c <- beta c + alpha a @ b`` in place, by BLAS.

    ``c`` must be C-contiguous; ``a`` and ``b`` may be C- or F-contiguous (a transpose
    view costs nothing), anything else is copied first.
    """
    xxgemm = _xxgemm(dtype)
    kind = _KINDS[dtype]
    np_dtype = np.dtype(dtype)
    N, T = ord("N"), ord("T")

    @numba.njit(**_JIT)
    def blas_gemm(alpha, a, b, beta, c):
        m, k = a.shape
        n = b.shape[1]
        if m == 0 or n == 0:
            return
        if k == 0:
            c *= beta
            return
        # Row-major C = A B is column-major C' = B' A' (X' = X read column-major).
        if b.flags.c_contiguous:
            tb, ldb = N, n
        elif b.flags.f_contiguous:
            tb, ldb = T, k
        else:
            b = np.ascontiguousarray(b)
            tb, ldb = N, n
        if a.flags.c_contiguous:
            ta, lda = N, k
        elif a.flags.f_contiguous:
            ta, lda = T, m
        else:
            a = np.ascontiguousarray(a)
            ta, lda = N, k
        scal = np.empty(2, dtype=np_dtype)
        scal[0], scal[1] = alpha, beta
        xxgemm(kind, tb, ta, n, m, k, scal[0:].ctypes, b.ctypes, ldb, a.ctypes, lda,
               scal[1:].ctypes, c.ctypes, n)

    return blas_gemm


def make_gemm(dtype):
    """An njit ``gemm(alpha, a, b, beta, c, n_threads)``: ``c <- beta c + alpha a @ b`` in place.

    ``c`` must be C-contiguous. Float32 products of at least ``ROWS x LANES`` run on
    tgraph's tiled kernel (:mod:`tgraph.ops._gemm_kernels`), the others on BLAS
    (:mod:`tgraph.ops._blas_rows`); large ones are split over ``n_threads`` Numba
    threads, BLAS having one thread under :data:`tgraph.threads.one_pool`.
    """
    blas_gemm = make_blas_gemm(dtype)
    split = split_blas_gemm[dtype]
    if dtype != "float32":
        @numba.njit(**_JIT)
        def gemm64(alpha, a, b, beta, c, n_threads):
            if not split(alpha, a, b, beta, c, n_threads):
                blas_gemm(alpha, a, b, beta, c)

        return gemm64

    @numba.njit(**_JIT)
    def gemm(alpha, a, b, beta, c, n_threads):
        if a.shape[1] > 0 and fits(a, b, c):
            if beta != 0 and beta != 1:
                c *= beta
            gemm_into(alpha, a, b, beta != 0, c, n_threads)
        elif not split(alpha, a, b, beta, c, n_threads):
            blas_gemm(alpha, a, b, beta, c)

    return gemm


def _gemm_stand_in(dtype):
    """:func:`make_gemm`'s kernel compiled once, for matrices of any layout, and called
    through a pointer (:func:`tgraph.ops._opaque.opaque_kernel`): not once for each
    combination of layouts of the ops that call it, inside each of them."""
    scalar = types.float32 if dtype == "float32" else types.float64
    matrix = types.Array(scalar, 2, "A")
    return _opaque.opaque_kernel(make_gemm(dtype), (scalar, matrix, matrix, scalar, matrix, types.int64),
                         _SOURCE_HASH, name=f"tgraph.gemm_{dtype}", restype=types.none)


_GEMMS = {dtype: _gemm_stand_in(dtype) for dtype in ("float32", "float64")}

DOT22SCALAR_REWRITE = "local_dot22_to_dot22scalar"  # PyTensor's, replaced in tgraph's mode
TGRAPH_REWRITES_TAG = "tgraph_blas"  # selects the rewrites below


@node_rewriter([mul])
def local_dot22_to_dot22scalar_single_client(fgraph, node):
    """PyTensor's ``mul(scalar, Dot22) -> Dot22Scalar``, unless the Dot22 has other clients."""
    for x in node.inputs:
        if x.owner is not None and x.owner.op == _dot22 and len(fgraph.clients[x]) > 1:
            return False
    return local_dot22_to_dot22scalar.transform(fgraph, node)


blas_optdb.register(
    "tgraph_dot22_to_dot22scalar",
    dfs_rewriter(local_dot22_to_dot22scalar_single_client),
    TGRAPH_REWRITES_TAG,
    position=12,
)


def gemm_kernel(dtype):
    """The njit-callable ``gemm(alpha, a, b, beta, c, n_threads)`` of :func:`make_gemm`
    for ``dtype`` (``"float32"`` or ``"float64"``), and the current
    ``numba.get_num_threads()`` (the ``n_threads`` to pass)."""
    _opaque.prefetch(dtype, _GEMMS[dtype])  # compiled by the helper process meanwhile
    return _GEMMS[dtype], numba.get_num_threads()


def _key(op, node, name, n_threads):
    dtypes = "-".join(v.type.dtype for v in node.inputs)
    return (f"tgraph_blas_{name}_{getattr(op, 'inplace', '')}_{dtypes}_threads{n_threads}"
            f"_v{_CACHE_VERSION}_{_SOURCE_HASH}")


@register_funcify_and_cache_key(Dot22)
def _numba_dot22(op, node, **kwargs):
    dtype = node.outputs[0].type.dtype
    gemm, n_threads = gemm_kernel(dtype)
    zero, one = np.dtype(dtype).type(0), np.dtype(dtype).type(1)

    @numba.njit(**_JIT)
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

    @numba.njit(**_JIT)
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

    @numba.njit(**_JIT)
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

    @numba.njit(**_JIT)
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

        @numba.njit(**_JIT)
        def ger(a, alpha, x, y):
            out = a if destructive else a.copy()
            s = alpha.item()
            for i in range(x.shape[0]):
                xi = s * x[i]
                for j in range(y.shape[0]):
                    out[i, j] += xi * y[j]
            return out

        return ger, _key(op, node, "ger", 1)
