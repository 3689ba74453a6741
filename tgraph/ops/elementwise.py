"""Activation and loss building blocks as tgraph ops with fast Numba kernels.

PyTensor's Numba backend calls scalar libm once per element for ``tanh``, ``exp`` and
friends and does not vectorize them (``pt.tanh`` on float32 (128, 500): ~1000 us, numpy
12 us). The ops here are tensor-level: their Numba code
(:mod:`tgraph.backend.numba.dispatch.elementwise`) is one flat or row-wise loop of
:mod:`tgraph.backend.numba.kernels.elementwise`, which LLVM vectorizes. float32 uses
polynomial and rational approximations (max errors in each docstring, relative to
results >= 1.2e-38); float64 uses exact libm, so finite-difference checks stay tight.
Outputs keep the input dtype; inf and NaN inputs give what numpy gives.

Each op has a numpy ``perform`` here (the reference; Python and C backends) and a JAX
implementation (:mod:`tgraph.backend.jax.elementwise`). The gradients of the
elementwise ops are PyTensor expressions of the output without transcendental
functions (PyTensor's fused loops for those are fast); the row-wise ops have gradient
ops. ``benchmarks/ops.py`` times everything against numpy and PyTorch.
"""

import numpy as np
import pytensor.tensor as pt
import scipy.special
from pytensor.gradient import DisconnectedType, disconnected_type
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.scalar import upcast
from pytensor.tensor.type import integer_dtypes

__all__ = ["tanh", "sigmoid", "elu", "softplus", "softmax", "log_softmax", "softmax_nll",
           "Tanh", "Sigmoid", "Softplus", "Elu", "Softmax", "LogSoftmax", "SoftmaxGrad",
           "LogSoftmaxGrad", "SoftmaxNLL", "SoftmaxNLLGrad"]

FLOAT_DTYPES = ("float32", "float64")


def _as_float(x, name="x"):
    """``x`` as a float32/float64 tensor (integers upcast as by PyTensor's ``tanh``)."""
    x = pt.as_tensor_variable(x)
    if x.dtype not in FLOAT_DTYPES:
        x = pt.cast(x, upcast(x.dtype, "float32"))
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"`{name}` must be float32 or float64, got {x.dtype}")
    return x


def _connected(g):
    return not isinstance(g.type, DisconnectedType)


class _KernelOp(Op):
    """An op of this module (one Numba kernel each in the Numba backend)."""

    __props__ = ()

    def infer_shape(self, fgraph, node, shapes):
        return [shapes[0]]


class _Unary(_KernelOp):
    """Elementwise ``y = f(x)``; subclasses give ``numpy(x)`` and ``backward(x, y, gy)``."""

    def make_node(self, x):
        x = _as_float(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, outputs):
        outputs[0][0] = np.asarray(self.numpy(inputs[0]), dtype=inputs[0].dtype)

    def pullback(self, inputs, outputs, cotangents):
        return [self.backward(inputs[0], outputs[0], cotangents[0])]


class Tanh(_Unary):
    """``tanh``; float32 max abs. and rel. error 2.8e-7, exactly +-1 beyond +-9."""

    numpy = staticmethod(np.tanh)

    @staticmethod
    def backward(x, y, gy):
        return gy * (1 - y * y)


class Sigmoid(_Unary):
    """``1 / (1 + exp(-x))`` from ``exp(-|x|)``; float32 max rel. error 2e-7, abs. 1e-7."""

    numpy = staticmethod(scipy.special.expit)

    @staticmethod
    def backward(x, y, gy):
        return gy * y * (1 - y)


class Softplus(_Unary):
    """``max(x, 0) + log1p(exp(-|x|))``; float32 max rel. error 2.7e-7, abs. 5e-7."""

    @staticmethod
    def numpy(x):
        return np.logaddexp(np.zeros((), x.dtype), x)

    @staticmethod
    def backward(x, y, gy):
        return gy * sigmoid(x)


class Elu(_Unary):
    """``x if x > 0 else expm1(x)``; float32 max rel. error 1.4e-7, abs. 5e-8."""

    @staticmethod
    def numpy(x):
        return np.where(x > 0, x, np.expm1(np.minimum(x, 0)))

    @staticmethod
    def backward(x, y, gy):
        return pt.switch(x > 0, gy, gy * (y + 1))


