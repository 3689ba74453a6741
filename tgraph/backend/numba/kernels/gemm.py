"""Numba kernel of float32 matrix products ``C (+)= alpha A @ B``, tiled in registers.

The products of a dense layer (``x @ W``, ``x.T @ delta`` fused into the weight update)
are small in one dimension (a minibatch of 20 rows), where OpenBLAS as shipped with
SciPy (AVX2 kernels, ~60 GFLOP/s a core here) gains little from a second thread. This
kernel is :func:`tgraph.backend.numba.kernels.conv.tile_product`'s approach for plain matrices:
an accumulator tile of ``ROWS x LANES`` values (a stack buffer LLVM keeps in vector
registers; AVX-512 fused multiply-adds where the CPU has them, ~185 GFLOP/s a core),
fed one broadcast value of ``A`` per row and one contiguous row of ``B`` per step.

* Tiles are taken column panel by column panel (``LANES`` columns of ``C``), so the
  panel of ``B`` (``K x LANES``, 200 kB for K = 784) stays in cache while the tiles of
  its rows are computed. A ``B`` whose rows are not contiguous (``W.T``) is copied a
  panel at a time into a buffer of the worker (for 64 rows or more).
* The last tile of a row or column that does not fill a tile overlaps the previous one
  and stores only its new part, so there is no narrow edge code (``m >= ROWS`` and
  ``n >= LANES`` are required; smaller products go to BLAS).
* ``parts`` workers (a ``prange``) take contiguous ranges of tiles. Every value of
  ``C`` is computed by one tile, with the same operations in the same order whatever
  the number of workers: results are bit-identical from run to run and across thread
  counts.

Operands are flat 1-D views (:func:`flat_view`) with element strides, so that the kernel
has one signature whatever the layouts: it is compiled once, cached on disk, and called
through a pointer (:func:`tgraph.backend.numba.runtime.opaque.opaque_kernel`), not
linked into each op.
"""

import llvmlite.ir as llvm_ir
import numba
import numpy as np
from numba import prange
from numba.core import cgutils, types
from numba.extending import intrinsic

from tgraph.backend.numba.runtime import opaque
from tgraph.backend.numba.runtime.cache import source_key

__all__ = ["ROWS", "LANES", "PACK_MIN_ROWS", "PARALLEL_MIN_FMAS", "SOURCE_KEY", "FLAT_SIGNATURE",
           "fits", "flat_view", "gemm_flat", "gemm_into"]

ROWS = 5  # 20 accumulators of 16 floats, + 4 row values of B + 5 broadcasts: 29 of 32 zmm
LANES = 64
_TILE_SIZE = ROWS * LANES
# Fused multiply-adds only: no reassociation, so that every compiled copy of the tile
# (serial, parallel) sums in the same order and gives the same bits; NaN propagates.
_FASTMATH = {"contract"}
OPTIONS = {"fastmath": _FASTMATH, "error_model": "numpy", "boundscheck": False, "cache": True}


@intrinsic(prefer_literal=True)
def _stack_buffer(typingctx, size, like):
    """A pointer to ``size`` (a literal int) values of ``like``'s dtype on the stack."""
    count = size.literal_value

    def codegen(context, builder, signature, args):
        item = context.get_value_type(like.dtype)
        ptr = cgutils.alloca_once(builder, llvm_ir.ArrayType(item, count))
        return builder.bitcast(ptr, item.as_pointer())

    return types.CPointer(like.dtype)(size, like), codegen


@intrinsic
def _data_pointer(typingctx, array):
    """The address of ``array``'s first element, typed as a pointer to its dtype."""

    def codegen(context, builder, signature, args):
        return context.make_array(signature.args[0])(context, builder, args[0]).data

    return types.CPointer(array.dtype)(array), codegen


@numba.njit(**OPTIONS)
def flat_view(x):
    """``(flat, row_stride, col_stride)``: a 1-D view of a 2-D array's memory.

    ``x[i, j]`` is ``flat[i * row_stride + j * col_stride]`` (strides in elements, not
    negative: see :func:`fits`). The view does not keep ``x`` alive.
    """
    rows, cols = x.strides[0] // x.itemsize, x.strides[1] // x.itemsize
    span = 0
    if x.size:
        span = 1 + (x.shape[0] - 1) * rows + (x.shape[1] - 1) * cols
    return numba.carray(_data_pointer(x), (span,)), rows, cols


PACK_MIN_ROWS = 64  # copying a panel of B (~25 us for K = 625) pays off from 64 rows


