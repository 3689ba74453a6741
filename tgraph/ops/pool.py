"""2-D max and average pooling as PyTensor ops (NCHW), with their gradients.

>>> y = max_pool2d(x, pool=(2, 2), stride=(2, 2), ignore_border=False)

Window ``(i, j)`` covers rows ``[i * sh, i * sh + kh)`` and columns
``[j * sw, j * sw + kw)``. With ``ignore_border=True`` only whole windows are used;
with ``ignore_border=False`` the output size is rounded up like Theano's ``pool_2d``
(30 -> 15, 13 -> 7, 5 -> 3 for pool 2), and a window cut by the border pools over the
values that exist (average pooling divides by their number).

The max-pooling gradient routes each output gradient to the first maximum of its
window in row-major order (as Theano and PyTorch do); overlapping windows add up.
Each op has a numpy ``perform`` (Python mode), a parallel Numba implementation (see
:mod:`tgraph.ops._pool_kernels`) and a JAX one (:func:`register_jax`).
"""

import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import DisconnectedType, grad_not_implemented
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.link.numba.dispatch.basic import numba_njit, register_funcify_and_cache_key

from tgraph.ops import _opaque
from tgraph.ops import _pool_kernels as kernels
from tgraph.ops.conv import (
    _float4d,
    _int_pair,
    _known_pair,
    _pair,
    _static_or_symbolic,
    _static_size,
)

__all__ = [
    "max_pool2d",
    "avg_pool2d",
    "pool_output_size",
    "MaxPool2D",
    "MaxPool2DGrad",
    "AvgPool2D",
    "AvgPool2DGrad",
    "register_jax",
]

# Changes to this file or to the kernels must invalidate PyTensor's on-disk Numba cache.
_SOURCE_HASH = _opaque.source_key([kernels.__file__, __file__])


