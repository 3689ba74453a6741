"""Your own classification problem through the command line: one test per format trains a
small model from files on disk with `tgraph train`, then `tgraph predict` answers with the
class names and `tgraph eval RUN` evaluates on the run's own data.

The spec of every run is the same few lines (``Input()``, ``Dense("classes")``): the sizes
come from the data. Problems are small and easy (a few seconds of training each).
"""

import csv
import json
import pickle

import numpy as np
import pytest

from tgraph.cli import main

SPEC = '''
from tgraph import layers as L
from tgraph import optim
from tgraph.experiment import Training

model = [L.Input(), L.Dense(16, activation="relu"), L.Dense("classes", activation="softmax")]
optimizer = optim.Adam(learning_rate=0.01)
training = Training(batch_size=16, max_epochs=15)
'''

BINARY_SPEC = '''
from tgraph import layers as L
from tgraph import optim
from tgraph.callbacks import EarlyStopping
from tgraph.experiment import Training

model = [L.Input(), L.Dense(8, activation="relu"), L.Dense(1, activation="sigmoid")]
loss = "binary_crossentropy"
optimizer = optim.Adam(learning_rate=0.02)
training = Training(batch_size=16, max_epochs=200)
callbacks = [EarlyStopping(patience=3)]
valid_split = "random"
'''


@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "follows_data.py"
    path.write_text(SPEC)
    return str(path)


def train(spec, out, *options):
    assert main(["train", spec, "--out", str(out), "--quiet", *options]) == 0
    return json.loads((out / "metrics.json").read_text())


def predict(run, inputs, out, *options):
    """The rows of predict's CSV."""
    assert main(["predict", str(run), str(inputs), "--out", str(out), *options]) == 0
    with open(out, newline="") as f:
        return list(csv.DictReader(f))


def blobs(rng, n, names, dims=4, spread=0.4, scale=1.0):
    """``n`` points around one centre per class (string labels), in row order of labels."""
    y = np.arange(n) % len(names)
    centres = np.eye(len(names), dims) * 3
    x = (centres[y] + rng.normal(0, spread, (n, dims))) * scale
    return x, np.array(names)[y]


def write_csv(path, x, labels, header=True):
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        if header:
            out.writerow([*(f"f{i}" for i in range(x.shape[1])), "species"])
        for row, label in zip(x, labels):
            out.writerow([*(f"{v:.5f}" for v in row), label])
    return path


# --- one test per format -------------------------------------------------------------------


def test_csv_with_string_labels_a_test_file_and_predict_with_names(spec, tmp_path, capsys):
    rng = np.random.default_rng(0)
    names = ["setosa", "versicolor", "virginica"]
    # features on very different scales: standardization (fitted on train) makes them fit
    train_csv = write_csv(tmp_path / "train.csv", *blobs(rng, 240, names, scale=100.0))
    x_test, y_test = blobs(rng, 60, names, scale=100.0)
    test_csv = write_csv(tmp_path / "test.csv", x_test, y_test)
    metrics = train(spec, tmp_path / "run", "--data", str(train_csv), "--test-data",
                    str(test_csv), "--target", "species")
    assert metrics["test_error"] < 0.1
    record = metrics["dataset"]
    assert record["class_names"] == names and record["preprocessing"]["kind"] == "standardize"
    assert record["split"]["test"] == str(test_csv)
    # predict reads the table without its label column too, through the saved preprocessing
    features = tmp_path / "new.csv"
    with open(features, "w", newline="") as f:
        csv.writer(f).writerows([[f"{v:.5f}" for v in row] for row in x_test[:6]])
    rows = predict(tmp_path / "run", features, tmp_path / "pred.csv", "--no-header")
    assert [r["class_name"] for r in rows] == list(y_test[:6])
    assert list(rows[0]) == ["input", "class", "class_name", "probability", "p_setosa",
                             "p_versicolor", "p_virginica"]


def colour_folders(root, rng, per_class=24):
    """red/ and blue/ PNGs of two sizes (8x8 and 12x10)."""
    from PIL import Image

    for name, channel in (("red", 0), ("blue", 2)):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 80, ((8, 8), (12, 10))[i % 2] + (3,), dtype=np.uint8)
            pixels[..., channel] += 170
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


