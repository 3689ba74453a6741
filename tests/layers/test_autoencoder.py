"""Denoising autoencoder: cost against numpy, finite-difference gradients, masking, a step."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

import tgraph
from tgraph import layers as L
from tgraph import optim
from tgraph.errors import SpecError
from tgraph.layerwise import LayerModel
from tgraph.ops.threefry import uniform_array
from tgraph.pretraining import Pretrain

N_VIS, N_HID, BATCH = 7, 3, 4


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def np_cost(x, x_tilde, W, b, b_prime, kind):
    z_pre = sigmoid(x_tilde @ W + b) @ W.T + b_prime
    if kind == "squared_error":
        return np.mean(np.sum((z_pre - x) ** 2, axis=1))
    z = sigmoid(z_pre)
    return np.mean(-np.sum(x * np.log(z) + (1 - x) * np.log(1 - z), axis=1))


@pytest.fixture
def values():
    rng = np.random.default_rng(3)
    x = rng.random((BATCH, N_VIS))
    mask = (rng.random((BATCH, N_VIS)) >= 0.3).astype(float)  # a fixed corruption
    return (x, x * mask, rng.normal(size=(N_VIS, N_HID)), rng.normal(size=N_HID),
            rng.normal(size=N_VIS))


def symbolic_cost(layer, x, x_tilde):
    W, b, b_prime = pt.dmatrix("W"), pt.dvector("b"), pt.dvector("b_prime")
    cost = layer.reconstruction_cost(pt.constant(x), pt.constant(x_tilde),
                                     {"W": W, "b": b, "b_prime": b_prime})
    return [W, b, b_prime], cost


@pytest.mark.parametrize("kind", ["cross_entropy", "squared_error"])
def test_cost_equals_numpy(values, kind):
    x, x_tilde, W, b, b_prime = values
    inputs, cost = symbolic_cost(L.DenoisingAutoencoder(N_HID, cost=kind), x, x_tilde)
    got = pytensor.function(inputs, cost)(W, b, b_prime)
    assert got == pytest.approx(np_cost(x, x_tilde, W, b, b_prime, kind), rel=1e-12)


@pytest.mark.parametrize("kind", ["cross_entropy", "squared_error"])
def test_gradient_matches_finite_differences_with_a_fixed_mask(values, kind):
    x, x_tilde, W, b, b_prime = values
    layer = L.DenoisingAutoencoder(N_HID, corruption=0.3, cost=kind)

    def cost(W, b, b_prime):
        return layer.reconstruction_cost(pt.constant(x), pt.constant(x_tilde),
                                         {"W": W, "b": b, "b_prime": b_prime})

    pytensor.gradient.verify_grad(cost, [W, b, b_prime], rng=np.random.default_rng(0),
                                  abs_tol=1e-7, rel_tol=1e-6, eps=1e-7)


def test_corruption_masks_the_expected_entries():
    layer = L.DenoisingAutoencoder(N_HID, corruption=0.3)
    x, u = pt.dmatrix("x"), pt.dmatrix("u")
    fn = pytensor.function([x, u], layer.corrupt(x, u))
    uniform = np.random.default_rng(1).random((1000, 10))
    out = fn(np.ones((1000, 10)), uniform)
    np.testing.assert_array_equal(out, (uniform < 0.7).astype(float))


def test_training_step_equals_numpy_sgd_with_the_same_mask():
    model = tgraph.Model([L.Input((N_VIS,)), L.DenoisingAutoencoder(N_HID, corruption=0.25)],
                         dtype="float64", seed=4)
    layer_model = LayerModel(model, Pretrain(layer=1, epochs=1, optimizer=optim.SGD(0.5),
                                             batch_size=BATCH))
    x = np.random.default_rng(6).random((BATCH, N_VIS))
    layer_model.set_train_data(*layer_model.check_data(x, None))
    step = layer_model.train_function(BATCH)
    generator = layer_model.random.generators[1].get_value(borrow=False)
    key = generator.integers(0, 2**32, size=(2,), dtype="int64")
    x_tilde = x * (uniform_array(key, (BATCH, N_VIS), "float64") < 0.75)
    params = model.network.layer_params(1)
    before = [params[n].get_value() for n in ("W", "b", "b_prime")]
    reported = float(step(0))
    assert reported == pytest.approx(np_cost(x, x_tilde, *before, "cross_entropy"), rel=1e-12)
    inputs, cost = symbolic_cost(model.layers[1], x, x_tilde)
    grads = pytensor.function(inputs, pytensor.grad(cost, inputs))(*before)
    for name, value, grad in zip(("W", "b", "b_prime"), before, grads):
        np.testing.assert_allclose(params[name].get_value(), value - 0.5 * grad, rtol=0,
                                   atol=1e-13, err_msg=name)


def test_network_output_is_the_uncorrupted_code():
    model = tgraph.Model([L.Input((N_VIS,)), L.DenoisingAutoencoder(N_HID, corruption=0.5)],
                         dtype="float64")
    p = {n: v.get_value() for n, v in model.network.layer_params(1).items()}
    x = np.random.default_rng(2).random((3, N_VIS))
    np.testing.assert_allclose(model.predict(x), sigmoid(x @ p["W"] + p["b"]), rtol=1e-12)


def test_bad_fields_are_named():
    with pytest.raises(SpecError, match=r"`corruption` \(=1.0\) must be in \[0, 1\)"):
        L.DenoisingAutoencoder(10, corruption=1.0)
    with pytest.raises(SpecError, match=r"`cost` \(='mse'\) must be one of"):
        L.DenoisingAutoencoder(10, cost="mse")
