"""When ModelCheckpoint writes best.tgraph and last.tgraph, and what they hold."""

import pytest
from support.fake_model import ScriptedModel, data

import tgraph.callbacks.checkpoint as checkpoint_module
import tgraph.modelfile
from tgraph.callbacks import Callback, ModelCheckpoint
from tgraph.trainer import Trainer


class Clock:
    """Stands in for time.monotonic: each epoch end advances it by ``epoch_s``."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class Tick(Callback):
    order = 50  # before ModelCheckpoint (100)

    def __init__(self, clock, epoch_s):
        self.clock, self.epoch_s = clock, epoch_s

    def on_epoch_end(self, epoch, logs=None):
        self.clock.now += self.epoch_s


class StopAt(Callback):
    """Raises KeyboardInterrupt at the first minibatch of ``epoch``."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_batch_end(self, iteration, logs=None):
        if logs["epoch"] == self.epoch:
            raise KeyboardInterrupt


@pytest.fixture
def writes(monkeypatch):
    """The (file name, epoch, weights) of every save_model call, in order."""
    calls = []

    def record(model, path, *, meta=None, training=None, weights=None):
        weights = model.get_weights() if weights is None else weights
        calls.append((path.rsplit("/", 1)[1], meta["epoch"], float(weights["w"][0]),
                      None if training is None else training["epoch"]))

    monkeypatch.setattr(tgraph.modelfile, "save_model", record)
    return calls


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(checkpoint_module, "_clock", clock)
    return clock


def fit(tmp_path, every_seconds, epoch_s, errors, extra=()):
    clock = checkpoint_module._clock
    trainer = Trainer(ScriptedModel(errors), batch_size=1, max_epochs=len(errors),
                      shuffle=False, callbacks=[Tick(clock, epoch_s), *extra,
                                                ModelCheckpoint(tmp_path, every_seconds=every_seconds)])
    trainer.fit(data(2))
    return trainer


def test_every_epoch_with_zero_seconds(tmp_path, writes):
    fit(tmp_path, 0, 1.0, [0.5, 0.4, 0.6, 0.3])
    last = [w for w in writes if w[0] == "last.tgraph"]
    best = [w for w in writes if w[0] == "best.tgraph"]
    assert [w[3] for w in last] == [1, 2, 3, 4]
    assert [w[2] for w in best] == [2.0, 4.0, 8.0]  # weights after 2, 4 and 8 steps


def test_on_a_time_budget_the_first_epoch_then_every_interval_then_the_end(tmp_path, writes):
    # epochs end at t = 10, 20, ..., 70 s; writes at the first (t=10), then >= 25 s later
    fit(tmp_path, 25, 10.0, [0.9, 0.8, 0.7, 0.75, 0.6, 0.65, 0.66])
    last = [w[3] for w in writes if w[0] == "last.tgraph"]
    assert last == [1, 4, 7]  # t=10, t=40 (30 s later), then the end of training
    best = [(w[1], w[2]) for w in writes if w[0] == "best.tgraph"]
    # the best model (epoch 5, 10 steps) is written from memory with the last checkpoint
    assert best == [(1, 2.0), (4, 6.0), (7, 10.0)]


def test_an_interrupt_saves_the_last_finished_epoch(tmp_path, writes):
    with pytest.raises(KeyboardInterrupt):
        fit(tmp_path, 1e9, 1.0, [0.9, 0.8, 0.7, 0.6], extra=[StopAt(4)])
    last = [(w[3], w[2]) for w in writes if w[0] == "last.tgraph"]
    # epoch 1 at once, then epoch 3 (6 steps) kept in memory, not the half-run epoch 4
    assert last == [(1, 2.0), (3, 6.0)]


def test_every_seconds_must_not_be_negative(tmp_path):
    with pytest.raises(ValueError, match="every_seconds must be >= 0"):
        ModelCheckpoint(tmp_path, every_seconds=-1)