def pool_output_size(size, pool, stride, ignore_border):
    """Number of windows along one axis (Theano's ``pool_2d`` rule); ints or symbolic.

    Args:
        size: input length.
        pool: window length.
        stride: step between windows.
        ignore_border: if ``False``, a last partial window counts when it starts inside.

    Returns:
        ``(size - pool) // stride + 1`` (at least 0) if ``ignore_border``; otherwise
        ``(size - 1) // stride + 1`` when ``stride >= pool`` and
        ``max(0, (size - 1 - pool + stride) // stride) + 1`` when ``stride < pool``.
    """
    at_least_0 = max if isinstance(size, (int, np.integer)) else pt.maximum
    if ignore_border:
        return at_least_0(0, (size - pool) // stride + 1)
    if stride >= pool:
        return (size - 1) // stride + 1
    return at_least_0(0, (size - 1 - pool + stride) // stride) + 1


def max_pool2d(x, pool, stride=None, ignore_border=True):
    """Maximum over each window; (N, C, H, W) -> (N, C, OH, OW); ``stride`` defaults to ``pool``."""
    return MaxPool2D(pool, stride or pool, ignore_border)(x)


def avg_pool2d(x, pool, stride=None, ignore_border=True):
    """Mean over each window's existing values; (N, C, H, W) -> (N, C, OH, OW)."""
    return AvgPool2D(pool, stride or pool, ignore_border)(x)


class _PoolOp(Op):
    """Shared configuration of the pooling ops."""

    __props__ = ("pool", "stride", "ignore_border")

    def __init__(self, pool, stride=None, ignore_border=True):
        self.pool = _pair(pool, "pool", 1)
        self.stride = _pair(stride or pool, "stride", 1)
        self.ignore_border = bool(ignore_border)

    def out_dims(self, h, w):
        """Output (OH, OW) for an input of (H, W) (ints or symbolic)."""
        (kh, kw), (sh, sw) = self.pool, self.stride
        return (pool_output_size(h, kh, sh, self.ignore_border),
                pool_output_size(w, kw, sw, self.ignore_border))

    def _out_type(self, x):
        n, c, h, w = x.type.shape
        dims = (None, None) if None in (h, w) else self.out_dims(h, w)
        return pt.tensor(dtype=x.dtype, shape=(n, c, *dims))


class MaxPool2D(_PoolOp):
    """Max pooling: (N, C, H, W) -> (N, C, OH, OW)."""

    def make_node(self, x):
        x = _float4d(x, "x")
        return Apply(self, [x], [self._out_type(x)])

    def perform(self, node, inputs, outputs):
        (x,) = inputs
        outputs[0][0] = _np_pool(x, self, np.max)

    def infer_shape(self, fgraph, node, shapes):
        n, c, h, w = shapes[0]
        return [(n, c, *self.out_dims(h, w))]

    def pullback(self, inputs, outputs, cotangents):
        grad = MaxPool2DGrad(self.pool, self.stride, self.ignore_border)
        return [grad(inputs[0], outputs[0], cotangents[0])]


class MaxPool2DGrad(_PoolOp):
    """Gradient of max pooling: ``(x, out, gz) -> gx`` of ``x``'s shape (``out`` = max_pool(x))."""

    def make_node(self, x, out, gz):
        x, out, gz = _float4d(x, "x"), _float4d(out, "out"), _float4d(gz, "gz")
        return Apply(self, [x, out, gz], [x.type()])

    def perform(self, node, inputs, outputs):
        x, _, gz = inputs
        outputs[0][0] = _np_max_pool_grad(x, gz, self)

    def infer_shape(self, fgraph, node, shapes):
        return [shapes[0]]

    def pullback(self, inputs, outputs, cotangents):
        return [grad_not_implemented(self, k, var) for k, var in enumerate(inputs)]


class AvgPool2D(_PoolOp):
    """Average pooling over the existing values of each window."""

    def make_node(self, x):
        x = _float4d(x, "x")
        return Apply(self, [x], [self._out_type(x)])

    def perform(self, node, inputs, outputs):
        (x,) = inputs
        outputs[0][0] = _np_pool(x, self, np.mean)

    def infer_shape(self, fgraph, node, shapes):
        n, c, h, w = shapes[0]
        return [(n, c, *self.out_dims(h, w))]

    def pullback(self, inputs, outputs, cotangents):
        x_hw = _static_or_symbolic(inputs[0], (2, 3))
        return [AvgPool2DGrad(self.pool, self.stride, self.ignore_border)(cotangents[0], x_hw)]


class AvgPool2DGrad(_PoolOp):
    """Gradient of average pooling: ``(gz, [H, W]) -> gx (N, C, H, W)``."""

    def make_node(self, gz, x_hw):
        gz, x_hw = _float4d(gz, "gz"), _int_pair(x_hw)
        out = pt.tensor(dtype=gz.dtype, shape=(*gz.type.shape[:2], *_known_pair(x_hw)))
        return Apply(self, [gz, x_hw], [out])

    def perform(self, node, inputs, outputs):
        gz, x_hw = inputs
        outputs[0][0] = _np_avg_pool_grad(gz, tuple(int(v) for v in x_hw), self)

    def infer_shape(self, fgraph, node, shapes):
        x_hw = node.inputs[1]
        return [(*shapes[0][:2], x_hw[0], x_hw[1])]

    def pullback(self, inputs, outputs, cotangents):
        avg = AvgPool2D(self.pool, self.stride, self.ignore_border)
        return [avg(cotangents[0]), DisconnectedType()()]

    def connection_pattern(self, node):
        return [[True], [False]]


# -- numpy (Python mode): a loop over windows, vectorized over (N, C) ---------------------


def _window_slices(op, h, w):
    (kh, kw), (sh, sw) = op.pool, op.stride
    oh, ow = op.out_dims(h, w)
    for i in range(oh):
        for j in range(ow):
            yield i, j, slice(i * sh, min(i * sh + kh, h)), slice(j * sw, min(j * sw + kw, w))


def _np_pool(x, op, reduce):
    n, c, h, w = x.shape
    out = np.empty((n, c, *op.out_dims(h, w)), x.dtype)
    for i, j, rows, cols in _window_slices(op, h, w):
        out[:, :, i, j] = reduce(x[:, :, rows, cols], axis=(2, 3))
    return out


def _np_max_pool_grad(x, gz, op):
    gx = np.zeros_like(x)
    n, c, h, w = x.shape
    nn, cc = np.meshgrid(np.arange(n), np.arange(c), indexing="ij")
    for i, j, rows, cols in _window_slices(op, h, w):
        window = x[:, :, rows, cols]
        first = np.argmax(window.reshape(n, c, -1), axis=2)
        r, col = np.unravel_index(first, window.shape[2:])
        gx[nn, cc, r + rows.start, col + cols.start] += gz[:, :, i, j]
    return gx


def _np_avg_pool_grad(gz, x_hw, op):
    gx = np.zeros((*gz.shape[:2], *x_hw), gz.dtype)
    for i, j, rows, cols in _window_slices(op, *x_hw):
        count = (rows.stop - rows.start) * (cols.stop - cols.start)
        gx[:, :, rows, cols] += (gz[:, :, i, j] / count)[:, :, None, None]
    return gx


# -- Numba ---------------------------------------------------------------------------------


def _cache_key(op):
    return f"tgraph.{type(op).__name__}{op.pool}{op.stride}{op.ignore_border}-{_SOURCE_HASH}"


@register_funcify_and_cache_key(MaxPool2D)
def _numba_max_pool(op, node=None, **kwargs):
    (kh, kw), (sh, sw) = op.pool, op.stride
    op_out_dims = _numba_out_dims(op)

    dtype = node and node.outputs[0].type.dtype
    if (kh, kw, sh, sw) == (2, 2, 2, 2):  # chosen here: one kernel is compiled, not both
        _opaque.prefetch(dtype, kernels.MAX_POOL_2X2_PLANES)

        @numba_njit
        def max_pool2d_2x2(x):
            oh, ow = op_out_dims(x.shape[2], x.shape[3])
            return kernels.max_pool_2x2(np.ascontiguousarray(x), oh, ow)

        return max_pool2d_2x2, _cache_key(op)
    _opaque.prefetch(dtype, kernels.MAX_POOL_PLANES)

    @numba_njit
    def max_pool2d_forward(x):
        oh, ow = op_out_dims(x.shape[2], x.shape[3])
        return kernels.max_pool_general(np.ascontiguousarray(x), kh, kw, sh, sw, oh, ow)

    return max_pool2d_forward, _cache_key(op)


@register_funcify_and_cache_key(MaxPool2DGrad)
def _numba_max_pool_grad(op, node=None, **kwargs):
    (kh, kw), (sh, sw) = op.pool, op.stride

    dtype = node and node.outputs[0].type.dtype
    if (kh, kw, sh, sw) == (2, 2, 2, 2):
        _opaque.prefetch(dtype, kernels.MAX_POOL_GRAD_2X2_PLANES)

        @numba_njit
        def max_pool2d_grad_2x2(x, out, gz):
            x, out = np.ascontiguousarray(x), np.ascontiguousarray(out)
            return kernels.max_pool_grad_2x2(x, out, np.ascontiguousarray(gz))

        return max_pool2d_grad_2x2, _cache_key(op)
    _opaque.prefetch(dtype, kernels.MAX_POOL_GRAD_PLANES)

    @numba_njit
    def max_pool2d_grad(x, out, gz):
        x, out = np.ascontiguousarray(x), np.ascontiguousarray(out)
        return kernels.max_pool_grad_general(x, out, np.ascontiguousarray(gz), kh, kw, sh, sw)

    return max_pool2d_grad, _cache_key(op)


@register_funcify_and_cache_key(AvgPool2D)
def _numba_avg_pool(op, node=None, **kwargs):
    (kh, kw), (sh, sw) = op.pool, op.stride
    op_out_dims = _numba_out_dims(op)
    _opaque.prefetch(node and node.outputs[0].type.dtype, kernels.AVG_POOL_PLANES)

    @numba_njit
    def avg_pool2d_forward(x):
        oh, ow = op_out_dims(x.shape[2], x.shape[3])
        return kernels.avg_pool(np.ascontiguousarray(x), kh, kw, sh, sw, oh, ow)

    return avg_pool2d_forward, _cache_key(op)


@register_funcify_and_cache_key(AvgPool2DGrad)
def _numba_avg_pool_grad(op, node=None, **kwargs):
    (kh, kw), (sh, sw) = op.pool, op.stride
    _opaque.prefetch(node and node.outputs[0].type.dtype, kernels.AVG_POOL_GRAD_PLANES)

    @numba_njit
    def avg_pool2d_grad(gz, x_hw):
        return kernels.avg_pool_grad(np.ascontiguousarray(gz), x_hw[0], x_hw[1], kh, kw, sh, sw)

    return avg_pool2d_grad, _cache_key(op)


def _numba_out_dims(op):
    """A jitted ``(h, w) -> (oh, ow)`` for ``op``'s configuration."""
    (kh, kw), (sh, sw), ignore = op.pool, op.stride, op.ignore_border

    @numba_njit
    def out_dims(h, w):
        return _nb_out_size(h, kh, sh, ignore), _nb_out_size(w, kw, sw, ignore)

    return out_dims


@numba_njit
def _nb_out_size(size, pool, stride, ignore_border):
    if ignore_border:
        return max(0, (size - pool) // stride + 1)
    if stride >= pool:
        return (size - 1) // stride + 1
    return max(0, (size - 1 - pool + stride) // stride) + 1


# -- JAX -----------------------------------------------------------------------------------


def register_jax(jax_funcify):
    """Register the JAX implementations (``jax.lax.reduce_window`` and its VJPs)."""
    import jax
    import jax.numpy as jnp

    def windows(op, x, init, combine):
        (kh, kw), (sh, sw) = op.pool, op.stride
        oh, ow = op.out_dims(x.shape[2], x.shape[3])
        pad_h = max(0, (oh - 1) * sh + kh - x.shape[2])
        pad_w = max(0, (ow - 1) * sw + kw - x.shape[3])
        return jax.lax.reduce_window(x, init, combine, (1, 1, kh, kw), (1, 1, sh, sw),
                                     ((0, 0), (0, 0), (0, pad_h), (0, pad_w)))[:, :, :oh, :ow]

    def max_pool(op):
        return lambda x: windows(op, x, np.array(-np.inf, x.dtype), jax.lax.max)

    def avg_pool(op):
        def run(x):
            zero = np.array(0, x.dtype)  # a concrete init: JAX then knows the monoid
            counts = windows(op, jnp.ones((1, 1, *x.shape[2:]), x.dtype), zero, jax.lax.add)
            return windows(op, x, zero, jax.lax.add) / counts
        return run

    @jax_funcify.register(MaxPool2D)
    def _jax_max_pool(op, **kwargs):
        return max_pool(op)

    @jax_funcify.register(MaxPool2DGrad)
    def _jax_max_pool_grad(op, **kwargs):
        return lambda x, out, gz: jax.vjp(max_pool(op), x)[1](gz)[0]

    @jax_funcify.register(AvgPool2D)
    def _jax_avg_pool(op, **kwargs):
        return avg_pool(op)

    @jax_funcify.register(AvgPool2DGrad)
    def _jax_avg_pool_grad(op, node, **kwargs):
        known = _known_pair(node.inputs[1])

        def run(gz, x_hw):
            hw = [_static_size(k, None, f"AvgPool2DGrad axis {a}") for a, k in zip((2, 3), known)]
            x0 = jnp.zeros((*gz.shape[:2], *hw), gz.dtype)
            return jax.vjp(avg_pool(op), x0)[1](gz)[0]
        return run
