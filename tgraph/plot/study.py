"""Figures of a sweep: the optimization history and each parameter against the error.

They take the trial rows of :func:`tgraph.sweep.report.trial_rows` (plain dicts), so
they need no Optuna.
"""

import os

import numpy as np

from tgraph.fileio import atomic_write
from tgraph.plot._mpl import DPI, new_figure, require_matplotlib

__all__ = ["sweep_history", "sweep_params", "write_sweep_plots", "SWEEP_PLOT_FILES"]

SWEEP_PLOT_FILES = {"history": "sweep_history.png", "params": "sweep_params.png"}
_STYLE = {"complete": dict(marker="o", color="C0", label="complete"),
          "pruned": dict(marker="x", color="C3", label="pruned (best before it stopped)")}


def _finished(rows):
    return [r for r in rows if r["state"] in _STYLE and r.get("best_valid_error") is not None]


def sweep_history(rows):
    """Best validation error of every finished trial by trial number, and the best so far.

    Returns:
        A matplotlib Figure (900x500 px).
    """
    fig = new_figure(9, 5)
    ax = fig.subplots()
    rows = sorted(_finished(rows), key=lambda r: r["number"])
    for state, style in _STYLE.items():
        mine = [r for r in rows if r["state"] == state]
        if mine:
            ax.scatter([r["number"] for r in mine], [r["best_valid_error"] * 100 for r in mine],
                       **style)
    if rows:
        best = np.minimum.accumulate([r["best_valid_error"] * 100 for r in rows])
        line, = ax.step([r["number"] for r in rows], best, where="post", color="black",
                        label="best so far")
        line.set_gid("best_so_far")
    ax.set(xlabel="trial number", ylabel="best validation error (%)",
           title=f"optimization history ({len(rows)} finished trials)")
    ax.grid(True, alpha=0.3)
    ax.legend()
    return fig


def _log_axis(ax):
    """A log x axis with plain numbers at 1, 2, 5 x 10^k (10, 20, 50, 100, ...)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _labels(values):
    """Tick labels of categorical values (their reprs, sorted)."""
    return sorted({repr(v) for v in values if v is not None})


def sweep_params(rows, params):
    """Each tuned parameter against the best validation error (one panel per parameter).

    Args:
        rows: trial rows.
        params: the :class:`tgraph.sweep.params.SweepParam` list (log axes for log ones).

    Returns:
        A matplotlib Figure (450 px wide per parameter, 450 px high).
    """
    fig = new_figure(max(4.5 * len(params), 5), 4.5)
    axes = np.atleast_1d(fig.subplots(1, len(params)))
    rows = _finished(rows)
    for ax, param in zip(axes, params):
        for state, style in _STYLE.items():
            mine = [r for r in rows if r["state"] == state and r.get(param.key) is not None]
            if not mine:
                continue
            x = [r[param.key] for r in mine]
            if param.kind == "choice":
                labels = _labels([r.get(param.key) for r in rows])
                x = [labels.index(repr(v)) for v in x]
                ax.set_xticks(range(len(labels)), labels)
            ax.scatter(x, [r["best_valid_error"] * 100 for r in mine], **style)
        if param.log:
            _log_axis(ax)
        if param.kind != "choice":  # the whole search space, a little margin around it
            pad = (param.high / param.low) ** 0.03 if param.log else 0.03 * (param.high - param.low)
            ax.set_xlim(*((param.low / pad, param.high * pad) if param.log
                          else (param.low - pad, param.high + pad)))
        ax.set(xlabel=param.key, ylabel="best validation error (%)", title=param.describe())
        ax.grid(True, alpha=0.3)
    axes[0].legend()
    return fig


def _save(figure, path):
    with atomic_write(path, "wb") as f:
        figure.savefig(f, dpi=DPI, format="png")
    figure.clear()
    return path


def write_sweep_plots(rows, params, out_dir):
    """Write :data:`SWEEP_PLOT_FILES` into ``out_dir``; returns their paths."""
    require_matplotlib()
    return [_save(sweep_history(rows), os.path.join(out_dir, SWEEP_PLOT_FILES["history"])),
            _save(sweep_params(rows, params), os.path.join(out_dir, SWEEP_PLOT_FILES["params"]))]
