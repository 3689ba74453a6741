"""Numba kernels behind tgraph's activation and loss ops (no PyTensor in this module).

Every kernel writes into a preallocated C-contiguous output: ``*_flat`` kernels take
1-D arrays (any tensor, raveled), ``*_rows`` kernels take 2-D (R, K) arrays and work on
each row. Each exists for float32 (fast polynomial and rational approximations that
LLVM vectorizes) and float64 (exact libm calls, for finite-difference gradient checks).
Scalar approximations:

* ``exp32``: Cephes ``expf`` (x = n ln2 + r, degree-5 polynomial in r), with 2^n built
  from exponent bits in two halves so that overflow to inf and gradual underflow happen
  where they happen in numpy. Max rel. error 1.2e-7 on normal results.
* ``tanh32``: Eigen's ``generic_fast_tanh_float`` rational approximation (degrees 13/6)
  on [-7.905, 7.905], exactly +-1 beyond +-9. Max abs. and rel. error 2.8e-7.
* ``log1p_unit32``: ``log1p(t)`` for t in [0, 1] as ``2 atanh(t / (2 + t))`` (odd series
  to u^15), max rel. error 2e-7.
* ``expm1_32``: degree-7 Taylor polynomial for |x| < 0.35, else ``exp32(x) - 1``.

Compiled with LLVM fast-math flags but without ``nnan``/``ninf`` (except the row max),
so inf and NaN inputs give the results of the exact functions; ``error_model="numpy"``
lets divisions vectorize (no zero-division check).
"""

import numba
import numpy as np
from llvmlite import ir
from numba.extending import intrinsic

__all__ = [
    "exp32", "tanh32", "log1p_unit32", "expm1_32",
    "TANH_FLAT", "SIGMOID_FLAT", "SOFTPLUS_FLAT", "ELU_FLAT",
    "SOFTMAX_ROWS", "LOG_SOFTMAX_ROWS", "SOFTMAX_GRAD_ROWS", "LOG_SOFTMAX_GRAD_ROWS",
    "SOFTMAX_NLL_ROWS", "SOFTMAX_NLL_GRAD_ROWS",
    "apply_flat", "apply_rows", "apply_rows2", "apply_softmax_nll", "apply_softmax_nll_grad",
]

ELEMENTWISE_FLAGS = {"nsz", "arcp", "contract", "afn"}  # no reassoc: keeps exp32's 2^n order
REDUCTION_FLAGS = ELEMENTWISE_FLAGS | {"reassoc"}  # lets sums vectorize

_elementwise = numba.njit(fastmath=ELEMENTWISE_FLAGS, error_model="numpy")
_reduction = numba.njit(fastmath=REDUCTION_FLAGS, error_model="numpy")

F32 = np.float32
_ZERO, _HALF, _ONE, _TWO = F32(0.0), F32(0.5), F32(1.0), F32(2.0)

# Cephes expf constants.
_EXP_LO, _EXP_HI = F32(-104.0), F32(89.0)  # beyond these exp is 0 / inf in float32
_LOG2E = F32(1.44269504088896341)
_LN2_HI, _LN2_LO = F32(0.693359375), F32(-2.12194440e-4)
_EXP_P = tuple(F32(c) for c in (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3,
                                4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1))

# Eigen generic_fast_tanh_float constants.
_TANH_CLAMP, _TANH_TINY, _TANH_ONE = F32(7.90531110763549805), F32(0.0004), F32(9.0)
_TANH_A = tuple(F32(c) for c in (-2.76076847742355e-16, 2.00018790482477e-13,
                                 -8.60467152213735e-11, 5.12229709037114e-08,
                                 1.48572235717979e-05, 6.37261928875436e-04,
                                 4.89352455891786e-03))
_TANH_B = tuple(F32(c) for c in (1.19825839466702e-06, 1.18534705686654e-04,
                                 2.26843463243900e-03, 4.89352518554385e-03))

_EXPM1_SMALL = F32(0.35)
_EXPM1_C = tuple(F32(1.0 / c) for c in (5040.0, 720.0, 120.0, 24.0, 6.0, 2.0))
_ATANH_C = tuple(F32(1.0 / c) for c in (15.0, 13.0, 11.0, 9.0, 7.0, 5.0, 3.0))


@_elementwise
def _pow2(n):
    """2.0**n for an int32 n in [-126, 127], from the exponent bits."""
    return np.int32((n + 127) << 23).view(np.float32)


@_elementwise
def exp32(x):
    """float32 ``exp(x)``; Cephes expf reduction and polynomial, exact 0 / inf limits."""
    v = min(max(x, _EXP_LO), _EXP_HI)
    n = np.floor(v * _LOG2E + _HALF)
    r = (v - n * _LN2_HI) - n * _LN2_LO
    p = _EXP_P[0]
    for c in _EXP_P[1:]:
        p = p * r + c
    p = p * (r * r) + r + _ONE
    k = np.int32(n)
    half = k >> 1
    return (p * _pow2(half)) * _pow2(k - half)


