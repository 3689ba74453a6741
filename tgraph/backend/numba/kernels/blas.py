"""The GEMM that tgraph's Numba BLAS ops call: tiled kernel, BLAS by rows, or one BLAS call.

``c <- beta c + alpha a @ b`` in place (:func:`make_gemm`): a float32 product of at
least 5 x 64 values with an inner dimension longer than :data:`SHORT_K` runs on
tgraph's register-tiled kernel (:mod:`.gemm`; 1.4-3x OpenBLAS's AVX2 kernels on a dense
layer's shapes, split over Numba's threads when large); the others call BLAS ``?gemm``
through Numba's own binding with the transpose flags that avoid copies (on one thread
while a model runs, :mod:`tgraph.backend.threads`; large products as blocks of rows on
Numba's threads, :mod:`.blas_rows`; a few rows times a transpose, ``h @ W.T``, as
``(W @ h.T).T``: :func:`_transposed`, or for 5 to 10 rows in float32 on tgraph's
kernel of dot products of rows, :mod:`.dot_rows`). The kernel of each dtype is compiled
once and called through a pointer (:func:`gemm_kernel`).
"""

import numba
import numpy as np
from numba.core import types
from numba.np.linalg import _BLAS

from tgraph.backend.numba.kernels import blas_rows
from tgraph.backend.numba.kernels import gemm as tiled
from tgraph.backend.numba.kernels import dot_rows, skinny
from tgraph.backend.numba.kernels.blas_rows import PARALLEL_MIN_FMAS as SPLIT_MIN_FMAS
from tgraph.backend.numba.kernels.blas_rows import split_blas_gemm
from tgraph.backend.numba.kernels.dot_rows import dot_rows_into, fits_rows
from tgraph.backend.numba.kernels.gemm import fits, gemm_into
from tgraph.backend.numba.runtime import opaque
from tgraph.backend.numba.runtime.cache import source_key

__all__ = ["make_blas_gemm", "make_gemm", "gemm_kernel", "JIT", "SOURCE_KEY", "SHORT_K",
           "TRANSPOSED_MAX_ROWS", "TRANSPOSED_MIN_K"]

JIT = {"cache": True, "no_cpython_wrapper": False, "error_model": "numpy"}
_KINDS = {"float32": ord("s"), "float64": ord("d")}
SOURCE_KEY = source_key([__file__, blas_rows.__file__, tiled.__file__, dot_rows.__file__,
                         skinny.__file__, opaque.__file__])


def _xxgemm(dtype):
    return _BLAS().numba_xxgemm(types.float32 if dtype == "float32" else types.float64)


TRANSPOSED_MAX_ROWS = 32  # measured faster up to 50 rows; not at 50 with OPENBLAS_CORETYPE
TRANSPOSED_MIN_K = 32  # (20, 10) @ (10, 500): 6.6 us, transposed 12 (the copy back)


@numba.njit(**JIT)
def _transposed(a, b):
    """Whether ``a @ b`` is faster as ``(b.T @ a.T).T``: a few rows of ``a`` times the
    transpose of a C-contiguous matrix (``h @ W.T``, the RBM's visible step, a layer's
    input gradient). OpenBLAS computes that product as ``W @ h.T`` in 0.6-0.7x the time
    (one thread; (10, 1000) @ (1000, 784): 0.58 -> 0.39 ms; with ``OPENBLAS_CORETYPE=Haswell``
    0.77 -> 0.37 ms; batch 1: 0.61 -> 0.22 ms); the (n, m) result is copied back."""
    m, k, n = a.shape[0], a.shape[1], b.shape[1]
    return (m <= TRANSPOSED_MAX_ROWS and m < n and k >= TRANSPOSED_MIN_K
            and b.flags.f_contiguous and not b.flags.c_contiguous)


def make_blas_gemm(dtype):
    """An njit ``gemm(alpha, a, b, beta, c)``: ``c <- beta c + alpha a @ b`` in place, by BLAS.

    ``c`` must be C-contiguous; ``a`` and ``b`` may be C- or F-contiguous (a transpose
    view costs nothing), anything else is copied first. A product :func:`_transposed`
    accepts is computed as ``(b.T @ a.T)`` into a buffer, then copied into ``c``.
    """
    xxgemm = _xxgemm(dtype)
    kind = _KINDS[dtype]
    np_dtype = np.dtype(dtype)
    N, T = ord("N"), ord("T")
    zero = np_dtype.type(0)

    @numba.njit(**JIT)
    def blas_call(alpha, a, b, beta, c):
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

    @numba.njit(**JIT)
    def blas_gemm(alpha, a, b, beta, c):
        if not _transposed(a, b):
            blas_call(alpha, a, b, beta, c)
            return
        c_t = np.empty((c.shape[1], c.shape[0]), c.dtype)
        blas_call(alpha, b.T, a.T, zero, c_t)  # c.T = b.T @ a.T: rows of W, contiguous
        if beta == 0:
            c[...] = c_t.T
        else:
            if beta != 1:
                c *= beta
            c += c_t.T

    return blas_gemm


