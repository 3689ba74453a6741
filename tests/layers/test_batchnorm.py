"""BatchNorm: gradients by finite differences, running averages and inference against numpy.

Everything runs in the default NUMBA mode on tiny graphs.
"""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.gradient import verify_grad

import tgraph
from tgraph import layers as L
from tgraph import optim
from tgraph.backend import get_mode
from tgraph.errors import ShapeError, SpecError
from tgraph.layers.base import ApplyContext
from tgraph.modelfile import load_model, save_model

NUMBA = get_mode("NUMBA")


def numpy_batchnorm(x, mean, var, gamma, beta, epsilon, axis=1):
    """The paper's transform with per-feature statistics broadcast along ``axis``."""
    shape = [1] * x.ndim
    shape[axis] = -1
    mean, var, gamma, beta = (np.reshape(v, shape) for v in (mean, var, gamma, beta))
    return gamma * (x - mean) / np.sqrt(var + epsilon) + beta


def batch_statistics(x, axis=1):
    """Per-feature mean, biased and unbiased variance over every axis but ``axis``."""
    others = tuple(a for a in range(x.ndim) if a != axis)
    m = x.size // x.shape[axis]
    var = x.var(axis=others, dtype=np.float64)
    return x.mean(axis=others, dtype=np.float64), var, var * m / (m - 1)


def shared_state(features, dtype):
    return {"running_mean": pytensor.shared(np.zeros(features, dtype), name="running_mean"),
            "running_var": pytensor.shared(np.ones(features, dtype), name="running_var")}


# --- training mode: values and gradients ---------------------------------------------


@pytest.mark.parametrize("shape", [(6, 4), (3, 2, 3, 2)])
def test_training_output_gradient_matches_finite_differences(shape):
    rng = np.random.default_rng(0)
    layer = L.BatchNorm()
    state = shared_state(shape[1], "float64")

    def output(x, gamma, beta):
        ctx = ApplyContext(deterministic=False)
        return layer.apply(x, {"gamma": gamma, "beta": beta, **state}, ctx)

    verify_grad(output, [rng.normal(1.0, 2.0, shape), rng.normal(1.0, 0.5, shape[1]),
                         rng.normal(size=shape[1])], rng=rng, mode=NUMBA)


def test_training_output_uses_the_batch_statistics_and_records_the_updates():
    rng = np.random.default_rng(1)
    layer = L.BatchNorm(momentum=0.7, epsilon=1e-3)
    x = pt.tensor4("x", dtype="float64")
    gamma, beta = rng.normal(size=2), rng.normal(size=2)
    params = {"gamma": pytensor.shared(gamma), "beta": pytensor.shared(beta),
              **shared_state(2, "float64")}
    ctx = ApplyContext(deterministic=False, index=3, label="layer 3 (BatchNorm)")
    y = layer.apply(x, params, ctx)
    assert [var.name for var, _ in ctx.updates] == ["running_mean", "running_var"]
    f = pytensor.function([x], y, updates=ctx.updates, mode=NUMBA)
    data = rng.normal(3.0, 2.0, (4, 2, 3, 3))
    mean, var, unbiased = batch_statistics(data)
    np.testing.assert_allclose(f(data), numpy_batchnorm(data, mean, var, gamma, beta, 1e-3),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(params["running_mean"].get_value(), 0.3 * mean, rtol=1e-12)
    np.testing.assert_allclose(params["running_var"].get_value(), 0.7 + 0.3 * unbiased,
                               rtol=1e-12)


def test_batchnorm_adds_no_update_when_deterministic():
    params = {"gamma": pytensor.shared(np.ones(3)), "beta": pytensor.shared(np.zeros(3)),
              **shared_state(3, "float64")}
    ctx = ApplyContext(deterministic=True)
    L.BatchNorm().apply(pt.matrix("x", dtype="float64"), params, ctx)
    assert ctx.updates == ()


# --- running averages through real training steps ------------------------------------------


def replay_running_averages(x, batch_size, steps, momentum, axis=1):
    """Plain numpy: the running mean and (unbiased) variance after ``steps`` batches."""
    n_batches = len(x) // batch_size
    mean, var = np.zeros(x.shape[axis]), np.ones(x.shape[axis])
    for step in range(steps):
        i = step % n_batches
        batch_mean, _, batch_var = batch_statistics(x[i * batch_size:(i + 1) * batch_size],
                                                    axis)
        mean = momentum * mean + (1 - momentum) * batch_mean
        var = momentum * var + (1 - momentum) * batch_var
    return mean, var


@pytest.mark.parametrize("input_shape, head", [
    ((5,), []),
    ((2, 3, 3), [L.Flatten()]),
])
def test_running_averages_after_k_steps_equal_a_numpy_replay(input_shape, head):
    # BatchNorm right after the input sees the raw minibatches, whatever the weights do.
    rng = np.random.default_rng(2)
    x = rng.normal(2.0, 3.0, (40, *input_shape)).astype(np.float32)
    y = rng.integers(0, 3, 40)
    model = tgraph.Model([L.Input(input_shape), L.BatchNorm(momentum=0.8), *head,
                          L.Dense(3, activation="softmax")],
                         optimizer=optim.SGD(learning_rate=0.1))
    model.set_train_data(x, y)
    for step in range(7):
        model.train_step(step % 4, 10)
    mean, var = replay_running_averages(x, 10, 7, 0.8)
    weights = model.get_weights()
    np.testing.assert_allclose(weights["1_batchnorm/running_mean"], mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(weights["1_batchnorm/running_var"], var, rtol=1e-5)
    assert not np.array_equal(weights["1_batchnorm/gamma"], np.ones(input_shape[0]))  # trained


def test_inference_uses_the_running_averages():
    rng = np.random.default_rng(3)
    model = tgraph.Model([L.Input((2, 3, 3)), L.BatchNorm(epsilon=1e-3)], loss="mse")
    gamma, beta, mean = rng.normal(size=(3, 2)).astype(np.float32)
    var = rng.uniform(0.5, 2.0, 2).astype(np.float32)
    model.set_weights({"1_batchnorm/gamma": gamma, "1_batchnorm/beta": beta,
                       "1_batchnorm/running_mean": mean, "1_batchnorm/running_var": var})
    x = rng.normal(1.0, 2.0, (5, 2, 3, 3)).astype(np.float32)
    expected = numpy_batchnorm(x.astype(np.float64), mean, var, gamma, beta, 1e-3)
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(model.predict(x[:1]), expected[:1], rtol=1e-5, atol=1e-5)
    assert model.evaluate(x, expected.astype(np.float32))["loss"] < 1e-9
    np.testing.assert_array_equal(model.get_weights()["1_batchnorm/running_mean"], mean)


# --- a model with BatchNorm: training, saving, summary ------------------------------------


def blobs(rng, n):
    """Three Gaussian classes in 10-d, offset and scaled so that raw inputs are badly centred."""
    y = rng.integers(0, 3, n)
    centres = rng.normal(0.0, 1.0, (3, 10))
    return (50.0 + 20.0 * (centres[y] + 0.3 * rng.normal(size=(n, 10)))).astype(np.float32), y


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    rng = np.random.default_rng(4)
    x, y = blobs(rng, 200)
    model = tgraph.Model([L.Input((10,)), L.Dense(16, activation="relu"), L.BatchNorm(),
                          L.Dense(3, activation="softmax")],
                         optimizer=optim.SGD(learning_rate=0.1), seed=5)
    model.set_train_data(x, y)
    losses = [model.train_step(step % 10, 20) for step in range(150)]
    path = tmp_path_factory.mktemp("bn") / "bn.tgraph"
    save_model(model, path)
    return model, losses, path, (x, y)


def test_a_model_with_batchnorm_trains(trained):
    model, losses, _, (x, y) = trained
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10])
    assert model.evaluate(x, y)["error"] < 0.05


