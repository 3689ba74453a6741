"""Resuming from a checkpoint gives the same final weights as an uninterrupted run."""

import numpy as np
import pytest

import tgraph
from tgraph import layers as L
from tgraph import optim
from tgraph.callbacks import Callback, EarlyStopping, ModelCheckpoint, ReduceLROnPlateau
from tgraph.modelfile import read_model_file
from tgraph.init import Normal
from tgraph.trainer import Trainer

EPOCHS = 5


def make_model():
    return tgraph.Model([L.Input((784,)), L.Dropout(0.2),
                         L.Dense(40, activation="relu", init=Normal(std=0.05)), L.Dropout(0.5),
                         L.Dense(10, activation="softmax")],
                        optimizer=optim.Adam(learning_rate=0.003), seed=21)


class Interrupt(Callback):
    """Simulates Ctrl-C in the middle of an epoch."""

    def __init__(self, epoch, batch):
        self.at = (epoch, batch)

    def on_batch_end(self, iteration, logs=None):
        if (logs["epoch"], logs["batch"]) == self.at:
            raise KeyboardInterrupt


def callbacks(out):
    return [EarlyStopping(patience=50), ReduceLROnPlateau(patience=1, factor=0.5),
            ModelCheckpoint(out)]


def run(data, out, extra=(), resume=None):
    model = make_model()
    trainer = Trainer(model, batch_size=100, max_epochs=EPOCHS, shuffle=True, seed=3,
                      callbacks=[*callbacks(out), *extra])
    if resume is not None:
        content = read_model_file(resume)
        model.set_weights(content.weights)
        trainer.fit(data, resume=content.training)
    else:
        trainer.fit(data)
    return model, trainer


@pytest.fixture(scope="module")
def data(mnist):
    x, y = mnist["train"]
    return {"train": (x[:2000], y[:2000]), "valid": mnist["valid"]}


def test_resume_after_interrupt_matches_uninterrupted_run(data, tmp_path):
    straight, t1 = run(data, tmp_path / "a")
    with pytest.raises(KeyboardInterrupt):
        run(data, tmp_path / "b", extra=[Interrupt(epoch=3, batch=7)])
    saved = read_model_file(tmp_path / "b" / "last.tgraph")
    assert saved.training["epoch"] == 2  # the last finished epoch
    resumed, t2 = run(data, tmp_path / "b", resume=tmp_path / "b" / "last.tgraph")
    assert t2.epoch == t1.epoch == EPOCHS and t2.iteration == t1.iteration
    for name, value in straight.get_weights().items():
        np.testing.assert_array_equal(resumed.get_weights()[name], value, err_msg=name)
    assert [e["valid_error"] for e in t2.history.epochs] == \
           [e["valid_error"] for e in t1.history.epochs]
    assert [e["lr"] for e in t2.history.epochs] == [e["lr"] for e in t1.history.epochs]


def test_checkpoint_holds_optimizer_and_random_state(data, tmp_path):
    run(data, tmp_path)
    state = read_model_file(tmp_path / "last.tgraph").training
    arrays = state["model"]["arrays"]
    assert {"optimizer/t", "2_dense/W/m", "2_dense/W/v"} <= set(arrays)
    assert arrays["optimizer/t"] == EPOCHS * 20
    assert set(state["model"]["rng"]) == {"rng/1", "rng/3"}
    assert state["shuffle_rng"]["bit_generator"] == "PCG64"
    assert set(state["callbacks"]) >= {"EarlyStopping#0", "ReduceLROnPlateau#0",
                                       "ModelCheckpoint#0", "History#0"}
