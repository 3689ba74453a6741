"""Numba kernels of 2-D max and average pooling (NCHW) and their gradients.

Window ``(i, j)`` covers rows ``[i * sh, min(i * sh + kh, H))`` and columns
``[j * sw, min(j * sw + kw, W))``: windows cut by the border (``ignore_border=False``)
pool over the values that exist, and average pooling divides by their number. The
output size ``(oh, ow)`` is decided by the caller (see :func:`tgraph.ops.pool.pool_output_size`).
The planes ``(n, c)`` are processed in parallel.

The 2x2 windows with stride 2 of every tutorial network have their own loops, in which
the constant offsets let LLVM vectorize across windows (about 10x faster than the
general loops, which handle any window and stride); both give the same results.

The parallel loops (``_*_planes``) are compiled by themselves, once per dtype, and called
through pointers (the ``*_PLANES`` stand-ins, see
:mod:`tgraph.backend.numba.runtime.opaque`); window and stride are arguments, so every
layer shares them.
"""

import numba
import numpy as np
from numba import prange

from tgraph.backend.numba.runtime import opaque
from tgraph.backend.numba.runtime.cache import source_key
from tgraph.backend.numba.runtime.opaque import float_kernel

__all__ = ["max_pool_2x2", "max_pool_general", "max_pool_grad_2x2", "max_pool_grad_general",
           "avg_pool", "avg_pool_grad"]

# PyTensor's own fastmath flags: no "nnan"/"ninf", so NaN and inf propagate like numpy.
_FASTMATH = {"arcp", "contract", "afn", "reassoc", "nsz"}
# Called from jitted code only (no Python or C wrappers), not cached by themselves: the
# entry kernels are, under a key of this module's source (see
# tgraph.backend.numba.runtime.opaque).
OPTIONS = {"fastmath": _FASTMATH, "error_model": "numpy", "boundscheck": False,
           "no_cpython_wrapper": True, "no_cfunc_wrapper": True}
# Small helpers are inlined into their callers' Numba IR instead of being compiled (and
# optimized again in each caller) by themselves; allocations stay out of the parallel
# functions (np.zeros there would be a parallel loop of its own).
INLINE = dict(OPTIONS, inline="always")
PARALLEL = dict(OPTIONS, parallel=True)


@numba.njit(**INLINE)
def _span(i, stride, size, limit):
    start = i * stride
    return start, min(start + size, limit)


