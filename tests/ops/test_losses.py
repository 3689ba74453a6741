"""Losses and metrics: values against numpy, gradients against finite differences."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.gradient import verify_grad

from tgraph.ops import losses, metrics
from tgraph.init import INITIALIZERS, get_initializer

RNG = np.random.default_rng(0)
LABELS = np.array([0, 2, 1, 2, 0], dtype=np.int32)


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _eval(expr, *inputs_values):
    inputs = [v for v, _ in inputs_values]
    return pytensor.function(inputs, expr, mode="FAST_COMPILE")(*[a for _, a in inputs_values])


def test_nll_value_matches_tutorial_formula():
    p = _softmax(RNG.normal(size=(5, 3)))
    probs, y = pt.matrix("p"), pt.ivector("y")
    got = _eval(losses.nll(probs, y), (probs, p), (y, LABELS))
    np.testing.assert_allclose(got, -np.log(p[np.arange(5), LABELS]), rtol=1e-12)


def test_nll_from_logits_is_stable_and_equals_nll():
    z = RNG.normal(size=(5, 3))
    logits, y = pt.matrix("z"), pt.ivector("y")
    got = _eval(losses.nll_from_logits(logits, y), (logits, z), (y, LABELS))
    np.testing.assert_allclose(got, -np.log(_softmax(z)[np.arange(5), LABELS]), rtol=1e-10)
    huge = np.array([[1000.0, 0.0, -1000.0]] * 5)
    out = _eval(losses.nll_from_logits(logits, y), (logits, huge), (y, LABELS))
    assert np.all(np.isfinite(out)) and out[1] == pytest.approx(2000.0)


@pytest.mark.parametrize("name", ["nll", "nll_from_logits"])
def test_label_loss_gradients(name):
    fn = getattr(losses, name)
    y = pt.constant(LABELS)
    z = RNG.normal(size=(5, 3))
    if name == "nll":
        verify_grad(lambda q: fn(pt.special.softmax(q, axis=-1), y).sum(), [z], rng=RNG,
                    mode="FAST_COMPILE")
    else:
        verify_grad(lambda q: fn(q, y).sum(), [z], rng=RNG, mode="FAST_COMPILE")


def test_binary_crossentropy_value_and_logits_form():
    z, t = RNG.normal(size=(4, 6)), RNG.uniform(size=(4, 6))
    p = 1 / (1 + np.exp(-z))
    want = -(t * np.log(p) + (1 - t) * np.log(1 - p)).sum(axis=1)
    zs, ts, ps = pt.matrix("z"), pt.matrix("t"), pt.matrix("p")
    np.testing.assert_allclose(_eval(losses.binary_crossentropy(ps, ts), (ps, p), (ts, t)), want,
                               rtol=1e-6)
    np.testing.assert_allclose(
        _eval(losses.binary_crossentropy_from_logits(zs, ts), (zs, z), (ts, t)), want, rtol=1e-10)


@pytest.mark.parametrize("name", ["binary_crossentropy", "binary_crossentropy_from_logits",
                                  "squared_error", "categorical_crossentropy"])
def test_target_loss_gradients(name):
    fn = getattr(losses, name)
    t = pt.constant(RNG.uniform(size=(4, 3)))
    if name in ("binary_crossentropy", "categorical_crossentropy"):
        verify_grad(lambda q: fn(pt.sigmoid(q), t).sum(), [RNG.normal(size=(4, 3))], rng=RNG,
                    mode="FAST_COMPILE")
    else:
        verify_grad(lambda q: fn(q, t).sum(), [RNG.normal(size=(4, 3))], rng=RNG,
                    mode="FAST_COMPILE")


def test_squared_error_sums_features():
    a, b = pt.tensor3("a"), pt.tensor3("b")
    x, y = RNG.normal(size=(2, 3, 4)), RNG.normal(size=(2, 3, 4))
    got = _eval(losses.squared_error(a, b), (a, x), (b, y))
    np.testing.assert_allclose(got, ((x - y) ** 2).reshape(2, -1).sum(axis=1))


def test_error_rate_and_accuracy():
    out = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    y = np.array([0, 0, 0], dtype=np.int32)
    o, ys = pt.matrix("o"), pt.ivector("y")
    assert _eval(metrics.error_rate(o, ys), (o, out), (ys, y)) == pytest.approx(1 / 3)
    assert _eval(metrics.accuracy(o, ys), (o, out), (ys, y)) == pytest.approx(2 / 3)
    assert metrics.errors_np(out, y) == 1


def test_loss_registry():
    assert losses.get_loss("nll").absorbs == "softmax"
    assert losses.get_loss("mse").name == "squared_error"


@pytest.mark.parametrize("name", INITIALIZERS.names())
def test_initializers_draw_the_right_shape_and_scale(name):
    init = get_initializer(name)
    w = init((300, 200), np.random.default_rng(0), fan_in=300, fan_out=200)
    assert w.shape == (300, 200)
    expected_std = {
        "glorot_uniform": np.sqrt(2 / 500), "glorot_normal": np.sqrt(2 / 500),
        "he_normal": np.sqrt(2 / 300), "he_uniform": np.sqrt(2 / 300), "normal": 0.01,
        "uniform": 0.1 / np.sqrt(12), "orthogonal": np.sqrt(1 / 300),
    }
    if name in expected_std:
        assert w.std() == pytest.approx(expected_std[name], rel=0.05)
    if name == "orthogonal":
        np.testing.assert_allclose(w.T @ w, np.eye(200), atol=1e-10)


def test_categorical_crossentropy_value_equals_nll_of_one_hot():
    p = _softmax(RNG.normal(size=(5, 3)))
    t = np.eye(3)[LABELS]
    probs, ts = pt.matrix("p"), pt.matrix("t")
    got = _eval(losses.categorical_crossentropy(probs, ts), (probs, p), (ts, t))
    np.testing.assert_allclose(got, -np.log(p[np.arange(5), LABELS]), rtol=1e-12)


# --- the objective picks the stable form on logits ----------------------------------------


def _objective_losses(activation, loss, x, target, target_var):
    from tgraph import build
    from tgraph import layers as L
    from tgraph.objective import objective

    net = build([L.Input((2,)), L.Dense(3, activation=activation)], dtype="float64")
    net.params[0].variable.set_value(np.array([[1.0, 0.0, -1.0], [1.0, 0.0, -1.0]]))
    xs = pt.matrix("x", dtype="float64")
    terms = objective(net, loss, xs, target_var, deterministic=True)
    return pytensor.function([xs, target_var], terms.per_example, mode="FAST_COMPILE")(x, target)


@pytest.mark.parametrize("activation, loss", [("softmax", "nll"),
                                              ("sigmoid", "binary_crossentropy")])
def test_objective_uses_the_stable_logits_form(activation, loss):
    # logits (2000, 0, -2000) for the first row: probabilities of exactly 0 and 1, whose
    # log the loss on probabilities clips to log(1e-7) = -16.1
    x = np.array([[1000.0, 1000.0], [0.1, -0.2]])
    if loss == "nll":
        target, var = np.array([2, 0], np.int32), pt.ivector("y")
        want_first = 4000.0  # -log softmax(z)[2]
    else:
        target, var = np.zeros((2, 3)), pt.matrix("t", dtype="float64")
        want_first = 2000.0 + np.log(2.0)  # sum of softplus(z) for target 0
    per_example = _objective_losses(activation, loss, x, target, var)
    assert per_example[0] == pytest.approx(want_first, rel=1e-12)
