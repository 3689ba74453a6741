"""The end of a sweep: the best trials as a table, ``sweep.csv``, and plots."""

import csv
import os

import attrs

from tgraph.fileio import atomic_write

__all__ = ["SweepReport", "trial_rows", "best_rows", "format_table", "write_csv", "write_report",
           "CSV_FILE", "RESULT_COLUMNS"]

CSV_FILE = "sweep.csv"
RESULT_COLUMNS = ("best_valid_error", "test_error", "best_epoch", "epochs_run", "wall_time_s",
                  "stop_reason", "run_dir", "worker", "retry_of")


@attrs.frozen
class SweepReport:
    """What a sweep leaves.

    Attributes:
        rows: one dict per trial (see :func:`trial_rows`), by trial number.
        table: the printed table of the best trials.
        csv_path: the ``sweep.csv`` written.
        plot_paths: the PNG files written (empty without matplotlib).
    """

    rows: list
    table: str
    csv_path: str
    plot_paths: list


def trial_rows(study, keys):
    """One dict per trial: ``number``, ``state``, ``value``, the parameters under their
    keys, and :data:`RESULT_COLUMNS` (None where a trial has no value)."""
    rows = []
    for trial in study.get_trials(deepcopy=False):
        if trial.state.name == "WAITING":
            continue
        row = {"number": trial.number, "state": trial.state.name.lower(), "value": trial.value}
        row.update({key: trial.params.get(key) for key in keys})
        row.update({c: trial.user_attrs.get(c) for c in RESULT_COLUMNS})
        row["retry_of"] = trial.system_attrs.get("failed_trial", trial.user_attrs.get("retry_of"))
        rows.append(row)
    return rows


def best_rows(rows, count=10):
    """The ``count`` finished trials with the lowest best validation error."""
    done = [r for r in rows if r["state"] in ("complete", "pruned")
            and r.get("best_valid_error") is not None]
    return sorted(done, key=lambda r: (r["best_valid_error"], r["number"]))[:count]


def _cell(value, key):
    if value is None:
        return "-"
    if key.endswith("error"):
        return f"{value * 100:.2f}%"
    if key == "wall_time_s":
        return f"{value:.1f} s"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def format_table(rows, keys, study_name, count=10):
    """The best trials as a text table, under a line counting the trials by state."""
    states = {}
    for row in rows:
        states[row["state"]] = states.get(row["state"], 0) + 1
    counts = ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
    best = best_rows(rows, count)
    columns = [("trial", "number"), *((k, k) for k in keys), ("best valid", "best_valid_error"),
               ("test error", "test_error"), ("best epoch", "best_epoch"),
               ("epochs", "epochs_run"), ("wall time", "wall_time_s"), ("state", "state")]
    cells = [[_cell(r.get(key), key) for _, key in columns] for r in best]
    widths = [max(len(title), *(len(c[i]) for c in cells)) if cells else len(title)
              for i, (title, _) in enumerate(columns)]
    lines = [f"study {study_name}: {counts or 'no trials'}; best {len(best)} by validation error:",
             "  ".join(t.rjust(w) for (t, _), w in zip(columns, widths))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in cells]
    return "\n".join(lines)


def write_csv(rows, keys, path):
    """All trials as CSV (one row per trial, by number); returns ``path``."""
    fields = ["number", "state", "value", *keys, *RESULT_COLUMNS]
    with atomic_write(path, "w") as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore", restval="")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return path


def _plots(rows, params, out):
    from tgraph.errors import ConfigError

    try:
        from tgraph.plot.study import write_sweep_plots

        return write_sweep_plots(rows, params, out)
    except ConfigError as err:  # no matplotlib: the table and CSV are still there
        print(f"tgraph sweep: no plots: {err}")
        return []


def write_report(study, config, count=10):
    """Print the best trials, write ``sweep.csv`` and the plots in the study directory."""
    keys = [p.key for p in config.params]
    rows = trial_rows(study, keys)
    table = format_table(rows, keys, study.study_name, count)
    print(table)
    csv_path = write_csv(rows, keys, os.path.join(config.out, CSV_FILE))
    plot_paths = _plots(rows, config.params, config.out)
    for path in [csv_path, *plot_paths]:
        print(f"wrote {path}")
    return SweepReport(rows, table, csv_path, plot_paths)
