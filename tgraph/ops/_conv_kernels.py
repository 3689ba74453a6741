"""Numba kernels of 2-D convolution (cross-correlation), NCHW, with its two gradients.

All three are implicit-im2col matrix products on one register-tiled microkernel,
:func:`tile_product`. OpenBLAS as shipped with SciPy selects its AVX2 (Haswell) kernels
on recent AMD CPUs and, called from a parallel Numba loop, fights its own thread pool;
this microkernel is plain Numba: LLVM keeps the ``ROWS x LANES`` accumulator tile in
vector registers (a stack buffer that never escapes) and emits AVX-512 fused
multiply-adds where the CPU has them (about 200 GFLOP/s per core here). Each of
``n_threads`` parallel workers takes a contiguous range of images and copies them, a
few at a time, into zero-padded channels-last buffers (``(Hp, Wp, C)`` each, a few kB,
in cache) that the microkernel multiplies with a packed weight or gradient matrix.
Nothing of im2col size is ever materialised.

Shapes: ``x (N, C, H, W)``, ``w (F, C, kh, kw)``, ``out (N, F, OH, OW)`` with
``OH = (H + 2 * ph - kh) // sh + 1`` (likewise ``OW``). ``n_threads`` is passed in
(not read inside) so that the compiled functions can be cached on disk. The microkernel
lives in this module because Numba's cache only notices changes to the caller's file.
"""

import llvmlite.ir as llvm_ir
import numba
import numpy as np
from numba import prange
from numba.core import cgutils, types
from numba.extending import intrinsic

__all__ = ["conv_forward", "conv_grad_input", "conv_grad_filters"]

ROWS = 6
LANES = 64
_TILE_SIZE = ROWS * LANES
# PyTensor's own fastmath flags: no "nnan"/"ninf", so NaN and inf propagate like numpy.
_FASTMATH = {"arcp", "contract", "afn", "reassoc", "nsz"}
OPTIONS = {"fastmath": _FASTMATH, "error_model": "numpy", "boundscheck": False, "cache": True}
PARALLEL = dict(OPTIONS, parallel=True)
_CHUNK_VALUES = 65536  # values of padded images + gradient rows per chunk (256 kB float32)


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


@numba.njit(**OPTIONS)
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
def _thread_range(n, n_threads, t):
    return n * t // n_threads, n * (t + 1) // n_threads


@numba.njit(**OPTIONS)
def _copy_padded(src, n, ph, pw, dst):
    """``dst[y + ph, x + pw, c] = src[n, c, y, x]``; the border of ``dst`` stays as is."""
    for c in range(src.shape[1]):
        for y in range(src.shape[2]):
            for x in range(src.shape[3]):
                dst[y + ph, x + pw, c] = src[n, c, y, x]


@numba.njit(**OPTIONS)
def _copy_rows(g, n, dst, r0):
    """``dst[r0 + p, f] = g[n, f, p]`` for the flattened pixels ``p`` of image ``n``."""
    f_count, out_h, out_w = g.shape[1], g.shape[2], g.shape[3]
    for f in range(f_count):
        for y in range(out_h):
            for x in range(out_w):
                dst[r0 + y * out_w + x, f] = g[n, f, y, x]


@numba.njit(**OPTIONS)
def _pack_weights(w, lanes_of_f):
    """``w (F, C, kh, kw)`` -> ``(K, Fp)`` if ``lanes_of_f`` else ``(F, Kp)``.

    ``K = kh * kw * C`` ordered (ky, kx, c) like a padded channels-last patch; the lane
    dimension is zero-padded to a multiple of LANES.
    """
    f_count, channels, kh, kw = w.shape
    k_count = kh * kw * channels
    if lanes_of_f:
        packed = np.zeros((k_count, pad_to(f_count, LANES)), w.dtype)
    else:
        packed = np.zeros((f_count, pad_to(k_count, LANES)), w.dtype)
    for f in range(f_count):
        for c in range(channels):
            for ky in range(kh):
                for kx in range(kw):
                    k = (ky * kw + kx) * channels + c
                    if lanes_of_f:
                        packed[k, f] = w[f, c, ky, kx]
                    else:
                        packed[f, k] = w[f, c, ky, kx]
    return packed


