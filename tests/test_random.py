"""Random streams: PyTensor shared generators, seeded per network and layer, state round trip."""

import json

import numpy as np
import pytest
from pytensor.tensor.random.variable import RandomGeneratorSharedVariable

import tgraph
from tgraph import layers as L
from tgraph.random import RandomSource, generator_state, set_generator_state

X = np.ones((4, 50), np.float32)


def dropout_model(seed):
    model = tgraph.Model([L.Input((50,)), L.Dropout(0.5), L.Dense(2, activation="softmax"),
                          L.Dropout(0.3, name="late")],
                         seed=seed, mode="FAST_COMPILE", loss="categorical_crossentropy")
    model.set_train_data(X, np.full((4, 2), 0.5, np.float32))
    model.train_function(4)  # creates the streams
    return model


def test_streams_are_pytensor_shared_generators_one_per_stochastic_layer():
    model = dropout_model(seed=1)
    generators = model.network.random.generators
    assert sorted(generators) == [1, 3]
    assert all(isinstance(g, RandomGeneratorSharedVariable) for g in generators.values())
    assert sorted(model.get_state()["rng"]) == ["rng/1", "rng/3"]


def test_streams_are_seeded_by_network_seed_and_layer():
    a, b, c = RandomSource(7), RandomSource(7), RandomSource(8)
    draw = lambda source, key: source.generator(key).get_value().uniform(size=5)  # noqa: E731
    np.testing.assert_array_equal(draw(a, 1), draw(b, 1))
    assert not np.array_equal(draw(a, 1), draw(c, 1))
    assert not np.array_equal(draw(a, 1), draw(a, 3))  # another layer, another stream


def test_a_training_step_advances_the_stream():
    model = dropout_model(seed=2)
    before = generator_state(model.network.random.generators[1])
    model.train_step(0, 4)
    assert generator_state(model.network.random.generators[1]) != before


def test_state_round_trip_through_json_reproduces_the_next_steps():
    model = dropout_model(seed=3)
    model.train_step(0, 4)
    state = json.loads(json.dumps(model.get_state(), default=lambda a: a.tolist()))
    weights = model.get_weights()
    model.train_step(0, 4)
    model.train_step(0, 4)
    after_two = model.get_weights()

    replay = dropout_model(seed=99)  # other seed: only the restored state can make it agree
    replay.set_weights(weights)
    replay.set_state({**state, "arrays": {k: np.asarray(v) for k, v in state["arrays"].items()}})
    replay.train_step(0, 4)
    replay.train_step(0, 4)
    for name, value in after_two.items():
        np.testing.assert_array_equal(replay.get_weights()[name], value, err_msg=name)


def test_set_generator_state_restores_the_draws():
    source = RandomSource(5)
    generator = source.generator(1)
    saved = generator_state(generator)
    first = generator.get_value().uniform(size=3)
    set_generator_state(generator, json.loads(json.dumps(saved)))
    np.testing.assert_array_equal(generator.get_value().uniform(size=3), first)


def test_unknown_stream_in_a_checkpoint_is_refused():
    model = dropout_model(seed=1)
    state = model.get_state()
    state["rng"]["rng/7"] = state["rng"]["rng/1"]
    with pytest.raises(tgraph.ModelFileError, match=r"random stream 'rng/7' of the checkpoint is "
                                                    r"not in this model"):
        model.set_state(state)


def test_each_forward_pass_keeps_its_own_stream_updates():
    # The updates are the pass's, not a list on the RandomSource that the next pass resets.
    net = tgraph.build([L.Input((50,)), L.Dropout(0.5), L.Dense(2), L.Dropout(0.3)], seed=1)
    train = net.forward(net.input_variable(), deterministic=False)
    other = net.forward(net.input_variable(), deterministic=False)
    assert [g.name for g, _ in train.updates] == ["rng/1", "rng/3"]
    assert [g.name for g, _ in other.updates] == ["rng/1", "rng/3"]
    assert all(a is not b for (_, a), (_, b) in zip(train.updates, other.updates))
    assert net.forward(net.input_variable(), deterministic=True).updates == ()
    assert not hasattr(net.random, "updates")
