"""tgraph's activation and loss ops: values against numpy/scipy, gradients against
finite differences, in the Numba mode and in FAST_COMPILE (numpy ``perform``).

Compiling is the slow part, so each mode and dtype compiles one function holding every
op and its gradient (module-scoped fixtures), and the tests index into it.
"""

import functools

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
import scipy.special as sp
from pytensor.gradient import verify_grad

import tgraph.backend.numba  # noqa: F401  (the ops' Numba code, for mode="NUMBA")
from tgraph.ops import elementwise as ew

RNG = np.random.default_rng(0)
DTYPES = ("float32", "float64")
UNARY = ("tanh", "sigmoid", "softplus", "elu")
ROWS = ("softmax", "log_softmax")
NAMES = UNARY + ROWS + ("softmax_nll",)
N, K = 7, 5
TINY32 = np.finfo(np.float32).tiny

# Documented float32 errors: (max abs. error, max rel. error for |result| >= TINY32).
FLOAT32_ERRORS = {"tanh": (2.8e-7, 2.8e-7), "sigmoid": (1e-7, 2e-7),
                  "softplus": (5e-7, 2.7e-7), "elu": (5e-8, 1.4e-7)}


def _elu(x):
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0)))


def _nll(x, y):
    return -sp.log_softmax(x, axis=-1)[np.arange(len(y)), y]


REFERENCE = {
    "tanh": np.tanh,
    "sigmoid": sp.expit,
    "softplus": lambda x: np.logaddexp(0, x),
    "elu": _elu,
    "softmax": lambda x: sp.softmax(x, axis=-1),
    "log_softmax": lambda x: sp.log_softmax(x, axis=-1),
}


def _reference_grad(name, x, y, w):
    """Gradient of ``sum(w * f(x))`` in float64 (``w`` is (N,) for softmax_nll)."""
    if name == "softmax_nll":
        return (sp.softmax(x, axis=-1) - np.eye(x.shape[1])[y]) * w[:, None]
    derivative = {
        "tanh": lambda: 1 - np.tanh(x) ** 2,
        "sigmoid": lambda: sp.expit(x) * (1 - sp.expit(x)),
        "softplus": lambda: sp.expit(x),
        "elu": lambda: np.where(x > 0, 1.0, np.exp(np.minimum(x, 0))),
    }
    if name in derivative:
        return w * derivative[name]()
    p = sp.softmax(x, axis=-1)
    if name == "softmax":
        return p * (w - (w * p).sum(axis=-1, keepdims=True))
    return w - p * w.sum(axis=-1, keepdims=True)


def _apply(name, x, y):
    fn = getattr(ew, name)
    return fn(x, y) if name == "softmax_nll" else fn(x)


def _graph(dtype):
    """Inputs (x, y, w, v) and outputs [f(x) for f in NAMES] + [d sum(w f(x)) / dx]."""
    x, w = pt.matrix("x", dtype=dtype), pt.matrix("w", dtype=dtype)
    y, v = pt.ivector("y"), pt.vector("v", dtype=dtype)
    outs = [_apply(name, x, y) for name in NAMES]
    grads = [pytensor.grad((o * (v if o.ndim == 1 else w)).sum(), x) for o in outs]
    return [x, y, w, v], outs + grads


@functools.cache
def _compiled(mode, dtype):
    return pytensor.function(*_graph(dtype), mode=mode)


@pytest.fixture(scope="module", params=DTYPES)
def compiled(request, op_mode):
    """(mode, dtype, function of _graph) for each mode (the shared ``op_mode``) and dtype."""
    return op_mode, request.param, _compiled(op_mode, request.param)


def _case(dtype, scale=3.0, n=N, k=K):
    x = RNG.normal(0, scale, (n, k))
    return (x.astype(dtype), RNG.integers(0, k, n).astype(np.int32),
            RNG.normal(size=(n, k)).astype(dtype), RNG.normal(size=n).astype(dtype))


def _tolerance(dtype):
    return {"rtol": 5e-6, "atol": 1e-6} if dtype == "float32" else {"rtol": 1e-11, "atol": 1e-13}


def test_values_and_gradients_match_numpy(compiled):
    mode, dtype, f = compiled
    x, y, w, v = _case(dtype)
    results = f(x, y, w, v)
    x64 = x.astype(np.float64)
    for i, name in enumerate(NAMES):
        value, grad = results[i], results[i + len(NAMES)]
        expected = _nll(x64, y) if name == "softmax_nll" else REFERENCE[name](x64)
        assert value.dtype == grad.dtype == dtype, name
        np.testing.assert_allclose(value, expected, err_msg=name, **_tolerance(dtype))
        weights = (v if name == "softmax_nll" else w).astype(np.float64)
        np.testing.assert_allclose(grad, _reference_grad(name, x64, y, weights), err_msg=name,
                                   **_tolerance(dtype))


