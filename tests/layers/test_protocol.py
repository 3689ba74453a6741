"""The layer protocol: the update channel, parameter specs, declared optional methods.

The custom layers here are written as a user would write them in a spec file.
"""

import attrs
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

import tgraph
from tgraph import layers as L
from tgraph import optim
from tgraph.backend import get_mode
from tgraph.errors import ConfigError, SpecError
from tgraph.layers.base import BIAS_TAGS, STATE_TAGS, WEIGHT_TAGS, ApplyContext
from tgraph.modelfile import load_model, save_model
from tgraph.random import RandomSource

NUMBA = get_mode("NUMBA")


@attrs.frozen
class Scale(L.Layer):
    """``y = x * s`` with ``s`` initialised to ones: a parameter without fans."""

    def param_specs(self, input_shape):
        return (L.ParamSpec("s", input_shape[1:], "ones", tags=BIAS_TAGS),)

    def apply(self, x, params, ctx):
        return x * params["s"]


@attrs.frozen
class CountExamples(L.Layer):
    """Counts the training examples it has seen, in a non-trainable scalar."""

    def param_specs(self, input_shape):
        return (L.ParamSpec("seen", (), "zeros", tags=STATE_TAGS),)

    def apply(self, x, params, ctx):
        if not ctx.deterministic:
            seen = params["seen"]
            ctx.add_update(seen, seen + pt.cast(x.shape[0], seen.dtype))
        return x


TICKS = pytensor.shared(np.float32(0), name="ticks")


@attrs.frozen
class Tick(L.Layer):
    """Adds one to a variable shared by every Tick layer: two of them collide."""

    def apply(self, x, params, ctx):
        if not ctx.deterministic:
            ctx.add_update(TICKS, TICKS + 1)
        return x


@attrs.frozen
class GlorotWithoutFans(L.Layer):
    def param_specs(self, input_shape):
        return (L.ParamSpec("W", (input_shape[1], 2), "glorot_uniform"),)

    def apply(self, x, params, ctx):
        return pt.dot(x, params["W"])

    def output_shape(self, input_shape):
        return (input_shape[0], 2)


# --- parameter specs -------------------------------------------------------------------------


def test_param_spec_takes_an_initializer_name_and_no_fans():
    net = tgraph.build([L.Input((3,)), Scale()])
    np.testing.assert_array_equal(net.layer_params(1)["s"].get_value(), np.ones(3, np.float32))
    assert L.ParamSpec("s", (3,), "ones") == L.ParamSpec("s", (3,), tgraph.init.Ones())


def test_initializer_that_needs_fans_names_layer_and_parameter():
    with pytest.raises(ConfigError) as err:
        tgraph.build([L.Input((3,)), GlorotWithoutFans()])
    assert str(err.value) == (
        "layer 1 (GlorotWithoutFans): parameter `W`: GlorotUniform scales by `fan_in` and "
        "`fan_out`, which the parameter's ParamSpec leaves None; give ParamSpec(fan_in=..., "
        "fan_out=...) or use an initializer without fans, e.g. 'zeros', 'ones' or "
        "Normal(std=...)."
    )