# A short inner dimension (a weight update x.T @ delta of a minibatch) goes to BLAS:
# one thread, W += x.T @ delta with x (10, 784), delta (10, 1000): tiled 0.43 ms,
# OpenBLAS 0.20 ms (K = 20: 0.58, 0.38; K = 64: 1.32, 1.11; the same with and without
# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE). The tiled kernel pays for long K.
SHORT_K = 64


def make_gemm(dtype):
    """An njit ``gemm(alpha, a, b, beta, c, n_threads)``: ``c <- beta c + alpha a @ b`` in place.

    ``c`` must be C-contiguous. Float32 products of 5 to 10 rows times a transpose
    (``h @ W.T``, K >= 400) run on :mod:`.dot_rows` (on one thread: BLAS splits a large
    one when there are more), those of at least ``ROWS x LANES`` with an inner dimension
    longer than :data:`SHORT_K` on tgraph's tiled kernel (:mod:`.gemm`), those with few
    columns (a classifier's output layer) on :mod:`.skinny` where it beats BLAS, the
    others on BLAS (:mod:`.blas_rows`); large ones are split over ``n_threads`` Numba
    threads, BLAS having one thread under :data:`tgraph.backend.threads.one_pool`.
    """
    blas_gemm = make_blas_gemm(dtype)
    split = split_blas_gemm[dtype]
    if dtype != "float32":
        @numba.njit(**JIT)
        def gemm64(alpha, a, b, beta, c, n_threads):
            if not split(alpha, a, b, beta, c, n_threads):
                blas_gemm(alpha, a, b, beta, c)

        return gemm64

    @numba.njit(**JIT)
    def gemm(alpha, a, b, beta, c, n_threads):
        if fits_rows(a, b, c) and (n_threads < 2 or c.size * a.shape[1] < SPLIT_MIN_FMAS):
            if beta != 0 and beta != 1:
                c *= beta
            dot_rows_into(alpha, a, b, beta != 0, c)
        elif a.shape[1] > SHORT_K and fits(a, b, c):
            if beta != 0 and beta != 1:
                c *= beta
            gemm_into(alpha, a, b, beta != 0, c, n_threads)
        elif skinny.faster_than_blas(a, b, c):  # few columns (a classifier's)
            if beta != 0 and beta != 1:
                c *= beta
            skinny.skinny_into(alpha, a, b, beta != 0, c, n_threads)
        elif not split(alpha, a, b, beta, c, n_threads):
            blas_gemm(alpha, a, b, beta, c)

    return gemm


def _gemm_stand_in(dtype):
    """:func:`make_gemm`'s kernel compiled once, for matrices of any layout, and called
    through a pointer (:func:`tgraph.backend.numba.runtime.opaque.opaque_kernel`): not
    once for each combination of layouts of the ops that call it, inside each of them."""
    scalar = types.float32 if dtype == "float32" else types.float64
    matrix = types.Array(scalar, 2, "A")
    argtypes = (scalar, matrix, matrix, scalar, matrix, types.int64)
    return opaque.opaque_kernel(make_gemm(dtype), argtypes, SOURCE_KEY, name=f"tgraph.gemm_{dtype}",
                                restype=types.none)


_GEMMS = {dtype: _gemm_stand_in(dtype) for dtype in ("float32", "float64")}


def gemm_kernel(dtype):
    """The njit-callable ``gemm(alpha, a, b, beta, c, n_threads)`` of :func:`make_gemm`
    for ``dtype`` (``"float32"`` or ``"float64"``), and the current
    ``numba.get_num_threads()`` (the ``n_threads`` to pass)."""
    opaque.prefetch(dtype, _GEMMS[dtype], skinny.KERNEL, dot_rows.KERNEL)  # by the helper, meanwhile
    return _GEMMS[dtype], numba.get_num_threads()
