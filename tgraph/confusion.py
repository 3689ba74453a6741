"""Per-class errors and the confusion matrix of a classifier, as ``tgraph eval`` prints them."""

import numpy as np

__all__ = ["confusion_matrix", "per_class_table", "format_confusion"]


def confusion_matrix(labels, predicted, num_classes):
    """(K, K) int64 counts: row = true class, column = predicted class.

    Args:
        labels: (N,) true class indices in [0, K).
        predicted: (N,) predicted class indices in [0, K).
        num_classes: K.
    """
    flat = np.asarray(labels, np.int64) * num_classes + np.asarray(predicted, np.int64)
    return np.bincount(flat, minlength=num_classes ** 2).reshape(num_classes, num_classes)


def _names(num_classes, class_names):
    return [str(n) for n in class_names] if class_names else [str(k) for k in range(num_classes)]


def per_class_table(matrix, class_names=None):
    """One line per class: its name, number of examples, errors and error rate.

    Args:
        matrix: (K, K) confusion matrix (see :func:`confusion_matrix`).
        class_names: K names, or None for the indices.
    """
    names = _names(len(matrix), class_names)
    width = max(5, *(len(n) for n in names))
    rows = [f"{'class':<{width}s}  {'n':>7s}  {'errors':>7s}  {'error':>7s}"]
    for k, name in enumerate(names):
        n = int(matrix[k].sum())
        wrong = n - int(matrix[k, k])
        rate = f"{wrong / n * 100:6.2f}%" if n else "      -"
        rows.append(f"{name:<{width}s}  {n:7d}  {wrong:7d}  {rate:>7s}")
    return "\n".join(rows)


def format_confusion(matrix, class_names=None):
    """The confusion matrix as text: rows true classes, columns predicted ones."""
    names = _names(len(matrix), class_names)
    width = max(6, *(len(n) for n in names), len(str(int(matrix.max(initial=0)))))
    rows = [f"{'':<{width}s}" + "".join(f"  {n:>{width}s}" for n in names)]
    for name, row in zip(names, matrix):
        rows.append(f"{name:<{width}s}" + "".join(f"  {int(v):>{width}d}" for v in row))
    return "\n".join(rows)
