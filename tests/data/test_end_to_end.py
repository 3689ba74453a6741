"""From a file on disk to a trained model that answers with class names (the data layer's part).

Each test writes a small learnable problem, loads it with ``load_dataset``, trains a
small tgraph model on the Dataset, and checks the test error and the predicted names.
"""

import csv

import numpy as np
import pytest

import tgraph
from tgraph import layers as L
from tgraph import optim
from tgraph.data import Preprocessing, load_dataset


def train(data, layers, epochs):
    model = tgraph.Model(layers, optimizer=optim.Adam(learning_rate=1e-2))
    tgraph.Trainer(model, batch_size=10, max_epochs=epochs).fit(data)
    return model


def names_of(data, probabilities):
    return [data.class_names[i] for i in probabilities.argmax(axis=1)]


def test_csv_with_string_labels_and_a_test_file(tmp_path):
    rng = np.random.default_rng(0)
    centres = {"setosa": (0, 0, 500), "versicolor": (3, 0, 800), "virginica": (0, 3, 1100)}

    def write(name, n):
        path = tmp_path / name
        with open(path, "w", newline="") as f:
            out = csv.writer(f)
            out.writerow(["petal_length", "petal_width", "stem_mm", "species"])
            for i in range(n):
                label = list(centres)[i % 3]
                out.writerow([*(np.array(centres[label]) + rng.normal(0, [0.5, 0.5, 60])), label])
        return path

    data = load_dataset(write("train.csv", 150), test_path=write("test.csv", 30))
    assert data.preprocessing.kind == "standardize"  # stem_mm in the hundreds: not an error
    model = train(data, [L.Input((3,)), L.Dense(data.num_classes, activation="softmax")], 20)
    assert model.evaluate(data.test.x, data.test.y)["error"] < 0.1
    predicted = names_of(data, model.predict(data.test.x[:3]))
    assert predicted == ["setosa", "versicolor", "virginica"]


def test_folder_of_colour_pngs_of_two_sizes(tmp_path):
    image = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(1)
    for k in range(40):
        name, size = ("red", "blue")[k % 2], ((8, 8), (12, 10))[k // 2 % 2]
        pixels = rng.integers(0, 80, (*size, 3), dtype=np.uint8)
        pixels[..., 0 if name == "red" else 2] += 170
        directory = tmp_path / "colours" / name
        directory.mkdir(parents=True, exist_ok=True)
        image.fromarray(pixels).save(directory / f"{k}.png")
    data = load_dataset(tmp_path / "colours", image_size=(8, 8))
    assert data.input_shape == (3, 8, 8) and data.class_names == ("blue", "red")
    layers = [L.Input((3, 8, 8)), L.Flatten(), L.Dense(2, activation="softmax")]
    model = train(data, layers, 10)
    assert model.evaluate(data.valid.x, data.valid.y)["error"] == 0.0
    # New images go through the saved preprocessing, as predict will do.
    restored = Preprocessing.from_json(data.preprocessing.to_json())
    red = np.zeros((1, 3, 8, 8), np.uint8)
    red[:, 0] = 250
    assert names_of(data, model.predict(restored.apply(red))) == ["red"]
