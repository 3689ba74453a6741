"""Gradient-norm clipping and max-norm constraints inside a real training step."""

import numpy as np
import pytest

import tgraph
from tgraph import layers as L
from tgraph import optim

RNG = np.random.default_rng(0)
X = RNG.normal(size=(8, 6))
Y = RNG.integers(0, 3, 8).astype(np.int32)


def one_step(optimizer, hidden=None, weights=None):
    """Parameters after one full-batch step of a small float64 MLP (dict name -> array)."""
    model = tgraph.Model([L.Input((6,)), hidden or L.Dense(4, activation="tanh"),
                          L.Dense(3, activation="softmax")],
                         optimizer=optimizer, seed=3, dtype="float64", mode="FAST_COMPILE")
    if weights:
        model.set_weights({**model.get_weights(), **weights})
    before = model.get_weights()
    model.set_train_data(X, Y)
    model.train_step(0, len(X))
    return before, model.get_weights()


@pytest.fixture(scope="module")
def plain_gradient():
    """The gradient of every parameter: one SGD step with learning rate 1."""
    before, after = one_step(optim.SGD(learning_rate=1.0))
    return {name: before[name] - after[name] for name in before}


def global_norm(grads):
    return np.sqrt(sum((g ** 2).sum() for g in grads.values()))


def test_clip_norm_rescales_all_gradients_together(plain_gradient):
    norm = global_norm(plain_gradient)
    clip = norm / 4
    before, after = one_step(optim.SGD(learning_rate=1.0, clip_norm=clip))
    clipped = {name: before[name] - after[name] for name in before}
    assert global_norm(clipped) == pytest.approx(clip, rel=1e-6)
    for name, g in plain_gradient.items():  # same direction, every parameter scaled alike
        np.testing.assert_allclose(clipped[name], g * clip / norm, rtol=1e-6, atol=1e-12,
                                   err_msg=name)


def test_clip_norm_above_the_norm_changes_nothing(plain_gradient):
    before, after = one_step(optim.SGD(learning_rate=1.0, clip_norm=2 * global_norm(plain_gradient)))
    for name, g in plain_gradient.items():
        np.testing.assert_allclose(before[name] - after[name], g, rtol=1e-6, atol=1e-12)


def test_clip_norm_works_with_any_builtin_optimizer(plain_gradient):
    # Adam's first step is lr * sign(g) (bias-corrected, epsilon aside): unchanged by a
    # global rescaling, which shows the clipped gradient reached the optimizer unharmed
    before, after = one_step(optim.Adam(learning_rate=0.1, epsilon=1e-20, clip_norm=1e-3))
    step = before["1_dense/W"] - after["1_dense/W"]
    np.testing.assert_allclose(step, 0.1 * np.sign(plain_gradient["1_dense/W"]), rtol=1e-3)


def test_max_norm_limits_each_unit_and_leaves_small_ones_alone():
    w = np.zeros((6, 4))
    w[:, 0] = 4.0  # norm 9.8: must be cut to 0.5
    w[:, 1] = 0.01  # norm 0.02: stays below
    w[:, 2:] = RNG.normal(0, 0.05, (6, 2))
    weights = {"1_dense/W": w, "1_dense/b": np.full(4, 3.0)}  # the bias is not constrained
    sgd = optim.SGD(learning_rate=0.01)
    _, plain = one_step(sgd, weights=weights)
    _, limited = one_step(optim.SGD(learning_rate=0.01),
                          hidden=L.Dense(4, activation="tanh", max_norm=0.5), weights=weights)
    norms = np.linalg.norm(limited["1_dense/W"], axis=0)
    assert norms[0] == pytest.approx(0.5, rel=1e-6)
    assert np.all(norms <= 0.5 + 1e-9)
    np.testing.assert_allclose(limited["1_dense/W"][:, 0],
                               plain["1_dense/W"][:, 0] * 0.5 / np.linalg.norm(plain["1_dense/W"][:, 0]),
                               rtol=1e-6)
    # below the limit: unchanged up to the factor norm / (norm + 1e-7) (Lasagne's epsilon)
    np.testing.assert_allclose(limited["1_dense/W"][:, 1:], plain["1_dense/W"][:, 1:], rtol=1e-5)
    np.testing.assert_array_equal(limited["1_dense/b"], plain["1_dense/b"])
    np.testing.assert_array_equal(limited["2_dense/W"], plain["2_dense/W"])  # no max_norm there
