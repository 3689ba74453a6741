"""Best and last checkpoints, written atomically, every epoch or on a time budget."""

import copy
import os
import time

from tgraph.callbacks.base import Callback
from tgraph.config import CHECKPOINT_SECONDS
from tgraph.runfiles import RunFiles

__all__ = ["ModelCheckpoint"]

_clock = time.monotonic  # seconds; tests replace it


class ModelCheckpoint(Callback):
    """Saves the run's best model and a last checkpoint for resuming.

    ``best.tgraph`` is a plain model file of the run's best model
    (``trainer.best_model``, see :class:`tgraph.callbacks.base.BestModel`);
    ``last.tgraph`` holds the weights and the complete training state at the end of an
    epoch (optimizer state, learning rate, random streams, counters, best model,
    callback states), so ``tgraph train --resume DIR`` continues exactly from there.
    Both are written atomically. This callback runs after the others (``order`` 100),
    so the states it saves are up to date.

    When: at the end of the first epoch, then at the end of the first epoch at least
    ``every_seconds`` after the previous write, and when training ends, also by an
    exception or Ctrl-C (then with the state of the last finished epoch, kept in
    memory). A run killed outright (SIGKILL, power loss) resumes from the last write
    and redoes at most ``every_seconds`` of training, with the same result: the state
    is that of an epoch's end either way. ``every_seconds=0`` writes ``last.tgraph``
    after every epoch and ``best.tgraph`` at every improvement (the tutorials' habit,
    and 4.5 GB of writes for the MLP's 1000 short epochs).

    Args:
        directory: where the files go (created if missing).
        monitor: the log key the run's best model is chosen on; None (default): as
            the other callbacks ask, else ``valid_error``.
        mode: ``"min"`` or ``"max"``, with ``monitor``.
        save_best: write ``best.tgraph``.
        save_last: write ``last.tgraph``.
        meta: extra JSON-able metadata stored in both files.
        every_seconds: least time between two writes (s); 0 for every epoch.
    """

    order = 100

    def __init__(self, directory, monitor=None, mode="min", save_best=True, save_last=True,
                 meta=None, every_seconds=CHECKPOINT_SECONDS):
        if not every_seconds >= 0:
            raise ValueError(f"ModelCheckpoint: every_seconds must be >= 0 (seconds), "
                             f"got {every_seconds!r}")
        self.directory = os.fspath(directory)
        self.monitor, self.mode = monitor, mode
        self.save_best, self.save_last, self.meta = save_best, save_last, dict(meta or {})
        self.every_seconds = float(every_seconds)
        files = RunFiles(self.directory)
        self.best_path, self.last_path = files.best, files.last
        self._written = None  # the iteration of the best model in best.tgraph

    def best_model_monitor(self):
        return None if self.monitor is None else (self.monitor, self.mode)

    @property
    def best_epoch(self):
        """Epoch of the best model (None before one)."""
        return self.trainer.best_model.epoch

    @property
    def best_iteration(self):
        """Iteration of the best model (None before one)."""
        return self.trainer.best_model.iteration

    def on_train_begin(self, logs=None):
        if self.monitor is not None:
            self.trainer.check_monitor(self, self.monitor, "epoch")
        os.makedirs(self.directory, exist_ok=True)
        self._written = self.trainer.best_model.iteration
        self._last_write = None  # _clock() of the last write; None: none yet
        self._pending = None  # (weights, meta, training) of the last epoch not written

    def _meta(self, **extra):
        t = self.trainer
        return {**self.meta, "epoch": t.epoch, "iteration": t.iteration, **extra}

    def _save_best_if_new(self):
        from tgraph.modelfile import save_model

        best = self.trainer.best_model
        if (not self.save_best or best.iteration is None or best.weights is None
                or best.iteration == self._written):
            return
        save_model(self.trainer.model, self.best_path, weights=best.weights,
                   meta=self._meta(**{best.monitor: best.value, "best_epoch": best.epoch,
                                      "best_iteration": best.iteration}))
        self._written = best.iteration

    def _due(self):
        return (self._last_write is None
                or _clock() - self._last_write >= self.every_seconds)

    def on_validation_end(self, iteration, logs=None):
        if self.every_seconds == 0:
            self._save_best_if_new()

    def _snapshot(self):
        """``(weights, meta, training)`` of this epoch's end, copied (callback states too)."""
        training = self.trainer.checkpoint_state()
        training["callbacks"] = copy.deepcopy(training["callbacks"])
        return self.trainer.model.get_weights(), self._meta(), training

    def _write_last(self, snapshot):
        from tgraph.modelfile import save_model

        weights, meta, training = snapshot
        save_model(self.trainer.model, self.last_path, weights=weights, meta=meta,
                   training=training)

    def on_epoch_end(self, epoch, logs=None):
        snapshot = self._snapshot() if self.save_last else None
        if not self._due():
            self._pending = snapshot  # what on_train_end writes if training stops first
            return
        self._save_best_if_new()
        if snapshot is not None:
            self._write_last(snapshot)
        self._last_write, self._pending = _clock(), None

    def on_train_end(self, logs=None):
        self._save_best_if_new()
        if self._pending is not None:
            self._write_last(self._pending)
            self._pending = None
