"""The training loop itself, driven by a dummy model: seeded shuffling, minibatch counts."""

import numpy as np
import pytest
from support.fake_model import ScriptedModel

from tgraph.errors import DataError, TGraphError
from tgraph.trainer import Trainer


class Recording(ScriptedModel):
    """Remembers every training set it is given (the trainer reshuffles once per epoch)."""

    def __init__(self):
        super().__init__([0.5] * 20)
        self.orders = []

    def set_train_data(self, x, y):
        assert np.array_equal(y, 10 * x[:, 0])  # inputs and labels move together
        self.orders.append(x[:, 0].astype(int).tolist())


def epoch_orders(seed, shuffle=True, epochs=3):
    model = Recording()
    x = np.arange(10, dtype=float)[:, None]
    Trainer(model, batch_size=3, max_epochs=epochs, seed=seed, shuffle=shuffle).fit(
        {"train": (x, 10 * x[:, 0]), "valid": (x[:2], np.zeros(2))})
    return model.orders[1:]  # the first is the data as given, before epoch 1


def test_shuffling_is_seeded_and_new_every_epoch():
    orders = epoch_orders(seed=3)
    assert len(orders) == 3 and all(sorted(o) == list(range(10)) for o in orders)
    assert orders[0] != orders[1] != orders[2]
    assert epoch_orders(seed=3) == orders
    assert epoch_orders(seed=4) != orders


def test_no_shuffling_keeps_the_file_order():
    assert epoch_orders(seed=3, shuffle=False) == []  # the data is never replaced


def test_last_partial_minibatch_is_dropped():
    model = ScriptedModel([0.5] * 5)
    trainer = Trainer(model, batch_size=3, max_epochs=2, shuffle=False)
    trainer.fit({"train": (np.zeros((10, 1)), np.zeros(10)), "valid": (np.zeros((2, 1)),
                                                                      np.zeros(2))})
    assert trainer.n_batches == 3 and trainer.iteration == 6 and model.steps == 6


@pytest.mark.parametrize("kwargs, message", [
    ({"batch_size": 0}, "Training: `batch_size` (=0) must be a positive integer."),
    ({"max_epochs": 2.5}, "Training: `max_epochs` (=2.5) must be a positive integer."),
    ({"validation_frequency": 0}, "Training: `validation_frequency` (=0) must be a positive "
                                  "integer."),
])
def test_bad_settings_are_checked_by_training(kwargs, message):
    with pytest.raises(TGraphError) as err:
        Trainer(ScriptedModel([]), **kwargs)
    assert str(err.value) == message


def test_fewer_examples_than_one_minibatch():
    with pytest.raises(DataError) as err:
        Trainer(ScriptedModel([]), batch_size=50).fit({"train": (np.zeros((20, 1)), np.zeros(20))})
    assert str(err.value) == ("the training set has 20 examples, fewer than one minibatch of 50; "
                              "lower the batch size")



def test_a_trainer_has_the_default_callbacks_once():
    from tgraph.callbacks import History, TerminateOnNaN, default_callbacks

    alone = Trainer(ScriptedModel([0.5] * 5), batch_size=3, max_epochs=2, shuffle=False)
    assert sorted(type(cb).__name__ for cb in alone.callbacks) == ["History", "TerminateOnNaN"]
    given = Trainer(ScriptedModel([]), batch_size=3, callbacks=default_callbacks())
    assert [type(cb) for cb in given.callbacks].count(History) == 1
    assert [type(cb) for cb in given.callbacks].count(TerminateOnNaN) == 1
    assert Trainer(ScriptedModel([]), batch_size=3, default_callbacks=False).callbacks == []
    history = alone.fit({"train": (np.arange(6.0).reshape(6, 1), np.zeros(6))})
    assert history is alone.history and len(history.epochs) == 2
