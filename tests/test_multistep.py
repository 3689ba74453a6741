"""Several steps per call: the same numbers as one step per call, events at the same steps."""

import numpy as np
import pytest

import tgraph
from tgraph import layers as L
from tgraph import optim
from tgraph.callbacks import Callback, TutorialPatience, default_callbacks
from tgraph.errors import TrainingError
from tgraph.trainer import Trainer, next_batch_action, steps_per_call


class Recorder(Callback):
    """Records each step's loss and the weights at validations; ``watch_only`` lets the
    trainer run steps ahead of it (it only watches), otherwise it gets one step a call."""

    def __init__(self, watch_only):
        self.losses, self.validations = [], []
        if watch_only:
            self.next_batch_action = lambda iteration: None

    def on_batch_end(self, iteration, logs=None):
        self.losses.append((iteration, logs["epoch"], logs["batch"], logs["loss"]))

    def on_validation_end(self, iteration, logs=None):
        w = self.trainer.model.get_weights()["2_dense/W"]
        self.validations.append((iteration, logs["valid_error"], float(np.abs(w).sum())))


class Trained:
    """What a run leaves: the model's weights and state (copies), its steps per call."""

    def __init__(self, model, calls):
        self.weights, self.state, self.calls = model.get_weights(), model.get_state(), calls


def train(dropout_mlp, mnist, watch_only, callbacks=(), epochs=3, nan_at=None):
    model = dropout_mlp(optim.RMSprop(learning_rate=0.003), seed=4, batch_size=20)
    calls, train_steps = [], model.train_steps

    def counting(first, count, batch_size):  # the steps of each call
        calls.append(count)
        return train_steps(first, count, batch_size)

    model.train_steps = counting
    recorder = Recorder(watch_only)
    x, y = mnist["train"]
    if nan_at is not None:  # a finite input whose activations overflow: the loss is NaN
        x = x.copy()
        x[nan_at, 300:302] = np.finfo(np.float32).max
    trainer = Trainer(model, batch_size=20, max_epochs=epochs, shuffle=True, seed=1,
                      callbacks=[*default_callbacks(), recorder, *callbacks])
    error = None
    try:
        trainer.fit({"train": (x[:1000], y[:1000]), "valid": mnist["valid"]})
    except TrainingError as err:
        error = str(err)
    finally:
        del model.train_steps
    return Trained(model, calls), trainer, recorder, error


@pytest.fixture(scope="module")
def patience_runs(dropout_mlp, mnist):
    make = lambda: [TutorialPatience(patience=70, patience_increase=1.3)]  # noqa: E731
    return (train(dropout_mlp, mnist, True, make(), epochs=20),
            train(dropout_mlp, mnist, False, make(), epochs=20))


def test_chunked_training_equals_one_step_per_call(patience_runs):
    (fast, t1, r1, _), (slow, t2, r2, _) = patience_runs
    assert max(fast.calls) > 1 and max(slow.calls) == 1
    assert r1.losses == r2.losses
    assert r1.validations == r2.validations
    for name, value in slow.weights.items():
        np.testing.assert_array_equal(fast.weights[name], value, err_msg=name)
    assert fast.state["rng"] == slow.state["rng"]


def test_tutorial_patience_stops_at_the_same_iteration(patience_runs):
    (_, t1, r1, _), (_, t2, _, _) = patience_runs
    assert t1.stop_training and t1.stop_reason == t2.stop_reason
    assert t1.iteration == t2.iteration < 20 * 50
    patience = t1.callbacks[-1].current_patience
    assert t1.iteration - 1 >= patience > t1.iteration - 2  # stopped at the first chance
    assert [v[0] for v in r1.validations] == list(range(35, t1.iteration + 1, 35))


def test_terminate_on_nan_stops_at_the_same_batch(dropout_mlp, mnist):
    fast, slow = (train(dropout_mlp, mnist, watch_only, epochs=2, nan_at=777)
                  for watch_only in (True, False))
    assert fast[3] is not None and fast[3] == slow[3]
    assert "training loss became nan at epoch" in fast[3]
    assert fast[1].iteration == slow[1].iteration < 100
    assert fast[2].losses == slow[2].losses and len(fast[2].losses) == fast[1].iteration - 1


def test_steps_per_call_aims_at_50_ms():
    assert steps_per_call(0.0) == 1
    assert steps_per_call(0.5) == 1
    assert steps_per_call(0.01) == 5
    assert steps_per_call(1e-6) == 256


def test_unknown_batch_callbacks_act_at_every_iteration():
    class Stopper(Callback):
        def on_batch_end(self, iteration, logs=None):
            pass

    assert next_batch_action(Stopper(), 7) == 7
    patience = TutorialPatience(patience=100)
    assert next_batch_action(patience, 7) == 101
    assert next_batch_action(patience, 500) == 500


def test_other_backends_run_the_steps_one_by_one(mnist):
    x, y = mnist["train"][0][:60], mnist["train"][1][:60]
    a, b = (tgraph.Model([L.Input((784,)), L.Dropout(0.5), L.Dense(10, activation="softmax")],
                         seed=2, mode="FAST_COMPILE") for _ in range(2))
    for m in (a, b):
        m.set_train_data(x, y)
    losses = a.train_steps(0, 3, 20)
    assert list(losses) == [b.train_step(i, 20) for i in range(3)]
    for name, value in b.get_weights().items():
        np.testing.assert_array_equal(a.get_weights()[name], value)
