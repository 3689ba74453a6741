"""Metrics a run can add to its epoch logs beyond the trainer's own."""

from tgraph.callbacks.base import Callback

__all__ = ["TrainError"]


class TrainError(Callback):
    """Adds the training set's error (and loss) to every epoch's logs, with dropout off.

    The trainer logs the mean of the minibatch losses as ``loss``, computed while the
    weights change and with dropout on; this callback evaluates the whole training split
    at the end of each epoch, as the tutorials' learning curves show it, so that the
    ``train_error`` column can be plotted against ``valid_error`` (``tgraph plot``). It
    costs one forward pass over the training set per epoch.

    Logs:
        ``train_error`` (fraction misclassified, in [0, 1], for a loss on labels) and
        ``train_loss`` (mean data loss, no penalty).
    """

    order = -30  # before the history and the loggers record the epoch's logs

    def log_keys(self):
        return {"epoch": ("train_error", "train_loss")}

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        result = self.trainer.evaluate("train")
        logs["train_loss"] = result["loss"]
        if "error" in result:
            logs["train_error"] = result["error"]
