"""Numba kernels of 2-D convolution (cross-correlation), NCHW: the forward pass.

Each of ``n_threads`` parallel workers takes a contiguous range of images and copies
them into zero-padded buffers (a few kB, in cache) that a microkernel of
:mod:`tgraph.backend.numba.kernels.conv_tiles` multiplies with packed weights; nothing
of im2col size is ever materialised. Two layouts: filters along the vector lanes
(:func:`conv_forward_filter_lanes`, channels-last images) and, for a stride of 1 and
few filters, output pixels along the lanes (:func:`conv_forward_shifted`).

Shapes: ``x (N, C, H, W)``, ``w (F, C, kh, kw)``, ``out (N, F, OH, OW)`` with
``OH = (H + 2 * ph - kh) // sh + 1`` (likewise ``OW``). Strides, paddings and
``n_threads`` are arguments (not constants), so one compiled kernel serves every layer:
:func:`conv_forward` calls the parallel kernels compiled by themselves, once per dtype,
through pointers (``FORWARD_SHIFTED``, ``FORWARD_FILTER_LANES``; see
:mod:`tgraph.backend.numba.runtime.opaque`).
"""

import numba
import numpy as np
from numba import prange

from tgraph.backend.numba.kernels.conv_tiles import (
    INLINE,
    LANES,
    OPTIONS,
    PARALLEL,
    ROWS,
    SOURCE_KEY,
    pad_to,
    pixel_bases,
    run_shifted_tile,
    run_tile,
    thread_range,
)
from tgraph.backend.numba.runtime.opaque import float_kernel

__all__ = ["conv_forward", "use_shifted", "conv_forward_shifted", "conv_forward_filter_lanes",
           "FORWARD_SHIFTED", "FORWARD_FILTER_LANES", "copy_padded", "pack_weights",
           "shifted_waste"]


@numba.njit(**INLINE)
def copy_padded(src, n, ph, pw, dst):
    """``dst[y + ph, x + pw, c] = src[n, c, y, x]``; the border of ``dst`` stays as is."""
    for c in range(src.shape[1]):
        for y in range(src.shape[2]):
            for x in range(src.shape[3]):
                dst[y + ph, x + pw, c] = src[n, c, y, x]


@numba.njit(**OPTIONS)
def pack_weights(w, lanes_of_f):
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
        lo, hi = thread_range(n_img, n_threads, t)
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
                    run_shifted_tile(flat, offsets, p0, wt, f0, rows)
            for f in range(f_count):
                for y in range(out_h):
                    for i in range(out_w):
                        out[n, f, y, i] = rows[f, y * wp + i]
    return out


@numba.njit(**INLINE)
def shifted_waste(out_channels, out_h, out_w, wp):
    """Computed / useful products of :func:`conv_forward_shifted` (padded rows and lanes)."""
    rows = pad_to(out_h * wp, LANES) / (out_h * out_w)
    return rows * pad_to(out_channels, ROWS) / out_channels


@numba.njit(**PARALLEL)
def conv_forward_filter_lanes(x, w, sh, sw, ph, pw, n_threads):
    """:func:`conv_forward` with the filters along the lanes of :func:`tile_product`."""
    n_img, channels, h, wd = x.shape
    f_count, _, kh, kw = w.shape
    out_h = (h + 2 * ph - kh) // sh + 1
    out_w = (wd + 2 * pw - kw) // sw + 1
    packed = pack_weights(w, True)
    out = np.empty((n_img, f_count, out_h * out_w), x.dtype)
    for t in prange(n_threads):
        lo, hi = thread_range(n_img, n_threads, t)
        padded = np.zeros((h + 2 * ph, wd + 2 * pw, channels), x.dtype)
        tile = np.empty((ROWS, LANES), x.dtype)
        bases = np.empty(ROWS, np.int64)
        for n in range(lo, hi):
            copy_padded(x, n, ph, pw, padded)
            _forward_image(padded, packed, out[n], kh, kw, sh, sw, out_w, tile, bases)
    return out.reshape(n_img, f_count, out_h, out_w)


@numba.njit(**OPTIONS)
def _forward_image(padded, packed, out, kh, kw, sh, sw, out_w, tile, bases):
    wp, channels = padded.shape[1], padded.shape[2]
    f_count, n_pixels = out.shape
    flat = padded.reshape(-1)
    for p0 in range(0, n_pixels, ROWS):
        pixel_bases(p0, n_pixels, out_w, sh * wp * channels, sw * channels, bases)
        rows = min(ROWS, n_pixels - p0)
        for f0 in range(0, f_count, LANES):
            run_tile(flat, packed, f0, 1, 0, kh, wp * channels, kw * channels, 1,
                     tile, 0, 0, False, bases)
            for v in range(min(LANES, f_count - f0)):
                for r in range(rows):
                    out[f0 + v, p0 + r] = tile[r, v]


FORWARD_SHIFTED = float_kernel(conv_forward_shifted, (4, 4), 3, SOURCE_KEY, returns=4)
FORWARD_FILTER_LANES = float_kernel(conv_forward_filter_lanes, (4, 4), 5, SOURCE_KEY, returns=4)


@numba.njit(**OPTIONS)
def conv_forward(x, w, sh, sw, ph, pw, n_threads):
    """Cross-correlation ``out[n, f] = sum_c x[n, c] (*) w[f, c]`` with stride and zero padding.

    With a stride of 1 and few filters (a first layer: filters along the lanes would
    leave most of them empty) pixels go along the lanes (:func:`conv_forward_shifted`).
    ``x`` and ``w`` must be C-contiguous.
    """
    f_count, _, kh, kw = w.shape
    if use_shifted(f_count, x.shape[2], x.shape[3], kh, kw, sh, sw, ph, pw):
        return FORWARD_SHIFTED(x, w, ph, pw, n_threads)
    return FORWARD_FILTER_LANES(x, w, sh, sw, ph, pw, n_threads)


@numba.njit(**dict(OPTIONS, no_cpython_wrapper=False))
def use_shifted(f_count, h, w, kh, kw, sh, sw, ph, pw):
    """Whether :func:`conv_forward` takes :func:`conv_forward_shifted` for these sizes
    (callable from Python too: an op whose sizes are static compiles only its kernel)."""
    if sh != 1 or sw != 1:
        return False
    wp = w + 2 * pw
    out_h, out_w = h + 2 * ph - kh + 1, wp - kw + 1
    return shifted_waste(f_count, out_h, out_w, wp) < pad_to(f_count, LANES) / f_count

