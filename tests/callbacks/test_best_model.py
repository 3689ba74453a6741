"""The best model has one owner (the trainer's BestModel); callbacks declare their scheduling."""

import ast
from pathlib import Path

import numpy as np
import pytest
from support.fake_model import ScriptedModel, data

import tgraph.trainer
from tgraph.callbacks import (
    Callback,
    EarlyStopping,
    History,
    ModelCheckpoint,
    ProgressLogger,
    TerminateOnNaN,
    TutorialPatience,
    default_callbacks,
)
from tgraph.callbacks.base import BestModel
from tgraph.errors import ConfigError
from tgraph.trainer import Trainer


class Weights:
    """A model with one weight, set by hand."""

    def __init__(self):
        self.w = 0.0

    def get_weights(self):
        return {"w": np.array([self.w])}

    def set_weights(self, weights):
        self.w = float(weights["w"][0])


def test_best_model_keeps_the_weights_of_the_best_value():
    best, model = BestModel("valid_error", "min"), Weights()
    for iteration, (w, error) in enumerate([(1, 0.5), (2, 0.4), (3, 0.4), (4, float("nan")),
                                            (5, 0.45)], start=1):
        model.w = w
        best.observe({"valid_error": error}, model, epoch=iteration, iteration=10 * iteration)
    assert (best.value, best.epoch, best.iteration) == (0.4, 2, 20)  # ties do not count
    assert best.improved_at(20) and not best.improved_at(30)
    assert best.restore(model) and model.w == 2.0
    assert not BestModel().restore(model)  # nothing yet: the weights stay


def test_best_model_state_round_trip_and_mismatch():
    best, model = BestModel("valid_loss", "max"), Weights()
    model.w = 7
    best.observe({"valid_loss": 0.3}, model, 1, 5)
    again = BestModel("valid_loss", "max")
    again.load_state_dict(best.state_dict())
    assert not again.observe({"valid_loss": 0.2}, model, 2, 10)  # 0.3 is still the best
    assert again.restore(model) and model.w == 7.0
    with pytest.raises(ConfigError) as err:
        BestModel("valid_error").load_state_dict(best.state_dict())
    assert str(err.value) == ("the checkpoint's best model was chosen on valid_loss (max), this "
                              "run chooses it on valid_error (min); resume with the same callbacks")


def fit(callbacks, valid_errors, n_train=2, epochs=None):
    model = ScriptedModel(valid_errors)
    trainer = Trainer(model, batch_size=1, max_epochs=epochs or len(valid_errors),
                      callbacks=[*default_callbacks(), *callbacks], shuffle=False)
    trainer.fit(data(n_train))
    return model, trainer


def test_early_stopping_restores_the_trainers_best_model():
    stopper = EarlyStopping(patience=2)
    model, trainer = fit([stopper], [0.5, 0.3, 0.4, 0.35])
    best = trainer.best_model
    assert (best.monitor, best.value, best.epoch, best.iteration) == ("valid_error", 0.3, 2, 4)
    assert model.weights["w"][0] == 4.0 and stopper.best_epoch == 2
    assert "best_weights" not in stopper.state_dict()  # one copy of the best weights


def test_best_model_follows_the_monitor_early_stopping_restores():
    stopper = EarlyStopping(monitor="loss", patience=5)  # the scripted loss falls every step
    model, trainer = fit([stopper], [0.5] * 4)
    assert (trainer.best_model.monitor, trainer.best_model.iteration) == ("loss", 8)
    assert model.weights["w"][0] == 8.0


def test_callbacks_must_agree_on_the_best_model(tmp_path):
    with pytest.raises(ConfigError) as err:
        Trainer(ScriptedModel([]), callbacks=[TutorialPatience(),
                                              ModelCheckpoint(tmp_path, monitor="valid_loss")])
    assert str(err.value) == (
        "the callbacks choose the best model on different values: TutorialPatience on "
        "valid_error (min), ModelCheckpoint on valid_loss (min); give them the same monitor "
        "and mode, or set restore_best=False")
    trainer = Trainer(ScriptedModel([]), callbacks=[EarlyStopping(monitor="valid_loss",
                                                                  restore_best=False)])
    assert trainer.best_model.monitor == "valid_error"  # the default


# --- scheduling declared by the callbacks -------------------------------------------------------


def test_callbacks_declare_their_scheduling():
    class Watcher(Callback):
        def on_batch_end(self, iteration, logs=None):
            pass

    assert Callback().next_batch_action(7) is None  # no on_batch_end: never waits for it
    assert Watcher().next_batch_action(7) == 7
    assert ProgressLogger().next_batch_action(7) is None
    assert TerminateOnNaN().next_batch_action(7) is None
    patience = TutorialPatience(patience=100)
    assert patience.next_batch_action(7) == 101 and patience.next_batch_action(500) == 500
    assert Callback().validation_frequency(50) is None
    assert patience.validation_frequency(30) == 30 and patience.validation_frequency(80) == 50


def test_callbacks_run_in_the_order_they_declare(tmp_path):
    late, early = ModelCheckpoint(tmp_path), Callback()
    history, guard = default_callbacks()
    trainer = Trainer(ScriptedModel([]), callbacks=[late, early, guard, history])
    assert trainer.callbacks == [history, guard, early, late]
    assert isinstance(history, History) and history.order < guard.order < 0 < late.order


def test_history_registers_itself():
    bare = Trainer(ScriptedModel([0.5]), max_epochs=1, batch_size=1, default_callbacks=False)
    assert bare.fit(data(2)) is None
    _, trainer = fit([], [0.5, 0.4])
    assert trainer.history.column("valid_error") == [0.5, 0.4]


def test_the_trainer_imports_the_callback_protocol_only():
    tree = ast.parse(Path(tgraph.trainer.__file__).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {a.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                 for a in node.names}
    assert {m for m in imported if m.startswith("tgraph.callbacks")} == {"tgraph.callbacks.base"}
