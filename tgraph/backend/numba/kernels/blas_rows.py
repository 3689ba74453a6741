"""BLAS products split by rows over Numba's threads.

The products that :mod:`tgraph.backend.numba.kernels.gemm` leaves to BLAS (fewer than 64
columns, as a softmax layer's ``x @ W`` with 10 classes, or float64) still need both
cores: while a model runs, BLAS has one thread (:mod:`tgraph.backend.threads`), so a large one
is cut into ``parts`` blocks of rows of ``C``, each a single-threaded BLAS call on a
Numba thread (``prange``). Every value of ``C`` comes from one call with all of ``K``,
and the blocks depend only on ``parts``: results are the same from run to run (but
OpenBLAS rounds a few rows differently when they start a block: 1 ulp, not the same
bits as one call or another thread count).

Operands are flat views with BLAS's transpose flag and leading dimension, so that the
kernel has one signature per dtype: compiled once, cached on disk, called through a
pointer (:func:`tgraph.backend.numba.runtime.opaque.opaque_kernel`).
"""

import numba
import numpy as np
from numba import prange
from numba.core import types
from numba.np.linalg import _BLAS
from pytensor.link.numba.cache import compile_numba_function_src

from tgraph.backend.numba.kernels import gemm
from tgraph.backend.numba.kernels.gemm import flat_view
from tgraph.backend.numba.runtime import opaque
from tgraph.backend.numba.runtime.cache import source_key

__all__ = ["PARALLEL_MIN_FMAS", "split_blas_gemm"]

PARALLEL_MIN_FMAS = 1 << 20  # BLAS on one thread: ~20 us of work
_N, _T = ord("N"), ord("T")
_OPTIONS = {"error_model": "numpy", "boundscheck": False, "cache": True}
SOURCE_KEY = source_key([__file__, gemm.__file__, opaque.__file__])


_ROWS_SOURCE = """
def rows_kernel(alpha, beta, a, ta, lda, a_step, b, tb, ldb, c, ldc, m, n, k, parts):
    for p in prange(parts):
        r0, r1 = m * p // parts, m * (p + 1) // parts
        scal = np.empty(2, c.dtype)
        scal[0], scal[1] = alpha, beta
        # Row-major C = A B is column-major C' = B' A' (X' = X read column-major).
        xxgemm(kind, tb, ta, n, r1 - r0, k, scal[0:].ctypes, b.ctypes, ldb,
               a[r0 * a_step:].ctypes, lda, scal[1:].ctypes, c[r0 * ldc:].ctypes, ldc)
"""


def _make_rows_kernel(dtype):
    """The parallel kernel for ``dtype`` behind :func:`make_split_blas_gemm`.

    Built from source with the BLAS binding as a global, not a closure cell: the
    kernel is cached on disk, and Numba reloads a parallel function's globals by
    importing its module (``__name__``).
    """
    numba_type = types.float32 if dtype == "float32" else types.float64
    env = {"__name__": __name__, "np": np, "prange": prange,
           "xxgemm": _BLAS().numba_xxgemm(numba_type),
           "kind": ord("s" if dtype == "float32" else "d")}
    rows_kernel = compile_numba_function_src(_ROWS_SOURCE, "rows_kernel", env)
    flat = types.Array(numba_type, 1, "C")
    i64 = types.int64
    argtypes = (numba_type, numba_type, flat, i64, i64, i64, flat, i64, i64, flat, i64, i64,
                i64, i64, i64)
    options = dict(_OPTIONS, cache=False)  # opaque_kernel makes the disk-cached one
    return opaque.opaque_kernel(numba.njit(parallel=True, **options)(rows_kernel), argtypes,
                                SOURCE_KEY, name=f"tgraph.blas_rows_{dtype}",
                                 restype=types.none)


_ROWS_KERNELS = {dtype: _make_rows_kernel(dtype) for dtype in ("float32", "float64")}


@numba.njit(**_OPTIONS)
def _operand(x):
    """``(flag, leading dimension, row step)`` of a 2-D view for column-major BLAS:
    ``N`` for rows of unit stride, ``T`` for columns of unit stride; (0, 0, 0) if neither."""
    item = x.itemsize
    rows, cols = x.shape
    if x.strides[1] == item and x.strides[0] >= cols * item:
        return _N, x.strides[0] // item, x.strides[0] // item
    if x.strides[0] == item and x.strides[1] >= rows * item:
        return _T, x.strides[1] // item, 1
    return 0, 0, 0


def make_split_blas_gemm(dtype):
    """An njit ``split(alpha, a, b, beta, c, parts) -> bool``: ``c <- beta c + alpha a @ b``
    as ``parts`` BLAS calls on Numba's threads, or False (nothing done) if the product is
    too small to split or a layout needs a copy (then call BLAS once)."""
    rows_kernel = _ROWS_KERNELS[dtype]

    @numba.njit(**_OPTIONS)
    def split(alpha, a, b, beta, c, parts):
        m, k = a.shape
        n = b.shape[1]
        if parts < 2 or m < 2 * parts or m * n * k < PARALLEL_MIN_FMAS:
            return False
        ta, lda, a_step = _operand(a)
        tb, ldb, _ = _operand(b)
        if ta == 0 or tb == 0 or c.strides[1] != c.itemsize or min(lda, ldb) < 1:
            return False
        af, bf, cf = flat_view(a)[0], flat_view(b)[0], flat_view(c)[0]
        rows_kernel(alpha, beta, af, ta, lda, a_step, bf, tb, ldb, cf,
                    c.strides[0] // c.itemsize, m, n, k, parts)
        return True

    return split


split_blas_gemm = {dtype: make_split_blas_gemm(dtype) for dtype in ("float32", "float64")}