@numba.njit(**OPTIONS)
def fits(a, b, c):
    """Whether the kernel computes ``c = a @ b`` of float32 arrays: at least ROWS x LANES
    (:data:`PACK_MIN_ROWS` rows if the rows of ``b`` are not contiguous), no negative
    strides, unit column stride of ``c``. BLAS computes the others."""
    min_rows = ROWS if b.strides[1] == b.itemsize else PACK_MIN_ROWS
    return (c.shape[0] >= min_rows and c.shape[1] >= LANES
            and c.strides[1] == c.itemsize and c.strides[0] >= 0
            and min(a.strides[0], a.strides[1], b.strides[0], b.strides[1]) >= 0)


@numba.njit(inline="always", **OPTIONS)
def _tile(a, a0, sa_r, sa_k, b, b0, ldb, k, acc):
    """``acc[r, v] = sum_kk a[a0 + r sa_r + kk sa_k] * b[b0 + kk ldb + v]``, r < ROWS, v < LANES."""
    for v in range(LANES):
        acc[0, v] = 0
        acc[1, v] = 0
        acc[2, v] = 0
        acc[3, v] = 0
        acc[4, v] = 0
    for kk in range(k):
        off = a0 + kk * sa_k  # unsigned offsets: no negative-index wraparound code
        x0 = a[np.uint64(off)]
        x1 = a[np.uint64(off + sa_r)]
        x2 = a[np.uint64(off + 2 * sa_r)]
        x3 = a[np.uint64(off + 3 * sa_r)]
        x4 = a[np.uint64(off + 4 * sa_r)]
        start = b0 + kk * ldb  # indexing, not a slice: a slice of an owned array
        for v in range(LANES):  # would count references in the inner loop
            w = b[np.uint64(start + v)]
            acc[0, v] += x0 * w
            acc[1, v] += x1 * w
            acc[2, v] += x2 * w
            acc[3, v] += x3 * w
            acc[4, v] += x4 * w


@numba.njit(inline="always", **OPTIONS)
def _store(acc, alpha, accumulate, c, c0, ldc, skip_rows, skip_lanes):
    """``c[c0 + r ldc + v] (+)= alpha acc[r, v]`` for ``r >= skip_rows``, ``v >= skip_lanes``."""
    if skip_rows == 0 and skip_lanes == 0:  # a whole tile: fixed trip counts, vectorized
        for r in range(ROWS):
            base = c0 + r * ldc
            if accumulate:
                for v in range(LANES):
                    c[np.uint64(base + v)] += alpha * acc[r, v]
            else:
                for v in range(LANES):
                    c[np.uint64(base + v)] = alpha * acc[r, v]
        return
    for r in range(skip_rows, ROWS):
        base = c0 + r * ldc
        for v in range(skip_lanes, LANES):
            if accumulate:
                c[np.uint64(base + v)] += alpha * acc[r, v]
            else:
                c[np.uint64(base + v)] = alpha * acc[r, v]


@numba.njit(**OPTIONS)
def _pack_panel(b, sb_k, sb_n, col, k, panel):
    """``panel[kk LANES + v] = B[kk, col + v]`` for a ``B`` whose rows are not contiguous."""
    if sb_k == 1:  # B = W.T: read the rows of W
        for v in range(LANES):
            start = (col + v) * sb_n
            for kk in range(k):
                panel[kk * LANES + v] = b[start + kk]
    else:
        for kk in range(k):
            for v in range(LANES):
                panel[kk * LANES + v] = b[kk * sb_k + (col + v) * sb_n]


