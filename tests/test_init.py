"""Initializer statistics: Glorot bounds (4x before a sigmoid), He std, orthogonality, constants."""

import numpy as np
import pytest

import tgraph
from tgraph import init
from tgraph import layers as L
from tgraph.errors import ConfigError
from tgraph.network import build

FAN_IN, FAN_OUT = 400, 300


def draw(initializer, shape=(FAN_IN, FAN_OUT), activation="linear", seed=0):
    return initializer(shape, np.random.default_rng(seed), fan_in=shape[0], fan_out=shape[-1],
                       activation=activation)


@pytest.mark.parametrize("activation, gain", [("tanh", 1.0), ("linear", 1.0), ("relu", 1.0),
                                              ("sigmoid", 4.0)])
def test_glorot_uniform_bounds(activation, gain):
    w = draw(init.GlorotUniform(), activation=activation)
    bound = gain * np.sqrt(6.0 / (FAN_IN + FAN_OUT))
    assert np.abs(w).max() <= bound
    assert w.max() > 0.99 * bound and w.min() < -0.99 * bound  # fills the whole interval
    assert w.std() == pytest.approx(bound / np.sqrt(3), rel=0.02)  # uniform on [-a, a]
    assert abs(w.mean()) < 0.01 * bound


def test_glorot_explicit_gain_and_xavier_alias():
    w = draw(init.GlorotUniform(gain=2.0), activation="sigmoid")
    assert np.abs(w).max() <= 2.0 * np.sqrt(6.0 / (FAN_IN + FAN_OUT))
    assert init.get_initializer("xavier_uniform") == init.GlorotUniform()
    assert init.get_initializer("xavier_normal") == init.GlorotNormal()


def test_dense_before_sigmoid_uses_the_tutorials_4x_bound():
    """deeplearning.net mlp.py: ``W_values *= 4`` for a sigmoid hidden layer."""
    net = tgraph.build([L.Input((FAN_IN,)), L.Dense(FAN_OUT, activation="sigmoid"),
                        L.Dense(10, activation="softmax")], seed=2)
    w_sigmoid = net.params[0].variable.get_value()
    w_softmax = net.params[2].variable.get_value()
    bound = 4 * np.sqrt(6.0 / (FAN_IN + FAN_OUT))
    assert bound * 0.99 < np.abs(w_sigmoid).max() <= bound * (1 + 1e-6)
    assert np.abs(w_softmax).max() <= np.sqrt(6.0 / (FAN_OUT + 10)) * (1 + 1e-6)


@pytest.mark.parametrize("gain", [1.0, np.sqrt(2)])
def test_he_normal_std(gain):
    w = draw(init.HeNormal(gain=gain), shape=(800, 500))
    assert w.std() == pytest.approx(gain * np.sqrt(2.0 / 800), rel=0.01)
    assert abs(w.mean()) < 0.01 * w.std()


def test_he_uses_the_given_fan_in():
    w = init.HeNormal()((64, 16, 3, 3), np.random.default_rng(0), fan_in=144, fan_out=576)
    assert w.std() == pytest.approx(np.sqrt(2.0 / 144), rel=0.02)


def test_normal_std_and_mean():
    w = draw(init.Normal(std=0.5, mean=1.0))
    assert w.std() == pytest.approx(0.5, rel=0.01) and w.mean() == pytest.approx(1.0, abs=0.01)
    assert draw(init.Normal()).std() == pytest.approx(0.01, rel=0.01)


def test_zeros_constant_ones():
    np.testing.assert_array_equal(draw(init.Zeros(), shape=(3, 2)), np.zeros((3, 2)))
    np.testing.assert_array_equal(draw(init.Ones(), shape=(4,)), np.ones(4))
    np.testing.assert_array_equal(draw(init.Constant(0.25), shape=(2, 5)), np.full((2, 5), 0.25))


@pytest.mark.parametrize("shape", [(300, 200), (200, 300), (64, 64)])
def test_orthogonal_matrices(shape):
    w = draw(init.Orthogonal(), shape=shape)
    small = min(shape)
    gram = w.T @ w if shape[0] >= shape[1] else w @ w.T  # the short side is orthonormal
    np.testing.assert_allclose(gram, np.eye(small), atol=1e-10)


def test_orthogonal_gain_and_conv_shape():
    w = draw(init.Orthogonal(gain=1.5), shape=(8, 3, 3, 3))  # flattened to (8, 27)
    flat = w.reshape(8, 27)
    np.testing.assert_allclose(flat @ flat.T, 1.5 ** 2 * np.eye(8), atol=1e-10)


def test_initializers_are_seeded():
    a, b = draw(init.GlorotUniform(), seed=5), draw(init.GlorotUniform(), seed=5)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, draw(init.GlorotUniform(), seed=6))


@pytest.mark.parametrize("make, message", [
    (lambda: init.Normal(std=0), "Normal: `std` (=0) must be a number > 0."),
    (lambda: init.Normal(std="big"), "Normal: `std` (='big') must be a number > 0."),
    (lambda: init.HeNormal(gain=-1), "HeNormal: `gain` (=-1) must be a number > 0."),
    (lambda: init.GlorotUniform(gain="huge"),
     "GlorotUniform: `gain` (='huge') must be 'auto' or a number > 0."),
    (lambda: init.Uniform(low=1, high=0), "Uniform: `low` (=1) must be a number < `high` (=0)."),
    (lambda: draw(init.Orthogonal(), shape=(5,)),
     "`Orthogonal` needs a parameter with 2 or more dimensions, got shape (5,)."),
])
def test_bad_initializer_settings(make, message):
    with pytest.raises(ConfigError) as err:
        make()
    assert str(err.value) == message


def test_legacy_init_follows_the_seed_and_differs_from_the_default_stream():
    layers = [L.Input((20,)), L.Dense(30, activation="tanh"), L.Dense(5, activation="softmax")]

    def first_weights(**kwargs):
        return build(layers, **kwargs).params[0].variable.get_value()

    legacy = first_weights(seed=3, legacy_init=True)
    np.testing.assert_array_equal(legacy, first_weights(seed=3, legacy_init=True))
    assert not np.array_equal(legacy, first_weights(seed=4, legacy_init=True))
    assert not np.array_equal(legacy, first_weights(seed=3))


def test_mlp_spec_starts_from_the_tutorials_weights():
    """deeplearning.net ``mlp.py``: ``rng = RandomState(1234)``, hidden W, zero output layer."""
    from pathlib import Path

    from tgraph.specfile import load_spec

    experiment = load_spec(Path(__file__).resolve().parents[1] / "specs" / "mlp.py")
    weights = [p.variable.get_value() for p in experiment.build_model().network.params]
    bound = np.sqrt(6.0 / (784 + 500))
    hidden = np.random.RandomState(1234).uniform(-bound, bound, size=(784, 500))
    np.testing.assert_array_equal(weights[0], hidden.astype(np.float32))
    assert not weights[2].any()


def test_an_initializer_that_needs_a_generator_names_its_layer_under_legacy_init():
    def integer_init(shape, rng, *, fan_in, fan_out, activation="linear"):
        return rng.integers(-1, 2, size=shape).astype(float)

    layers = [L.Input((4,)), L.Dense(3, init=integer_init, name="hidden")]
    assert build(layers, seed=1).params[0].variable.get_value().shape == (4, 3)
    with pytest.raises(ConfigError) as err:
        build(layers, seed=1, legacy_init=True)
    assert str(err.value).startswith("layer 1 (Dense 'hidden'): parameter `W`: its initializer "
                                     "calls `rng.integers`, which numpy.random.RandomState lacks")
