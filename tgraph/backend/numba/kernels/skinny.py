"""Numba kernel of float32 matrix products with few columns, ``C (+)= alpha A @ B``.

A classifier's output layer has as many columns as classes (10 for MNIST): its
``x @ W`` (600 x 784 @ 784 x 10 for logistic regression) and the weight update
``W -= lr x.T @ g`` (784 x 600 @ 600 x 10) are too narrow for the tiled kernel of
:mod:`.gemm` (64 columns a tile), and OpenBLAS computes them at ~18 GFLOP/s. This kernel
keeps ``COLS`` columns of ``C`` in vector registers at a time, in one of two ways
chosen by the layout of ``A``:

* Rows of ``A`` contiguous (``x @ W``): dot products along K. A tile is ``DOT_ROWS``
  rows by ``COLS`` columns of ``C``, each value a vector of ``VEC`` partial sums (K
  taken ``VEC`` at a time, the rows of ``A`` and the columns of ``B`` read as vectors),
  summed pairwise at the end (:func:`_lane_sum`). ``B`` is packed once per call, its
  columns contiguous and zero-padded to whole vectors and whole tiles; the last
  ``K % VEC`` values of the rows of ``A`` are copied into a zero-padded buffer. The last
  row tile repeats row ``m - 1`` in its missing rows (computed, not stored): any ``m``.
* Columns of ``A`` contiguous (``x.T @ g``): :mod:`.gemm`'s tile on the transposed
  product ``C.T = B.T @ A.T``: ``COLS`` broadcast values of a row of ``B`` times
  ``LANES`` contiguous values of a row of ``x``, stored transposed. ``B`` is read as it
  is (packed with zero columns only if ``n < COLS``); the last tile of a row or column
  overlaps the previous one and stores only its new part (``m >= LANES`` required).

Every ``n`` up to :data:`MAX_COLS` works (padding columns are computed and not stored),
but OpenBLAS is faster for a single column, for wide products with a short K and for
small ones: :func:`faster_than_blas` says where this kernel is used. ``parts`` workers
(a ``prange``) take contiguous ranges of tiles; each value of ``C`` is computed by one
tile with the same operations in the same order whatever the number of workers: results
are bit-identical across thread counts.

Operands are flat 1-D views (:func:`.gemm.flat_view`), so the kernel has one
signature: compiled once, cached on disk, and called through a pointer
(:func:`tgraph.backend.numba.runtime.opaque.opaque_kernel`).
"""

import llvmlite.ir as llvm_ir
import numba
import numpy as np
from numba import prange
from numba.core import types
from numba.extending import intrinsic

from tgraph.backend.numba.kernels import gemm as tiled
from tgraph.backend.numba.kernels.gemm import LANES, OPTIONS, flat_view
from tgraph.backend.numba.runtime import opaque
from tgraph.backend.numba.runtime.cache import source_key

__all__ = ["COLS", "DOT_ROWS", "VEC", "MAX_COLS", "PARALLEL_MIN_FMAS", "SOURCE_KEY", "fits",
           "faster_than_blas", "skinny_flat", "skinny_into", "KERNEL"]

COLS = tiled.ROWS  # 5 columns of C a tile: the broadcast rows of gemm's tile
DOT_ROWS = 4  # 4 x 5 accumulators of VEC floats + 4 row vectors of A + 5 of B: 29 zmm
VEC = 16  # float32 lanes of a 512-bit register
MAX_COLS = 32  # wider products go to the tiled kernel or BLAS
_DOT_SIZE = DOT_ROWS * COLS * VEC
_TAIL_SIZE = DOT_ROWS * VEC
_TILE_SIZE = COLS * LANES
PARALLEL_MIN_FMAS = 1 << 21  # smaller products run on one thread


@numba.njit(**OPTIONS)
def fits(a, b, c):
    """Whether the kernel computes ``c = a @ b`` of float32 arrays: at most
    :data:`MAX_COLS` columns, ``a`` with unit stride along its rows or (for at least
    ``LANES`` rows) along its columns, no negative strides, unit column stride of ``c``."""
    m, k = a.shape
    if c.shape[1] > MAX_COLS or m == 0 or k == 0 or c.strides[1] != c.itemsize:
        return False
    if min(a.strides[0], a.strides[1], b.strides[0], b.strides[1], c.strides[0]) < 0:
        return False
    return a.strides[1] == a.itemsize or (a.strides[0] == a.itemsize and m >= LANES)


