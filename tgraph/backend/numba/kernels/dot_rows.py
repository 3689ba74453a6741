"""Numba kernel of ``C (+)= alpha A @ W.T`` for a few rows of ``A``: dot products of rows.

An RBM's visible step ``h @ W.T`` (minibatch of 10, ``W`` (784, 1000)) and a layer's
input gradient ``delta @ W.T`` read ``W`` across its rows. The tiled kernel
(:mod:`.gemm`) would copy ``W`` into panels first (worse than BLAS below 64 rows), and
BLAS is slow in that orientation. Here every value of ``C`` is the dot product of a row
of ``A`` with a row of ``W``, both contiguous: a tile of ``ROWS`` rows of ``A`` by
``COLS`` rows of ``W`` keeps ``ROWS x COLS`` accumulators of ``LANES`` floats in vector
registers, fed by one contiguous load a row a step, and ``W`` is read once from memory
(its ``COLS`` rows stay in L1 while the row tiles of ``A`` pass over them).

* The lanes of an accumulator are summed in a fixed tree (8, 4, 2, 1 lanes), then the
  tail of ``K`` beyond a multiple of ``LANES`` is added in order: every value is computed
  with the same operations in the same order, whatever the tile it falls in.
* The last tile of a row or column that does not fill a tile overlaps the previous one
  and stores only its new part (``m >= ROWS`` and ``n >= COLS`` are required).

Operands are flat 1-D views with their row strides (the ``K`` stride must be 1), so
the kernel has one signature: compiled once, cached on disk, called through a pointer.
"""

import numba
import numpy as np
from numba.core import types

from tgraph.backend.numba.kernels import gemm as tiled
from tgraph.backend.numba.kernels.gemm import _stack_buffer, flat_view
from tgraph.backend.numba.runtime import opaque
from tgraph.backend.numba.runtime.cache import source_key

__all__ = ["KERNEL", "ROWS", "COLS", "LANES", "MAX_ROWS", "MIN_K", "fits_rows", "dot_rows_into",
           "SOURCE_KEY"]

ROWS = 5  # 5 x 4 accumulators of 16 floats: 20 zmm, + 4 rows of W + 1 row of A
COLS = 4
LANES = 16
# Where it beats OpenBLAS (one thread, with and without OPENBLAS_CORETYPE/L2_SIZE; BLAS
# as W @ h.T, its faster orientation): (10, 1000) @ W.T, W (784, 1000): 0.20 ms, BLAS
# 0.34 (as h @ W.T: 0.58); (10, 400) @ (400, 784): 0.11, 0.14; but (16, 256) @ (256, 784):
# 0.17, 0.10 (16 rows are 4 tiles of 5) and (10, 128) @ (128, 500): 0.045, 0.030 (the
# lane sums of a tile cost ~300 cycles).
MAX_ROWS = 10
MIN_K = 400
_ACC_SIZE = ROWS * COLS * LANES
OPTIONS = tiled.OPTIONS


@numba.njit(**OPTIONS)
def fits_rows(a, b, c):
    """Whether the kernel computes ``c = a @ b`` of float32 arrays (where it is faster than
    BLAS): ``b`` the transpose of a matrix with contiguous rows (``W.T``), ``a`` with
    contiguous rows, ``ROWS`` to :data:`MAX_ROWS` rows, at least :data:`MIN_K` columns of
    ``a`` and ``COLS`` of ``c``, ``c`` with unit column stride. (:func:`dot_rows_into`
    computes any product of at least ``ROWS`` rows and ``COLS`` columns.)"""
    m, n = c.shape
    item = a.itemsize
    return (ROWS <= m <= MAX_ROWS and n >= COLS and a.shape[1] >= MIN_K
            and b.strides[0] == item and b.strides[1] >= 0
            and a.strides[1] == item and a.strides[0] >= 0
            and c.strides[1] == item and c.strides[0] >= 0)


