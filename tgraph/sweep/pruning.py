"""Reporting a trial's validation error to Optuna, and stopping a hopeless trial."""

from tgraph.callbacks.base import Callback

__all__ = ["OptunaPruning"]


class OptunaPruning(Callback):
    """Reports the validation error at the end of every epoch and stops training when
    the study's pruner says the trial is hopeless.

    The run then ends as any stopped run does (its model file and metrics are written);
    the sweep marks the trial pruned (``optuna.TrialPruned``) afterwards.

    Args:
        trial: the ``optuna.Trial``.
        monitor: the epoch log key reported (the step is the epoch number).

    Attributes:
        pruned_at: the epoch at which the pruner stopped the trial, or None.
    """

    def __init__(self, trial, monitor="valid_error"):
        self.trial, self.monitor = trial, monitor
        self.pruned_at = None

    def on_train_begin(self, logs=None):
        self.pruned_at = None

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            return
        self.trial.report(float(value), step=epoch)
        if self.trial.should_prune():
            self.pruned_at = epoch
            self.trainer.stop_training = True
            self.trainer.stop_reason = (f"pruned by the sweep at epoch {epoch} "
                                        f"({self.monitor} {float(value):.4g})")

    def __repr__(self):
        return f"OptunaPruning(trial={self.trial.number}, monitor={self.monitor!r})"
