"""Core layer specs: validation, shape inference, errors, gradients."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.gradient import verify_grad

import tgraph
from tgraph import layers as L
from tgraph.errors import ConfigError, ShapeError, SpecError
from tgraph.layers.base import ApplyContext
from tgraph.random import RandomSource

MLP = [L.Input(shape=(784,)), L.Dense(500, activation="tanh"), L.Dense(10, activation="softmax")]


def test_specs_are_frozen_and_hashable():
    dense = L.Dense(500, activation="tanh")
    with pytest.raises(Exception):
        dense.units = 3
    assert hash(dense) == hash(L.Dense(500, activation="tanh"))


def test_shapes_and_summary():
    assert tgraph.network.infer_shapes(MLP) == ((None, 784), (None, 500), (None, 10))
    text = tgraph.summary(MLP)
    assert "Dense, tanh" in text and "(None, 500)" in text and "392,500" in text
    assert text.splitlines()[-1] == "total parameters: 397,510"


def test_flatten_and_reshape_shapes():
    specs = [L.Input((784,)), L.Reshape((1, 28, -1)), L.Flatten(), L.Dense(3)]
    assert tgraph.network.infer_shapes(specs)[1:3] == ((None, 1, 28, 28), (None, 784))


@pytest.mark.parametrize("make, message", [
    (lambda: L.Dense(-5), r"Dense: `units` \(=-5\) must be a positive integer."),
    (lambda: L.Dense(2.5), r"Dense: `units` \(=2.5\) must be a positive integer."),
    (lambda: L.Dropout(1.0), r"Dropout: `rate` \(=1.0\) must be in \[0, 1\)"),
    (lambda: L.Dropout(-0.1), r"Dropout: `rate` \(=-0.1\) must be in \[0, 1\)"),
    (lambda: L.Dense(3, l2=-1), r"Dense: `l2` \(=-1\) must be a number >= 0."),
    (lambda: L.Input(shape=(0,)), r"Input: `shape` \(=\(0,\)\) must be a non-empty tuple"),
    (lambda: L.Reshape((2, -1, -1)), r"Reshape: `shape` .*at most one -1"),
])
def test_bad_field_values(make, message):
    with pytest.raises(SpecError, match=message):
        make()


def test_unknown_names_list_the_known_ones():
    with pytest.raises(ConfigError, match=r"Dense: `activation`: unknown activation 'tahn'; "
                                          r"expected one of: .*'tanh'"):
        L.Dense(3, activation="tahn")
    with pytest.raises(ConfigError, match=r"unknown initializer 'glorot'; .*'glorot_uniform'"):
        L.Dense(3, init="glorot")


def test_dense_after_4d_output_names_layer_and_fix():
    specs = [L.Input((1, 28, 28)), L.Dense(10)]
    with pytest.raises(ShapeError) as err:
        tgraph.build(specs)
    assert str(err.value) == ("layer 1 (Dense): expects a 2-D input (batch, features); insert "
                              "Flatten() before it, got shape (None, 1, 28, 28)")


def test_initializer_that_does_not_fit_names_layer_and_parameter():
    with pytest.raises(ConfigError) as err:
        tgraph.build([L.Input((3,)), L.Dense(4, name="out", bias_init="orthogonal")])
    assert str(err.value) == ("layer 1 (Dense 'out'): parameter `b`: `Orthogonal` needs a "
                              "parameter with 2 or more dimensions, got shape (4,).")


def test_reshape_to_wrong_size():
    with pytest.raises(ShapeError, match=r"layer 1 \(Reshape\): cannot reshape examples of shape "
                                         r"\(784,\) \(784 values\) to \(1, 27, 27\)"):
        tgraph.build([L.Input((784,)), L.Reshape((1, 27, 27))])


def test_missing_input_and_non_layer():
    with pytest.raises(SpecError, match=r"layer 0 \(Dense\): the first layer must be Input"):
        tgraph.build([L.Dense(10)])
    with pytest.raises(SpecError, match=r"layer 1 is 'relu' \(str\), not a layer spec"):
        tgraph.build([L.Input((3,)), "relu"])
    with pytest.raises(SpecError, match="non-empty list"):
        tgraph.build([])


def test_named_layer_in_error_and_param_names():
    with pytest.raises(ShapeError, match=r"layer 1 \(Dense 'hidden'\)"):
        tgraph.build([L.Input((2, 3)), L.Dense(4, name="hidden")])
    net = tgraph.build([L.Input((3,)), L.Dense(4, name="hidden"), L.Dense(2)])
    assert [p.name for p in net.params] == ["1_hidden/W", "1_hidden/b", "2_dense/W", "2_dense/b"]


def test_build_is_seeded_and_float32():
    a = tgraph.build(MLP, seed=3)
    b = tgraph.build(MLP, seed=3)
    c = tgraph.build(MLP, seed=4)
    wa, wb, wc = (n.params[0].variable.get_value() for n in (a, b, c))
    assert wa.dtype == np.float32
    np.testing.assert_array_equal(wa, wb)
    assert not np.array_equal(wa, wc)
    bound = np.sqrt(6 / (784 + 500))
    assert 0.9 * bound < np.abs(wa).max() <= bound


def test_sigmoid_gets_tutorial_4x_glorot_scale():
    net = tgraph.build([L.Input((784,)), L.Dense(500, activation="sigmoid")], seed=0)
    w = net.params[0].variable.get_value()
    assert np.abs(w).max() > 3.5 * np.sqrt(6 / 1284)


def test_biases_are_not_regularizable():
    net = tgraph.build([L.Input((3,)), L.Dense(4, l2=0.1)])
    assert [p.regularizable for p in net.params] == [True, False]


# --- gradients against finite differences ---------------------------------------------


def _apply(layer, x, params, deterministic=True, index=1):
    ctx = ApplyContext(deterministic=deterministic, random=RandomSource(0), index=index)
    return layer.apply(x, params, ctx)


@pytest.mark.parametrize("activation", ["linear", "sigmoid", "tanh", "relu", "leaky_relu", "elu",
                                        "softplus", "softmax", "log_softmax"])
def test_dense_gradient(activation):
    rng = np.random.default_rng(0)
    layer = L.Dense(4, activation=activation)

    def f(x, w, b):
        return _apply(layer, x, {"W": w, "b": b})

    x = rng.normal(size=(5, 3))
    x[np.abs(x) < 0.05] = 0.3  # keep relu kinks away from the probes
    verify_grad(f, [x, rng.normal(size=(3, 4)), rng.normal(size=4)], rng=rng,
                mode="FAST_COMPILE")


def test_dropout_gradient_with_fixed_mask():
    rng = np.random.default_rng(1)
    layer = L.Dropout(0.5)
    verify_grad(lambda x: _apply(layer, x, {}, deterministic=False), [rng.normal(size=(6, 5))],
                rng=rng, mode="FAST_COMPILE")


@pytest.mark.parametrize("layer, shape", [(L.Flatten(), (2, 3, 4)),
                                          (L.Reshape((4, 3)), (2, 12)),
                                          (L.Activation("tanh"), (3, 4))])
def test_shape_layer_gradients(layer, shape):
    rng = np.random.default_rng(2)
    verify_grad(lambda x: _apply(layer, x, {}), [rng.normal(size=shape)], rng=rng,
                mode="FAST_COMPILE")


def test_dropout_inverted_scaling_and_determinism():
    x = pt.matrix("x", dtype="float32")
    ctx = ApplyContext(deterministic=False, random=RandomSource(5), index=1)
    y = L.Dropout(0.25).apply(x, {}, ctx)
    f = pytensor.function([x], y, updates=ctx.updates)
    ones = np.ones((200, 500), np.float32)
    a, b = f(ones), f(ones)
    kept = a != 0
    assert abs(kept.mean() - 0.75) < 0.01
    np.testing.assert_allclose(a[kept], 1 / 0.75, rtol=1e-6)
    assert not np.array_equal(a, b)  # the stream advances
    assert L.Dropout(0.25).apply(x, {}, ApplyContext(deterministic=True)) is x


# --- every activation, as an Activation layer ---------------------------------------------

ACTIVATION_REFERENCES = {
    "linear": lambda x: x,
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, 0),
    "leaky_relu": lambda x: np.where(x > 0, x, 0.01 * x),
    "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))),
    "softplus": lambda x: np.logaddexp(0, x),
    "softmax": lambda x: np.exp(x - x.max(1, keepdims=True))
    / np.exp(x - x.max(1, keepdims=True)).sum(1, keepdims=True),
    "log_softmax": lambda x: x - x.max(1, keepdims=True)
    - np.log(np.exp(x - x.max(1, keepdims=True)).sum(1, keepdims=True)),
}


def _away_from_kinks(rng, shape):
    x = rng.normal(0, 2, shape)
    x[np.abs(x) < 0.1] += 0.5  # relu, leaky_relu and elu have a kink at 0
    return x


def test_every_registered_activation_has_a_reference():
    assert sorted(ACTIVATION_REFERENCES) == tgraph.ops.activations.ACTIVATIONS.names()


@pytest.fixture(scope="module")
def activation_layers():
    """One compiled function with every activation applied by an Activation layer."""
    x = pt.matrix("x")
    outs = [_apply(L.Activation(name), x, {}) for name in ACTIVATION_REFERENCES]
    return pytensor.function([x], outs, mode="FAST_COMPILE")


def test_activation_layer_values(activation_layers):
    x = _away_from_kinks(np.random.default_rng(3), (5, 4))
    for name, got in zip(ACTIVATION_REFERENCES, activation_layers(x)):
        np.testing.assert_allclose(got, ACTIVATION_REFERENCES[name](x), rtol=1e-10, atol=1e-12,
                                   err_msg=name)


@pytest.mark.parametrize("name", sorted(ACTIVATION_REFERENCES))
def test_activation_layer_gradient(name):
    rng = np.random.default_rng(4)
    verify_grad(lambda x: _apply(L.Activation(name), x, {}), [_away_from_kinks(rng, (4, 3))],
                rng=rng, mode="FAST_COMPILE")


def test_leaky_relu_slope_below_zero():
    x = pt.vector("x")
    g = pytensor.function([x], pytensor.grad(_apply(L.Activation("leaky_relu"), x, {}).sum(), x),
                          mode="FAST_COMPILE")
    np.testing.assert_allclose(g(np.array([-2.0, 3.0])), [0.01, 1.0])


# --- bad specs: the exact messages ------------------------------------------------------------


@pytest.mark.parametrize("make, message", [
    (lambda: L.Input(shape=(-3, 28)),
     "Input: `shape` (=(-3, 28)) must be a non-empty tuple of positive integers, without the "
     "batch dimension, e.g. (784,) or (1, 28, 28), or None (Input()) for the shape of the "
     "data's examples."),
    (lambda: L.Dense(0), "Dense: `units` (=0) must be a positive integer."),
    (lambda: L.Dropout(1.5), "Dropout: `rate` (=1.5) must be in [0, 1): the fraction of units "
                             "dropped."),
    (lambda: L.Dense(3, max_norm=0), "Dense: `max_norm` (=0) must be None or a number > 0."),
    (lambda: L.Reshape((0, 4)), "Reshape: `shape` (=(0, 4)) must be a tuple of positive "
                                "integers (at most one -1), without the batch dimension, e.g. "
                                "(1, 28, 28)."),
])
def test_bad_field_messages_exactly(make, message):
    with pytest.raises(SpecError) as err:
        make()
    assert str(err.value) == message


def test_unknown_initializer_and_activation_exactly():
    names = ", ".join(repr(n) for n in tgraph.init.INITIALIZERS.names())
    with pytest.raises(ConfigError) as err:
        L.Dense(3, init="glorot")
    assert str(err.value) == f"Dense: `init`: unknown initializer 'glorot'; expected one of: {names}"
    with pytest.raises(ConfigError) as err:
        L.Activation("swish")
    assert str(err.value).startswith("Activation: `activation`: unknown activation 'swish'; "
                                     "expected one of: 'elu', 'leaky_relu', 'linear',")


def test_unknown_optimizer_when_building_a_model():
    with pytest.raises(ConfigError, match=r"^unknown optimizer 'adamw'; expected one of: 'adadelta'"):
        tgraph.Model([L.Input((3,)), L.Dense(2, activation="softmax")], optimizer="adamw")


def test_reshape_with_inferred_dimension_that_does_not_divide():
    with pytest.raises(ShapeError) as err:
        tgraph.build([L.Input((784,)), L.Reshape((-1, 5))])
    assert str(err.value) == ("layer 1 (Reshape): cannot reshape examples of shape (784,) "
                              "(784 values) to (-1, 5); the target must hold exactly 784 values")


def test_missing_input_exactly():
    with pytest.raises(SpecError) as err:
        tgraph.build([L.Flatten(), L.Dense(10)])
    assert str(err.value) == ("layer 0 (Flatten): the first layer must be Input(shape=...), "
                              "e.g. Input(shape=(784,)) for flat MNIST")
    with pytest.raises(SpecError, match=r"^layer 2 \(Input\): only the first layer may be an Input"):
        tgraph.build([L.Input((3,)), L.Dense(2), L.Input((2,))])


def test_summary_of_every_core_layer():
    specs = [L.Input((1, 28, 28)), L.Flatten(), L.Dense(100, activation="relu", name="hidden"),
             L.Dropout(0.5), L.Dense(20, use_bias=False), L.Activation("tanh"), L.Reshape((4, 5)),
             L.Flatten(), L.Dense(10, activation="softmax")]
    assert tgraph.summary(specs) == "\n".join([
        "#  layer                 output shape       params",
        "-  --------------------  -----------------  ------",
        "0  Input                 (None, 1, 28, 28)       0",
        "1  Flatten               (None, 784)             0",
        "2  Dense, relu 'hidden'  (None, 100)        78,500",
        "3  Dropout               (None, 100)             0",
        "4  Dense, linear         (None, 20)          2,000",
        "5  Activation tanh       (None, 20)              0",
        "6  Reshape               (None, 4, 5)            0",
        "7  Flatten               (None, 20)              0",
        "8  Dense, softmax        (None, 10)            210",
        "-  --------------------  -----------------  ------",
        "total parameters: 80,710",
    ])
    net = tgraph.build(specs)
    assert net.num_params() == 80_710 and net.shapes == tgraph.network.infer_shapes(specs)


def test_flatten_and_reshape_values_in_a_compiled_model():
    specs = [L.Input((784,)), L.Reshape((1, 28, -1)), L.Flatten(), L.Reshape((28, 28)),
             L.Flatten(), L.Dense(10, activation="softmax", init="ones")]
    model = tgraph.Model(specs, mode="FAST_COMPILE")
    x = np.random.default_rng(0).uniform(size=(3, 784)).astype(np.float32)
    probs = model.predict(x)
    assert probs.shape == (3, 10)
    np.testing.assert_allclose(probs, 0.1, rtol=1e-6)  # equal logits
    layer = L.Reshape((1, 28, -1))
    f = pytensor.function([xs := pt.matrix("x")], _apply(layer, xs, {}), mode="FAST_COMPILE")
    np.testing.assert_array_equal(f(x.astype(np.float64)), x.reshape(3, 1, 28, 28))