def test_image_folder_of_colour_pngs_of_two_sizes(spec, tmp_path):
    pytest.importorskip("PIL")
    rng = np.random.default_rng(1)
    folders = colour_folders(tmp_path / "colours", rng)
    metrics = train(spec, tmp_path / "run", "--data", str(folders), "--image-size", "8x8")
    assert metrics["best_valid_error"] == 0.0
    assert metrics["test_error"] is None and "no test split" in metrics["test_error_reason"]
    assert metrics["dataset"]["split"]["valid_split"] == "random"  # folders are sorted by class
    # new images of a third size, resized to the model's 8x8
    new = colour_folders(tmp_path / "new", rng, per_class=2)
    rows = predict(tmp_path / "run", new / "blue", tmp_path / "blue.csv")
    assert [r["class_name"] for r in rows] == ["blue", "blue"]


def write_cifar10(root, rng):
    """A CIFAR-10 python-version directory whose classes 0..2 are red, green and blue."""
    root.mkdir()

    def batch(n):
        labels = rng.integers(0, 3, n)
        hwc = rng.integers(0, 60, (n, 32, 32, 3), dtype=np.uint8)
        hwc[np.arange(n), :, :, labels] += 180
        return {b"labels": labels.tolist(),
                b"data": hwc.transpose(0, 3, 1, 2).reshape(n, 3072)}, hwc, labels

    for k in range(1, 6):
        (root / f"data_batch_{k}").write_bytes(pickle.dumps(batch(20)[0], protocol=2))
    test, hwc, labels = batch(20)
    (root / "test_batch").write_bytes(pickle.dumps(test, protocol=2))
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse",
             b"ship", b"truck"]
    (root / "batches.meta").write_bytes(pickle.dumps({b"label_names": names}, protocol=2))
    return hwc, labels


def test_cifar10_directory(spec, tmp_path):
    hwc, labels = write_cifar10(tmp_path / "cifar-10-batches-py", np.random.default_rng(2))
    metrics = train(spec, tmp_path / "run", "--data", str(tmp_path / "cifar-10-batches-py"),
                    "--valid-split", "random")
    assert metrics["test_error"] < 0.1
    # Dense("classes"): the ten CIFAR-10 classes, though only three occur
    spec_json = json.loads((tmp_path / "run" / "spec.json").read_text())
    assert spec_json["model"][-1]["units"] == 10 and spec_json["model"][0]["shape"] == [3072]
    np.save(tmp_path / "new.npy", hwc[:5])  # NHWC uint8, as CIFAR images are usually kept
    rows = predict(tmp_path / "run", tmp_path / "new.npy", tmp_path / "pred.csv")
    names = ["airplane", "automobile", "bird"]
    assert [r["class_name"] for r in rows] == [names[k] for k in labels[:5]]


def test_npz_nhwc_sorted_by_class(spec, tmp_path, capsys):
    """An NHWC .npz sorted by class: the last-part split is refused, a random one trains."""
    rng = np.random.default_rng(3)
    y = np.repeat(np.array(["cat", "dog"]), 60)  # sorted by class
    x = rng.integers(0, 60, (120, 6, 6, 3), dtype=np.uint8)
    x[y == "dog", :, :, 1] += 150
    np.savez(tmp_path / "pets.npz", x=x, y=y)
    args = ["train", spec, "--data", str(tmp_path / "pets.npz"), "--out", str(tmp_path / "no")]
    assert main(args) == 1
    assert "--valid-split random" in capsys.readouterr().err
    metrics = train(spec, tmp_path / "run", "--data", str(tmp_path / "pets.npz"),
                    "--set", "valid_split=random", "--valid-size", "30")
    assert metrics["dataset"]["input_shape"] == [3, 6, 6]  # NHWC detected, made NCHW
    assert metrics["dataset"]["split"]["sizes"] == {"train": 90, "valid": 30}
    assert metrics["best_valid_error"] == 0.0
    rows = predict(tmp_path / "run", tmp_path / "pets.npz", tmp_path / "pred.csv")
    assert [r["class_name"] for r in rows] == list(y)


# --- binary classifiers --------------------------------------------------------------------


def test_binary_sigmoid_output(tmp_path, capsys):
    rng = np.random.default_rng(4)
    x = rng.normal(0, 1, (400, 5))
    labels = np.where(x[:, 0] + x[:, 1] > 0, "malignant", "benign")
    data = write_csv(tmp_path / "cells.csv", x, labels)
    spec = tmp_path / "binary.py"
    spec.write_text(BINARY_SPEC)
    metrics = train(str(spec), tmp_path / "run", "--data", str(data))
    assert metrics["best_valid_error"] < 0.1  # an error rate, thresholded at 0.5
    assert metrics["stop_reason"].startswith("valid_error did not improve for 3 epochs")
    assert metrics["epochs_run"] < 200
    assert (tmp_path / "run" / "best.tgraph").exists()
    log = (tmp_path / "run" / "log.csv").read_text().splitlines()
    assert "valid_error" in log[0].split(",")
    rows = predict(tmp_path / "run", data, tmp_path / "pred.csv")
    assert {r["class_name"] for r in rows} == {"benign", "malignant"}
    assert np.mean([r["class_name"] == label for r, label in zip(rows, labels)]) > 0.9
    assert list(rows[0])[4:] == ["p_benign", "p_malignant"]


