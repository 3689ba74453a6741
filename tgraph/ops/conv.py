"""2-D convolution as PyTensor ops: forward, gradient wrt the input, gradient wrt the filters.

PyTensor 3 has no batched multi-channel image convolution, so tgraph defines one:

>>> y = conv2d(x, w, stride=(1, 1), padding=(2, 2))   # x (N, C, H, W), w (F, C, kh, kw)

The op computes a **cross-correlation**, like PyTorch's ``conv2d`` and Theano's
``conv2d(filter_flip=False)``: ``y[n, f, i, j] = sum_{c, u, v} w[f, c, u, v] *
xp[n, c, i * sh + u, j * sw + v]``, where ``xp`` is ``x`` zero-padded by ``ph`` rows and
``pw`` columns on each side. Output size ``(H + 2 * ph - kh) // sh + 1`` (likewise W).

The two gradients are separate ops, so a graph computes only the ones it needs (the
first layer of a network needs no gradient wrt its input). Each op has a numpy
``perform`` here (Python mode; the reference), parallel Numba code
(:mod:`tgraph.backend.numba.dispatch.conv`) and a JAX one (:mod:`tgraph.backend.jax.conv`).
"""

import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import DisconnectedType
from pytensor.graph.basic import Apply, Constant
from pytensor.graph.op import Op

__all__ = [
    "conv2d",
    "conv_output_size",
    "Conv2D",
    "Conv2DGradInput",
    "Conv2DGradFilters",
    "known_pair",
]


def conv_output_size(size, kernel, stride, padding):
    """Output length of a convolution along one axis.

    ``(size + 2 * padding - kernel) // stride + 1``.

    Works on ints and on symbolic scalars.
    """
    return (size + 2 * padding - kernel) // stride + 1


def conv2d(x, w, stride=(1, 1), padding=(0, 0)):
    """Cross-correlation of a batch of images with a bank of filters (see the module doc).

    Args:
        x: (N, C, H, W) float tensor.
        w: (F, C, kh, kw) float tensor of the same dtype.
        stride: (sh, sw) ints >= 1.
        padding: (ph, pw) ints >= 0, zero padding on each side.

    Returns:
        (N, F, OH, OW) tensor.
    """
    return Conv2D(stride, padding)(x, w)


def _pair(value, name, minimum):
    pair = tuple(int(v) for v in value)
    if len(pair) != 2 or min(pair) < minimum:
        raise ValueError(f"`{name}` (={value!r}) must be two ints >= {minimum}")
    return pair


def _float4d(x, name):
    x = pt.as_tensor_variable(x)
    if x.ndim != 4 or x.dtype not in ("float32", "float64"):
        raise TypeError(f"`{name}` must be a 4-D float32 or float64 tensor, got {x.type}")
    return x


def _same_dtype(a, b, names):
    if a.dtype != b.dtype:
        raise TypeError(f"conv2d: `{names[0]}` is {a.dtype} but `{names[1]}` is {b.dtype}; "
                        "cast one of them")


def _int_pair(value):
    """A length-2 int64 vector (constant if the values are known)."""
    if isinstance(value, (tuple, list)):
        if all(isinstance(v, (int, np.integer)) for v in value):
            return pt.as_tensor_variable(np.asarray(value, dtype="int64"))
        return pt.stack([pt.cast(v, "int64") for v in value])
    value = pt.as_tensor_variable(value)
    if value.ndim != 1 or not value.dtype.startswith(("int", "uint")):
        raise TypeError(f"conv2d: a spatial size must be a vector of 2 ints, got {value.type}")
    return pt.cast(value, "int64")


def known_pair(variable):
    """The values of a constant length-2 vector, else ``(None, None)``."""
    if isinstance(variable, Constant):
        return tuple(int(v) for v in variable.data)
    return (None, None)


def _static_or_symbolic(var, axes):
    dims = [var.type.shape[a] for a in axes]
    return _int_pair([d if d is not None else var.shape[a] for d, a in zip(dims, axes)])


class _ConvOp(Op):
    """Shared configuration of the three convolution ops."""

    __props__ = ("stride", "padding")

    def __init__(self, stride=(1, 1), padding=(0, 0)):
        self.stride = _pair(stride, "stride", 1)
        self.padding = _pair(padding, "padding", 0)

    def _out_dims(self, h, w, kh, kw):
        (sh, sw), (ph, pw) = self.stride, self.padding
        return conv_output_size(h, kh, sh, ph), conv_output_size(w, kw, sw, pw)

    def _static_out_dims(self, h, w, kh, kw):
        if None in (h, w, kh, kw):
            return None, None
        return self._out_dims(h, w, kh, kw)


class Conv2D(_ConvOp):
    """``conv2d(x, w)``: (N, C, H, W), (F, C, kh, kw) -> (N, F, OH, OW)."""

    def make_node(self, x, w):
        x, w = _float4d(x, "x"), _float4d(w, "w")
        _same_dtype(x, w, ("x", "w"))
        n, _, h, wd = x.type.shape
        f, _, kh, kw = w.type.shape
        out = pt.tensor(dtype=x.dtype, shape=(n, f, *self._static_out_dims(h, wd, kh, kw)))
        return Apply(self, [x, w], [out])

    def perform(self, node, inputs, outputs):
        x, w = inputs
        outputs[0][0] = _np_forward(x, w, self.stride, self.padding)

    def infer_shape(self, fgraph, node, shapes):
        (n, _, h, w), (f, _, kh, kw) = shapes
        return [(n, f, *self._out_dims(h, w, kh, kw))]

    def pullback(self, inputs, outputs, cotangents):
        x, w = inputs
        (gz,) = cotangents
        x_hw = _static_or_symbolic(x, (2, 3))
        w_hw = _static_or_symbolic(w, (2, 3))
        return [
            Conv2DGradInput(self.stride, self.padding)(gz, w, x_hw),
            Conv2DGradFilters(self.stride, self.padding)(x, gz, w_hw),
        ]