def test_save_and_load_keep_the_running_averages(trained):
    model, _, path, (x, _) = trained
    loaded = load_model(path)
    saved = model.get_weights()
    assert sorted(loaded.get_weights()) == sorted(saved)
    for name, value in loaded.get_weights().items():
        np.testing.assert_array_equal(value, saved[name], err_msg=name)
    assert not np.array_equal(saved["2_batchnorm/running_var"], np.ones(16))
    np.testing.assert_array_equal(loaded.predict(x[:7]), model.predict(x[:7]))


def test_running_averages_are_state_not_trainable(trained):
    model, _, _, _ = trained
    tags = {p.name: (p.trainable, p.regularizable) for p in model.network.params
            if p.layer_index == 2}
    assert tags == {"2_batchnorm/gamma": (True, False), "2_batchnorm/beta": (True, False),
                    "2_batchnorm/running_mean": (False, False),
                    "2_batchnorm/running_var": (False, False)}
    assert model.get_state()["arrays"] == {}  # SGD keeps nothing; running stats are weights


def test_summary_shows_batchnorm():
    text = tgraph.summary([L.Input((3, 8, 8)), L.BatchNorm(name="bn"), L.Flatten()])
    row = text.splitlines()[3]
    assert row.split() == ["1", "BatchNorm", "'bn'", "(None,", "3,", "8,", "8)", "12"]
    assert text.splitlines()[-1] == "total parameters: 12"


# --- bad settings ------------------------------------------------------------------------------


@pytest.mark.parametrize("make, message", [
    (lambda: L.BatchNorm(momentum=1.0), "BatchNorm: `momentum` (=1.0) must be in [0, 1)."),
    (lambda: L.BatchNorm(epsilon=0), "BatchNorm: `epsilon` (=0) must be a number > 0."),
    (lambda: L.BatchNorm(axis=0), "BatchNorm: `axis` (=0) must be a non-zero integer, the "
                                  "feature axis (1 for (N, F) and (N, C, H, W); axis 0 is the "
                                  "batch)."),
])
def test_bad_fields(make, message):
    with pytest.raises(SpecError) as err:
        make()
    assert str(err.value) == message


def test_axis_outside_the_input_names_the_layer():
    with pytest.raises(ShapeError) as err:
        tgraph.build([L.Input((4,)), L.BatchNorm(axis=2)])
    assert str(err.value) == ("layer 1 (BatchNorm): `axis` (=2) is not a feature axis of a 2-D "
                              "input; use an axis in 1..1 (the batch is axis 0)")