class _RowOp(_KernelOp):
    """An op on the last axis of same-shape inputs (leading axes are independent rows)."""

    def make_node(self, *inputs):
        x = _as_float(inputs[-1])  # the gradient ops take (g, y): g follows y's dtype
        inputs = [pt.cast(v, x.dtype) for v in inputs[:-1]] + [x]
        if x.ndim < 1:
            raise TypeError(f"{type(self).__name__}: expected a tensor with ndim >= 1, "
                            f"got ndim {x.ndim}; use a (1,)-shaped vector for one row")
        return Apply(self, inputs, [x.type()])

    def perform(self, node, inputs, outputs):
        outputs[0][0] = np.asarray(self.numpy(*inputs), dtype=inputs[-1].dtype)


class Softmax(_RowOp):
    """Softmax over the last axis; float32 max abs. error 3e-7."""

    @staticmethod
    def numpy(x):
        return scipy.special.softmax(x, axis=-1)

    def pullback(self, inputs, outputs, cotangents):
        return [SoftmaxGrad()(cotangents[0], outputs[0])]


class LogSoftmax(_RowOp):
    """``(x - max) - log sum exp(x - max)`` over the last axis; float32 max abs. error
    6e-8 * (1 + |result|)."""

    @staticmethod
    def numpy(x):
        return scipy.special.log_softmax(x, axis=-1)

    def pullback(self, inputs, outputs, cotangents):
        return [LogSoftmaxGrad()(cotangents[0], outputs[0])]


class SoftmaxGrad(_RowOp):
    """``(g, y) -> y * (g - sum(g * y))`` on rows, for ``y = softmax(x)``."""

    @staticmethod
    def numpy(g, y):
        return y * (g - (g * y).sum(axis=-1, keepdims=True))

    def pullback(self, inputs, outputs, cotangents):
        (g, y), (h,) = inputs, cotangents
        s = (g * y).sum(-1, keepdims=True)
        return [self(h, y), h * (g - s) - g * (h * y).sum(-1, keepdims=True)]


class LogSoftmaxGrad(_RowOp):
    """``(g, y) -> g - exp(y) * sum(g)`` on rows, for ``y = log_softmax(x)``."""

    @staticmethod
    def numpy(g, y):
        return g - np.exp(y) * g.sum(axis=-1, keepdims=True)

    def pullback(self, inputs, outputs, cotangents):
        (g, y), (h,) = inputs, cotangents
        p = pt.exp(y)
        return [h - (p * h).sum(-1, keepdims=True), -p * h * g.sum(-1, keepdims=True)]


def _row_stats(x):
    """(N, 2) ``[max x[n], log sum exp(x[n] - max x[n])]`` in numpy."""
    m = x.max(axis=-1, initial=-np.inf)
    return np.stack([m, np.log(np.exp(x - m[:, None]).sum(axis=-1))], axis=1)


def _softmax_from_stats(x, stats):
    return pt.exp((x - stats[:, :1]) - stats[:, 1:])


def _check_labels(labels, k):
    if labels.size and (labels.min() < 0 or labels.max() >= k):
        raise IndexError(f"softmax_nll: labels must be in [0, {k}), got "
                         f"min {labels.min()} and max {labels.max()}")


class SoftmaxNLL(_KernelOp):
    """Fused ``-log softmax(logits)[n, labels[n]]``; outputs (nll, row stats).

    The (N, 2) row stats ``[max, log sum exp(x - max)]`` save the gradient op its max and
    sum passes; they stay apart (not summed into a log-sum-exp) so that rows of large
    logits lose no digits. float32 max abs. error of nll: 2e-7 * (1 + nll).
    """

    def make_node(self, logits, labels):
        logits, labels = _as_float(logits, "logits"), pt.as_tensor_variable(labels)
        if logits.ndim != 2 or labels.ndim != 1 or labels.dtype not in integer_dtypes:
            raise TypeError("softmax_nll: expected `logits` (N, K) float and `labels` (N,) "
                            f"int, got ndim {logits.ndim} {logits.dtype} and ndim "
                            f"{labels.ndim} {labels.dtype}")
        n = logits.type.shape[0]
        return Apply(self, [logits, labels], [pt.TensorType(logits.dtype, shape=(n,))(),
                                              pt.TensorType(logits.dtype, shape=(n, 2))()])

    def perform(self, node, inputs, outputs):
        x, labels = inputs
        _check_labels(labels, x.shape[1])
        stats = _row_stats(x)
        outputs[0][0] = (stats[:, 0] - x[np.arange(len(x)), labels]) + stats[:, 1]
        outputs[1][0] = stats

    def infer_shape(self, fgraph, node, shapes):
        return [shapes[0][:1], (shapes[0][0], 2)]

    def connection_pattern(self, node):
        return [[True, True], [False, False]]

    def pullback(self, inputs, outputs, cotangents):
        (x, labels), (_, stats), (g_nll, g_stats) = inputs, outputs, cotangents
        dx = pt.zeros_like(x)
        if _connected(g_nll):
            dx = SoftmaxNLLGrad()(g_nll, x, stats, labels)
        if _connected(g_stats):  # only in second derivatives, from SoftmaxNLLGrad
            at_max = pt.eq(x, x.max(axis=-1, keepdims=True))  # d max / dx (without ties)
            g_max, g_log_s = g_stats[:, :1], g_stats[:, 1:]
            dx += _softmax_from_stats(x, stats) * g_log_s + at_max * (g_max - g_log_s)
        return [dx, disconnected_type()]


