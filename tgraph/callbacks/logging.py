"""History in memory, CSV and JSON-lines logs, progress display, NaN guard."""

import csv
import json
import math
import sys

from tgraph.callbacks.base import Callback
from tgraph.errors import TrainingError

__all__ = ["History", "CSVLogger", "JSONLinesLogger", "ProgressLogger", "TerminateOnNaN"]


class History(Callback):
    """Keeps every epoch's logs in memory: ``history.epochs`` is a list of dicts.

    The trainer always attaches one; ``Trainer.fit`` returns it.
    """

    def __init__(self):
        self.epochs = []

    def on_train_begin(self, logs=None):
        if not self.trainer.resumed:
            self.epochs = []

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append(dict(logs))

    def column(self, key):
        """Values of ``key`` over epochs (None where absent)."""
        return [e.get(key) for e in self.epochs]

    def state_dict(self):
        return {"epochs": self.epochs}

    def load_state_dict(self, state):
        self.epochs = [dict(e) for e in state["epochs"]]


class _FileLogger(Callback):
    """Appends one record per epoch to ``path`` (kept on resume)."""

    def __init__(self, path):
        self.path = path

    def on_train_begin(self, logs=None):
        mode = "a" if self.trainer.resumed else "w"
        self._file = open(self.path, mode, newline="", encoding="utf-8")

    def on_train_end(self, logs=None):
        self._file.close()


class CSVLogger(_FileLogger):
    """One CSV row per epoch; columns are fixed by the first epoch's keys."""

    _writer = None

    def on_epoch_end(self, epoch, logs=None):
        if self._writer is None:
            self._writer = csv.DictWriter(self._file, fieldnames=list(logs), extrasaction="ignore",
                                          restval="")
            if not self.trainer.resumed or self._file.tell() == 0:
                self._writer.writeheader()
        self._writer.writerow(logs)
        self._file.flush()


class JSONLinesLogger(_FileLogger):
    """One JSON object per epoch (``log.jsonl``)."""

    def on_epoch_end(self, epoch, logs=None):
        self._file.write(json.dumps(logs, default=float) + "\n")
        self._file.flush()


def _fmt(key, value):
    if isinstance(value, float):
        return f"{key} {value * 100:.2f}%" if key.endswith("error") else f"{key} {value:.4g}"
    return f"{key} {value}"


class ProgressLogger(Callback):
    """Progress: a tqdm bar per epoch on a terminal, else one line per epoch.

    Args:
        every: print one line every ``every`` epochs when not on a terminal.
        stream: where lines go (default ``sys.stdout``); ``None`` silences it.
    """

    KEYS = ("loss", "valid_error", "valid_loss", "test_error", "lr", "time_s")

    def __init__(self, every=1, stream=sys.stdout):
        self.every, self.stream = every, stream
        self._bar = None

    def _use_bar(self):
        if self.stream is None or not getattr(sys.stderr, "isatty", lambda: False)():
            return False
        try:
            import tqdm  # noqa: F401
        except ImportError:
            return False
        return True

    def on_epoch_begin(self, epoch, logs=None):
        if self._use_bar():
            from tqdm import tqdm
            self._bar = tqdm(total=self.trainer.n_batches, desc=f"epoch {epoch}", leave=False,
                             unit="batch")

    def on_batch_end(self, iteration, logs=None):
        if self._bar is not None:
            self._bar.update(1)

    def on_epoch_end(self, epoch, logs=None):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        last = self.trainer.stop_training or epoch == self.trainer.max_epochs
        if self.stream is not None and (epoch % self.every == 0 or last):
            parts = [_fmt(k, logs[k]) for k in self.KEYS if logs.get(k) is not None]
            print(f"epoch {epoch:4d}  " + "  ".join(parts), file=self.stream, flush=True)


class TerminateOnNaN(Callback):
    """Stops training with a :class:`TrainingError` when the loss is NaN or infinite."""

    def on_batch_end(self, iteration, logs=None):
        loss = logs["loss"]
        if not math.isfinite(loss):
            lr = logs.get("lr")
            hint = f" (now {lr:g})" if lr is not None else ""
            raise TrainingError(
                f"training loss became {loss} at epoch {logs['epoch']}, batch {logs['batch']} "
                f"(iteration {iteration}); lower the learning rate{hint}, add gradient clipping "
                "(clip_norm=...), or check the data for NaN/inf values"
            )

