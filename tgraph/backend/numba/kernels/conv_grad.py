"""Numba kernels of the gradients of 2-D convolution (see :mod:`tgraph.backend.numba.kernels.conv`).

* wrt the input: for a stride of 1, the 'full' correlation of the output gradient with
  the flipped, transposed filters (the forward kernel with pixels along the lanes);
  otherwise a patch product per output pixel added into place.
* wrt the filters: each worker accumulates ``patches^T @ gradient rows`` over chunks of
  its images into its own ``(K, F)`` buffer; the buffers are summed at the end.

Shapes as in the forward kernels; ``n_threads`` and the configuration are arguments.
:func:`conv_grad_input` and :func:`conv_grad_filters` call the parallel kernels compiled
by themselves, once per dtype, through pointers (see :mod:`tgraph.backend.numba.runtime.opaque`).
"""

import numba
import numpy as np
from numba import prange

from tgraph.backend.numba.kernels.conv import (
    FORWARD_SHIFTED,
    copy_padded,
    pack_weights,
    shifted_waste,
)
from tgraph.backend.numba.kernels.conv_tiles import (
    INLINE,
    LANES,
    OPTIONS,
    PARALLEL,
    ROWS,
    SOURCE_KEY,
    pad_to,
    pixel_bases,
    run_tile,
    thread_range,
)
from tgraph.backend.numba.runtime.opaque import float_kernel

__all__ = ["conv_grad_input", "conv_grad_filters", "GRAD_INPUT_SCATTER", "GRAD_FILTERS_WORKERS"]

_CHUNK_VALUES = 65536  # values of padded images + gradient rows per chunk (256 kB float32)


@numba.njit(**INLINE)
def _copy_rows(g, n, dst, r0):
    """``dst[r0 + p, f] = g[n, f, p]`` for the flattened pixels ``p`` of image ``n``."""
    f_count, out_h, out_w = g.shape[1], g.shape[2], g.shape[3]
    for f in range(f_count):
        for y in range(out_h):
            for x in range(out_w):
                dst[r0 + y * out_w + x, f] = g[n, f, y, x]


@numba.njit(**INLINE)
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


@numba.njit(**PARALLEL)
def conv_grad_input_scatter(gout, w, h, wd, sh, sw, ph, pw, n_threads):
    """:func:`conv_grad_input` as patch products (``tile_product``) added into place."""
    n_img, f_count, out_h, out_w = gout.shape
    _, channels, kh, kw = w.shape
    packed = pack_weights(w, False)
    dx = np.empty((n_img, channels, h, wd), gout.dtype)
    for t in prange(n_threads):
        lo, hi = thread_range(n_img, n_threads, t)
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
        pixel_bases(p0, n_pixels, 1, f_count, 0, bases)
        for k0 in range(0, packed.shape[1], LANES):
            run_tile(g_flat, packed, k0, 1, 0, 1, 0, f_count, 1, patch, 0, k0, False, bases)
        for r in range(min(ROWS, n_pixels - p0)):
            p = p0 + r
            oy = p // out_w
            corner = (oy * sh * wp + (p - oy * out_w) * sw) * channels
            for ky in range(kh):
                start = corner + ky * wp * channels
                for i in range(run):
                    flat[start + i] += patch[r, ky * run + i]