@numba.njit(**OPTIONS)
def _pixel_bases(p0, n_pixels, out_w, row_step, col_step, bases):
    """Offsets of the top-left corners of ROWS output pixels (the last one repeated)."""
    for r in range(ROWS):
        p = min(p0 + r, n_pixels - 1)
        oy = p // out_w
        bases[r] = oy * row_step + (p - oy * out_w) * col_step


@numba.njit(**OPTIONS)
def _run(a, b, v0, n_img, img_stride, n_outer, ostride, n_inner, istride,
         dst, d0, c0, accumulate, bases):
    tile_product(a, b, v0, n_img, img_stride, n_outer, ostride, n_inner, istride,
                 dst, d0, c0, accumulate,
                 bases[0], bases[1], bases[2], bases[3], bases[4], bases[5])


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
def _run_shifted(flat, offsets, p0, wt, f0, dst):
    # a call, not inlined into a loop: the tile's stack buffer must be in an entry block
    shifted_tile(flat, offsets, p0, wt, f0, dst)


@numba.njit(**OPTIONS)
def _shifted_weights(w, hp, wp):
    """``w (F, C, kh, kw)`` -> ``wt (K, F padded to ROWS)`` and the shift of each ``k``."""
    f_count, channels, kh, kw = w.shape
    wt = np.zeros((channels * kh * kw, pad_to(f_count, ROWS)), w.dtype)
    offsets = np.empty(channels * kh * kw, np.int64)
    for c in range(channels):
        for ky in range(kh):
            for kx in range(kw):
                k = (c * kh + ky) * kw + kx
                offsets[k] = (c * hp + ky) * wp + kx
                for f in range(f_count):
                    wt[k, f] = w[f, c, ky, kx]
    return wt, offsets


@numba.njit(**PARALLEL)
def conv_forward_shifted(x, w, ph, pw, n_threads):
    """Stride-1 cross-correlation with output pixels along the lanes (see :func:`shifted_tile`).

    Each image is copied zero-padded, channels first; output row ``oy`` is computed over
    the padded width ``wp`` (the last ``kw - 1`` columns are discarded), so a tile of
    LANES consecutive pixels reads LANES consecutive values per patch entry.
    """
    n_img, channels, h, wd = x.shape
    f_count, _, kh, kw = w.shape
    hp, wp = h + 2 * ph, wd + 2 * pw
    out_h, out_w = hp - kh + 1, wp - kw + 1
    p_pad = pad_to(out_h * wp, LANES)
    wt, offsets = _shifted_weights(w, hp, wp)
    out = np.empty((n_img, f_count, out_h, out_w), x.dtype)
    for t in prange(n_threads):
        lo, hi = _thread_range(n_img, n_threads, t)
        flat = np.zeros(channels * hp * wp + p_pad + wp, x.dtype)
        rows = np.empty((wt.shape[1], p_pad), x.dtype)
        for n in range(lo, hi):
            for c in range(channels):
                for y in range(h):
                    start = (c * hp + y + ph) * wp + pw
                    for i in range(wd):
                        flat[start + i] = x[n, c, y, i]
            for f0 in range(0, f_count, ROWS):
                for p0 in range(0, p_pad, LANES):
                    _run_shifted(flat, offsets, p0, wt, f0, rows)
            for f in range(f_count):
                for y in range(out_h):
                    for i in range(out_w):
                        out[n, f, y, i] = rows[f, y * wp + i]
    return out


@numba.njit(**OPTIONS)
def _shifted_waste(out_channels, out_h, out_w, wp):
    """Computed / useful products of :func:`conv_forward_shifted` (padded rows and lanes)."""
    rows = pad_to(out_h * wp, LANES) / (out_h * out_w)
    return rows * pad_to(out_channels, ROWS) / out_channels


@numba.njit(**OPTIONS)
def conv_forward(x, w, sh, sw, ph, pw, n_threads):
    """Cross-correlation ``out[n, f] = sum_c x[n, c] (*) w[f, c]`` with stride and zero padding.

    With a stride of 1 and few filters (a first layer: filters along the lanes would
    leave most of them empty) pixels go along the lanes (:func:`conv_forward_shifted`).
    """
    f_count, _, kh, kw = w.shape
    if sh == 1 and sw == 1:
        wp = x.shape[3] + 2 * pw
        out_h, out_w = x.shape[2] + 2 * ph - kh + 1, wp - kw + 1
        if _shifted_waste(f_count, out_h, out_w, wp) < pad_to(f_count, LANES) / f_count:
            return conv_forward_shifted(x, w, ph, pw, n_threads)
    return conv_forward_filter_lanes(x, w, sh, sw, ph, pw, n_threads)