@numba.njit(**INLINE)
def _windows_reaching(column, stride, n_windows, width):
    """How many windows ``j`` (from 0) have column ``j * stride + column`` inside ``width``."""
    if column >= width:
        return 0
    return min(n_windows, (width - 1 - column) // stride + 1)


@numba.njit(**INLINE)
def _is_max(value, best):
    """Whether ``value`` is its window's maximum ``best``; a NaN is (it makes the max NaN)."""
    return (value == best) | (value != value)


@numba.njit(**OPTIONS)
def _max_row(plane, r0, r1, kw, sw, out_row):
    """``out_row[j]`` = max (NaN if any) of rows ``[r0, r1)`` of window column ``j``."""
    ow, w = out_row.shape[0], plane.shape[1]
    for j in range(ow):
        out_row[j] = plane[r0, j * sw]
    for r in range(r0, r1):
        for dc in range(kw):
            for j in range(_windows_reaching(dc, sw, ow, w)):
                value = plane[r, j * sw + dc]
                best = out_row[j]
                out_row[j] = value if (value > best or value != value) else best


@numba.njit(**INLINE)
def _nanmax(a, b):
    """``max(a, b)``, NaN if either is NaN."""
    return a if (a >= b or a != a) else b


@numba.njit(**OPTIONS)
def _max_pool_2x2(plane, out):
    """2x2 windows, stride 2, of one ``(h, w)`` plane into ``out (oh, ow)``."""
    h, w = plane.shape
    oh, ow = out.shape
    pairs = min(w // 2, ow)
    for i in range(oh):
        top, bottom, row = plane[2 * i], plane[min(2 * i + 1, h - 1)], out[i]
        for j in range(pairs):
            row[j] = _nanmax(_nanmax(top[2 * j], top[2 * j + 1]),
                             _nanmax(bottom[2 * j], bottom[2 * j + 1]))
        if ow > pairs:  # a last window cut by the right border
            row[ow - 1] = _nanmax(top[w - 1], bottom[w - 1])


@numba.njit(**OPTIONS)
def max_pool_2x2(x, oh, ow):
    """:func:`max_pool_general` with 2x2 windows and strides (a kernel of its own)."""
    out = np.empty((x.shape[0], x.shape[1], oh, ow), x.dtype)
    MAX_POOL_2X2_PLANES(x, out)
    return out


@numba.njit(**OPTIONS)
def max_pool_general(x, kh, kw, sh, sw, oh, ow):
    """``out[n, c, i, j] = max`` of window ``(i, j)`` of ``x[n, c]`` (NaN if it holds one),
    for any window and stride."""
    out = np.empty((x.shape[0], x.shape[1], oh, ow), x.dtype)
    MAX_POOL_PLANES(x, out, kh, kw, sh, sw)
    return out


@numba.njit(**PARALLEL)
def _max_pool_2x2_planes(x, out):
    channels = x.shape[1]
    for q in prange(x.shape[0] * channels):
        _max_pool_2x2(x[q // channels, q % channels], out[q // channels, q % channels])


@numba.njit(**PARALLEL)
def _max_pool_planes(x, out, kh, kw, sh, sw):
    channels, h, oh = x.shape[1], x.shape[2], out.shape[2]
    for q in prange(x.shape[0] * channels):
        n, c = q // channels, q % channels
        for i in range(oh):
            r0, r1 = _span(i, sh, kh, h)
            _max_row(x[n, c], r0, r1, kw, sw, out[n, c, i])


@numba.njit(**OPTIONS)
def _route_2x2(top, bottom, best, grad, g_top, g_bottom, count):
    """Gradients of windows ``j < count`` of a pair of rows: ``grad[j]`` to the first max.

    All four entries of each window are written (no zeroing pass, no branches). Values
    are read into locals before the stores, which might alias them (else no vectorizing).
    """
    for j in range(count):
        m, g = best[j], grad[j]
        a = _is_max(top[2 * j], m)
        b = _is_max(top[2 * j + 1], m) & (not a)
        ab = a | b
        c = _is_max(bottom[2 * j], m) & (not ab)
        d = not (ab | c)
        g_top[2 * j] = g if a else 0
        g_top[2 * j + 1] = g if b else 0
        g_bottom[2 * j] = g if c else 0
        g_bottom[2 * j + 1] = g if d else 0


@numba.njit(**INLINE)
def _route_cut_window(plane, r0, c0, best, grad, g_plane):
    """Gradient of a 2x2 window cut by the border (``g_plane`` zero there beforehand)."""
    for r in range(r0, min(r0 + 2, plane.shape[0])):
        for col in range(c0, min(c0 + 2, plane.shape[1])):
            if _is_max(plane[r, col], best):
                g_plane[r, col] = grad
                return


@numba.njit(**OPTIONS)
def _max_pool_grad_2x2(plane, best, grad, g_plane):
    """Gradient of :func:`_max_pool_2x2` for one plane; every entry of ``g_plane`` is set."""
    oh, ow = best.shape
    rows, pairs = min(plane.shape[0] // 2, oh), min(plane.shape[1] // 2, ow)
    for i in range(rows):
        _route_2x2(plane[2 * i], plane[2 * i + 1], best[i], grad[i], g_plane[2 * i],
                   g_plane[2 * i + 1], pairs)
    g_plane[:2 * rows, 2 * pairs:] = 0  # right of the whole windows
    g_plane[2 * rows:, :] = 0  # below them
    for i in range(rows, oh):  # windows cut by the bottom border
        for j in range(ow):
            _route_cut_window(plane, 2 * i, 2 * j, best[i, j], grad[i, j], g_plane)
    for j in range(pairs, ow):  # windows cut by the right border
        for i in range(rows):
            _route_cut_window(plane, 2 * i, 2 * j, best[i, j], grad[i, j], g_plane)


@numba.njit(**OPTIONS)
def max_pool_grad_2x2(x, out, gz):
    """:func:`max_pool_grad_general` with 2x2 windows and strides (a kernel of its own)."""
    return MAX_POOL_GRAD_2X2_PLANES(x, out, gz)


@numba.njit(**OPTIONS)
def max_pool_grad_general(x, out, gz, kh, kw, sh, sw):
    """Gradient of :func:`max_pool_general` wrt ``x``, given its output ``out``.

    Each ``gz[n, c, i, j]`` goes to the first position (row-major) of window ``(i, j)``
    holding the maximum; overlapping windows add up.
    """
    gx = np.zeros_like(x)
    MAX_POOL_GRAD_PLANES(x, out, gz, gx, kh, kw, sh, sw)
    return gx


@numba.njit(**PARALLEL)
def _max_pool_grad_2x2_planes(x, out, gz):
    gx = np.empty_like(x)
    channels = x.shape[1]
    for q in prange(x.shape[0] * channels):
        n, c = q // channels, q % channels
        _max_pool_grad_2x2(x[n, c], out[n, c], gz[n, c], gx[n, c])
    return gx


@numba.njit(**PARALLEL)
def _max_pool_grad_planes(x, out, gz, gx, kh, kw, sh, sw):
    n_img, channels, h, w = x.shape
    oh, ow = gz.shape[2], gz.shape[3]
    done = np.empty((n_img * channels, ow), np.bool_)
    for q in prange(n_img * channels):
        n, c = q // channels, q % channels
        for i in range(oh):
            r0, r1 = _span(i, sh, kh, h)
            done[q, :] = False
            for r in range(r0, r1):
                for dc in range(kw):
                    for j in range(_windows_reaching(dc, sw, ow, w)):
                        col = j * sw + dc
                        if not done[q, j] and _is_max(x[n, c, r, col], out[n, c, i, j]):
                            gx[n, c, r, col] += gz[n, c, i, j]
                            done[q, j] = True


@numba.njit(**OPTIONS)
def avg_pool(x, kh, kw, sh, sw, oh, ow):
    """``out[n, c, i, j]`` = mean of the values of window ``(i, j)`` of ``x[n, c]``."""
    out = np.zeros((x.shape[0], x.shape[1], oh, ow), x.dtype)
    AVG_POOL_PLANES(x, out, kh, kw, sh, sw)
    return out


@numba.njit(**PARALLEL)
def _avg_pool_planes(x, out, kh, kw, sh, sw):
    n_img, channels, h, w = x.shape
    oh, ow = out.shape[2], out.shape[3]
    for q in prange(n_img * channels):
        n, c = q // channels, q % channels
        for i in range(oh):
            r0, r1 = _span(i, sh, kh, h)
            for r in range(r0, r1):
                for dc in range(kw):
                    for j in range(_windows_reaching(dc, sw, ow, w)):
                        out[n, c, i, j] += x[n, c, r, j * sw + dc]
            for j in range(ow):
                c0, c1 = _span(j, sw, kw, w)
                out[n, c, i, j] /= (r1 - r0) * (c1 - c0)


@numba.njit(**OPTIONS)
def avg_pool_grad(gz, h, w, kh, kw, sh, sw):
    """Gradient of :func:`avg_pool` wrt its ``(N, C, h, w)`` input."""
    gx = np.zeros((gz.shape[0], gz.shape[1], h, w), gz.dtype)
    AVG_POOL_GRAD_PLANES(gz, gx, kh, kw, sh, sw)
    return gx


@numba.njit(**PARALLEL)
def _avg_pool_grad_planes(gz, gx, kh, kw, sh, sw):
    n_img, channels, oh, ow = gz.shape
    h, w = gx.shape[2], gx.shape[3]
    for q in prange(n_img * channels):
        n, c = q // channels, q % channels
        share = np.empty(ow, gz.dtype)
        for i in range(oh):
            r0, r1 = _span(i, sh, kh, h)
            for j in range(ow):
                c0, c1 = _span(j, sw, kw, w)
                share[j] = gz[n, c, i, j] / ((r1 - r0) * (c1 - c0))
            for r in range(r0, r1):
                for dc in range(kw):
                    for j in range(_windows_reaching(dc, sw, ow, w)):
                        gx[n, c, r, j * sw + dc] += share[j]


# Stand-ins of the parallel loops (used above), cached under a hash of this module.
SOURCE_KEY = source_key([__file__, opaque.__file__])
MAX_POOL_2X2_PLANES = float_kernel(_max_pool_2x2_planes, (4, 4), 0, SOURCE_KEY, returns=0)
MAX_POOL_PLANES = float_kernel(_max_pool_planes, (4, 4), 4, SOURCE_KEY, returns=0)
MAX_POOL_GRAD_2X2_PLANES = float_kernel(_max_pool_grad_2x2_planes, (4, 4, 4), 0, SOURCE_KEY,
                                        returns=4)
MAX_POOL_GRAD_PLANES = float_kernel(_max_pool_grad_planes, (4, 4, 4, 4), 4, SOURCE_KEY,
                                    returns=0)
AVG_POOL_PLANES = float_kernel(_avg_pool_planes, (4, 4), 4, SOURCE_KEY, returns=0)
AVG_POOL_GRAD_PLANES = float_kernel(_avg_pool_grad_planes, (4, 4), 4, SOURCE_KEY, returns=0)
