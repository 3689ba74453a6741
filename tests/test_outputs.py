"""Classifier outputs: one sigmoid unit on (N,) 0/1 labels, softmax over any K >= 2, the
top-5 error of 20 classes or more, and the sizes a spec takes from the data. Checked
against plain numpy."""

import numpy as np
import pytest

import tgraph
from tgraph import layers as L
from tgraph import optim
from tgraph.callbacks import EarlyStopping
from tgraph.config import ModelConfig, resolve_for_data
from tgraph.errors import ConfigError, ShapeError
from tgraph.ops.metrics import class_probabilities, predicted_classes


def sigmoid_model(seed=0):
    return tgraph.Model([L.Input((3,)), L.Dense(1, activation="sigmoid")],
                        loss="binary_crossentropy", optimizer=optim.Adam(learning_rate=0.05),
                        seed=seed)


def test_binary_evaluate_matches_numpy():
    rng = np.random.default_rng(0)
    model = sigmoid_model()
    model.set_weights({k: rng.normal(0, 1, v.shape).astype(np.float32)
                       for k, v in model.get_weights().items()})
    x = rng.normal(0, 1, (50, 3)).astype(np.float32)
    y = rng.integers(0, 2, 50).astype(np.int32)
    p = model.predict(x)[:, 0].astype(np.float64)
    result = model.evaluate(x, y)
    assert result["error"] == pytest.approx(np.mean((p > 0.5) != y))
    bce = -(y * np.log(p) + (1 - y) * np.log1p(-p))
    assert result["loss"] == pytest.approx(bce.mean(), rel=1e-4)


def test_binary_labels_out_of_range_name_the_sigmoid_unit():
    with pytest.raises(tgraph.DataError, match="one sigmoid unit"):
        sigmoid_model().evaluate(np.zeros((2, 3), np.float32), np.array([0, 2]))


def test_binary_training_stops_early_on_its_error_rate():
    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, (300, 3)).astype(np.float32)
    y = (x[:, 0] - x[:, 2] > 0).astype(np.int32)
    model = sigmoid_model()
    trainer = tgraph.Trainer(model, batch_size=20, max_epochs=500,
                             callbacks=[EarlyStopping(patience=2)])
    trainer.fit({"train": (x[:200], y[:200]), "valid": (x[200:], y[200:])})
    assert trainer.epoch < 500 and trainer.stop_reason.startswith("valid_error")
    assert model.evaluate(x[200:], y[200:])["error"] < 0.1
    assert set(predicted_classes(model.predict(x))) == {0, 1}


def test_binary_probabilities_and_classes():
    out = np.array([[0.2], [0.5], [0.9]], np.float32)
    np.testing.assert_allclose(class_probabilities(out), [[0.8, 0.2], [0.5, 0.5], [0.1, 0.9]],
                               rtol=1e-6)
    assert predicted_classes(out).tolist() == [0, 0, 1]
    assert class_probabilities(out).argmax(axis=1).tolist() == [0, 0, 1]


@pytest.mark.parametrize("k", [2, 3, 7])
def test_softmax_over_k_classes_trains(k):
    rng = np.random.default_rng(k)
    y = (np.arange(300) % k).astype(np.int32)
    x = (np.eye(k, 4 + k)[y] * 3 + rng.normal(0, 0.3, (300, 4 + k))).astype(np.float32)
    model = tgraph.Model([L.Input((4 + k,)), L.Dense(k, activation="softmax")],
                         optimizer=optim.Adam(learning_rate=0.05))
    tgraph.Trainer(model, batch_size=20, max_epochs=5).fit({"train": (x, y)})
    assert model.evaluate(x, y)["error"] < 0.05


def twenty_classes(seed=0):
    rng = np.random.default_rng(seed)
    model = tgraph.Model([L.Input((6,)), L.Dense(20, activation="softmax")], seed=seed)
    x = rng.normal(0, 1, (200, 6)).astype(np.float32)
    y = rng.integers(0, 20, 200).astype(np.int32)
    return model, x, y


def test_top5_error_matches_numpy():
    model, x, y = twenty_classes()
    model.set_weights({k: np.random.default_rng(3).normal(0, 1, v.shape).astype(np.float32)
                       for k, v in model.get_weights().items()})
    probs = model.predict(x)
    top5 = np.argsort(-probs, axis=1)[:, :5]
    result = model.evaluate(x, y)
    assert result["top5_error"] == pytest.approx(np.mean([t not in row for t, row in zip(y, top5)]))
    assert result["top5_error"] <= result["error"]
    assert "top5_error" not in tgraph.Model([L.Input((6,)), L.Dense(19, activation="softmax")]
                                            ).evaluate(x, y % 19)


def test_top5_error_is_a_monitorable_log_key():
    model, x, y = twenty_classes()
    stop = EarlyStopping(monitor="valid_top5_error", patience=1)
    trainer = tgraph.Trainer(model, batch_size=20, max_epochs=3, callbacks=[stop])
    history = trainer.fit({"train": (x, y), "valid": (x[:50], y[:50])})
    assert "valid_top5_error" in trainer.log_keys("validation")
    assert all("valid_top5_error" in epoch for epoch in history.epochs)


# --- sizes from the data -------------------------------------------------------------------


def test_input_and_classes_resolve_from_the_data():
    config = ModelConfig([L.Input(), L.Dropout(0.2), L.Dense(5), L.Dense("classes")])
    resolved = resolve_for_data(config, (28, 28), 10)
    assert resolved.layers[0] == L.Input((784,))  # flattened: Dense takes (batch, features)
    assert resolved.layers[-1] == L.Dense(10)
    conv = ModelConfig([L.Input(), L.Conv2D(2, 3), L.Flatten(), L.Dense("classes")])
    assert resolve_for_data(conv, (3, 8, 8), 4).layers[0] == L.Input((3, 8, 8))
    assert resolve_for_data(conv, (8, 8), 4).layers[0] == L.Input((1, 8, 8))  # grayscale
    fixed = ModelConfig([L.Input((4,)), L.Dense(3)])
    assert resolve_for_data(fixed, (9,), 7) == fixed


def test_sizes_from_data_are_needed_to_build():
    with pytest.raises(ShapeError, match="Input\\(\\) has no shape"):
        tgraph.Model([L.Input(), L.Dense(3)])
    with pytest.raises(ShapeError, match='Dense\\("classes"\\) has one unit per class'):
        tgraph.Model([L.Input((4,)), L.Dense("classes")])
    with pytest.raises(ConfigError, match='units="classes" needs data with classes'):
        resolve_for_data(ModelConfig([L.Input(), L.Dense("classes")]), (4,), None)