@numba.njit(**PARALLEL)
def conv_forward_filter_lanes(x, w, sh, sw, ph, pw, n_threads):
    """:func:`conv_forward` with the filters along the lanes of :func:`tile_product`."""
    n_img, channels, h, wd = x.shape
    f_count, _, kh, kw = w.shape
    out_h = (h + 2 * ph - kh) // sh + 1
    out_w = (wd + 2 * pw - kw) // sw + 1
    packed = _pack_weights(w, True)
    out = np.empty((n_img, f_count, out_h * out_w), x.dtype)
    for t in prange(n_threads):
        lo, hi = _thread_range(n_img, n_threads, t)
        padded = np.zeros((h + 2 * ph, wd + 2 * pw, channels), x.dtype)
        tile = np.empty((ROWS, LANES), x.dtype)
        bases = np.empty(ROWS, np.int64)
        for n in range(lo, hi):
            _copy_padded(x, n, ph, pw, padded)
            _forward_image(padded, packed, out[n], kh, kw, sh, sw, out_w, tile, bases)
    return out.reshape(n_img, f_count, out_h, out_w)


@numba.njit(**OPTIONS)
def _forward_image(padded, packed, out, kh, kw, sh, sw, out_w, tile, bases):
    wp, channels = padded.shape[1], padded.shape[2]
    f_count, n_pixels = out.shape
    flat = padded.reshape(-1)
    for p0 in range(0, n_pixels, ROWS):
        _pixel_bases(p0, n_pixels, out_w, sh * wp * channels, sw * channels, bases)
        rows = min(ROWS, n_pixels - p0)
        for f0 in range(0, f_count, LANES):
            _run(flat, packed, f0, 1, 0, kh, wp * channels, kw * channels, 1,
                 tile, 0, 0, False, bases)
            for v in range(min(LANES, f_count - f0)):
                for r in range(rows):
                    out[f0 + v, p0 + r] = tile[r, v]


@numba.njit(**OPTIONS)
def _flipped_transposed(w):
    """``w[f, c, u, v]`` -> ``out[c, f, kh - 1 - u, kw - 1 - v]``."""
    f_count, channels, kh, kw = w.shape
    out = np.empty((channels, f_count, kh, kw), w.dtype)
    for f in range(f_count):
        for c in range(channels):
            for u in range(kh):
                for v in range(kw):
                    out[c, f, kh - 1 - u, kw - 1 - v] = w[f, c, u, v]
    return out


@numba.njit(**OPTIONS)
def conv_grad_input(gout, w, h, wd, sh, sw, ph, pw, n_threads):
    """Gradient wrt the input ``x (N, C, h, wd)`` of :func:`conv_forward`, given ``gout``.

    With a stride of 1 it is the 'full' correlation of ``gout`` with the flipped,
    transposed filters; run as :func:`conv_forward_shifted` when that wastes little
    (measured faster then), else as a product and scatter (:func:`conv_grad_input_scatter`).
    """
    f_count, channels, kh, kw = w.shape
    qh, qw = kh - 1 - ph, kw - 1 - pw
    if sh == 1 and sw == 1 and qh >= 0 and qw >= 0:
        if _shifted_waste(channels, h, wd, gout.shape[3] + 2 * qw) < 1.3:
            return conv_forward_shifted(gout, _flipped_transposed(w), qh, qw, n_threads)
    return conv_grad_input_scatter(gout, w, h, wd, sh, sw, ph, pw, n_threads)


@numba.njit(**PARALLEL)
def conv_grad_input_scatter(gout, w, h, wd, sh, sw, ph, pw, n_threads):
    """:func:`conv_grad_input` as patch products (:func:`tile_product`) added into place."""
    n_img, f_count, out_h, out_w = gout.shape
    _, channels, kh, kw = w.shape
    packed = _pack_weights(w, False)
    dx = np.empty((n_img, channels, h, wd), gout.dtype)
    for t in prange(n_threads):
        lo, hi = _thread_range(n_img, n_threads, t)
        padded = np.empty((h + 2 * ph, wd + 2 * pw, channels), gout.dtype)
        g_rows = np.empty((out_h * out_w, f_count), gout.dtype)
        patch = np.empty((ROWS, packed.shape[1]), gout.dtype)
        bases = np.empty(ROWS, np.int64)
        for n in range(lo, hi):
            _copy_rows(gout, n, g_rows, 0)
            padded[:] = 0
            _grad_input_image(g_rows, packed, padded, kh, kw, sh, sw, out_w, patch, bases)
            for c in range(channels):
                for y in range(h):
                    for x in range(wd):
                        dx[n, c, y, x] = padded[y + ph, x + pw, c]
    return dx


