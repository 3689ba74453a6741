"""Learning-rate schedules: the values they set, and that the compiled step follows them."""

import numpy as np
import pytest
from support.fake_model import ScriptedModel, data

import tgraph
from tgraph import layers as L
from tgraph import optim
from tgraph.callbacks import ExponentialDecay, ReduceLROnPlateau, StepDecay, default_callbacks
from tgraph.errors import ConfigError
from tgraph.trainer import Trainer


def lr_per_epoch(schedule, valid_errors=None, epochs=5):
    model = ScriptedModel(valid_errors or [0.5] * epochs)  # its optimizer: SGD(lr=0.1)
    trainer = Trainer(model, batch_size=1, max_epochs=epochs,
                      callbacks=[*default_callbacks(), schedule],
                      shuffle=False)
    trainer.fit(data(2))
    return trainer.history.column("lr"), optim.learning_rate_of(model.optimizer)


def test_step_decay():
    lrs, _ = lr_per_epoch(StepDecay(step_size=2, gamma=0.5))
    assert lrs == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])


def test_exponential_decay():
    lrs, _ = lr_per_epoch(ExponentialDecay(gamma=0.9), epochs=4)
    assert lrs == pytest.approx([0.1, 0.09, 0.081, 0.0729])


def test_reduce_on_plateau_with_cooldown_and_floor():
    losses = [0.5, 0.4, 0.45, 0.46, 0.47, 0.48, 0.49, 0.5, 0.51]
    schedule = ReduceLROnPlateau(factor=0.5, patience=2, cooldown=2, min_lr=0.03)
    lrs, final = lr_per_epoch(schedule, losses, epochs=9)
    # no improvement in epochs 3 and 4: halved after epoch 4 (the log of epoch 5 shows it);
    # the cooldown ends during epoch 6, which counts again (as in Keras), so the next cut
    # comes after epoch 7, down to the floor 0.03 instead of 0.025
    assert lrs == pytest.approx([0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.03, 0.03])
    assert final == pytest.approx(0.03)


def test_reduce_on_plateau_resets_when_it_improves():
    lrs, _ = lr_per_epoch(ReduceLROnPlateau(factor=0.5, patience=2),
                          [0.5, 0.6, 0.4, 0.6, 0.3, 0.6, 0.7], epochs=7)
    assert lrs == pytest.approx([0.1] * 7)


@pytest.mark.parametrize("make, message", [
    (lambda: StepDecay(step_size=0), "StepDecay: `step_size` (=0) must be a positive integer"),
    (lambda: ExponentialDecay(gamma=1.5), "ExponentialDecay: `gamma` (=1.5) must be in (0, 1)"),
    (lambda: ReduceLROnPlateau(min_lr=-1), "ReduceLROnPlateau: `min_lr` (=-1) must be a number "
                                           ">= 0"),
    (lambda: ReduceLROnPlateau(mode="lower"), "`mode` (='lower') must be 'min' or 'max'"),
])
def test_bad_schedule_settings(make, message):
    with pytest.raises(ConfigError) as err:
        make()
    assert str(err.value) == message


# --- the compiled step reads the shared learning rate ------------------------------------------

X = np.random.default_rng(0).normal(size=(12, 5)).astype(np.float32)
Y = (np.arange(12) % 3).astype(np.int32)
BATCH, EPOCHS = 4, 3


def small_model():
    return tgraph.Model([L.Input((5,)), L.Dense(3, activation="softmax")],
                        optimizer=optim.SGD(learning_rate=0.1), seed=4, mode="FAST_COMPILE")


def test_schedule_changes_the_rate_the_compiled_step_uses_without_recompiling(monkeypatch):
    scheduled = small_model()
    builds = []
    build = scheduled._build_train
    monkeypatch.setattr(scheduled, "_build_train", lambda n: builds.append(n) or build(n))
    scheduled.set_train_data(X, Y)
    step = scheduled.train_function(BATCH)
    Trainer(scheduled, batch_size=BATCH, max_epochs=EPOCHS, shuffle=False,
            callbacks=[StepDecay(step_size=1, gamma=0.5)]).fit({"train": (X, Y)})
    assert builds == [BATCH] and scheduled.train_function(BATCH) is step

    by_hand = small_model()  # the same steps with the rate set by hand between epochs
    by_hand.set_train_data(X, Y)
    for epoch in range(EPOCHS):
        optim.set_learning_rate(by_hand.optimizer, 0.1 * 0.5 ** epoch)
        for batch in range(len(X) // BATCH):
            by_hand.train_step(batch, BATCH)
    constant = small_model()
    Trainer(constant, batch_size=BATCH, max_epochs=EPOCHS, shuffle=False).fit({"train": (X, Y)})
    for name, value in scheduled.get_weights().items():
        np.testing.assert_array_equal(value, by_hand.get_weights()[name], err_msg=name)
        assert not np.allclose(value, constant.get_weights()[name]), name
    assert optim.learning_rate_of(scheduled.optimizer) == pytest.approx(0.025)
