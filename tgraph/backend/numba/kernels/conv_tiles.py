"""Register-tiled microkernels under tgraph's convolution kernels, and their options.

The convolution and its gradients (:mod:`tgraph.backend.numba.kernels.conv`,
:mod:`tgraph.backend.numba.kernels.conv_grad`) are implicit-im2col matrix products on one
register-tiled microkernel, :func:`tile_product`. OpenBLAS as shipped with SciPy selects
its AVX2 (Haswell) kernels on recent AMD CPUs and, called from a parallel Numba loop,
fights its own thread pool; this microkernel is plain Numba: LLVM keeps the
``ROWS x LANES`` accumulator tile in vector registers (a stack buffer that never
escapes) and emits AVX-512 fused multiply-adds where the CPU has them (about 200
GFLOP/s per core here). :func:`shifted_tile` is its variant with output pixels along
the lanes, for stride-1 layers with few filters.

None of these functions is cached on disk by itself: Numba's cache notices changes to
a function's own file only, so the entry kernels are cached instead, under a key of
the sources of every module they use (:data:`SOURCE_KEY`, see
:func:`tgraph.backend.numba.runtime.opaque.opaque_kernel`).
"""

from pathlib import Path

import llvmlite.ir as llvm_ir
import numba
import numpy as np
from numba.core import cgutils, types
from numba.extending import intrinsic

from tgraph.backend.numba.runtime import opaque
from tgraph.backend.numba.runtime.cache import source_key

__all__ = ["ROWS", "LANES", "OPTIONS", "INLINE", "PARALLEL", "SOURCE_KEY", "pad_to",
           "tile_product", "run_tile", "shifted_tile", "run_shifted_tile", "thread_range",
           "pixel_bases"]

ROWS = 6
LANES = 64
_TILE_SIZE = ROWS * LANES
# PyTensor's own fastmath flags: no "nnan"/"ninf", so NaN and inf propagate like numpy.
_FASTMATH = {"arcp", "contract", "afn", "reassoc", "nsz"}
# Called from jitted code only: no Python or C wrappers to compile.
OPTIONS = {"fastmath": _FASTMATH, "error_model": "numpy", "boundscheck": False,
           "no_cpython_wrapper": True, "no_cfunc_wrapper": True}
# Small helpers are inlined into their callers' Numba IR, not compiled by themselves
# (each compiled function is optimized and turned into machine code once for itself and
# again inside each caller). Not for code that allocates with np.zeros or uses array
# expressions: inside a parallel function, those would become parallel loops of their own.
INLINE = dict(OPTIONS, inline="always")
PARALLEL = dict(OPTIONS, parallel=True)
# The parallel kernels are compiled by themselves and called through pointers
# (tgraph.backend.numba.runtime.opaque), cached on disk under a key of all the convolution
# kernels' code.
SOURCE_KEY = source_key([*(Path(__file__).with_name(name) for name in
                           ("conv_tiles.py", "conv.py", "conv_grad.py")), opaque.__file__])


@intrinsic(prefer_literal=True)
def _stack_buffer(typingctx, size, like):
    """A pointer to ``size`` (a literal int) values of ``like``'s dtype on the stack."""
    count = size.literal_value
    dtype = like.dtype

    def codegen(context, builder, signature, args):
        item = context.get_value_type(dtype)
        ptr = cgutils.alloca_once(builder, llvm_ir.ArrayType(item, count))
        return builder.bitcast(ptr, item.as_pointer())

    return types.CPointer(dtype)(size, like), codegen


@numba.njit(**INLINE)
def pad_to(n, multiple):
    """``n`` rounded up to a multiple of ``multiple``."""
    return (n + multiple - 1) // multiple * multiple


