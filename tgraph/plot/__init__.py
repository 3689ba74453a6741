"""Figures of training runs, as a person judges a run: curves, filters, mistakes.

Every function returns a matplotlib ``Figure`` (Agg backend, nothing shown);
:func:`write_run_plots` writes them all as PNG files. matplotlib is an optional extra
(``pip install -e '.[plot]'``); this package imports without it.

>>> from tgraph import plot
>>> fig = plot.learning_curves("runs/mlp", "runs/mlp-2")   # doctest: +SKIP
>>> fig.savefig("curves.png")                              # doctest: +SKIP
"""

from tgraph.plot._mpl import MISSING_MATPLOTLIB, require_matplotlib, save_figure
from tgraph.plot.classes import (
    TestPredictions,
    confident_mistakes,
    confusion_counts,
    confusion_matrix,
    test_predictions,
)
from tgraph.plot.curves import learning_curves
from tgraph.plot.files import PLOT_FILES, write_plots, write_run_plots
from tgraph.plot.weights import first_layer_weights, weight_tiles

__all__ = [
    "learning_curves",
    "first_layer_weights",
    "weight_tiles",
    "confusion_matrix",
    "confusion_counts",
    "confident_mistakes",
    "test_predictions",
    "TestPredictions",
    "write_run_plots",
    "write_plots",
    "save_figure",
    "require_matplotlib",
    "PLOT_FILES",
    "MISSING_MATPLOTLIB",
]