def _wide_range_float32():
    mags = np.concatenate([np.logspace(-45, 2, 40_000), RNG.uniform(0, 20, 40_000),
                           [0, 1e-8, 1, 7.9, 9.0, 88.7, 100, np.inf]])
    x = np.concatenate([mags, -mags]).astype(np.float32)
    return x.reshape(-1, 8)


@pytest.mark.parametrize("name", UNARY)
def test_float32_accuracy_over_wide_range(name):
    """The documented errors of the float32 approximations (in the Numba kernels)."""
    x = _wide_range_float32()
    got = _compiled("NUMBA", "float32")(x, np.zeros(len(x), np.int32), x, np.ones(len(x), np.float32))[NAMES.index(name)]
    with np.errstate(over="ignore"):
        exact = REFERENCE[name](x.astype(np.float64))
        rounded = exact.astype(np.float32)
    assert not np.isnan(got).any()
    np.testing.assert_array_equal(np.isinf(got), np.isinf(rounded))  # inf only where numpy's
    finite = np.isfinite(rounded)
    err = np.abs(got[finite] - exact[finite])
    max_abs, max_rel = FLOAT32_ERRORS[name]
    assert err.max() <= max_abs
    normal = np.abs(exact[finite]) >= TINY32
    assert (err[normal] / np.abs(exact[finite][normal])).max() <= max_rel


def test_float32_special_values(op_mode):
    x = np.array([[np.inf, -np.inf, 0, -0.0, 1e-8, -1e-8, 100, -100]], np.float32)
    with np.errstate(all="ignore"):  # the softmax of a row with inf is nan, as in numpy
        results = _compiled(op_mode, "float32")(x, np.zeros(1, np.int32), x,
                                                np.ones(1, np.float32))
    tanh, sigmoid, softplus, elu = results[:4]
    np.testing.assert_array_equal(tanh[0, :2], [1, -1])
    np.testing.assert_array_equal(tanh[0, 6:], [1, -1])
    np.testing.assert_array_equal(sigmoid[0, :2], [1, 0])
    np.testing.assert_array_equal(softplus[0, :2], [np.inf, 0])
    np.testing.assert_array_equal(elu[0, :2], [np.inf, -1])
    np.testing.assert_allclose(tanh[0, 4:6], [1e-8, -1e-8], rtol=1e-7)
    np.testing.assert_allclose(elu[0, 4:6], [1e-8, -1e-8], rtol=1e-7)
    np.testing.assert_allclose(softplus[0, 6:], [100, 3.72e-44], rtol=0.1)


def test_rows_with_huge_logits_stay_finite(compiled):
    mode, dtype, f = compiled
    big = np.finfo(dtype).max / 2
    x = np.array([[1e30, 0, -1e30, 0, 5], [big, big, 0, -big, 1], [100, -100, 0, 88.8, 88.8],
                  [-1e4, -1e4, -1e4, -1e4, -1e4]], dtype)
    y = np.array([2, 3, 1, 0], np.int32)
    results = f(x, y, np.ones_like(x), np.ones(len(x), dtype))
    for i, name in enumerate(NAMES[len(UNARY):], start=len(UNARY)):
        value, grad = results[i], results[i + len(NAMES)]
        assert np.all(np.isfinite(value)) and np.all(np.isfinite(grad)), name
    softmax, log_softmax, nll = results[len(UNARY):len(NAMES)]
    np.testing.assert_allclose(softmax, sp.softmax(x.astype(np.float64), axis=-1), atol=1e-7)
    np.testing.assert_allclose(nll, _nll(x.astype(np.float64), y), rtol=1e-6)
    np.testing.assert_allclose(log_softmax[3], np.log(0.2), rtol=1e-6)


def test_softmax_nll_rejects_out_of_range_labels(compiled):
    mode, dtype, f = compiled
    x, y, w, v = _case(dtype)
    y[2] = K
    with pytest.raises(IndexError, match=r"softmax_nll: .*\[0, "):
        f(x, y, w, v)


def _away_from_kinks(shape):
    x = RNG.normal(0, 2, shape)
    x[np.abs(x) < 0.1] += 0.5  # elu's derivative jumps at 0
    return x


LABELS = pt.constant(np.array([0, 2, 1, 2], np.int32))


@pytest.mark.parametrize("name", NAMES)
def test_gradient_by_finite_differences(name):
    verify_grad(lambda z: _apply(name, z, LABELS), [_away_from_kinks((4, 3))], rng=RNG,
                mode="FAST_COMPILE")


