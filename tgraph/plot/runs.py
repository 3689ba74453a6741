"""What the plots read from a run directory: ``log.csv``, ``metrics.json``, the model.

:mod:`tgraph.runfiles` names a run directory's files; this module reads them for the plots.
"""

import csv
import json
import math
import os

import numpy as np

from tgraph.errors import ConfigError
from tgraph.runfiles import CSV_LOG as LOG
from tgraph.runfiles import METRICS, MODEL_FILES, SPEC_JSON

__all__ = ["run_file", "read_log", "read_metrics", "run_model_path", "run_name", "LOG", "METRICS",
           "MODEL_FILES"]

def run_file(run_dir, name):
    """Path of the file ``name`` (e.g. ``"log.csv"``) of the run directory ``run_dir``."""
    return os.path.join(os.fspath(run_dir), name)


def _number(text):
    try:
        value = float(text)
    except (TypeError, ValueError):
        return math.nan
    return value


def read_log(run_dir):
    """The per-epoch log of a run as columns.

    Args:
        run_dir: a ``tgraph train`` output directory.

    Returns:
        ``{column: (E,) float64 array}`` for the E rows of ``log.csv``; empty cells are
        NaN (an epoch without validation has no ``valid_error``, a ``TutorialPatience``
        epoch without a new best no ``test_error``).

    Raises:
        ConfigError: no ``log.csv``, or one without rows.
    """
    path = run_file(run_dir, LOG)
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except FileNotFoundError:
        raise ConfigError(f"{run_dir}: no {LOG} there; give the --out directory of a "
                          "`tgraph train` run") from None
    if not rows:
        raise ConfigError(f"{path}: the log has no epoch yet; plot the run once it has "
                          "trained an epoch")
    return {key: np.array([_number(r.get(key)) for r in rows]) for key in rows[0]}


def read_metrics(run_dir):
    """``metrics.json`` of a run as a dict ({} while the run has not finished)."""
    try:
        with open(run_file(run_dir, METRICS), encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return {}


def read_spec(run_dir):
    """``spec.json`` of a run as a dict ({} if absent)."""
    try:
        with open(run_file(run_dir, SPEC_JSON), encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return {}


def run_model_path(run_dir):
    """The run's model file: ``model.tgraph``, else ``best.tgraph``, else ``last.tgraph``.

    Raises:
        ConfigError: the directory holds none of them.
    """
    for name in MODEL_FILES:
        path = run_file(run_dir, name)
        if os.path.exists(path):
            return path
    raise ConfigError(f"{run_dir}: holds no model file ({', '.join(MODEL_FILES)}); give the "
                      "--out directory of a `tgraph train` run")


def run_name(run_dir):
    """A short label of a run: its directory's name."""
    return os.path.basename(os.path.normpath(os.fspath(run_dir)))