@numba.njit(**OPTIONS)
def _tile_range(alpha, a, sa_r, sa_k, b, sb_k, sb_n, c, ldc, m, n, k, accumulate, t0, t1):
    """Tiles ``t0 <= t < t1``; tile t is row tile ``t % n_row_tiles`` of panel
    ``t // n_row_tiles``."""
    acc = numba.carray(_stack_buffer(_TILE_SIZE, c), (ROWS, LANES))
    n_row_tiles = (m + ROWS - 1) // ROWS
    packed = sb_n != 1
    panel = np.empty(k * LANES if packed else 0, c.dtype)
    current = -1
    for t in range(t0, t1):
        col = (t // n_row_tiles) * LANES
        row = (t % n_row_tiles) * ROWS
        skip_lanes, skip_rows = max(0, col + LANES - n), max(0, row + ROWS - m)
        col, row = col - skip_lanes, row - skip_rows
        if not packed:
            _tile(a, row * sa_r, sa_r, sa_k, b, col, sb_k, k, acc)
        else:
            if col != current:
                _pack_panel(b, sb_k, sb_n, col, k, panel)
                current = col
            _tile(a, row * sa_r, sa_r, sa_k, panel, 0, LANES, k, acc)
        _store(acc, alpha, accumulate, c, row * ldc + col, ldc, skip_rows, skip_lanes)


@numba.njit(**OPTIONS)
def _n_tiles(m, n):
    return ((m + ROWS - 1) // ROWS) * ((n + LANES - 1) // LANES)


@numba.njit(parallel=True, **OPTIONS)
def _parallel_tiles(alpha, a, sa_r, sa_k, b, sb_k, sb_n, c, ldc, m, n, k, accumulate, parts):
    """All tiles, ``parts`` workers each on a contiguous range of them."""
    total = _n_tiles(m, n)
    for p in prange(parts):
        _tile_range(alpha, a, sa_r, sa_k, b, sb_k, sb_n, c, ldc, m, n, k, accumulate,
                    total * p // parts, total * (p + 1) // parts)


PARALLEL_MIN_FMAS = 1 << 22  # smaller products run on one thread (a fork-join costs ~5 us)


@numba.njit(**OPTIONS)
def gemm_flat(alpha, a, sa_r, sa_k, b, sb_k, sb_n, c, ldc, m, n, k, accumulate, n_threads):
    """``C (+)= alpha A @ B`` on flat views: the kernel's one compiled signature.

    Args:
        alpha: float32 scale of the product.
        a, sa_r, sa_k: ``A`` (m, k) as a flat float32 view and its element strides
            (see :func:`flat_view`); likewise ``b, sb_k, sb_n`` for ``B`` (k, n).
        c, ldc: ``C`` (m, n) as a flat view with unit column stride, and its row stride.
        m, n, k: the sizes; ``m >= ROWS``, ``n >= LANES``.
        accumulate: add to ``C`` (True) or overwrite it (False).
        n_threads: workers if the product has at least :data:`PARALLEL_MIN_FMAS`
            multiply-adds (else the calling thread computes it). An argument:
            ``numba.get_num_threads`` in jitted code stops Numba caching it on disk.
    """
    if n_threads > 1 and m * n * k >= PARALLEL_MIN_FMAS:
        _parallel_tiles(alpha, a, sa_r, sa_k, b, sb_k, sb_n, c, ldc, m, n, k, accumulate,
                        n_threads)
    else:
        # m - m: an int64 like the workers' bounds, not a literal 0 (one compiled copy)
        _tile_range(alpha, a, sa_r, sa_k, b, sb_k, sb_n, c, ldc, m, n, k, accumulate,
                    m - m, _n_tiles(m, n))


SOURCE_KEY = source_key([__file__, opaque.__file__])
_FLAT = types.Array(types.float32, 1, "C")
_I64 = types.int64
FLAT_SIGNATURE = (types.float32, _FLAT, _I64, _I64, _FLAT, _I64, _I64, _FLAT, _I64, _I64, _I64,
                  _I64, types.boolean, _I64)
"""Argument types of :func:`gemm_flat`, and of the other kernels called the same way
(:func:`tgraph.backend.numba.kernels.skinny.skinny_flat`)."""
_GEMM_FLAT = opaque.opaque_kernel(gemm_flat, FLAT_SIGNATURE, SOURCE_KEY, name="tgraph.gemm_flat",
                                  restype=types.none)


@numba.njit(**OPTIONS)
def gemm_into(alpha, a, b, accumulate, c, n_threads):
    """``c (+)= alpha a @ b`` for arrays that :func:`fits` accepts.

    Args:
        alpha: scale of the product.
        a: (m, k) float32 array, any strides >= 0.
        b: (k, n) float32 array, any strides >= 0.
        accumulate: add to ``c`` (True) or overwrite it (False).
        c: (m, n) float32 array with unit column stride, written in place.
        n_threads: workers for a large product (see :func:`gemm_flat`).
    """
    af, sa_r, sa_k = flat_view(a)
    bf, sb_k, sb_n = flat_view(b)
    cf, ldc, _ = flat_view(c)
    _GEMM_FLAT(np.float32(alpha), af, sa_r, sa_k, bf, sb_k, sb_n, cf, ldc, a.shape[0],
               b.shape[1], a.shape[1], accumulate, n_threads)