class Conv2DGradInput(_ConvOp):
    """Gradient wrt ``x``: ``(gz (N, F, OH, OW), w, [H, W]) -> (N, C, H, W)``.

    ``[H, W]`` is needed because with a stride > 1 several input sizes give the same
    output size.
    """

    def make_node(self, gz, w, x_hw):
        gz, w = _float4d(gz, "gz"), _float4d(w, "w")
        _same_dtype(gz, w, ("gz", "w"))
        x_hw = _int_pair(x_hw)
        shape = (gz.type.shape[0], w.type.shape[1], *known_pair(x_hw))
        out = pt.tensor(dtype=gz.dtype, shape=shape)
        return Apply(self, [gz, w, x_hw], [out])

    def perform(self, node, inputs, outputs):
        gz, w, x_hw = inputs
        x_hw = tuple(int(v) for v in x_hw)
        outputs[0][0] = _np_grad_input(gz, w, x_hw, self.stride, self.padding)

    def infer_shape(self, fgraph, node, shapes):
        gz_shape, w_shape, _ = shapes
        x_hw = node.inputs[2]
        return [(gz_shape[0], w_shape[1], x_hw[0], x_hw[1])]

    def pullback(self, inputs, outputs, cotangents):
        gz, w, x_hw = inputs
        (gx,) = cotangents
        w_hw = _static_or_symbolic(w, (2, 3))
        return [
            Conv2D(self.stride, self.padding)(gx, w),
            Conv2DGradFilters(self.stride, self.padding)(gx, gz, w_hw),
            DisconnectedType()(),
        ]

    def connection_pattern(self, node):
        return [[True], [True], [False]]


class Conv2DGradFilters(_ConvOp):
    """Gradient wrt ``w``: ``(x (N, C, H, W), gz (N, F, OH, OW), [kh, kw]) -> (F, C, kh, kw)``."""

    def make_node(self, x, gz, w_hw):
        x, gz = _float4d(x, "x"), _float4d(gz, "gz")
        _same_dtype(x, gz, ("x", "gz"))
        w_hw = _int_pair(w_hw)
        shape = (gz.type.shape[1], x.type.shape[1], *known_pair(w_hw))
        out = pt.tensor(dtype=x.dtype, shape=shape)
        return Apply(self, [x, gz, w_hw], [out])

    def perform(self, node, inputs, outputs):
        x, gz, w_hw = inputs
        w_hw = tuple(int(v) for v in w_hw)
        outputs[0][0] = _np_grad_filters(x, gz, w_hw, self.stride, self.padding)

    def infer_shape(self, fgraph, node, shapes):
        x_shape, gz_shape, _ = shapes
        w_hw = node.inputs[2]
        return [(gz_shape[1], x_shape[1], w_hw[0], w_hw[1])]

    def pullback(self, inputs, outputs, cotangents):
        x, gz, w_hw = inputs
        (gw,) = cotangents
        x_hw = _static_or_symbolic(x, (2, 3))
        return [
            Conv2DGradInput(self.stride, self.padding)(gz, gw, x_hw),
            Conv2D(self.stride, self.padding)(x, gw),
            DisconnectedType()(),
        ]

    def connection_pattern(self, node):
        return [[True], [True], [False]]


# -- numpy (Python mode): one tensordot per kernel offset ---------------------------------


def _windows(size, kernel, stride, padding):
    """For each kernel offset ``u``, the slice of padded positions it meets."""
    out = conv_output_size(size, kernel, stride, padding)
    return [slice(u, u + (out - 1) * stride + 1, stride) for u in range(kernel)]


def _np_forward(x, w, stride, padding):
    (ph, pw) = padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    rows = _windows(x.shape[2], w.shape[2], stride[0], ph)
    cols = _windows(x.shape[3], w.shape[3], stride[1], pw)
    out = 0
    for u, rs in enumerate(rows):
        for v, cs in enumerate(cols):
            out = out + np.tensordot(xp[:, :, rs, cs], w[:, :, u, v], axes=([1], [1]))
    return np.ascontiguousarray(np.moveaxis(out, 3, 1), dtype=x.dtype)


def _np_grad_input(gz, w, x_hw, stride, padding):
    (h, wd), (ph, pw) = x_hw, padding
    dxp = np.zeros((gz.shape[0], w.shape[1], h + 2 * ph, wd + 2 * pw), gz.dtype)
    rows = _windows(h, w.shape[2], stride[0], ph)
    cols = _windows(wd, w.shape[3], stride[1], pw)
    for u, rs in enumerate(rows):
        for v, cs in enumerate(cols):
            dxp[:, :, rs, cs] += np.moveaxis(np.tensordot(gz, w[:, :, u, v], axes=([1], [0])), 3, 1)
    return np.ascontiguousarray(dxp[:, :, ph:ph + h, pw:pw + wd])


def _np_grad_filters(x, gz, w_hw, stride, padding):
    (kh, kw), (ph, pw) = w_hw, padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    rows = _windows(x.shape[2], kh, stride[0], ph)
    cols = _windows(x.shape[3], kw, stride[1], pw)
    dw = np.empty((gz.shape[1], x.shape[1], kh, kw), x.dtype)
    for u, rs in enumerate(rows):
        for v, cs in enumerate(cols):
            dw[:, :, u, v] = np.tensordot(gz, xp[:, :, rs, cs], axes=([0, 2, 3], [0, 2, 3]))
    return dw