@numba.njit(**OPTIONS)
def _grad_input_image(g_rows, packed, padded, kh, kw, sh, sw, out_w, patch, bases):
    wp, channels = padded.shape[1], padded.shape[2]
    n_pixels, f_count = g_rows.shape
    run = kw * channels
    g_flat = g_rows.reshape(-1)
    flat = padded.reshape(-1)
    for p0 in range(0, n_pixels, ROWS):
        _pixel_bases(p0, n_pixels, 1, f_count, 0, bases)
        for k0 in range(0, packed.shape[1], LANES):
            _run(g_flat, packed, k0, 1, 0, 1, 0, f_count, 1, patch, 0, k0, False, bases)
        for r in range(min(ROWS, n_pixels - p0)):
            p = p0 + r
            oy = p // out_w
            corner = (oy * sh * wp + (p - oy * out_w) * sw) * channels
            for ky in range(kh):
                start = corner + ky * wp * channels
                for i in range(run):
                    flat[start + i] += patch[r, ky * run + i]


@numba.njit(**PARALLEL)
def conv_grad_filters(x, gout, kh, kw, sh, sw, ph, pw, n_threads):
    """Gradient wrt the filters ``w (F, C, kh, kw)`` of :func:`conv_forward`, given ``gout``."""
    n_img, channels, h, wd = x.shape
    _, f_count, out_h, out_w = gout.shape
    hp, wp = h + 2 * ph, wd + 2 * pw
    f_pad = pad_to(f_count, LANES)
    k_pad = pad_to(kh * kw * channels, ROWS)
    chunk = max(1, _CHUNK_VALUES // (hp * wp * channels + out_h * out_w * f_pad))
    partial = np.zeros((n_threads, k_pad, f_pad), x.dtype)
    offsets = _patch_offsets(kh, kw, channels, wp, k_pad)
    for t in prange(n_threads):
        lo, hi = _thread_range(n_img, n_threads, t)
        padded = np.zeros((chunk, hp, wp, channels), x.dtype)
        g_rows = np.zeros((chunk * out_h * out_w, f_pad), x.dtype)
        for n0 in range(lo, hi, chunk):
            count = min(chunk, hi - n0)
            for i in range(count):
                _copy_padded(x, n0 + i, ph, pw, padded[i])
                _copy_rows(gout, n0 + i, g_rows, i * out_h * out_w)
            _grad_filters_chunk(padded, count, g_rows, offsets, partial[t], out_h, out_w, sh, sw)
    return _unpack_filters(partial.sum(axis=0), f_count, channels, kh, kw)


@numba.njit(**OPTIONS)
def _patch_offsets(kh, kw, channels, wp, count):
    """Offset of patch entry ``k = (ky * kw + kx) * C + c`` from the patch corner (0 past K)."""
    offsets = np.zeros(count, np.int64)
    for ky in range(kh):
        for j in range(kw * channels):
            offsets[ky * kw * channels + j] = ky * wp * channels + j
    return offsets


@numba.njit(**OPTIONS)
def _grad_filters_chunk(padded, count, g_rows, offsets, acc, out_h, out_w, sh, sw):
    image = padded.shape[1] * padded.shape[2] * padded.shape[3]
    wp, channels = padded.shape[2], padded.shape[3]
    flat = padded.reshape(-1)
    for k0 in range(0, acc.shape[0], ROWS):
        for f0 in range(0, acc.shape[1], LANES):
            _run(flat, g_rows, f0, count, image, out_h, sh * wp * channels, out_w, sw * channels,
                 acc, k0, f0, True, offsets[k0:k0 + ROWS])


@numba.njit(**OPTIONS)
def _unpack_filters(acc, f_count, channels, kh, kw):
    dw = np.empty((f_count, channels, kh, kw), acc.dtype)
    for f in range(f_count):
        for c in range(channels):
            for ky in range(kh):
                for kx in range(kw):
                    dw[f, c, ky, kx] = acc[(ky * kw + kx) * channels + c, f]
    return dw
