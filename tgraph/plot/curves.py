"""Learning curves: training loss and error rates per epoch, of one run or several."""

import numpy as np

from tgraph.plot._mpl import new_figure
from tgraph.plot.runs import read_log, read_metrics, run_name

__all__ = ["learning_curves", "best_epoch", "lr_changes", "ERROR_COLUMNS"]

# log.csv columns drawn on the error panel, with their legend names and line styles.
ERROR_COLUMNS = (("train_error", "training error", ":"), ("valid_error", "validation error", "-"),
                 ("test_error", "test error", "--"))
LOSS_COLUMNS = (("loss", "training loss", "-"), ("valid_loss", "validation loss", "--"))


def best_epoch(log, metrics):
    """The epoch of the run's best model: ``metrics.json``'s ``best_epoch``, else the
    epoch of the lowest validation error in the log (None without either)."""
    if metrics.get("best_epoch") is not None:
        return int(metrics["best_epoch"])
    errors = log.get("valid_error")
    if errors is None or np.all(np.isnan(errors)):
        return None
    return int(log["epoch"][np.nanargmin(errors)])


def lr_changes(log):
    """``[(epoch, old lr, new lr), ...]``: the epochs whose learning rate differs from
    the epoch before."""
    lr, epochs = log.get("lr"), log["epoch"]
    if lr is None:
        return []
    return [(int(epochs[i]), lr[i - 1], lr[i]) for i in range(1, len(lr))
            if np.isfinite(lr[i]) and np.isfinite(lr[i - 1]) and not np.isclose(lr[i], lr[i - 1])]


def _draw_columns(ax, log, columns, color, prefix, scale=1.0):
    for key, label, style in columns:
        values = log.get(key)
        if values is None or np.all(np.isnan(values)):
            continue
        shown = ~np.isnan(values)  # sparse columns (test error at new bests) as points
        sparse = shown.sum() < len(values)
        line, = ax.plot(log["epoch"][shown], values[shown] * scale, style, color=color,
                        marker="." if sparse else None, label=f"{prefix}{label}")
        line.set_gid(f"{prefix}{key}")


def _mark_best(ax, log, epoch, color, prefix):
    if epoch is None or "valid_error" not in log:
        return
    row = np.flatnonzero(log["epoch"] == epoch)
    if len(row) and np.isfinite(log["valid_error"][row[0]]):
        value = log["valid_error"][row[0]] * 100
        ax.plot([epoch], [value], "*", color=color, markersize=12, markeredgecolor="black",
                label=f"{prefix}best epoch {epoch}: {value:.2f}%")
    ax.axvline(epoch, color=color, linestyle=":", linewidth=1)


def _mark_lr(axes, changes, color):
    for epoch, old, new in changes:
        for ax in axes:
            ax.axvline(epoch - 0.5, color=color, linestyle="-.", linewidth=0.8, alpha=0.7)
        axes[0].annotate(f"lr {old:.3g}\u2192{new:.3g}", xy=(epoch - 0.5, 1),
                         xycoords=("data", "axes fraction"), rotation=90, va="top", ha="right",
                         fontsize=7, color=color)


def learning_curves(*run_dirs, logy=True):
    """Training loss and error rates per epoch, with the best epoch and learning-rate
    changes marked; several runs share the axes (one colour per run).

    Args:
        *run_dirs: one or more ``tgraph train`` output directories.
        logy: draw the losses on a logarithmic axis.

    Returns:
        A matplotlib Figure (1200x500 px) with two panels: losses, and errors in percent
        (validation error per epoch, test error where the run measured it; training
        error if the log has a ``train_error`` column).
    """
    fig = new_figure(12, 5)
    ax_loss, ax_err = fig.subplots(1, 2)
    colors = [f"C{i % 10}" for i in range(len(run_dirs))]
    for run_dir, color in zip(run_dirs, colors):
        log, metrics = read_log(run_dir), read_metrics(run_dir)
        prefix = f"{run_name(run_dir)}: " if len(run_dirs) > 1 else ""
        _draw_columns(ax_loss, log, LOSS_COLUMNS, color, prefix)
        _draw_columns(ax_err, log, ERROR_COLUMNS, color, prefix, scale=100.0)
        _mark_best(ax_err, log, best_epoch(log, metrics), color, prefix)
        _mark_lr((ax_loss, ax_err), lr_changes(log), color)
    if logy:
        ax_loss.set_yscale("log")
    title = run_name(run_dirs[0]) if len(run_dirs) == 1 else f"{len(run_dirs)} runs"
    ax_loss.set(xlabel="epoch", ylabel="loss (mean per example)", title=f"{title}: loss")
    ax_err.set(xlabel="epoch", ylabel="error (%)", title=f"{title}: error rate")
    for ax in (ax_loss, ax_err):
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    return fig