@numba.njit(inline="always", **OPTIONS)
def _tile(a, a0, lda, w, w0, ldw, k, acc):
    """``acc[r, j, 0] = sum_kk a[a0 + r lda + kk] * w[w0 + j ldw + kk]``."""
    for r in range(ROWS):
        for j in range(COLS):
            for v in range(LANES):
                acc[r, j, v] = 0
    k_full = k - k % LANES
    for kk in range(0, k_full, LANES):
        for v in range(LANES):
            x0 = a[np.uint64(a0 + kk + v)]
            x1 = a[np.uint64(a0 + lda + kk + v)]
            x2 = a[np.uint64(a0 + 2 * lda + kk + v)]
            x3 = a[np.uint64(a0 + 3 * lda + kk + v)]
            x4 = a[np.uint64(a0 + 4 * lda + kk + v)]
            for j in range(COLS):
                y = w[np.uint64(w0 + j * ldw + kk + v)]
                acc[0, j, v] += x0 * y
                acc[1, j, v] += x1 * y
                acc[2, j, v] += x2 * y
                acc[3, j, v] += x3 * y
                acc[4, j, v] += x4 * y
    # lane sums in a fixed tree; constant indices only, so the accumulators stay in registers
    for r in range(ROWS):
        for j in range(COLS):
            for v in range(8):
                acc[r, j, v] += acc[r, j, v + 8]
            for v in range(4):
                acc[r, j, v] += acc[r, j, v + 4]
            for v in range(2):
                acc[r, j, v] += acc[r, j, v + 2]
            acc[r, j, 0] += acc[r, j, 1]
    for kk in range(k_full, k):  # the tail of K, in order
        for r in range(ROWS):
            x = a[np.uint64(a0 + r * lda + kk)]
            for j in range(COLS):
                acc[r, j, 0] += x * w[np.uint64(w0 + j * ldw + kk)]


@numba.njit(inline="always", **OPTIONS)
def _store(acc, alpha, accumulate, c, c0, ldc, skip_rows, skip_cols):
    """``c[c0 + r ldc + j] (+)= alpha acc[r, j, 0]`` for ``r >= skip_rows``, ``j >= skip_cols``."""
    for r in range(skip_rows, ROWS):
        base = c0 + r * ldc
        for j in range(skip_cols, COLS):
            if accumulate:
                c[np.uint64(base + j)] += alpha * acc[r, j, 0]
            else:
                c[np.uint64(base + j)] = alpha * acc[r, j, 0]


@numba.njit(**OPTIONS)
def dot_rows_flat(alpha, a, lda, w, ldw, c, ldc, m, n, k, accumulate):
    """``C (+)= alpha A @ W.T`` on flat views: the kernel's one compiled signature.

    Args:
        alpha: float32 scale of the product.
        a, lda: ``A`` (m, k) as a flat float32 view with unit column stride and row
            stride ``lda`` (elements).
        w, ldw: ``W`` (n, k) likewise: the product's right operand is ``W.T``.
        c, ldc: ``C`` (m, n) with unit column stride and row stride ``ldc``.
        m, n, k: the sizes; ``m >= ROWS``, ``n >= COLS``.
        accumulate: add to ``C`` (True) or overwrite it (False).
    """
    acc = numba.carray(_stack_buffer(_ACC_SIZE, c), (ROWS, COLS, LANES))
    for col in range(0, n, COLS):
        skip_cols = max(0, col + COLS - n)
        col -= skip_cols
        for row in range(0, m, ROWS):
            skip_rows = max(0, row + ROWS - m)
            row -= skip_rows
            _tile(a, row * lda, lda, w, col * ldw, ldw, k, acc)
            _store(acc, alpha, accumulate, c, row * ldc + col, ldc, skip_rows, skip_cols)


SOURCE_KEY = source_key([__file__, tiled.__file__, opaque.__file__])
_FLAT = types.Array(types.float32, 1, "C")
_I64 = types.int64
KERNEL = opaque.opaque_kernel(
    dot_rows_flat, (types.float32, _FLAT, _I64, _FLAT, _I64, _FLAT, _I64, _I64, _I64, _I64,
                    types.boolean), SOURCE_KEY, name="tgraph.dot_rows_flat",
    restype=types.none)


@numba.njit(**OPTIONS)
def dot_rows_into(alpha, a, b, accumulate, c):
    """``c (+)= alpha a @ b`` for ``b = W.T``: arrays as :func:`fits_rows` describes them,
    of any ``K`` and at least ``ROWS`` rows and ``COLS`` columns."""
    af, lda, _ = flat_view(a)
    wf, _, ldw = flat_view(b)  # b[kk, j] = W[j, kk] = wf[kk + j ldw]
    cf, ldc, _ = flat_view(c)
    KERNEL(np.float32(alpha), af, lda, wf, ldw, cf, ldc, a.shape[0], b.shape[1],
                   a.shape[1], accumulate)