@pytest.mark.parametrize("make, error, message", [
    (lambda: L.ParamSpec("s", (3,), "onez"), ConfigError,
     r"^unknown initializer 'onez'; expected one of: .*'ones'"),
    (lambda: L.ParamSpec("s", (3, 0), "ones"), SpecError,
     r"^ParamSpec: `shape` \(=\(3, 0\)\) must be a tuple of positive integers, e\.g\. "
     r"\(784, 500\), or \(\) for a scalar\.$"),
    (lambda: L.ParamSpec("a/b", (3,), "ones"), SpecError,
     r"^ParamSpec: `name` \(='a/b'\) must be a non-empty string without '/', e\.g\. 'W'\.$"),
    (lambda: L.ParamSpec("W", (3,), "ones", fan_in=0), SpecError,
     r"^ParamSpec: `fan_in` \(=0\) must be None or a positive integer\.$"),
])
def test_bad_param_specs(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_param_spec_accepts_numpy_integers():
    spec = L.ParamSpec("W", (np.int64(3), np.int32(2)), "zeros", fan_in=np.int64(3))
    assert spec.shape == (3, 2) and type(spec.shape[0]) is int and spec.fan_in == 3


def test_weight_and_bias_tags_and_fans():
    w, b = L.weight_and_bias((8, 3, 5, 5), 8, fan_in=75, fan_out=200, init="he_normal",
                             bias_init="zeros", activation="relu")
    assert (w.name, w.shape, w.tags, w.fan_in, w.fan_out) == ("W", (8, 3, 5, 5), WEIGHT_TAGS,
                                                              75, 200)
    assert (b.name, b.shape, b.tags) == ("b", (8,), BIAS_TAGS)
    assert isinstance(w.init, tgraph.init.HeNormal) and b.activation == "relu"
    (only,) = L.weight_and_bias((4, 2), 2, fan_in=4, fan_out=2, init="zeros",
                                bias_init="zeros", activation="linear", use_bias=False)
    assert only.name == "W"


def test_dense_and_conv2d_use_the_pair():
    dense = L.Dense(5, activation="tanh").param_specs((None, 4))
    assert [(s.name, s.shape, s.tags) for s in dense] == [("W", (4, 5), WEIGHT_TAGS),
                                                          ("b", (5,), BIAS_TAGS)]
    conv = L.Conv2D(6, 3, use_bias=False).param_specs((None, 2, 9, 9))
    assert [(s.name, s.shape, s.fan_in, s.fan_out) for s in conv] == [("W", (6, 2, 3, 3), 18,
                                                                       54)]


# --- declared optional methods ----------------------------------------------------------------


def test_pre_activation_and_local_objective_default_to_none():
    x = pt.matrix("x")
    ctx = ApplyContext(deterministic=True)
    assert L.Flatten().pre_activation(x, {}, ctx) is None
    assert L.Dense(3).local_objective(x, {}, ctx) is None
    net = tgraph.build([L.Input((3,)), Scale()])
    assert net.forward(net.input_variable(), deterministic=True, absorb="softmax"
                       ).pre_activation is None


def test_local_objective_holds_scalars():
    x = pt.matrix("x")
    objective = L.LocalObjective(x.mean(), {"reconstruction_cross_entropy": x.sum()})
    assert objective.monitors["reconstruction_cross_entropy"].ndim == 0
    with pytest.raises(SpecError, match=r"^LocalObjective: `cost` must be a symbolic scalar "
                                        r"\(ndim 0\), got x with ndim 2; reduce it"):
        L.LocalObjective(x)
    with pytest.raises(SpecError, match=r"^LocalObjective: monitor 'error' must be a symbolic "
                                        r"scalar \(ndim 0\)"):
        L.LocalObjective(x.mean(), {"error": x})


# --- the update channel -----------------------------------------------------------------------


def test_a_variable_updated_twice_in_a_pass_names_both_layers():
    net = tgraph.build([L.Input((3,)), Tick(), Tick(name="again")])
    with pytest.raises(SpecError) as err:
        net.forward(net.input_variable(), deterministic=False)
    assert str(err.value) == (
        "layer 2 (Tick 'again'): 'ticks' already has an update in this pass, from layer 1 "
        "(Tick); a variable may be updated once per pass: combine the two new values into one"
    )
    assert net.forward(net.input_variable(), deterministic=True).updates == ()


@pytest.mark.parametrize("deterministic, variable, value, message", [
    (True, TICKS, TICKS + 1, "layer 4 (Tick): add_update in a deterministic pass (evaluation or "
                             "prediction), which applies no updates; add updates only when not "
                             "ctx.deterministic"),
    (False, pt.scalar("t"), 1.0, "layer 4 (Tick): add_update needs a shared variable (a "
                                 "parameter of the layer), got t (TensorVariable)"),
    (False, TICKS, TICKS + np.float64(1.5), "layer 4 (Tick): the update of 'ticks' has type "
                                            "Scalar(float64, shape=()), the variable "
                                            "Scalar(float32, shape=()); cast it, e.g. "
                                            "pytensor.tensor.cast(value, 'float32')"),
])
def test_bad_updates_are_refused(deterministic, variable, value, message):
    ctx = ApplyContext(deterministic=deterministic, index=4, label="layer 4 (Tick)")
    with pytest.raises(SpecError) as err:
        ctx.add_update(variable, value)
    assert str(err.value) == message


def test_a_layer_update_of_a_trainable_parameter_is_refused():
    @attrs.frozen
    class SelfUpdating(L.Dense):
        def apply(self, x, params, ctx):
            if not ctx.deterministic:
                ctx.add_update(params["W"], params["W"] * 0.5)
            return super().apply(x, params, ctx)

    model = tgraph.Model([L.Input((3,)), SelfUpdating(2, activation="softmax")])
    model.set_train_data(np.zeros((4, 3)), np.zeros(4))
    with pytest.raises(SpecError, match=r"^'1_selfupdating/W' is a trainable parameter, updated "
                                        r"by the optimizer, and a layer also updates it"):
        model.train_function(2)


@pytest.fixture(scope="module")
def counting_model(tmp_path_factory):
    model = tgraph.Model([L.Input((3,)), CountExamples(), L.Dense(2, activation="softmax")],
                         optimizer=optim.SGD(learning_rate=0.1))
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(12, 3)).astype(np.float32), rng.integers(0, 2, 12)
    model.set_train_data(x, y)
    for step in range(5):
        model.train_step(step % 3, 4)
    model.evaluate(x, y)
    model.predict(x)
    path = tmp_path_factory.mktemp("count") / "count.tgraph"
    save_model(model, path)
    return model, path


