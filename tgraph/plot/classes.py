"""Test-set predictions of a run: confusion matrix and the most confidently wrong images."""

import math

import attrs
import numpy as np

from tgraph.ops.metrics import class_probabilities
from tgraph.plot._mpl import new_figure
from tgraph.plot.runs import read_metrics, read_spec, run_model_path

__all__ = ["TestPredictions", "test_predictions", "confusion_counts", "confusion_matrix",
           "confident_mistakes", "EMBEDDED_SOURCE"]

EMBEDDED_SOURCE = "embedded:mnist_10k.npz"


@attrs.frozen(eq=False)
class TestPredictions:
    """A model's class probabilities on a test set.

    Attributes:
        x: (N, ...) test inputs.
        y: (N,) int true labels.
        probs: (N, K) predicted class probabilities.
        class_names: K names, or None.
    """

    x: np.ndarray
    y: np.ndarray
    probs: np.ndarray
    class_names: tuple | None = None

    @property
    def predicted(self):
        """(N,) predicted classes (the most probable)."""
        return np.argmax(self.probs, axis=1)

    @property
    def n_classes(self):
        return self.probs.shape[1]

    def name(self, k):
        """Display name of class ``k``."""
        names = self.class_names
        return str(names[k]) if names is not None and k < len(names) else str(k)


def _dataset_of(run_dir, data):
    from tgraph.data import load_dataset, reload_dataset

    record = read_metrics(run_dir).get("dataset")
    if isinstance(record, dict):  # the run's own data, preprocessing and class names
        return reload_dataset(record, data)
    source = data or read_metrics(run_dir).get("data")
    path = None if source in (None, EMBEDDED_SOURCE) else source
    fraction = read_spec(run_dir).get("valid_fraction") or 0.2
    return load_dataset(path, valid_fraction=fraction)


def test_predictions(run_dir, data=None):
    """The run's model applied to the test split of its data.

    Args:
        run_dir: a ``tgraph train`` output directory.
        data: dataset path (default: the run's, from ``metrics.json``).

    Returns:
        A :class:`TestPredictions`.

    Raises:
        DataError: the data has no test split, or the model is not a classifier.
    """
    from tgraph.errors import DataError
    from tgraph.modelfile import load_model

    model = load_model(run_model_path(run_dir))
    if not model.takes_labels:
        raise DataError(f"the model's loss {model.loss.name!r} is not a classifier's; "
                        "there are no predicted classes to draw")
    dataset = _dataset_of(run_dir, data)
    if dataset.test is None:
        raise DataError(f"{dataset.source}: has no test split to draw predictions of")
    names = getattr(dataset, "class_names", None)
    return TestPredictions(dataset.test.x, np.asarray(dataset.test.y),
                           class_probabilities(model.predict(dataset.test.x)),
                           tuple(names) if names is not None else None)


def confusion_counts(y_true, y_pred, n_classes):
    """(K, K) counts: row = true class, column = predicted class (the counts `tgraph eval`
    prints: :func:`tgraph.confusion.confusion_matrix`)."""
    from tgraph.confusion import confusion_matrix

    return confusion_matrix(y_true, y_pred, n_classes)


def _draw_matrix(fig, ax, matrix, predictions, title, fmt, cmap):
    image = ax.imshow(matrix, cmap=cmap, interpolation="nearest")
    fig.colorbar(image, ax=ax, shrink=0.8)
    k = predictions.n_classes
    names = [predictions.name(i) for i in range(k)]
    ax.set_xticks(range(k), names, rotation=45 if max(map(len, names)) > 2 else 0, ha="right"
                  if max(map(len, names)) > 2 else "center")
    ax.set_yticks(range(k), names)
    ax.set(xlabel="predicted class", ylabel="true class", title=title)
    if k <= 20:
        threshold = matrix.max() / 2
        for (i, j), value in np.ndenumerate(matrix):
            ax.text(j, i, fmt(value), ha="center", va="center", fontsize=7 if k > 10 else 8,
                    color="white" if value > threshold else "black")
    return image


def confusion_matrix(run_dir, *, data=None, predictions=None):
    """The test-set confusion matrix: counts, and each row divided by its class's size.

    Args:
        run_dir: a ``tgraph train`` output directory.
        data: dataset path (default: the run's).
        predictions: a :class:`TestPredictions` already computed (skips the model).

    Returns:
        A matplotlib Figure (1400x600 px); the left image's data is the count matrix.
    """
    predictions = predictions or test_predictions(run_dir, data)
    counts = confusion_counts(predictions.y, predictions.predicted, predictions.n_classes)
    rows = counts.sum(axis=1, keepdims=True)
    normalized = counts / np.where(rows > 0, rows, 1)
    error = 1 - np.trace(counts) / counts.sum()
    fig = new_figure(14, 6)
    left, right = fig.subplots(1, 2)
    _draw_matrix(fig, left, counts, predictions, "counts", lambda v: f"{v:d}", "Blues")
    _draw_matrix(fig, right, normalized, predictions, "share of each true class (rows sum to 1)",
                 lambda v: f"{v:.2f}" if v >= 0.005 else "", "Blues")
    fig.suptitle(f"test set: {counts.sum()} examples, error {error * 100:.2f}%")
    return fig


def _as_image(example):
    from tgraph.plot.weights import image_shape

    shape = image_shape(example.shape)
    if shape is None:
        return None
    if len(shape) == 3 and example.ndim == 3:
        return np.transpose(example, (1, 2, 0))
    return example.reshape(shape)


def mistake_order(predictions):
    """Indices of the wrongly classified examples, most confident first."""
    wrong = np.flatnonzero(predictions.predicted != predictions.y)
    confidence = predictions.probs[wrong, predictions.predicted[wrong]]
    return wrong[np.argsort(-confidence, kind="stable")]


def confident_mistakes(run_dir, *, data=None, predictions=None, count=25):
    """The test images the model gets wrong with the highest confidence.

    Args:
        run_dir: a ``tgraph train`` output directory.
        data: dataset path (default: the run's).
        predictions: a :class:`TestPredictions` already computed.
        count: how many images (a square grid).

    Returns:
        A matplotlib Figure (900x1000 px): each image titled with the predicted class and
        its probability, and the true class.
    """
    predictions = predictions or test_predictions(run_dir, data)
    order = mistake_order(predictions)[:count]
    columns = max(1, math.ceil(math.sqrt(count)))
    fig = new_figure(9, 10)
    axes = np.atleast_1d(fig.subplots(math.ceil(count / columns), columns)).ravel()
    for ax in axes:
        ax.set_axis_off()
    for ax, i in zip(axes, order):
        image = _as_image(predictions.x[i])
        if image is not None:
            ax.imshow(image, cmap="gray_r" if image.ndim == 2 else None, interpolation="nearest")
        p = predictions.predicted[i]
        ax.set_title(f"pred {predictions.name(p)} ({predictions.probs[i, p] * 100:.0f}%)\n"
                     f"true {predictions.name(predictions.y[i])}", fontsize=9, color="firebrick")
    total = int(np.sum(predictions.predicted != predictions.y))
    fig.suptitle(f"the {len(order)} most confident of {total} test errors "
                 f"(of {len(predictions.y)} images)")
    return fig
