"""Best and last checkpoints, written atomically."""

import os

from tgraph.callbacks.base import Callback
from tgraph.runfiles import RunFiles

__all__ = ["ModelCheckpoint"]


class ModelCheckpoint(Callback):
    """Saves the run's best model and a last checkpoint for resuming.

    ``best.tgraph`` is a plain model file written whenever the run's best model
    (``trainer.best_model``, see :class:`tgraph.callbacks.base.BestModel`) improves;
    ``last.tgraph`` holds the weights and the complete training state (optimizer state,
    learning rate, random streams, counters, best model, callback states) and is
    written at the end of every epoch, so ``tgraph train --resume DIR`` continues
    exactly where training stopped. Both are written atomically. This callback runs
    after the others (``order`` 100), so the states it saves are up to date.

    Args:
        directory: where the files go (created if missing).
        monitor: the log key the run's best model is chosen on; None (default): as
            the other callbacks ask, else ``valid_error``.
        mode: ``"min"`` or ``"max"``, with ``monitor``.
        save_best: write ``best.tgraph``.
        save_last: write ``last.tgraph``.
        meta: extra JSON-able metadata stored in both files.
    """

    order = 100

    def __init__(self, directory, monitor=None, mode="min", save_best=True, save_last=True,
                 meta=None):
        self.directory = os.fspath(directory)
        self.monitor, self.mode = monitor, mode
        self.save_best, self.save_last, self.meta = save_best, save_last, dict(meta or {})
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

    def _meta(self, **extra):
        t = self.trainer
        return {**self.meta, "epoch": t.epoch, "iteration": t.iteration, **extra}

    def _save_best_if_new(self):
        from tgraph.modelfile import save_model

        best = self.trainer.best_model
        if not self.save_best or best.iteration is None or best.iteration == self._written:
            return
        save_model(self.trainer.model, self.best_path,
                   meta=self._meta(**{best.monitor: best.value, "best_epoch": best.epoch,
                                      "best_iteration": best.iteration}))
        self._written = best.iteration

    def on_validation_end(self, iteration, logs=None):
        self._save_best_if_new()  # the model holds the best weights right now

    def on_epoch_end(self, epoch, logs=None):
        from tgraph.modelfile import save_model

        self._save_best_if_new()  # a best model chosen on an epoch key
        if self.save_last:
            save_model(self.trainer.model, self.last_path, meta=self._meta(),
                       training=self.trainer.checkpoint_state())
