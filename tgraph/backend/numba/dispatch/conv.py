"""Numba code of the convolution ops (:mod:`tgraph.ops.conv`).

The kernels' parallel parts (:mod:`tgraph.backend.numba.kernels.conv`,
:mod:`tgraph.backend.numba.kernels.conv_grad`) are compiled once per dtype and called
through pointers (:mod:`tgraph.backend.numba.runtime.opaque`): stride, padding and
threads are arguments, all layers share them. The forward op compiles only the kernel
variant its static shapes select, and hands its kernels to the compile helper when its
code is generated.
"""

import numba
import numpy as np
from pytensor.link.numba.dispatch.basic import numba_njit, register_funcify_and_cache_key

from tgraph.backend.numba.kernels import conv as kernels
from tgraph.backend.numba.kernels import conv_grad as grad_kernels
from tgraph.backend.numba.kernels import conv_tiles
from tgraph.backend.numba.runtime import opaque
from tgraph.backend.numba.runtime.cache import source_key
from tgraph.ops import conv as conv_ops
from tgraph.ops.conv import Conv2D, Conv2DGradFilters, Conv2DGradInput

__all__ = ["SOURCE_KEY"]

# Changes to the ops, to this file or to the kernels must invalidate PyTensor's on-disk
# Numba cache of the graphs that use them.
SOURCE_KEY = source_key([conv_ops.__file__, __file__]) + conv_tiles.SOURCE_KEY


def _cache_key(op, n_threads):
    return f"tgraph.{type(op).__name__}{op.stride}{op.padding}-threads{n_threads}-{SOURCE_KEY}"


@register_funcify_and_cache_key(Conv2D)
def _numba_conv2d(op, node=None, **kwargs):
    (sh, sw), (ph, pw) = op.stride, op.padding
    n_threads = numba.get_num_threads()

    dtype = node.outputs[0].type.dtype if node else None
    sizes = (*node.inputs[1].type.shape, *node.inputs[0].type.shape[2:]) if node else ()
    if None in sizes or len(sizes) != 6:  # chosen at run time: both kernels are compiled
        opaque.prefetch(dtype, kernels.FORWARD_SHIFTED, kernels.FORWARD_FILTER_LANES)

        @numba_njit
        def conv2d_forward(x, w):
            x, w = np.ascontiguousarray(x), np.ascontiguousarray(w)
            return kernels.conv_forward(x, w, sh, sw, ph, pw, n_threads)

        return conv2d_forward, _cache_key(op, n_threads)
    f_count, _, kh, kw, h, wd = sizes
    if kernels.use_shifted(f_count, h, wd, kh, kw, sh, sw, ph, pw):
        opaque.prefetch(dtype, kernels.FORWARD_SHIFTED)

        @numba_njit
        def conv2d_forward_shifted(x, w):
            x, w = np.ascontiguousarray(x), np.ascontiguousarray(w)
            return kernels.FORWARD_SHIFTED(x, w, ph, pw, n_threads)

        return conv2d_forward_shifted, _cache_key(op, n_threads) + "-shifted"
    opaque.prefetch(dtype, kernels.FORWARD_FILTER_LANES)

    @numba_njit
    def conv2d_forward_filter_lanes(x, w):
        x, w = np.ascontiguousarray(x), np.ascontiguousarray(w)
        return kernels.FORWARD_FILTER_LANES(x, w, sh, sw, ph, pw, n_threads)

    return conv2d_forward_filter_lanes, _cache_key(op, n_threads) + "-lanes"


@register_funcify_and_cache_key(Conv2DGradInput)
def _numba_conv2d_grad_input(op, node=None, **kwargs):
    (sh, sw), (ph, pw) = op.stride, op.padding
    n_threads = numba.get_num_threads()
    opaque.prefetch(node and node.outputs[0].type.dtype, grad_kernels.GRAD_INPUT_SCATTER)

    @numba_njit
    def conv2d_grad_input(gz, w, x_hw):
        gz, w = np.ascontiguousarray(gz), np.ascontiguousarray(w)
        return grad_kernels.conv_grad_input(gz, w, x_hw[0], x_hw[1], sh, sw, ph, pw,
                                            n_threads)

    return conv2d_grad_input, _cache_key(op, n_threads)


@register_funcify_and_cache_key(Conv2DGradFilters)
def _numba_conv2d_grad_filters(op, node=None, **kwargs):
    (sh, sw), (ph, pw) = op.stride, op.padding
    n_threads = numba.get_num_threads()
    opaque.prefetch(node and node.outputs[0].type.dtype, grad_kernels.GRAD_FILTERS_WORKERS)

    @numba_njit
    def conv2d_grad_filters(x, gz, w_hw):
        x, gz = np.ascontiguousarray(x), np.ascontiguousarray(gz)
        return grad_kernels.conv_grad_filters(x, gz, w_hw[0], w_hw[1], sh, sw, ph, pw,
                                              n_threads)

    return conv2d_grad_filters, _cache_key(op, n_threads)
