"""History, CSV and JSON-lines logs, the progress display and the NaN guard."""

import copy
import csv
import io
import json
import sys

import numpy as np
import pytest
from support.fake_model import ScriptedModel, data

import tgraph
from tgraph import layers as L
from tgraph import optim
from tgraph.callbacks import (CSVLogger, History, JSONLinesLogger, ProgressLogger,
                              default_callbacks)
from tgraph.errors import DataError, TrainingError
from tgraph.trainer import Trainer

VALID = [0.5, 0.4, 0.45, 0.3]


def fit(callbacks, valid_errors=VALID, epochs=4, n_train=3, **kwargs):
    trainer = Trainer(ScriptedModel(list(valid_errors)), batch_size=1, max_epochs=epochs,
                      callbacks=[*default_callbacks(), *callbacks], shuffle=False, **kwargs)
    trainer.fit(data(n_train))
    return trainer


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_history_csv_and_jsonl_hold_every_epoch(tmp_path):
    trainer = fit([CSVLogger(tmp_path / "log.csv"), JSONLinesLogger(tmp_path / "log.jsonl")])
    history = trainer.history.epochs
    assert [e["epoch"] for e in history] == [1, 2, 3, 4]
    assert [e["iteration"] for e in history] == [3, 6, 9, 12]
    assert trainer.history.column("valid_error") == VALID
    # the scripted step returns 1 / step: epoch 1 averages 1, 1/2, 1/3
    assert history[0]["loss"] == pytest.approx(np.mean([1, 1 / 2, 1 / 3]), rel=1e-6)
    assert trainer.history.column("lr") == [pytest.approx(0.1)] * 4

    rows = read_csv(tmp_path / "log.csv")
    assert list(rows[0]) == ["epoch", "iteration", "loss", "lr", "valid_loss", "valid_error",
                             "time_s", "samples_per_s", "test_error"]
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
    assert [float(r["valid_error"]) for r in rows] == VALID
    assert [float(r["loss"]) for r in rows] == pytest.approx([e["loss"] for e in history])
    assert {r["test_error"] for r in rows} == {""}

    lines = (tmp_path / "log.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert records == [pytest.approx(e) for e in history]


def test_a_deep_copy_of_the_history_shares_its_records_and_not_its_list():
    # checkpoints deep-copy the callbacks' state at every epoch's end: copying each
    # record made a run of n epochs O(n^2)
    trainer = fit([])
    state = copy.deepcopy(trainer.history.state_dict())
    assert state["epochs"] == trainer.history.epochs
    assert all(a is b for a, b in zip(state["epochs"], trainer.history.epochs))
    trainer.history.on_epoch_end(5, {"epoch": 5})
    assert len(state["epochs"]) == 4 and len(trainer.history.epochs) == 5
    restored = History()
    restored.load_state_dict(state)
    assert restored.epochs == state["epochs"] and restored.epochs[0] is not state["epochs"][0]


def test_csv_has_validation_columns_when_the_first_epoch_has_none(tmp_path):
    # 3 minibatches per epoch, validation every 5: epoch 1 has no validation
    fit([CSVLogger(tmp_path / "log.csv")], valid_errors=[0.5, 0.4], epochs=4,
        validation_frequency=5)  # at iterations 5 and 10: in epochs 2 and 4
    rows = read_csv(tmp_path / "log.csv")
    assert [r["valid_error"] for r in rows] == ["", "0.5", "", "0.4"]


def test_a_logger_can_serve_two_runs(tmp_path):
    logger = CSVLogger(tmp_path / "log.csv")
    fit([logger], epochs=2)
    fit([logger], valid_errors=[0.9, 0.8, 0.7], epochs=3)
    assert [float(r["valid_error"]) for r in read_csv(tmp_path / "log.csv")] == [0.9, 0.8, 0.7]


def test_resumed_run_appends_under_the_same_header(tmp_path):
    paths = tmp_path / "log.csv", tmp_path / "log.jsonl"
    first = fit([CSVLogger(paths[0]), JSONLinesLogger(paths[1])], valid_errors=VALID[:2], epochs=2)
    state = first.checkpoint_state()
    second = Trainer(ScriptedModel(VALID[2:]), batch_size=1, max_epochs=4, shuffle=False,
                     callbacks=[*default_callbacks(), CSVLogger(paths[0]),
                                JSONLinesLogger(paths[1])])
    second.fit(data(3), resume=state)
    text = paths[0].read_text()
    assert text.count("epoch,iteration") == 1
    assert [(int(r["epoch"]), float(r["valid_error"])) for r in read_csv(paths[0])] == \
        list(zip([1, 2, 3, 4], VALID))
    assert [json.loads(line)["epoch"] for line in paths[1].read_text().splitlines()] == [1, 2, 3, 4]


# --- progress -------------------------------------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_prints_plain_lines_when_not_on_a_terminal(capsys):
    fit([ProgressLogger(every=2)], valid_errors=VALID + [0.2], epochs=5)
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert [line.split()[:2] for line in lines] == [["epoch", "2"], ["epoch", "4"], ["epoch", "5"]]
    assert lines[0].startswith("epoch    2  loss 0.2056  valid_error 40.00%  valid_loss 0.4  "
                               "lr 0.1  time_s ")
    assert err == "" and "\r" not in out


def test_progress_bar_only_on_a_terminal(monkeypatch, capsys):
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    fit([ProgressLogger()], epochs=2)
    bar = terminal.getvalue()
    assert "epoch 1:" in bar and "epoch 2:" in bar and "/3 [" in bar and "batch/s" in bar
    assert [line.split()[:2] for line in capsys.readouterr().out.splitlines()] == \
        [["epoch", "1"], ["epoch", "2"]]


def test_progress_can_be_silenced(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stderr", Terminal())
    fit([ProgressLogger(stream=None)], epochs=2)
    assert capsys.readouterr().out == "" and sys.stderr.getvalue() == ""


# --- NaN / inf guard ------------------------------------------------------------------------


class Diverging(ScriptedModel):
    """The training loss becomes ``value`` at step ``at`` (1-based)."""

    def __init__(self, at, value):
        super().__init__([0.5] * 10)
        self.at, self.value = at, value

    def train_function(self, batch_size):
        step = super().train_function(batch_size)
        return lambda i: self.value if self.steps + 1 == self.at else step(i)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_nan_or_inf_loss_stops_with_epoch_and_batch(value, tmp_path):
    log = tmp_path / "log.csv"
    trainer = Trainer(Diverging(at=8, value=value), batch_size=1, max_epochs=5, shuffle=False,
                      callbacks=[*default_callbacks(), CSVLogger(log)])
    with pytest.raises(TrainingError) as err:
        trainer.fit(data(5))  # 5 minibatches per epoch: step 8 is epoch 2, batch 2
    assert str(err.value) == (
        f"training loss became {value} at epoch 2, batch 2 (iteration 8); lower the learning "
        "rate (now 0.1), add gradient clipping (clip_norm=...), or check the data for NaN/inf "
        "values")
    assert trainer.epoch == 1 and [r["epoch"] for r in read_csv(log)] == ["1"]  # log closed


def test_nan_in_the_data_is_rejected_before_training():
    x = np.random.default_rng(0).normal(size=(10, 3)).astype(np.float32)
    x[5, 1] = np.nan
    model = tgraph.Model([L.Input((3,)), L.Dense(2, activation="softmax")],
                         optimizer=optim.SGD(learning_rate=0.5), mode="FAST_COMPILE")
    trainer = Trainer(model, batch_size=2, max_epochs=3, shuffle=False)
    with pytest.raises(DataError, match=r"^inputs contain 1 non-finite values \(NaN or inf\), "
                                        r"the first in example 5;"):
        trainer.fit({"train": (x, np.zeros(10, np.int32))})
    assert trainer.iteration == 0


def test_resume_drops_records_of_epochs_after_the_checkpoint(tmp_path):
    """A process killed between logging epoch 3 and checkpointing it: the resumed run
    (from epoch 2) logs epoch 3 again, once, and a torn last line is gone."""
    paths = tmp_path / "log.csv", tmp_path / "log.jsonl"
    first = fit([CSVLogger(paths[0]), JSONLinesLogger(paths[1])], valid_errors=VALID[:2], epochs=2)
    state = first.checkpoint_state()
    fit([CSVLogger(paths[0]), JSONLinesLogger(paths[1])], valid_errors=VALID[:3], epochs=3)
    with open(paths[0], "a", encoding="utf-8") as f:
        f.write("4,12,0.1")  # torn: killed in the middle of a row
    with open(paths[1], "a", encoding="utf-8") as f:
        f.write('{"epoch": 4, "iter')
    # the files now hold epochs 1-3 of the second run (+ torn lines), the checkpoint epoch 2
    second = Trainer(ScriptedModel(VALID[2:]), batch_size=1, max_epochs=4, shuffle=False,
                     callbacks=[*default_callbacks(), CSVLogger(paths[0]),
                                JSONLinesLogger(paths[1])])
    second.fit(data(3), resume=state)
    assert [(int(r["epoch"]), float(r["valid_error"])) for r in read_csv(paths[0])] == \
        list(zip([1, 2, 3, 4], VALID))
    assert [json.loads(line)["epoch"] for line in paths[1].read_text().splitlines()] == [1, 2, 3, 4]