@numba.njit(**PARALLEL)
def _grad_filters_workers(x, gout, partial, kh, kw, sh, sw, ph, pw):
    """``partial[t] += patches^T @ gradient rows`` over the images of worker ``t``."""
    n_img, channels, h, wd = x.shape
    _, f_count, out_h, out_w = gout.shape
    n_threads, k_pad, f_pad = partial.shape
    hp, wp = h + 2 * ph, wd + 2 * pw
    chunk = max(1, _CHUNK_VALUES // (hp * wp * channels + out_h * out_w * f_pad))
    offsets = _patch_offsets(kh, kw, channels, wp, k_pad)
    for t in prange(n_threads):
        lo, hi = thread_range(n_img, n_threads, t)
        padded = np.zeros((chunk, hp, wp, channels), x.dtype)
        g_rows = np.zeros((chunk * out_h * out_w, f_pad), x.dtype)
        for n0 in range(lo, hi, chunk):
            count = min(chunk, hi - n0)
            for i in range(count):
                copy_padded(x, n0 + i, ph, pw, padded[i])
                _copy_rows(gout, n0 + i, g_rows, i * out_h * out_w)
            _grad_filters_chunk(padded, count, g_rows, offsets, partial[t], out_h, out_w, sh, sw)


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
            run_tile(flat, g_rows, f0, count, image, out_h, sh * wp * channels, out_w,
                     sw * channels, acc, k0, f0, True, offsets[k0:k0 + ROWS])


@numba.njit(**INLINE)
def _unpack_filters(partial, f_count, channels, kh, kw):
    """The sum of the workers' ``partial`` products (in worker order), as ``(F, C, kh, kw)``
    filters (a loop: ``partial.sum(axis=0)`` costs ~0.5 s of compilation)."""
    dw = np.empty((f_count, channels, kh, kw), partial.dtype)
    for f in range(f_count):
        for c in range(channels):
            for ky in range(kh):
                for kx in range(kw):
                    row = (ky * kw + kx) * channels + c
                    total = partial[0, row, f]
                    for t in range(1, partial.shape[0]):
                        total += partial[t, row, f]
                    dw[f, c, ky, kx] = total
    return dw


GRAD_INPUT_SCATTER = float_kernel(conv_grad_input_scatter, (4, 4), 7, SOURCE_KEY, returns=4)
GRAD_FILTERS_WORKERS = float_kernel(_grad_filters_workers, (4, 4, 3), 6, SOURCE_KEY, returns=0)


@numba.njit(**OPTIONS)
def conv_grad_input(gout, w, h, wd, sh, sw, ph, pw, n_threads):
    """Gradient wrt the input ``x (N, C, h, wd)`` of :func:`conv_forward`, given ``gout``.

    With a stride of 1 it is the 'full' correlation of ``gout`` with the flipped,
    transposed filters; run as :func:`conv_forward_shifted` when that wastes little
    (measured faster then), else as a product and scatter (:func:`conv_grad_input_scatter`).
    ``gout`` and ``w`` must be C-contiguous.
    """
    f_count, channels, kh, kw = w.shape
    qh, qw = kh - 1 - ph, kw - 1 - pw
    if sh == 1 and sw == 1 and qh >= 0 and qw >= 0:
        if shifted_waste(channels, h, wd, gout.shape[3] + 2 * qw) < 1.3:
            return FORWARD_SHIFTED(gout, _flipped_transposed(w), qh, qw, n_threads)
    return GRAD_INPUT_SCATTER(gout, w, h, wd, sh, sw, ph, pw, n_threads)


@numba.njit(**OPTIONS)
def conv_grad_filters(x, gout, kh, kw, sh, sw, ph, pw, n_threads):
    """Gradient wrt the filters ``w (F, C, kh, kw)`` of :func:`conv_forward`, given ``gout``.

    Worker ``t`` of ``n_threads`` adds the products of its images to ``partial[t]``
    ``(K padded to ROWS, F padded to LANES)``; the partial sums are added in order.
    ``x`` and ``gout`` must be C-contiguous.
    """
    f_count, channels = gout.shape[1], x.shape[1]
    f_pad = pad_to(f_count, LANES)
    k_pad = pad_to(kh * kw * channels, ROWS)
    partial = np.zeros((n_threads, k_pad, f_pad), x.dtype)
    GRAD_FILTERS_WORKERS(x, gout, partial, kh, kw, sh, sw, ph, pw)
    return _unpack_filters(partial, f_count, channels, kh, kw)
