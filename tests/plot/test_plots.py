"""tgraph plot: every figure rendered once, its numbers checked against the run's files."""

import csv
import json
import sys

import numpy as np
import pytest
from support.research import png_size, tiny_npz, tiny_spec

from tgraph import layers as L
from tgraph.cli import main
from tgraph.errors import ConfigError

plot = pytest.importorskip("tgraph.plot")
pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A 3-epoch tiny MLP run, trained with --plot."""
    root = tmp_path_factory.mktemp("plotrun")
    spec = tiny_spec(root / "tiny.py")
    data = tiny_npz(root / "tiny.npz")
    out = root / "run"
    code = main(["train", str(spec), "--data", str(data), "--epochs", "3", "--out", str(out),
                 "--quiet", "--plot"])
    assert code == 0
    return out


def read_columns(run_dir):
    with open(run_dir / "log.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return {k: np.array([float(r[k]) if r[k] else np.nan for r in rows]) for k in rows[0]}


EXPECTED_SIZES = {"learning_curves.png": (1200, 500), "first_layer_weights.png": (800, 800),
                  "confusion_matrix.png": (1400, 600), "mistakes.png": (900, 1000)}


def test_train_plot_writes_every_figure_as_png_of_its_size(run):
    for name, size in EXPECTED_SIZES.items():
        assert png_size(run / "plots" / name) == size, name


def test_learning_curves_draw_the_log(run):
    fig = plot.learning_curves(run)
    log = read_columns(run)
    lines = {line.get_gid(): line for ax in fig.axes for line in ax.lines if line.get_gid()}
    np.testing.assert_array_equal(lines["loss"].get_xdata(), log["epoch"])
    np.testing.assert_allclose(lines["loss"].get_ydata(), log["loss"])
    np.testing.assert_allclose(lines["valid_error"].get_ydata(), log["valid_error"] * 100)
    assert fig.axes[0].get_xlabel() == "epoch" and fig.axes[1].get_ylabel() == "error (%)"
    best = json.loads((run / "metrics.json").read_text())["best_epoch"]
    stars = [l for l in fig.axes[1].lines if l.get_marker() == "*"]
    assert len(stars) == 1 and stars[0].get_xdata()[0] == best


def fake_run(path, lrs, valid):
    path.mkdir()
    with open(path / "log.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["epoch", "iteration", "loss", "lr", "valid_loss", "valid_error",
                         "test_error"])
        for i, (lr, v) in enumerate(zip(lrs, valid)):
            writer.writerow([i + 1, 10 * (i + 1), 1.0 / (i + 1), lr, v, v, v if i == 1 else ""])
    return path


def test_learning_curves_mark_lr_changes_and_compare_runs(tmp_path):
    a = fake_run(tmp_path / "a", [0.1, 0.1, 0.05, 0.05, 0.01], [0.5, 0.4, 0.3, 0.35, 0.32])
    b = fake_run(tmp_path / "b", [0.1] * 4, [0.6, 0.5, 0.45, 0.44])
    from tgraph.plot.curves import best_epoch, lr_changes, read_log

    assert lr_changes(read_log(a)) == [(3, 0.1, 0.05), (5, 0.05, 0.01)]
    assert best_epoch(read_log(a), {}) == 3  # no metrics.json: the lowest validation error
    fig = plot.learning_curves(a, b)
    lines = {l.get_gid(): l for l in fig.axes[1].lines if l.get_gid()}
    assert set(lines) >= {"a: valid_error", "b: valid_error", "a: test_error"}
    np.testing.assert_allclose(lines["b: valid_error"].get_ydata(), [60, 50, 45, 44])
    np.testing.assert_allclose(lines["a: test_error"].get_xdata(), [2])  # sparse: one point
    lr_marks = [l for l in fig.axes[0].lines if l.get_linestyle() == "-."]
    assert [l.get_xdata()[0] for l in lr_marks] == [2.5, 4.5]


def test_mlp_receptive_fields_are_its_weight_columns(run):
    from tgraph.modelfile import read_model_file

    W = read_model_file(run / "model.tgraph").weights["1_dense/W"]
    fig = plot.first_layer_weights(run)
    tiles = [ax.images[0].get_array() for ax in fig.axes if ax.images]
    assert len(tiles) == 16
    for j, tile in enumerate(tiles):
        column = W[:, j].reshape(28, 28)
        np.testing.assert_allclose(tile, 0.5 + 0.5 * column / np.abs(column).max(), rtol=1e-6)
    assert "receptive fields of 16 hidden units" in fig._suptitle.get_text()


def test_logreg_templates_carry_class_names(tmp_path):
    model = tgraph_model([L.Input((784,)), L.Dense(10, activation="softmax")])
    path = save(model, tmp_path / "logreg.tgraph")
    names = [f"digit {i}" for i in range(10)]
    fig = plot.first_layer_weights(path, class_names=names)
    assert [ax.get_title() for ax in fig.axes] == names
    assert "10 class templates" in fig._suptitle.get_text()


def tgraph_model(layers):
    from tgraph import Model

    return Model(layers, seed=3)


def save(model, path):
    from tgraph.modelfile import save_model

    save_model(model, path)
    return path


def test_rgb_filters_are_drawn_in_colour(tmp_path):
    model = tgraph_model([L.Input((3, 8, 8)), L.Conv2D(4, 3), L.Flatten(),
                          L.Dense(10, activation="softmax")])
    path = save(model, tmp_path / "conv.tgraph")
    W = model.get_weights()["1_conv2d/W"]
    fig = plot.first_layer_weights(path)
    tiles = [ax.images[0].get_array() for ax in fig.axes if ax.images]
    assert len(tiles) == 4 and tiles[0].shape == (3, 3, 3)
    f = np.transpose(W[2], (1, 2, 0))
    np.testing.assert_allclose(tiles[2], (f - f.min()) / (f.max() - f.min()), rtol=1e-5)


def test_confusion_matrix_counts_the_test_predictions(run):
    predictions = plot.test_predictions(run)
    fig = plot.confusion_matrix(run, predictions=predictions)
    expected = np.zeros((10, 10), dtype=int)
    for true, pred in zip(predictions.y, np.argmax(predictions.probs, axis=1)):
        expected[true, pred] += 1
    counts = fig.axes[0].images[0].get_array()
    np.testing.assert_array_equal(counts, expected)
    np.testing.assert_allclose(fig.axes[1].images[0].get_array().sum(axis=1), 1.0)
    metrics = json.loads((run / "metrics.json").read_text())
    assert 1 - np.trace(expected) / expected.sum() == pytest.approx(metrics["test_error"])
    assert fig.axes[0].get_xlabel() == "predicted class"


def test_mistakes_are_wrong_and_most_confident_first(run):
    predictions = plot.test_predictions(run)
    fig = plot.confident_mistakes(run, predictions=predictions, count=9)
    from tgraph.plot.classes import mistake_order

    order = mistake_order(predictions)
    confidence = predictions.probs.max(axis=1)[order]
    assert np.all(np.diff(confidence) <= 0)
    assert np.all(predictions.predicted[order] != predictions.y[order])
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 9
    np.testing.assert_array_equal(shown[0].images[0].get_array(),
                                  predictions.x[order[0]].reshape(28, 28))
    first = order[0]
    assert shown[0].get_title() == (f"pred {predictions.predicted[first]} "
                                    f"({predictions.probs[first].max() * 100:.0f}%)\n"
                                    f"true {predictions.y[first]}")


def test_plot_command_compares_runs(run, tmp_path, capsys, monkeypatch):
    """Several runs: one figure of their curves, and each run's own figures in a folder
    (drawn as for one run, checked above: recorded here, not drawn again)."""
    from tgraph.plot import files

    calls = []
    monkeypatch.setattr(files, "write_run_plots",
                        lambda run_dir, out, data=None: calls.append((run_dir, out)) or [])
    out = tmp_path / "cmp"
    assert main(["plot", str(run), str(run), "--out", str(out)]) == 0
    assert png_size(out / "learning_curves.png") == (1200, 500)
    assert calls == [(str(run), str(out / "run")), (str(run), str(out / "run-2"))]


def test_without_matplotlib_the_command_says_how_to_install_it(run, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ConfigError, match=r"pip install -e '\.\[plot\]'"):
        plot.require_matplotlib()
    assert main(["plot", str(run)]) == 1
    assert "plots need matplotlib" in capsys.readouterr().err


def test_plot_of_a_directory_without_a_run(tmp_path, capsys):
    assert main(["plot", str(tmp_path)]) == 1
    assert f"{tmp_path}: no log.csv there" in capsys.readouterr().err
