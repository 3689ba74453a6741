"""Formatting and writing predictions of ``tgraph predict``."""

import csv
import json

import numpy as np

from tgraph.errors import ConfigError
from tgraph.fileio import atomic_write
from tgraph.ops.metrics import class_probabilities

__all__ = ["format_predictions", "write_predictions"]


def _labels(n, names):
    return list(names) if names is not None else [str(i) for i in range(n)]


def _class_names(k, class_names):
    return [str(n) for n in class_names] if class_names else [str(i) for i in range(k)]


def format_predictions(probs, names=None, class_names=None):
    """One line per example: ``input  class  class_name  probability``.

    Args:
        probs: (N, K) class probabilities, or a binary classifier's (N, 1)
            probabilities of class 1.
        names: N labels (file names), or None for indices.
        class_names: K class names (a model file's), or None for the indices.
    """
    probs = class_probabilities(probs)
    classes = probs.argmax(axis=1)
    cnames = _class_names(probs.shape[1], class_names)
    width = max(10, *(len(n) for n in cnames))
    rows = [f"{'input':>12s}  class  {'class_name':<{width}s}  probability"]
    for name, c, p in zip(_labels(len(probs), names), classes, probs):
        rows.append(f"{name:>12s}  {c:5d}  {cnames[c]:<{width}s}  {p[c]:.4f}")
    return "\n".join(rows)


def write_predictions(path, probs, names=None, class_names=None):
    """Write classes, class names and probabilities to ``path`` (.csv, .json or .npz),
    atomically.

    CSV columns: ``input, class, class_name, probability`` (of the predicted class),
    then one probability per class, ``p_<class name>``.

    Raises:
        ConfigError: another extension.
    """
    probs = class_probabilities(probs)
    classes = probs.argmax(axis=1)
    cnames = _class_names(probs.shape[1], class_names)
    labels = _labels(len(probs), names)
    if path.endswith(".npz"):
        with atomic_write(path) as f:
            np.savez(f, classes=classes, probabilities=probs, names=np.array(labels),
                     class_names=np.array(cnames))
    elif path.endswith(".json"):
        rows = [{"input": n, "class": int(c), "class_name": cnames[c],
                 "probability": float(p[c]), "probabilities": [float(v) for v in p]}
                for n, c, p in zip(labels, classes, probs)]
        with atomic_write(path, "w") as f:
            json.dump(rows, f, indent=1)
    elif path.endswith(".csv"):
        with atomic_write(path, "w") as f:
            writer = csv.writer(f)
            writer.writerow(["input", "class", "class_name", "probability",
                             *[f"p_{name}" for name in cnames]])
            for n, c, p in zip(labels, classes, probs):
                writer.writerow([n, int(c), cnames[c], f"{p[c]:.6g}", *[f"{v:.6g}" for v in p]])
    else:
        raise ConfigError(f"--out {path!r}: use a .csv, .json or .npz file name")