def _softmax_nll_grad(g, x, stats):
    return ew.SoftmaxNLLGrad()(g, x, stats, LABELS)


@pytest.mark.parametrize("op", [ew.SoftmaxGrad(), ew.LogSoftmaxGrad(), _softmax_nll_grad],
                         ids=["SoftmaxGrad", "LogSoftmaxGrad", "SoftmaxNLLGrad"])
def test_gradient_op_by_finite_differences(op):
    """The gradient ops' own pullbacks (second derivatives), inputs taken independent."""
    shapes = [(4,), (4, 3), (4, 2)] if op is _softmax_nll_grad else [(4, 3), (4, 3)]
    verify_grad(op, [RNG.normal(size=s) for s in shapes], rng=RNG, mode="FAST_COMPILE")


def test_softmax_nll_second_derivative():
    """Second order through SoftmaxNLL's row-stats output."""
    w = pt.constant(RNG.normal(size=(4, 3)))
    verify_grad(lambda z: pytensor.grad((ew.softmax_nll(z, LABELS) ** 2).sum(), z) * w,
                [RNG.normal(size=(4, 3))], rng=RNG, mode="FAST_COMPILE")


def test_gradient_by_finite_differences_numba():
    """All functions at once, compiled in the Numba mode (float64 kernels)."""
    def every_function(z):
        return pt.concatenate([_apply(name, z, LABELS).ravel() for name in NAMES])

    verify_grad(every_function, [_away_from_kinks((4, 3))], rng=RNG, mode="NUMBA")


def test_softmax_nll_sends_no_gradient_to_labels():
    logits, labels = pt.matrix("z"), pt.ivector("y")
    node = ew.softmax_nll(logits, labels).owner
    assert node.op.connection_pattern(node) == [[True, True], [False, False]]
    g = pytensor.grad(ew.softmax_nll(logits, labels).sum(), labels,
                      disconnected_inputs="ignore")
    assert pytensor.function([labels], g, mode="FAST_COMPILE", on_unused_input="ignore")(
        np.zeros(2, np.int32)).tolist() == [0, 0]


@pytest.mark.parametrize("name", NAMES)
def test_float32_graph_has_no_float64(name):
    x, y = pt.matrix("x", dtype="float32"), pt.ivector("y")
    out = _apply(name, x, y)
    f = pytensor.function([x, y], [out, pytensor.grad(out.sum(), x)], mode="NUMBA",
                          on_unused_input="ignore")  # building does not run Numba yet
    wide = [v for v in f.maker.fgraph.variables if getattr(v.type, "dtype", "") == "float64"]
    assert not wide, f"float64 in the float32 graph of {name}: {wide}"


def _any_ndim_graph():
    """Softmax, log-softmax and tanh of a vector, a 3-tensor and a transposed matrix."""
    vec, t3, mat = pt.vector("v"), pt.tensor3("t"), pt.matrix("m")
    outs = [fn(x) for x in (vec, t3, mat.T) for fn in (ew.softmax, ew.log_softmax, ew.tanh)]
    grads = pytensor.grad(sum((o * o).sum() for o in outs), [vec, t3, mat])
    return [vec, t3, mat], outs + grads


def test_row_ops_on_any_ndim_and_strided_input():
    values = [RNG.normal(size=4), RNG.normal(size=(2, 3, 4)), RNG.normal(size=(4, 3))]
    results = pytensor.function(*_any_ndim_graph(), mode="NUMBA")(*values)
    expected = [ref(a) for a in (values[0], values[1], values[2].T)
                for ref in (REFERENCE["softmax"], REFERENCE["log_softmax"], np.tanh)]
    expected += pytensor.function(*_any_ndim_graph(), mode="FAST_COMPILE")(*values)[-3:]
    assert len(results) == len(expected)
    for got, want in zip(results, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_make_node_errors():
    with pytest.raises(TypeError, match="ndim >= 1"):
        ew.softmax(pt.scalar())
    with pytest.raises(TypeError, match=r"`logits` \(N, K\) float and `labels` \(N,\) int"):
        ew.softmax_nll(pt.matrix(), pt.vector())


@pytest.mark.jax
def test_jax_mode_matches_fast_compile():
    pytest.importorskip("jax")
    import tgraph.backend.jax  # noqa: F401

    inputs, outputs = _graph("float32")
    case = _case("float32")
    got = pytensor.function(inputs, outputs, mode="JAX")(*case)
    want = pytensor.function(inputs, outputs, mode="FAST_COMPILE")(*case)
    for g, w, name in zip(got, want, NAMES * 2, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6, err_msg=name)
