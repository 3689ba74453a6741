"""2-D max and average pooling as PyTensor ops (NCHW), with their gradients.

>>> y = max_pool2d(x, pool=(2, 2), stride=(2, 2), ignore_border=False)

Window ``(i, j)`` covers rows ``[i * sh, i * sh + kh)`` and columns
``[j * sw, j * sw + kw)``. With ``ignore_border=True`` only whole windows are used;
with ``ignore_border=False`` the output size is rounded up like Theano's ``pool_2d``
(30 -> 15, 13 -> 7, 5 -> 3 for pool 2), and a window cut by the border pools over the
values that exist (average pooling divides by their number).

The max-pooling gradient routes each output gradient to the first maximum of its
window in row-major order (as Theano and PyTorch do); overlapping windows add up.
Each op has a numpy ``perform`` here (Python mode; the reference), parallel Numba code
(:mod:`tgraph.backend.numba.dispatch.pool`) and a JAX one (:mod:`tgraph.backend.jax.pool`).
"""

import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import DisconnectedType, grad_not_implemented
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op

from tgraph.ops.conv import _float4d, _int_pair, _pair, _static_or_symbolic, known_pair

__all__ = [
    "max_pool2d",
    "avg_pool2d",
    "pool_output_size",
    "MaxPool2D",
    "MaxPool2DGrad",
    "AvgPool2D",
    "AvgPool2DGrad",
]


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
        out = pt.tensor(dtype=gz.dtype, shape=(*gz.type.shape[:2], *known_pair(x_hw)))
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
