"""A monitor key no one produces is an error at the start of training, naming the keys."""

import pytest
from support.fake_model import ScriptedModel, data

from tgraph.callbacks import (
    EarlyStopping,
    ModelCheckpoint,
    ReduceLROnPlateau,
    TutorialPatience,
    default_callbacks,
)
from tgraph.errors import ConfigError
from tgraph.trainer import Trainer

EPOCH_KEYS = "loss, lr, epoch, iteration, time_s, samples_per_s"


def fit(callback, splits=None, model=None):
    trainer = Trainer(model or ScriptedModel([0.5] * 10), batch_size=1, max_epochs=2,
                      callbacks=[*default_callbacks(), callback], shuffle=False)
    trainer.fit(splits or data(3))
    return trainer


@pytest.mark.parametrize("make, message", [
    (lambda d: EarlyStopping(monitor="val_error"),
     "EarlyStopping: monitor 'val_error' is not a key of this run's epoch logs; available: "
     f"valid_error, valid_loss, {EPOCH_KEYS}"),
    (lambda d: ReduceLROnPlateau(monitor="valid_los"),
     "ReduceLROnPlateau: monitor 'valid_los' is not a key of this run's epoch logs; available: "
     f"valid_error, valid_loss, {EPOCH_KEYS}"),
    (lambda d: ModelCheckpoint(d, monitor="valid_accuracy", mode="max"),
     "ModelCheckpoint: monitor 'valid_accuracy' is not a key of this run's epoch logs; "
     f"available: valid_error, valid_loss, {EPOCH_KEYS}"),
    (lambda d: TutorialPatience(monitor="loss"),
     "TutorialPatience: monitor 'loss' is not a key of this run's validation logs; available: "
     "valid_error, valid_loss, test_error; loss is in the epoch logs only"),
])
def test_misspelt_monitor_names_the_available_keys(make, message, tmp_path):
    model = ScriptedModel([0.5] * 10)
    with pytest.raises(ConfigError) as err:
        fit(make(tmp_path), model=model)
    assert str(err.value) == message
    assert model.steps == 0  # at on_train_begin, before any step


def test_validation_keys_need_a_validation_split():
    splits = data(3)
    del splits["valid"]
    with pytest.raises(ConfigError) as err:
        fit(EarlyStopping(), splits)
    assert str(err.value) == (
        "EarlyStopping: monitor 'valid_error' is not a key of this run's epoch logs; available: "
        f"{EPOCH_KEYS}; valid_* keys need a validation split, and the data has none")


def test_valid_error_needs_a_loss_on_labels():
    class Regression(ScriptedModel):
        class loss:  # noqa: N801 - quacks like tgraph.ops.losses.Loss
            target = "targets"

    with pytest.raises(ConfigError) as err:
        fit(EarlyStopping(), model=Regression([0.5] * 10))
    assert str(err.value) == (
        "EarlyStopping: monitor 'valid_error' is not a key of this run's epoch logs; available: "
        f"valid_loss, {EPOCH_KEYS}; valid_error needs a loss on class labels (e.g. 'nll', or "
        "'binary_crossentropy' on one sigmoid unit)")


@pytest.mark.parametrize("make", [
    lambda d: EarlyStopping(monitor="valid_loss"),
    lambda d: EarlyStopping(monitor="loss"),
    lambda d: ReduceLROnPlateau(monitor="lr"),
    lambda d: ModelCheckpoint(d, monitor="valid_error", save_best=False, save_last=False),
    lambda d: TutorialPatience(patience=4, monitor="valid_loss"),
])
def test_keys_the_run_produces_are_accepted(make, tmp_path):
    model = ScriptedModel([0.5] * 10)
    trainer = fit(make(tmp_path), model=model)
    assert trainer.epoch >= 1 and model.steps >= 3


def test_test_error_is_a_key_only_with_test_at_best():
    trainer = Trainer(ScriptedModel([]), callbacks=[TutorialPatience(test_at_best=False)])
    trainer._splits = data(3)
    assert trainer.log_keys("validation") == ("valid_error", "valid_loss")
    trainer = Trainer(ScriptedModel([]), callbacks=[TutorialPatience()])
    trainer._splits = data(3)
    assert trainer.log_keys("epoch") == ("valid_error", "valid_loss", "test_error",
                                         *EPOCH_KEYS.split(", "))
