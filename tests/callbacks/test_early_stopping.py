"""Both early-stopping forms, driven with scripted validation sequences."""

import numpy as np
import pytest
from support.fake_model import ScriptedModel, data

from tgraph.callbacks import EarlyStopping, TutorialPatience, default_callbacks
from tgraph.errors import ConfigError
from tgraph.trainer import Trainer


def tutorial_loop(valid_errors, n_train_batches, n_epochs, patience, patience_increase=2,
                  improvement_threshold=0.995):
    """The loop of deeplearning.net's logistic_sgd.py / mlp.py, line for line."""
    valid_errors = list(valid_errors)
    validation_frequency = min(n_train_batches, patience // 2)
    best_validation_loss, best_iter, epoch, done_looping = np.inf, 0, 0, False
    while (epoch < n_epochs) and (not done_looping):
        epoch = epoch + 1
        for minibatch_index in range(n_train_batches):
            iter = (epoch - 1) * n_train_batches + minibatch_index
            if (iter + 1) % validation_frequency == 0:
                this_validation_loss = valid_errors.pop(0)
                if this_validation_loss < best_validation_loss:
                    if this_validation_loss < best_validation_loss * improvement_threshold:
                        patience = max(patience, iter * patience_increase)
                    best_validation_loss = this_validation_loss
                    best_iter = iter
            if patience <= iter:
                done_looping = True
                break
    return {"iter": iter, "best_iter": best_iter, "epoch": epoch, "best": best_validation_loss}


SEQUENCES = {
    "steady": [0.5 * 0.98 ** k for k in range(200)],
    "plateau": [0.5, 0.3, 0.2, 0.199, 0.1995, 0.1991, 0.25, 0.3, 0.19, 0.4] + [0.5] * 190,
    "noisy": list(np.random.default_rng(3).uniform(0.1, 0.2, 200)),
}


@pytest.mark.parametrize("name", SEQUENCES)
@pytest.mark.parametrize("n_batches, patience", [(100, 500), (300, 400), (83, 5000), (10, 20)])
def test_tutorial_patience_stops_at_the_tutorials_iteration(name, n_batches, patience):
    sequence = SEQUENCES[name]
    want = tutorial_loop(sequence, n_batches, n_epochs=60, patience=patience)
    model = ScriptedModel(sequence)
    stopper = TutorialPatience(patience=patience)
    trainer = Trainer(model, batch_size=1, max_epochs=60, callbacks=[stopper], shuffle=False)
    trainer.fit(data(n_batches))
    assert trainer.iteration == want["iter"] + 1
    assert trainer.epoch == want["epoch"]
    assert stopper.best_iter == want["best_iter"] + 1
    assert stopper.best == want["best"]
    assert trainer.validation_frequency == min(n_batches, patience // 2)


def test_tutorial_patience_tests_at_each_new_best_and_restores_best_weights():
    model = ScriptedModel([0.5, 0.4, 0.45, 0.3, 0.6, 0.7, 0.8, 0.9] + [0.9] * 50, test_error=0.25)
    stopper = TutorialPatience(patience=40)  # validation every 10 minibatches
    trainer = Trainer(model, batch_size=1, max_epochs=50, callbacks=[*default_callbacks(), stopper],
                      shuffle=False)
    history = trainer.fit(data(10))
    assert model.evaluations[:7] == ["valid", "test", "valid", "test", "valid", "valid", "test"]
    assert trainer.iteration == 79  # patience max(38, 39 * 2) = 78 <= iter 78
    assert stopper.test_error == 0.25
    assert history.column("test_error")[:3] == [0.25, 0.25, None]
    # best 0.3 was at iteration 40: its weights (w = 40 steps) are back
    assert stopper.best_iter == 40
    assert model.weights["w"][0] == 40.0


def test_epoch_patience_with_min_delta():
    seq = [0.5, 0.4, 0.395, 0.41, 0.385, 0.5, 0.5, 0.5, 0.5]
    model = ScriptedModel(seq)
    stopper = EarlyStopping(patience=3, min_delta=0.01)
    trainer = Trainer(model, batch_size=1, max_epochs=20, callbacks=[stopper], shuffle=False)
    trainer.fit(data(5))
    # improvements by more than 0.01: epochs 1, 2 and 5 (0.385 < 0.4 - 0.01); 3 more epochs
    assert stopper.best_epoch == 5 and trainer.epoch == 8
    assert "did not improve for 3 epochs" in trainer.stop_reason
    assert model.weights["w"][0] == 25.0  # 5 epochs of 5 steps


def test_epoch_patience_mode_max():
    model = ScriptedModel([0.1, 0.2, 0.15, 0.18, 0.19])
    stopper = EarlyStopping(monitor="valid_error", mode="max", patience=3, restore_best=False)
    trainer = Trainer(model, batch_size=1, max_epochs=20, callbacks=[stopper], shuffle=False)
    trainer.fit(data(3))
    assert stopper.best_epoch == 2 and trainer.epoch == 5
    assert model.weights["w"][0] == 15.0


def test_bad_settings():
    with pytest.raises(ConfigError, match=r"`mode` \(='up'\) must be 'min' or 'max'"):
        EarlyStopping(mode="up")
    with pytest.raises(ConfigError, match=r"TutorialPatience: `patience` \(=0\)"):
        TutorialPatience(patience=0)
    with pytest.raises(ConfigError, match=r"EarlyStopping: `patience` \(=-1\)"):
        EarlyStopping(patience=-1)