@intrinsic
def _lane_sum(typingctx, pointer, offset):
    """The sum of the ``VEC`` float32 values at ``pointer[offset:]``, pairwise in a fixed
    order (lanes ``v`` and ``v + 8``, then ``v + 4``, ...): vector shuffles and adds,
    where LLVM's own code for the loop gathers across the accumulators."""

    def codegen(context, builder, signature, args):
        base = builder.gep(args[0], [args[1]])
        vector = builder.load(builder.bitcast(base, llvm_ir.VectorType(llvm_ir.FloatType(), VEC)
                                              .as_pointer()), align=4)
        width = VEC
        while width > 1:
            width //= 2
            low = builder.shuffle_vector(vector, vector, _lanes(0, width))
            high = builder.shuffle_vector(vector, vector, _lanes(width, width))
            vector = builder.fadd(low, high)
        return builder.extract_element(vector, llvm_ir.Constant(llvm_ir.IntType(32), 0))

    return types.float32(types.CPointer(types.float32), types.int64), codegen


def _lanes(start, count):
    """A shuffle mask selecting lanes ``start .. start + count - 1``."""
    return llvm_ir.Constant(llvm_ir.VectorType(llvm_ir.IntType(32), count),
                            [llvm_ir.Constant(llvm_ir.IntType(32), i)
                             for i in range(start, start + count)])


# Where the kernel beats OpenBLAS (0.3.x as shipped with SciPy, one thread, AVX-512
# kernels: OPENBLAS_CORETYPE unset), measured as BLAS time / kernel time (>1: kernel faster):
# dot form (A's rows contiguous), n = 10: (600, 784) 1.9, (128, 784) 1.8, (600, 500) 1.5,
# (128, 500) 0.95, (20, 784) 0.65, (600, 100) 0.5; n = 16: (600, 784) 0.95.
# Transposed form (A's columns contiguous), n = 10: (784, 600) 3.2, (500, 20) 1.2, (64, 20)
# 1.2, (64, 600) 1.04; n = 16: (128, 600) 1.65, (784, 128) 1.3, (64, 600) 0.77, (784, 20) 0.36.
# n = 1: OpenBLAS 2x faster in both forms.
_DOT_MAX_COLS = 12
_DOT_MIN_AREA = 80_000  # m k
_OUTER_WIDE_MIN_AREA = 64_000  # m k, for n > _DOT_MAX_COLS; and k >= 128
_MIN_COLS = COLS


@numba.njit(**OPTIONS)
def faster_than_blas(a, b, c):
    """Whether :func:`make_gemm <tgraph.backend.numba.kernels.blas.make_gemm>` should
    call this kernel for ``c = a @ b``: :func:`fits`, and a shape where it beats OpenBLAS
    (measured: see the figures above). Between ``COLS`` and :data:`MAX_COLS` columns."""
    m, k = a.shape
    n = c.shape[1]
    if n < _MIN_COLS or not fits(a, b, c):
        return False
    if a.strides[1] == a.itemsize:  # dot products
        return n <= _DOT_MAX_COLS and m * k >= _DOT_MIN_AREA
    return n <= _DOT_MAX_COLS or (m * k >= _OUTER_WIDE_MIN_AREA and k >= 128)


@numba.njit(inline="always", **OPTIONS)
def _dot_step(a, r0, r1, r2, r3, bt, b0, k_pad, kk, acc):
    """``acc[r COLS + j, v] += a[r_r + kk + v] bt[b0 + j k_pad + kk + v]``, v < VEC."""
    for v in range(VEC):
        x0 = a[np.uint64(r0 + kk + v)]
        x1 = a[np.uint64(r1 + kk + v)]
        x2 = a[np.uint64(r2 + kk + v)]
        x3 = a[np.uint64(r3 + kk + v)]
        for j in range(COLS):
            w = bt[np.uint64(b0 + j * k_pad + kk + v)]
            acc[j, v] += x0 * w
            acc[COLS + j, v] += x1 * w
            acc[2 * COLS + j, v] += x2 * w
            acc[3 * COLS + j, v] += x3 * w


@numba.njit(inline="always", **OPTIONS)
def _dot_tile(a, r0, r1, r2, r3, bt, b0, k, k_pad, acc, tail):
    """``acc[r COLS + j, kk % VEC] += a[r_r + kk] bt[b0 + j k_pad + kk]`` (from zero) for
    the rows of ``A`` starting at offsets ``r0..r3`` and ``j < COLS``: ``VEC`` partial sums
    of each value of the tile. The last ``k % VEC`` values of the rows are copied into
    ``tail`` (``DOT_ROWS x VEC``, zero-padded) for one more whole step."""
    for q in range(DOT_ROWS * COLS):
        for v in range(VEC):
            acc[q, v] = 0
    k_vec = k - k % VEC
    for kk in range(0, k_vec, VEC):
        _dot_step(a, r0, r1, r2, r3, bt, b0, k_pad, kk, acc)
    if k_vec < k:
        for v in range(VEC):
            inside = k_vec + v < k
            tail[v] = a[np.uint64(r0 + k_vec + v)] if inside else 0
            tail[VEC + v] = a[np.uint64(r1 + k_vec + v)] if inside else 0
            tail[2 * VEC + v] = a[np.uint64(r2 + k_vec + v)] if inside else 0
            tail[3 * VEC + v] = a[np.uint64(r3 + k_vec + v)] if inside else 0
        # bt is zero-padded to k_pad: its offset is shifted by k_vec instead of tail's
        _dot_step(tail, 0, VEC, 2 * VEC, 3 * VEC, bt, b0 + k_vec, k_pad, 0, acc)