@_elementwise
def tanh32(x):
    """float32 ``tanh(x)``; Eigen's rational approximation, exact sign and |y| <= 1."""
    c = min(max(x, -_TANH_CLAMP), _TANH_CLAMP)
    c2 = c * c
    p = _TANH_A[0]
    for a in _TANH_A[1:]:
        p = p * c2 + a
    q = _TANH_B[0]
    for b in _TANH_B[1:]:
        q = q * c2 + b
    y = min(max(c * p / q, -_ONE), _ONE)
    saturated = min(max(x, -_ONE), _ONE)  # +-1 (float32 tanh rounds to it), NaN stays NaN
    return x if abs(x) < _TANH_TINY else (y if abs(x) < _TANH_ONE else saturated)


@_elementwise
def log1p_unit32(t):
    """float32 ``log1p(t)`` for t in [0, 1]: ``2 atanh(u)``, u = t / (2 + t) <= 1/3."""
    u = t / (_TWO + t)
    u2 = u * u
    s = _ATANH_C[0]
    for c in _ATANH_C[1:]:
        s = s * u2 + c
    return _TWO * u * (s * u2 + _ONE)


@_elementwise
def expm1_32(x):
    """float32 ``exp(x) - 1``, accurate relative to the result near 0."""
    p = _EXPM1_C[0]
    for c in _EXPM1_C[1:]:
        p = p * x + c
    small = x * (p * x + _ONE)
    return small if abs(x) < _EXPM1_SMALL else exp32(x) - _ONE


@_elementwise
def _sigmoid32(x):
    e = exp32(-abs(x))
    s = _ONE / (_ONE + e)
    return s if x >= _ZERO else e * s


@_elementwise
def _softplus32(x):
    return max(x, _ZERO) + log1p_unit32(exp32(-abs(x)))


@_elementwise
def _elu32(x):
    return x if x > _ZERO else expm1_32(x)


@_elementwise
def _exp64(x):
    return np.exp(x)


@_elementwise
def _tanh64(x):
    return np.tanh(x)


@_elementwise
def _sigmoid64(x):
    e = np.exp(-abs(x))
    s = 1.0 / (1.0 + e)
    return s if x >= 0.0 else e * s


@_elementwise
def _softplus64(x):
    return max(x, 0.0) + np.log1p(np.exp(-abs(x)))


@_elementwise
def _elu64(x):
    return x if x > 0.0 else np.expm1(x)


def _flat_map(scalar):
    """A kernel ``(x, out)`` applying ``scalar`` to each entry of 1-D ``x``."""

    @numba.njit(fastmath=ELEMENTWISE_FLAGS, error_model="numpy")
    def kernel(x, out):
        for i in range(x.size):
            out[i] = scalar(x[i])

    return kernel


def _by_dtype(factory, f32_parts, f64_parts):
    return {"float32": factory(*f32_parts), "float64": factory(*f64_parts)}


TANH_FLAT = _by_dtype(_flat_map, (tanh32,), (_tanh64,))
SIGMOID_FLAT = _by_dtype(_flat_map, (_sigmoid32,), (_sigmoid64,))
SOFTPLUS_FLAT = _by_dtype(_flat_map, (_softplus32,), (_softplus64,))
ELU_FLAT = _by_dtype(_flat_map, (_elu32,), (_elu64,))


@intrinsic
def _maximum(typingctx, a, b):
    """``llvm.maximum``: IEEE max that propagates NaN and, unlike ``max``, vectorizes."""

    def codegen(context, builder, signature, args):
        fnty = ir.FunctionType(args[0].type, [args[0].type, args[1].type])
        fn = builder.module.declare_intrinsic("llvm.maximum", [args[0].type], fnty=fnty)
        return builder.call(fn, args)

    return a(a, b), codegen


@_reduction
def _row_max(x, i):
    m = x[i, 0]
    for j in range(1, x.shape[1]):
        m = _maximum(m, x[i, j])
    return m


def _softmax_rows(exp, zero, one):
    @_reduction
    def kernel(x, out):
        n, k = x.shape
        for i in range(n):
            m = _row_max(x, i)
            s = zero
            for j in range(k):
                e = exp(x[i, j] - m)
                out[i, j] = e
                s += e
            inv = one / s
            for j in range(k):
                out[i, j] *= inv

    return kernel


@_elementwise
def _centered(v, m, log_s):
    """``(v - m) - log_s`` in this order (the row kernels' reassoc flag must not merge
    ``m + log_s``: for rows of large logits that loses the digits of the result)."""
    return (v - m) - log_s


@_elementwise
def _nll_value(v, m, log_s):
    """``(m - v) + log_s``; a negated ``_centered`` inside a reassoc kernel is not safe."""
    return (m - v) + log_s


def _row_stats(exp, zero):
    """``(x, i) -> (m, log sum exp(x[i] - m))``, m = max x[i]; kept apart for accuracy."""

    @_reduction
    def stats(x, i):
        m = _row_max(x, i)
        s = zero
        for j in range(x.shape[1]):
            s += exp(x[i, j] - m)
        return m, np.log(s)

    return stats