def test_layer_state_is_updated_by_training_steps_only(counting_model):
    model, _ = counting_model
    assert model.get_weights()["1_countexamples/seen"] == 20  # 5 steps of 4, no evaluation


def test_layer_state_has_no_gradient_and_is_not_optimizer_state(counting_model):
    model, _ = counting_model
    terms = tgraph.objective.objective(model.network, "nll", model.network.input_variable(),
                                       pt.ivector("y"), deterministic=False)
    optimizer_vars = [v.name for v, _ in model.optimizer.updates(
        [p.variable for p in model.network.params if p.trainable],
        [pt.zeros_like(p.variable) for p in model.network.params if p.trainable])]
    assert "1_countexamples/seen" not in optimizer_vars
    assert [v.name for v, _ in terms.updates] == ["1_countexamples/seen"]
    assert model.get_state()["arrays"] == {}


def test_layer_state_round_trips_through_the_model_file(counting_model):
    model, path = counting_model
    loaded = load_model(path)
    assert loaded.get_weights()["1_countexamples/seen"] == 20
    assert [p.trainable for p in loaded.network.params] == [False, True, True]


# --- random streams through the pass ------------------------------------------------------------


def test_two_draws_in_one_pass_chain_the_generator():
    twice = ApplyContext(deterministic=False, random=RandomSource(9), index=2)
    a, b = twice.uniform((4,), "float32"), twice.uniform((4,), "float32")
    assert len(twice.updates) == 1  # one generator, advanced past both draws
    f = pytensor.function([], [a, b], updates=twice.updates, mode=NUMBA)
    pairs = [f(), f()]

    once = ApplyContext(deterministic=False, random=RandomSource(9), index=2)
    g = pytensor.function([], once.uniform((4,), "float32"), updates=once.updates, mode=NUMBA)
    sequence = [g() for _ in range(4)]  # the same stream, one number block a call
    for got, expected in zip([v for pair in pairs for v in pair], sequence):
        np.testing.assert_array_equal(got, expected)
    assert len({v.tobytes() for v in sequence}) == 4


def test_a_deterministic_pass_draws_nothing():
    ctx = ApplyContext(deterministic=True, index=2, label="layer 2 (Noisy)")
    with pytest.raises(SpecError, match=r"^layer 2 \(Noisy\): draws random numbers in a "
                                        r"deterministic pass"):
        ctx.uniform((3,), "float32")


def test_layer_input_is_the_deterministic_output_below():
    net = tgraph.build([L.Input((3,)), L.Dropout(0.5), Scale(), L.Dense(2)])
    x = net.input_variable()
    f = pytensor.function([x], net.layer_input(x, 3), mode=NUMBA)
    data = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(f(data), data)  # dropout off, scale ones


@attrs.frozen
class NoisyLogits(L.Dense):
    """A Dense layer with uniform noise on its logits: stochastic ``pre_activation``."""

    def pre_activation(self, x, params, ctx):
        logits = super().pre_activation(x, params, ctx)
        return logits + ctx.uniform((x.shape[0], self.units), x.dtype)

    def apply(self, x, params, ctx):
        return tgraph.ops.activations.get_activation(self.activation)(
            self.pre_activation(x, params, ctx))


def test_the_loss_logits_and_the_output_see_the_same_draws():
    net = tgraph.build([L.Input((3,)), NoisyLogits(4, activation="softmax")], seed=2)
    x = net.input_variable()
    fwd = net.forward(x, deterministic=False, absorb="softmax")
    assert len(fwd.updates) == 1
    f = pytensor.function([x], [fwd.output, pt.special.softmax(fwd.pre_activation, axis=-1)],
                          updates=fwd.updates, mode=NUMBA)
    data = np.ones((5, 3), np.float32)
    first, again = f(data), f(data)
    np.testing.assert_allclose(first[0], first[1], rtol=1e-6)
    assert not np.allclose(first[0], again[0])  # the stream advanced
