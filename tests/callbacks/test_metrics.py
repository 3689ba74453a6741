"""TrainError: the training split's error in every epoch's logs, before they are recorded."""

import csv

import numpy as np

import tgraph
from tgraph import layers as L
from tgraph import optim
from tgraph.callbacks import CSVLogger, TrainError
from tgraph.trainer import Trainer


def test_train_error_is_the_training_split_error_in_the_history_and_the_csv(mnist, tmp_path):
    x, y = mnist["train"][0][:600], mnist["train"][1][:600]
    model = tgraph.Model([L.Input((784,)), L.Dense(10, activation="softmax")],
                         optimizer=optim.SGD(learning_rate=0.1))
    log = tmp_path / "log.csv"
    trainer = Trainer(model, batch_size=100, max_epochs=2, shuffle=False,
                      callbacks=[CSVLogger(str(log)), TrainError()])
    history = trainer.fit({"train": (x, y), "valid": mnist["valid"]})
    last = model.evaluate(x, y)
    assert history.column("train_error")[-1] == last["error"]
    assert history.column("train_loss")[-1] == last["loss"]
    assert 0 < history.column("train_error")[0] < 0.5
    with open(log, newline="") as f:
        rows = list(csv.DictReader(f))
    np.testing.assert_allclose([float(r["train_error"]) for r in rows],
                               history.column("train_error"))
    assert "train_error" in trainer.log_keys()