@numba.njit(**OPTIONS)
def _dot_range(alpha, a, lda, bt, c, ldc, m, n, k, accumulate, t0, t1):
    """Tiles ``t0 <= t < t1`` of the dot-product form; tile t is column group
    ``t % n_groups`` of row tile ``t // n_groups``."""
    buffer = tiled._stack_buffer(_DOT_SIZE, c)
    acc = numba.carray(buffer, (DOT_ROWS * COLS, VEC))
    tail = numba.carray(tiled._stack_buffer(_TAIL_SIZE, c), (_TAIL_SIZE,))
    n_groups = (n + COLS - 1) // COLS
    k_pad = _padded(k)
    for t in range(t0, t1):
        row = (t // n_groups) * DOT_ROWS
        col = (t % n_groups) * COLS
        last = m - 1
        _dot_tile(a, row * lda, min(row + 1, last) * lda, min(row + 2, last) * lda,
                  min(row + 3, last) * lda, bt, col * k_pad, k, k_pad, acc, tail)
        for r in range(min(DOT_ROWS, m - row)):
            base = (row + r) * ldc + col
            for j in range(min(COLS, n - col)):
                value = alpha * _lane_sum(buffer, (r * COLS + j) * VEC)
                if accumulate:
                    c[np.uint64(base + j)] += value
                else:
                    c[np.uint64(base + j)] = value


@numba.njit(**OPTIONS)
def _padded(k):
    """``k`` rounded up to whole ``VEC`` lanes: the length of a packed column of ``B``."""
    return ((k + VEC - 1) // VEC) * VEC


@numba.njit(**OPTIONS)
def _outer_range(alpha, bq, sq_k, sq_n, width, x, ldx, c, ldc, m, n, k, accumulate, t0, t1):
    """Tiles ``t0 <= t < t1`` of the transposed form: ``C[i, j] = sum_kk x[kk, i] B[kk, j]``
    with ``x`` (k, m) of row stride ``ldx`` and ``B[kk, j] = bq[kk sq_k + j sq_n]``,
    ``width >= COLS`` columns of it (``n`` of them stored); tile t is column group
    ``t % n_groups`` of row tile ``t // n_groups`` (``LANES`` rows of ``C``). The last
    tile of a row or column overlaps the previous one and stores only its new part."""
    acc = numba.carray(tiled._stack_buffer(_TILE_SIZE, c), (COLS, LANES))
    n_groups = (width + COLS - 1) // COLS
    for t in range(t0, t1):
        row = (t // n_groups) * LANES
        col = (t % n_groups) * COLS
        skip_rows, skip_cols = max(0, row + LANES - m), max(0, col + COLS - width)
        row, col = row - skip_rows, col - skip_cols
        tiled._tile(bq, col * sq_n, sq_n, sq_k, x, row, ldx, k, acc)
        for j in range(skip_cols, min(COLS, n - col)):
            for v in range(skip_rows, LANES):
                value = alpha * acc[j, v]
                index = np.uint64((row + v) * ldc + col + j)
                if accumulate:
                    c[index] += value
                else:
                    c[index] = value


@numba.njit(**OPTIONS)
def _n_tiles(m, n, dot):
    rows = DOT_ROWS if dot else LANES
    return ((m + rows - 1) // rows) * ((n + COLS - 1) // COLS)


@numba.njit(**OPTIONS)
def _range(alpha, a, sa_r, sa_k, bq, sq_k, sq_n, width, c, ldc, m, n, k, accumulate, dot, t0,
           t1):
    if dot:
        _dot_range(alpha, a, sa_r, bq, c, ldc, m, n, k, accumulate, t0, t1)
    else:
        _outer_range(alpha, bq, sq_k, sq_n, width, a, sa_k, c, ldc, m, n, k, accumulate, t0,
                     t1)


@numba.njit(parallel=True, **OPTIONS)
def _parallel(alpha, a, sa_r, sa_k, bq, sq_k, sq_n, width, c, ldc, m, n, k, accumulate, dot,
              parts):
    """All tiles, ``parts`` workers each on a contiguous range of them."""
    total = _n_tiles(m, n, dot)
    for p in prange(parts):
        _range(alpha, a, sa_r, sa_k, bq, sq_k, sq_n, width, c, ldc, m, n, k, accumulate, dot,
               total * p // parts, total * (p + 1) // parts)


@numba.njit(**OPTIONS)
def _pack(b, sb_k, sb_n, k, n, dot):
    """``B`` zero-padded to whole tiles of ``COLS`` columns: its columns contiguous and
    zero-padded to whole vectors (``dot``, ``packed[j _padded(k) + kk]``), or its rows
    (``packed[kk COLS + j]``, for ``n < COLS``)."""
    n_pad = ((n + COLS - 1) // COLS) * COLS
    if dot:
        k_pad = _padded(k)
        packed = np.empty(k_pad * n_pad, np.float32)
        for j in range(n):
            for kk in range(k):
                packed[j * k_pad + kk] = b[kk * sb_k + j * sb_n]
            packed[j * k_pad + k:(j + 1) * k_pad] = 0
        packed[n * k_pad:] = 0
    else:
        packed = np.zeros(k * n_pad, np.float32)
        for kk in range(k):
            for j in range(n):
                packed[kk * n_pad + j] = b[kk * sb_k + j * sb_n]
    return packed


@numba.njit(**OPTIONS)
def skinny_flat(alpha, a, sa_r, sa_k, b, sb_k, sb_n, c, ldc, m, n, k, accumulate, n_threads):
    """``C (+)= alpha A @ B`` on flat views: the kernel's one compiled signature.

    Args:
        alpha: float32 scale of the product.
        a, sa_r, sa_k: ``A`` (m, k) as a flat float32 view and its element strides
            (see :func:`.gemm.flat_view`), one of them 1 (``sa_k == 1``: dot products);
            likewise ``b, sb_k, sb_n`` for ``B`` (k, n), any strides.
        c, ldc: ``C`` (m, n) as a flat view with unit column stride, and its row stride.
        m, n, k: the sizes, all >= 1; ``m >= LANES`` unless ``sa_k == 1``.
        accumulate: add to ``C`` (True) or overwrite it (False).
        n_threads: workers if the product has at least :data:`PARALLEL_MIN_FMAS`
            multiply-adds (else the calling thread computes it).
    """
    dot = sa_k == 1
    if dot:  # B's columns, contiguous and zero-padded
        bq, sq_k, sq_n, width = _pack(b, sb_k, sb_n, k, n, dot), 1, _padded(k), n
    elif n < COLS:  # B's rows, zero-padded to a whole tile
        bq, sq_k, sq_n, width = _pack(b, sb_k, sb_n, k, n, dot), COLS, 1, COLS
    else:  # B as it is: the last column tile overlaps the previous one
        bq, sq_k, sq_n, width = b, sb_k, sb_n, n
    total = _n_tiles(m, n, dot)
    if n_threads > 1 and m * n * k >= PARALLEL_MIN_FMAS and total > 1:
        _parallel(alpha, a, sa_r, sa_k, bq, sq_k, sq_n, width, c, ldc, m, n, k, accumulate,
                  dot, min(n_threads, total))
    else:
        _range(alpha, a, sa_r, sa_k, bq, sq_k, sq_n, width, c, ldc, m, n, k, accumulate, dot,
               total - total, total)


SOURCE_KEY = source_key([__file__, tiled.__file__, opaque.__file__])
KERNEL = opaque.opaque_kernel(skinny_flat, tiled.FLAT_SIGNATURE, SOURCE_KEY,
                              name="tgraph.skinny_flat", restype=types.none)
"""The stand-in of :func:`skinny_flat` (compiled once, called through a pointer)."""


@numba.njit(**OPTIONS)
def skinny_into(alpha, a, b, accumulate, c, n_threads):
    """``c (+)= alpha a @ b`` for arrays that :func:`fits` accepts.

    Args:
        alpha: scale of the product.
        a: (m, k) float32 array, unit stride along its rows or its columns.
        b: (k, n) float32 array, n <= :data:`MAX_COLS`, any strides >= 0.
        accumulate: add to ``c`` (True) or overwrite it (False).
        c: (m, n) float32 array with unit column stride, written in place.
        n_threads: workers for a large product (see :func:`skinny_flat`).
    """
    af, sa_r, sa_k = flat_view(a)
    bf, sb_k, sb_n = flat_view(b)
    cf, ldc, _ = flat_view(c)
    KERNEL(np.float32(alpha), af, sa_r, sa_k, bf, sb_k, sb_n, cf, ldc, a.shape[0], b.shape[1],
           a.shape[1], accumulate, n_threads)
