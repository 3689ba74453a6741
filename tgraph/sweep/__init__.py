"""Hyperparameter sweeps on Optuna: ``tgraph sweep SPEC --param KEY=DIST ... --trials N``.

Each trial is a normal training run with its own run directory; the study lives in a
SQLite file in the study directory, or in PostgreSQL (``--storage``) for workers on
many machines. optuna is an optional extra (``pip install -e '.[sweep]'``); parsing and
checking parameters works without it.
"""

from tgraph.sweep.params import (
    DISTRIBUTIONS,
    SweepParam,
    check_params,
    parse_param,
    tunable_keys,
)
from tgraph.sweep.pruning import OptunaPruning
from tgraph.sweep.report import SweepReport, format_table, trial_rows, write_csv
from tgraph.sweep.storage import MISSING_OPTUNA, default_storage, open_storage
from tgraph.sweep.study import (
    PRUNERS,
    SAMPLERS,
    SweepConfig,
    finished_trials,
    open_study,
    run_sweep,
    run_worker,
)

__all__ = [
    "SweepParam",
    "parse_param",
    "check_params",
    "tunable_keys",
    "DISTRIBUTIONS",
    "SweepConfig",
    "run_sweep",
    "run_worker",
    "open_study",
    "finished_trials",
    "OptunaPruning",
    "SweepReport",
    "trial_rows",
    "format_table",
    "write_csv",
    "open_storage",
    "default_storage",
    "MISSING_OPTUNA",
    "PRUNERS",
    "SAMPLERS",
]
