"""Formatting and writing predictions of ``tgraph predict``."""

import csv
import json

import numpy as np

from tgraph.errors import ConfigError
from tgraph.fileio import atomic_write

__all__ = ["format_predictions", "write_predictions"]


def _labels(n, names):
    return list(names) if names is not None else [str(i) for i in range(n)]


def format_predictions(probs, names=None):
    """One line per example: ``name  class  probability``.

    Args:
        probs: (N, K) class probabilities.
        names: N labels (file names), or None for indices.
    """
    classes = probs.argmax(axis=1)
    rows = [f"{'input':>12s}  class  probability"]
    for name, c, p in zip(_labels(len(probs), names), classes, probs):
        rows.append(f"{name:>12s}  {c:5d}  {p[c]:.4f}")
    return "\n".join(rows)


def write_predictions(path, probs, names=None):
    """Write classes and probabilities to ``path`` (.csv, .json or .npz), atomically.

    Raises:
        ConfigError: another extension.
    """
    classes = probs.argmax(axis=1)
    labels = _labels(len(probs), names)
    if path.endswith(".npz"):
        with atomic_write(path) as f:
            np.savez(f, classes=classes, probabilities=probs, names=np.array(labels))
    elif path.endswith(".json"):
        rows = [{"input": n, "class": int(c), "probabilities": [float(v) for v in p]}
                for n, c, p in zip(labels, classes, probs)]
        with atomic_write(path, "w") as f:
            json.dump(rows, f, indent=1)
    elif path.endswith(".csv"):
        with atomic_write(path, "w") as f:
            writer = csv.writer(f)
            writer.writerow(["input", "class", *[f"p{k}" for k in range(probs.shape[1])]])
            for n, c, p in zip(labels, classes, probs):
                writer.writerow([n, int(c), *[f"{v:.6g}" for v in p]])
    else:
        raise ConfigError(f"--out {path!r}: use a .csv, .json or .npz file name")