def _log_softmax_rows(exp, zero, one):
    stats = _row_stats(exp, zero)

    @_reduction
    def kernel(x, out):
        n, k = x.shape
        for i in range(n):
            m, log_s = stats(x, i)
            for j in range(k):
                out[i, j] = _centered(x[i, j], m, log_s)

    return kernel


def _softmax_grad_rows(zero):
    @_reduction
    def kernel(g, y, out):
        n, k = g.shape
        for i in range(n):
            d = zero
            for j in range(k):
                d += g[i, j] * y[i, j]
            for j in range(k):
                out[i, j] = y[i, j] * (g[i, j] - d)

    return kernel


def _log_softmax_grad_rows(exp, zero, one):
    @_reduction
    def kernel(g, y, out):
        n, k = g.shape
        for i in range(n):
            s = zero
            for j in range(k):
                s += g[i, j]
            for j in range(k):
                out[i, j] = g[i, j] - exp(y[i, j]) * s

    return kernel


@numba.njit
def _check_label(label, k):
    if label < 0 or label >= k:
        raise IndexError("softmax_nll: a label is outside [0, K), K = logits.shape[1]")


def _softmax_nll_rows(exp, zero, one):
    stats = _row_stats(exp, zero)

    @_reduction
    def kernel(x, labels, nll, row_stats):
        n, k = x.shape
        for i in range(n):
            _check_label(labels[i], k)
            m, log_s = stats(x, i)
            row_stats[i, 0], row_stats[i, 1] = m, log_s
            nll[i] = _nll_value(x[i, labels[i]], m, log_s)

    return kernel


def _softmax_nll_grad_rows(exp):
    @_reduction
    def kernel(g, x, row_stats, labels, out):
        n, k = x.shape
        for i in range(n):
            gi, m, log_s = g[i], row_stats[i, 0], row_stats[i, 1]
            for j in range(k):
                out[i, j] = exp(_centered(x[i, j], m, log_s)) * gi
            out[i, labels[i]] -= gi

    return kernel


_F32_EXP, _F64_EXP = (exp32, _ZERO, _ONE), (_exp64, 0.0, 1.0)
SOFTMAX_ROWS = _by_dtype(_softmax_rows, _F32_EXP, _F64_EXP)
LOG_SOFTMAX_ROWS = _by_dtype(_log_softmax_rows, _F32_EXP, _F64_EXP)
SOFTMAX_GRAD_ROWS = _by_dtype(_softmax_grad_rows, (_ZERO,), (0.0,))
LOG_SOFTMAX_GRAD_ROWS = _by_dtype(_log_softmax_grad_rows, _F32_EXP, _F64_EXP)
SOFTMAX_NLL_ROWS = _by_dtype(_softmax_nll_rows, _F32_EXP, _F64_EXP)
SOFTMAX_NLL_GRAD_ROWS = _by_dtype(_softmax_nll_grad_rows, (exp32,), (_exp64,))


# --- Glue: whole-array functions for the ops' Numba implementations ---------------------
# Each takes the op's input arrays (any layout) and returns new C-contiguous outputs.

_glue = numba.njit(no_cpython_wrapper=True, no_cfunc_wrapper=True)


@_glue
def _rows(x):
    """C-contiguous (R, K) view (or copy) of ``x`` with its last axis as K."""
    k = x.shape[-1]
    r = x.size // k if k > 0 else 0
    return np.ascontiguousarray(x).reshape((r, k))


def apply_flat(kernel):
    """``x -> out`` of ``x``'s shape, ``kernel`` applied to the raveled arrays."""

    @_glue
    def flat_op(x):
        out = np.empty(x.shape, x.dtype)
        kernel(np.ascontiguousarray(x).ravel(), out.ravel())
        return out

    return flat_op


def apply_rows(kernel):
    """``x -> out`` with ``kernel(x_rows, out_rows)`` on the last axis."""

    @_glue
    def row_op(x):
        out = np.empty(x.shape, x.dtype)
        kernel(_rows(x), _rows(out))
        return out

    return row_op


def apply_rows2(kernel):
    """``(g, y) -> out`` with ``kernel(g_rows, y_rows, out_rows)`` on the last axis."""

    @_glue
    def row_op(g, y):
        out = np.empty(y.shape, y.dtype)
        kernel(_rows(g), _rows(y), _rows(out))
        return out

    return row_op


def apply_softmax_nll(kernel):
    """``(x (N, K), labels (N,)) -> (nll (N,), row stats (N, 2))``."""

    @_glue
    def softmax_nll_op(x, labels):
        nll = np.empty(x.shape[0], x.dtype)
        stats = np.empty((x.shape[0], 2), x.dtype)
        kernel(np.ascontiguousarray(x), labels, nll, stats)
        return nll, stats

    return softmax_nll_op


def apply_softmax_nll_grad(kernel):
    """``(g (N,), x (N, K), stats (N, 2), labels (N,)) -> dx (N, K)``."""

    @_glue
    def softmax_nll_grad_op(g, x, stats, labels):
        out = np.empty(x.shape, x.dtype)
        kernel(g, np.ascontiguousarray(x), stats, labels, out)
        return out

    return softmax_nll_grad_op