@numba.njit(inline="always", **OPTIONS)
def tile_product(a, b, v0, n_img, img_stride, n_outer, ostride, n_inner, istride,
                 dst, d0, c0, accumulate, b0, b1, b2, b3, b4, b5):
    """One (ROWS, LANES) tile of an implicit matrix product, for ``r < ROWS``, ``v < LANES``.

    ``dst[d0 + r, c0 + v] (+)= sum over steps s of a[b_r + offset(s)] * b[s, v0 + v]``:
    ``a`` is a flat image (or gradient) buffer addressed through per-row offsets, ``b``
    a packed weight (or gradient) matrix read one contiguous row of LANES at a time. The
    reduction runs over ``i < n_img``, ``o < n_outer``, ``j < n_inner``; step
    ``(i, o, j)`` reads row ``(i * n_outer + o) * n_inner + j`` of ``b`` and
    ``a[b_r + i * img_stride + o * ostride + j * istride]``.

    Args:
        a: 1-D array (a flat image, gradient or stack of them).
        b: 2-D array; each row read holds at least ``v0 + LANES`` values.
        v0: first lane (column of ``b``).
        n_img, img_stride, n_outer, ostride, n_inner, istride: the reduction's extents
            and the matching offsets in ``a``.
        dst: 2-D output; the tile goes to ``dst[d0:d0 + ROWS, c0:c0 + LANES]``.
        d0, c0: position of the tile in ``dst``.
        accumulate: add to ``dst`` instead of overwriting it.
        b0..b5: the per-row base offsets into ``a``.
    """
    # unsigned offsets: no negative-index wraparound code in the inner loop
    acc = numba.carray(_stack_buffer(_TILE_SIZE, dst), (ROWS, LANES))
    if accumulate:
        for v in range(LANES):
            acc[0, v] = dst[d0, c0 + v]
            acc[1, v] = dst[d0 + 1, c0 + v]
            acc[2, v] = dst[d0 + 2, c0 + v]
            acc[3, v] = dst[d0 + 3, c0 + v]
            acc[4, v] = dst[d0 + 4, c0 + v]
            acc[5, v] = dst[d0 + 5, c0 + v]
    else:
        for v in range(LANES):
            acc[0, v] = 0
            acc[1, v] = 0
            acc[2, v] = 0
            acc[3, v] = 0
            acc[4, v] = 0
            acc[5, v] = 0
    for i in range(n_img):
        for o in range(n_outer):
            for j in range(n_inner):
                off = i * img_stride + o * ostride + j * istride
                row = b[(i * n_outer + o) * n_inner + j, v0:v0 + LANES]
                a0 = a[np.uint64(b0 + off)]
                a1 = a[np.uint64(b1 + off)]
                a2 = a[np.uint64(b2 + off)]
                a3 = a[np.uint64(b3 + off)]
                a4 = a[np.uint64(b4 + off)]
                a5 = a[np.uint64(b5 + off)]
                for v in range(LANES):
                    w = row[v]
                    acc[0, v] += a0 * w
                    acc[1, v] += a1 * w
                    acc[2, v] += a2 * w
                    acc[3, v] += a3 * w
                    acc[4, v] += a4 * w
                    acc[5, v] += a5 * w
    for v in range(LANES):
        dst[d0, c0 + v] = acc[0, v]
        dst[d0 + 1, c0 + v] = acc[1, v]
        dst[d0 + 2, c0 + v] = acc[2, v]
        dst[d0 + 3, c0 + v] = acc[3, v]
        dst[d0 + 4, c0 + v] = acc[4, v]
        dst[d0 + 5, c0 + v] = acc[5, v]


@numba.njit(**OPTIONS)
def run_tile(a, b, v0, n_img, img_stride, n_outer, ostride, n_inner, istride,
             dst, d0, c0, accumulate, bases):
    """:func:`tile_product` with the ROWS base offsets in the array ``bases``.

    A call, not inlined into the callers' loops: the tile's stack buffer must be in a
    function's entry block.
    """
    tile_product(a, b, v0, n_img, img_stride, n_outer, ostride, n_inner, istride,
                 dst, d0, c0, accumulate,
                 bases[0], bases[1], bases[2], bases[3], bases[4], bases[5])


@numba.njit(**INLINE)
def pixel_bases(p0, n_pixels, out_w, row_step, col_step, bases):
    """Offsets of the top-left corners of ROWS output pixels (the last one repeated)."""
    for r in range(ROWS):
        p = min(p0 + r, n_pixels - 1)
        oy = p // out_w
        bases[r] = oy * row_step + (p - oy * out_w) * col_step


@numba.njit(**INLINE)
def thread_range(n, n_threads, t):
    """The range ``[lo, hi)`` of ``n`` items that worker ``t`` of ``n_threads`` takes."""
    return n * t // n_threads, n * (t + 1) // n_threads


@numba.njit(inline="always", **OPTIONS)
def shifted_tile(flat, offsets, p0, wt, f0, dst):
    """``dst[f0 + r, p0 + v] = sum_k wt[k, f0 + r] * flat[offsets[k] + p0 + v]``.

    For ``r < ROWS`` and ``v < LANES``.

    The "pixels along the lanes" microkernel of :func:`conv_forward_shifted`: for a
    stride of 1, patch entry ``k`` of consecutive output pixels of a zero-padded
    channels-first image is the image itself, shifted by ``offsets[k]``.
    """
    acc = numba.carray(_stack_buffer(_TILE_SIZE, dst), (ROWS, LANES))
    for v in range(LANES):
        acc[0, v] = 0
        acc[1, v] = 0
        acc[2, v] = 0
        acc[3, v] = 0
        acc[4, v] = 0
        acc[5, v] = 0
    for k in range(offsets.shape[0]):
        base = offsets[k] + p0
        row = flat[base:base + LANES]
        w0, w1, w2 = wt[k, f0], wt[k, f0 + 1], wt[k, f0 + 2]
        w3, w4, w5 = wt[k, f0 + 3], wt[k, f0 + 4], wt[k, f0 + 5]
        for v in range(LANES):
            value = row[v]
            acc[0, v] += w0 * value
            acc[1, v] += w1 * value
            acc[2, v] += w2 * value
            acc[3, v] += w3 * value
            acc[4, v] += w4 * value
            acc[5, v] += w5 * value
    for v in range(LANES):
        dst[f0, p0 + v] = acc[0, v]
        dst[f0 + 1, p0 + v] = acc[1, v]
        dst[f0 + 2, p0 + v] = acc[2, v]
        dst[f0 + 3, p0 + v] = acc[3, v]
        dst[f0 + 4, p0 + v] = acc[4, v]
        dst[f0 + 5, p0 + v] = acc[5, v]


@numba.njit(**OPTIONS)
def run_shifted_tile(flat, offsets, p0, wt, f0, dst):
    """:func:`shifted_tile` as a call (its stack buffer must be in an entry block)."""
    shifted_tile(flat, offsets, p0, wt, f0, dst)

