"""Writing a run's figures as PNG files (``tgraph plot``, ``tgraph train --plot``)."""

import os
import warnings

from tgraph.errors import ConfigError, DataError

from tgraph.plot._mpl import require_matplotlib, save_figure
from tgraph.plot.classes import confident_mistakes, confusion_matrix, test_predictions
from tgraph.plot.curves import learning_curves
from tgraph.plot.runs import run_name
from tgraph.plot.weights import first_layer_weights

__all__ = ["write_run_plots", "write_plots", "PLOT_FILES"]

PLOT_FILES = {
    "curves": "learning_curves.png",
    "weights": "first_layer_weights.png",
    "confusion": "confusion_matrix.png",
    "mistakes": "mistakes.png",
}


def _write(figure, out_dir, key):
    path = save_figure(figure, os.path.join(out_dir, PLOT_FILES[key]))
    figure.clear()
    return path


def _skipped(what, run_dir, err):
    warnings.warn(f"{run_dir}: no {what} figure: {err}", stacklevel=3)


def write_run_plots(run_dir, out_dir=None, *, data=None):
    """All figures of one run as PNG files.

    A figure the run cannot have (no image input to draw weights of, no test split,
    not a classifier) is skipped with a warning.

    Args:
        run_dir: a ``tgraph train`` output directory.
        out_dir: where the files go (default ``RUN_DIR/plots``; created).
        data: dataset path for the test-set figures (default: the run's).

    Returns:
        The paths written, of: learning curves, first-layer weights, confusion matrix,
        confidently wrong test images (see :data:`PLOT_FILES`).
    """
    require_matplotlib()
    out_dir = out_dir or os.path.join(run_dir, "plots")
    os.makedirs(out_dir, exist_ok=True)
    paths = [_write(learning_curves(run_dir), out_dir, "curves")]
    try:
        predictions = test_predictions(run_dir, data)
    except DataError as err:
        predictions = None
        _skipped("test-set", run_dir, err)
    names = predictions.class_names if predictions is not None else None
    try:
        paths.append(_write(first_layer_weights(run_dir, class_names=names), out_dir, "weights"))
    except ConfigError as err:
        _skipped("weights", run_dir, err)
    if predictions is not None:
        paths.append(_write(confusion_matrix(run_dir, predictions=predictions), out_dir,
                            "confusion"))
        paths.append(_write(confident_mistakes(run_dir, predictions=predictions), out_dir,
                            "mistakes"))
    return paths


def _unique_names(run_dirs):
    names, seen = [], {}
    for run_dir in run_dirs:
        name = run_name(run_dir)
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name}-{seen[name]}")
    return names


def write_plots(run_dirs, out_dir=None, *, data=None):
    """The figures of ``tgraph plot RUN_DIR [RUN_DIR ...]``.

    One run: its figures go to ``out_dir`` (default ``RUN_DIR/plots``). Several runs:
    ``out_dir`` (default ``plots``) gets one ``learning_curves.png`` comparing them and a
    folder per run with that run's figures.

    Returns:
        The paths written.
    """
    require_matplotlib()
    if len(run_dirs) == 1:
        return write_run_plots(run_dirs[0], out_dir, data=data)
    out_dir = out_dir or "plots"
    os.makedirs(out_dir, exist_ok=True)
    paths = [_write(learning_curves(*run_dirs), out_dir, "curves")]
    for run_dir, name in zip(run_dirs, _unique_names(run_dirs)):
        paths += write_run_plots(run_dir, os.path.join(out_dir, name), data=data)
    return paths