class SoftmaxNLLGrad(_KernelOp):
    """``(g, logits, stats, labels) -> (softmax(logits) - onehot(labels)) * g[:, None]``."""

    def make_node(self, g, logits, stats, labels):
        logits, labels = pt.as_tensor_variable(logits), pt.as_tensor_variable(labels)
        g, stats = (pt.cast(v, logits.dtype) for v in (g, stats))
        return Apply(self, [g, logits, stats, labels], [logits.type()])

    def perform(self, node, inputs, outputs):
        g, x, stats, labels = inputs
        dx = np.exp((x - stats[:, :1]) - stats[:, 1:]) * g[:, None]
        dx[np.arange(len(x)), labels] -= g
        outputs[0][0] = dx.astype(x.dtype, copy=False)

    def infer_shape(self, fgraph, node, shapes):
        return [shapes[1]]

    def connection_pattern(self, node):
        return [[True], [True], [True], [False]]

    def pullback(self, inputs, outputs, cotangents):
        (g, x, stats, labels), (h,) = inputs, cotangents
        p = _softmax_from_stats(x, stats)
        onehot = pt.eq(pt.arange(x.shape[1])[None, :], labels[:, None])
        d_stat = -(p * h * g[:, None]).sum(-1)
        return [(h * (p - onehot)).sum(-1), p * h * g[:, None],
                pt.stack([d_stat, d_stat], axis=1), disconnected_type()]


_tanh, _sigmoid, _softplus, _elu = Tanh(), Sigmoid(), Softplus(), Elu()
_softmax, _log_softmax, _softmax_nll = Softmax(), LogSoftmax(), SoftmaxNLL()


def tanh(x):
    """Hyperbolic tangent (float32 max abs. error 2.8e-7, see :class:`Tanh`).

    Args:
        x: float tensor of any shape (integers are upcast).

    Returns:
        Tensor of ``x``'s shape and dtype, in [-1, 1].
    """
    return _tanh(x)


def sigmoid(x):
    """Logistic sigmoid ``1 / (1 + exp(-x))`` (float32 max rel. error 2e-7).

    Args:
        x: float tensor of any shape.

    Returns:
        Tensor of ``x``'s shape and dtype, in [0, 1].
    """
    return _sigmoid(x)


def elu(x):
    """Exponential linear unit ``x if x > 0 else exp(x) - 1`` (Clevert et al. 2016).

    Args:
        x: float tensor of any shape.

    Returns:
        Tensor of ``x``'s shape and dtype (float32 max rel. error 1.4e-7).
    """
    return _elu(x)


def softplus(x):
    """``log(1 + exp(x))`` without overflow (float32 max rel. error 2.7e-7).

    Args:
        x: float tensor of any shape.

    Returns:
        Tensor of ``x``'s shape and dtype, >= 0.
    """
    return _softplus(x)


def softmax(x):
    """Softmax over the last axis; leading axes are independent rows.

    Args:
        x: float tensor (..., K), ndim >= 1.

    Returns:
        (..., K) non-negative rows summing to 1 (float32 max abs. error 3e-7).
    """
    return _softmax(x)


def log_softmax(x):
    """``x - logsumexp(x)`` over the last axis, computed stably.

    Args:
        x: float tensor (..., K), ndim >= 1.

    Returns:
        (..., K) log-probabilities (float32 max abs. error 6e-8 * (1 + |result|)).
    """
    return _log_softmax(x)


def softmax_nll(logits, labels):
    """Per-example negative log-likelihood of integer ``labels`` under softmax(``logits``).

    One fused op, like Theano's ``crossentropy_softmax_argmax_1hot_with_bias``: a max and
    an exp-sum pass per row forward, one exp pass backward for ``(softmax - onehot) * g``.
    No gradient flows to ``labels``.

    Args:
        logits: (N, K) float tensor.
        labels: (N,) integer tensor with values in [0, K) (others raise IndexError).

    Returns:
        (N,) ``-log softmax(logits)[n, labels[n]]``, finite for finite logits.
    """
    return _softmax_nll(logits, labels)[0]
