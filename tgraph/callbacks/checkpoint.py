"""Best and last checkpoints, written atomically."""

import math
import os

from tgraph.callbacks.base import Callback, Monitor

__all__ = ["ModelCheckpoint"]


class ModelCheckpoint(Callback):
    """Saves the best model (on the monitored value) and a last checkpoint for resuming.

    ``best.tgraph`` is a plain model file written whenever the monitored validation
    value improves; ``last.tgraph`` holds the weights and the complete training state
    (optimizer state, learning rate, random streams, counters, callback states) and is
    written at the end of every epoch, so ``tgraph train --resume DIR`` continues
    exactly where training stopped. Both are written atomically. This callback runs
    after the others, so the states it saves are up to date.

    Args:
        directory: where the files go (created if missing).
        monitor: validation log key deciding the best model.
        mode: ``"min"`` or ``"max"``.
        save_best: write ``best.tgraph``.
        save_last: write ``last.tgraph``.
        meta: extra JSON-able metadata stored in both files.
    """

    run_last = True
    BEST, LAST = "best.tgraph", "last.tgraph"

    def __init__(self, directory, monitor="valid_error", mode="min", save_best=True,
                 save_last=True, meta=None):
        self.directory = os.fspath(directory)
        self.tracker = Monitor(monitor, mode)
        self.save_best, self.save_last, self.meta = save_best, save_last, dict(meta or {})
        self.best_epoch = self.best_iteration = None
        self.best_path = os.path.join(self.directory, self.BEST)
        self.last_path = os.path.join(self.directory, self.LAST)

    def on_train_begin(self, logs=None):
        os.makedirs(self.directory, exist_ok=True)
        if not self.trainer.resumed:
            self.tracker.reset()

    def _meta(self, **extra):
        t = self.trainer
        return {**self.meta, "epoch": t.epoch, "iteration": t.iteration, **extra}

    def on_validation_end(self, iteration, logs=None):
        from tgraph.modelfile import save_model

        value = self.tracker.value(logs)
        if not self.save_best or value is None or math.isnan(value):
            return
        if self.tracker.improves(value):
            self.tracker.best = value
            self.best_epoch, self.best_iteration = self.trainer.current_epoch, iteration
            save_model(self.trainer.model, self.best_path,
                       meta=self._meta(**{self.tracker.monitor: value, "best_epoch": self.best_epoch,
                                          "best_iteration": iteration}))

    def on_epoch_end(self, epoch, logs=None):
        from tgraph.modelfile import save_model

        if self.save_last:
            save_model(self.trainer.model, self.last_path, meta=self._meta(),
                       training=self.trainer.checkpoint_state())

    def state_dict(self):
        return {"best": self.tracker.best, "best_epoch": self.best_epoch,
                "best_iteration": self.best_iteration}

    def load_state_dict(self, state):
        self.tracker.best = state["best"]
        self.best_epoch, self.best_iteration = state["best_epoch"], state["best_iteration"]
