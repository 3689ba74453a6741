"""The shared compiled dropout MLP of the tests (support/dropout_mlp.py) is as good as new."""

import numpy as np

import tgraph
from tgraph import optim

from support.dropout_mlp import dropout_mlp_layers


def test_a_handed_out_model_trains_bit_for_bit_like_a_new_one(dropout_mlp, mnist):
    x, y = mnist["train"][0][:400], mnist["train"][1][:400]
    used = dropout_mlp(optim.RMSprop(learning_rate=0.003), seed=9, batch_size=20)
    used.set_train_data(x[::-1], y[::-1])
    used.train_steps(0, 7, 20)  # moves weights, optimizer state and random streams
    used.set_state({**used.get_state(), "lr": 0.5})
    used.meta["note"] = "used"

    shared = dropout_mlp(optim.RMSprop(learning_rate=0.003), seed=4, batch_size=20)
    assert shared is used  # one compiled step for the session
    new = tgraph.Model(dropout_mlp_layers(), optimizer=optim.RMSprop(learning_rate=0.003), seed=4)
    runs = []
    for model in (shared, new):
        start = model.get_weights()
        model.set_train_data(x, y)
        losses = [model.train_step(i, 20) for i in range(5)] + list(model.train_steps(5, 10, 20))
        runs.append((start, losses, model.get_weights(), model.get_state(), model.meta,
                     model.predict(x[:50])))
    (start, losses, weights, state, meta, out), (start2, losses2, weights2, state2, meta2, out2) = runs
    assert start.keys() == start2.keys() and all(np.array_equal(start[k], start2[k]) for k in start)
    assert losses == losses2
    for name, value in weights2.items():
        np.testing.assert_array_equal(weights[name], value, err_msg=name)
    assert state["arrays"].keys() == state2["arrays"].keys()
    for name, value in state2["arrays"].items():
        np.testing.assert_array_equal(state["arrays"][name], value, err_msg=name)
    assert state["rng"] == state2["rng"] and state["lr"] == state2["lr"] == np.float32(0.003)
    assert meta == meta2 == {}
    assert shared.network.seed == new.network.seed == 4  # what a model file records
    np.testing.assert_array_equal(out, out2)


def test_each_optimizer_and_batch_size_has_its_own_model(dropout_mlp):
    rmsprop = dropout_mlp(optim.RMSprop(learning_rate=0.003), seed=1, batch_size=20)
    adam = dropout_mlp(optim.Adam(learning_rate=0.003), seed=1, batch_size=100)
    assert rmsprop is not adam and isinstance(adam.optimizer, optim.Adam)
    assert dropout_mlp(optim.Adam(learning_rate=0.003), seed=2, batch_size=100) is adam