# --- the run's own data, splits ------------------------------------------------------------


@pytest.fixture
def iris_run(spec, tmp_path):
    rng = np.random.default_rng(5)
    names = ["setosa", "versicolor", "virginica"]
    data = write_csv(tmp_path / "iris.csv", *blobs(rng, 150, names))
    metrics = train(spec, tmp_path / "run", "--data", str(data), "--valid-split", "random",
                    "--test-data", str(write_csv(tmp_path / "test.csv", *blobs(rng, 30, names))))
    return tmp_path / "run", metrics


def test_eval_uses_the_runs_own_data(iris_run, capsys, tmp_path, monkeypatch):
    run, metrics = iris_run
    monkeypatch.chdir(tmp_path / "run")  # not where the data is
    capsys.readouterr()
    assert main(["eval", str(run), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["test"]["error"] == pytest.approx(metrics["test_error"])
    assert result["valid"]["error"] == pytest.approx(metrics["best_valid_error"])
    assert result["class_names"] == ["setosa", "versicolor", "virginica"]
    matrix = np.array(result["test"]["confusion_matrix"])
    assert matrix.sum() == 30 and matrix.trace() == round(30 * (1 - metrics["test_error"]))
    assert main(["eval", str(run)]) == 0
    text = capsys.readouterr().out
    assert "test: errors per class" in text and "test: confusion matrix" in text
    assert "virginica" in text.split("test: confusion matrix")[1]


def test_a_run_without_test_split_says_so(spec, tmp_path, capsys):
    rng = np.random.default_rng(6)
    data = write_csv(tmp_path / "t.csv", *blobs(rng, 100, ["a", "b"]))
    assert main(["train", spec, "--data", str(data), "--out", str(tmp_path / "run"),
                 "--valid-split", "random", "--epochs", "2"]) == 0
    err = capsys.readouterr().err
    assert "note: no test split" in err and "only validation figures are reported" in err
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["test_error"] is None and metrics["best_valid_error"] is not None
    assert metrics["test_error_reason"].startswith("no test split")
    assert metrics["dataset"]["split"]["valid_split"] == "random"


@pytest.mark.parametrize("option, value", [
    ("--valid-split", "middle"), ("--preprocessing", "whiten"), ("--image-size", "32y32"),
    ("--impute", "zero"), ("--layout", "HWC"), ("--format", "xls"), ("--valid-size", "0"),
    ("--delimiter", ";;"), ("--color-mode", "cmyk"),
])
def test_bad_data_options_are_usage_errors(option, value, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["train", "spec.py", option, value])
    assert stop.value.code == 2
    assert f"argument {option}" in capsys.readouterr().err


def test_summary_of_a_spec_that_follows_the_data(spec, tmp_path, capsys):
    assert main(["summary", spec]) == 0
    out = capsys.readouterr().out
    assert out.startswith("sizes from the data embedded:mnist_10k.npz: examples of shape "
                          "(28, 28), 10 classes")
    assert "(None, 784)" in out and "(None, 10)" in out
    data = write_csv(tmp_path / "t.csv", *blobs(np.random.default_rng(7), 40, ["a", "b"], 30))
    assert main(["summary", spec, "--data", str(data)]) == 0
    assert "(None, 30)" in capsys.readouterr().out


def test_a_sweep_of_a_spec_that_follows_the_data(tmp_path):
    """`tgraph sweep` sizes Input() and Dense("classes") from its data before checking the
    --param values, and every trial trains the resolved network."""
    from tgraph import layers as L
    from tgraph.sweep.params import check_params, parse_param
    from tgraph.sweep.study import SweepConfig, fixed_experiment

    rng = np.random.default_rng(8)
    data = write_csv(tmp_path / "t.csv", *blobs(rng, 60, ["a", "b", "c"], dims=5))
    config = SweepConfig(spec=str(tmp_path / "s.py"), params=[], trials=1, study="s",
                         out=str(tmp_path / "sweep"), data=str(data),
                         train_options={"valid_split": "random"})
    (tmp_path / "s.py").write_text(SPEC)
    base = fixed_experiment(config)
    assert base.model[0] == L.Input((5,)) and base.model[-1].units == 3
    assert base.valid_split == "random"
    check_params([parse_param("model.1.units=int(2,40)")], base, config.spec)
