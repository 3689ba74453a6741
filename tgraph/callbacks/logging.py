"""History in memory, CSV and JSON-lines logs, progress display, NaN guard."""

import csv
import json
import math
import sys

from tgraph.callbacks.base import Callback, register_default_callback
from tgraph.errors import TrainingError
from tgraph.fileio import atomic_write
from tgraph.optim.base import learning_rate_of

__all__ = ["EpochRecords", "History", "CSVLogger", "CSV_COLUMNS", "JSONLinesLogger",
           "ProgressLogger", "TerminateOnNaN"]


class EpochRecords(list):
    """The epochs' log dicts, oldest first; a record is not changed once appended.

    So a deep copy (a checkpoint's snapshot of the callbacks' state, taken at every
    epoch's end) copies the list and shares the records: O(epochs), where copying every
    record made a run of n epochs O(n^2) (1000 epochs: ~500,000 dict copies).
    """

    def __deepcopy__(self, memo):
        return EpochRecords(self)


@register_default_callback
class History(Callback):
    """Keeps every epoch's logs in memory: ``history.epochs`` is a list of dicts.

    One of :func:`tgraph.callbacks.default_callbacks`; it registers itself as
    ``trainer.history``, which ``Trainer.fit`` returns. Runs first (``order`` -20).
    """

    order = -20

    def __init__(self):
        self.epochs = EpochRecords()

    def set_trainer(self, trainer):
        super().set_trainer(trainer)
        trainer.history = self

    def on_train_begin(self, logs=None):
        if not self.trainer.resumed:
            self.epochs = EpochRecords()

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append(dict(logs))  # a copy: later callbacks may change ``logs``

    def column(self, key):
        """Values of ``key`` over epochs (None where absent)."""
        return [e.get(key) for e in self.epochs]

    def state_dict(self):
        return {"epochs": self.epochs}

    def load_state_dict(self, state):
        self.epochs = EpochRecords(dict(e) for e in state["epochs"])


class _FileLogger(Callback):
    """Appends one record (line) per epoch to ``path`` (kept on resume).

    On resume, records of epochs after the checkpoint's are dropped first: a process
    killed after logging an epoch but before checkpointing it leaves one record too many
    (or a torn last line), which the resumed run writes again.

    Args:
        path: the log file.
        append: keep an existing file's records also when not resuming (a later phase
            of one run, e.g. fine-tuning after pretraining).
    """

    def __init__(self, path, append=False):
        self.path, self.append = path, append
        self._file = None

    def _appends(self):
        return self.trainer.resumed or self.append

    def on_train_begin(self, logs=None):
        if self.trainer.resumed:
            self._drop_records_after(self.trainer.epoch, self.trainer.log_tags)
        mode = "a" if self._appends() else "w"
        self._file = open(self.path, mode, newline="", encoding="utf-8")

    def _drop_records_after(self, epoch, tags):
        try:
            with open(self.path, newline="", encoding="utf-8") as f:
                lines = f.read().splitlines(keepends=True)
        except FileNotFoundError:
            return
        kept = self._kept_lines([line for line in lines if line.endswith("\n")],
                                lambda record: _after(record, epoch, tags))
        if kept != lines:
            with atomic_write(self.path, "w") as f:
                f.writelines(kept)

    def _kept_lines(self, lines, after):
        """The complete ``lines`` of the file to keep: those whose record (a dict of
        strings or values) is not ``after(record)``, the checkpoint's."""
        raise NotImplementedError

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
            self._file = None


# Columns every CSV log has, whether or not the first epoch produced them (an epoch
# without validation has no valid_error, a TutorialPatience epoch without a new best no
# test_error).
CSV_COLUMNS = ("epoch", "iteration", "loss", "lr", "valid_loss", "valid_error", "test_error",
               "time_s", "samples_per_s")


class CSVLogger(_FileLogger):
    """One CSV row per epoch.

    The columns are the first epoch's keys followed by those of :data:`CSV_COLUMNS` it
    lacks (empty cells where an epoch has no value); a resumed run appends rows under
    the header already in the file.
    """

    def on_train_begin(self, logs=None):
        header = self._existing_header() if self._appends() else None
        super().on_train_begin(logs)
        self._writer = None if header is None else self._make_writer(header)

    def _existing_header(self):
        try:
            with open(self.path, newline="", encoding="utf-8") as f:
                return next(csv.reader(f), None)
        except FileNotFoundError:
            return None

    def _make_writer(self, fieldnames):
        return csv.DictWriter(self._file, fieldnames=fieldnames, extrasaction="ignore",
                              restval="")

    def _kept_lines(self, lines, after):
        if not lines:
            return lines
        header = next(csv.reader(lines[:1]))
        if "epoch" not in header:
            return lines
        rows = list(csv.reader(lines[1:]))
        return lines[:1] + [line for line, row in zip(lines[1:], rows)
                            if len(row) == len(header) and not after(dict(zip(header, row)))]

    def on_epoch_end(self, epoch, logs=None):
        if self._writer is None:
            self._writer = self._make_writer([*logs, *(k for k in CSV_COLUMNS if k not in logs)])
            self._writer.writeheader()
        self._writer.writerow(logs)
        self._file.flush()


class JSONLinesLogger(_FileLogger):
    """One JSON object per epoch (``log.jsonl``)."""

    def _kept_lines(self, lines, after):
        kept = []
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and not after(record):
                kept.append(line)
        return kept

    def on_epoch_end(self, epoch, logs=None):
        self._file.write(json.dumps(logs, default=float) + "\n")
        self._file.flush()


def _after(record, epoch, tags):
    """Whether a logged ``record`` comes after a checkpoint at ``epoch`` of the run logging
    with ``tags`` (e.g. ``{"phase": "pretrain2"}``): records of other phases stay."""
    if any(str(record.get(key)) != str(value) for key, value in tags.items()):
        return False
    return _epoch_of(record.get("epoch")) > epoch


def _epoch_of(value):
    """The epoch number of a logged record; infinity if it has none (dropped on resume)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return math.inf


def _fmt(key, value):
    if isinstance(value, float):
        return f"{key} {value * 100:.2f}%" if key.endswith("error") else f"{key} {value:.4g}"
    return f"{key} {value}"


class ProgressLogger(Callback):
    """Progress: a tqdm bar per epoch on a terminal, else one line per epoch.

    The bar is drawn on standard error and only when it is a terminal, so logs
    redirected to a file or captured by a test hold the epoch lines only.

    Args:
        every: print one line every ``every`` epochs when not on a terminal.
        stream: where lines go (default: ``sys.stdout`` at the time of printing);
            ``None`` silences the callback.
    """

    KEYS = ("loss", "valid_error", "valid_loss", "test_error", "lr", "time_s")
    STDOUT = "stdout"

    def __init__(self, every=1, stream=STDOUT):
        self.every, self.stream = every, stream
        self._bar = None

    def _output(self):
        return sys.stdout if self.stream == self.STDOUT else self.stream

    def _use_bar(self):
        if self.stream is None or not getattr(sys.stderr, "isatty", lambda: False)():
            return False
        try:
            import tqdm  # noqa: F401
        except ImportError:
            return False
        return True

    def next_batch_action(self, iteration):
        return None  # it only counts minibatches

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
            print(f"epoch {epoch:4d}  " + "  ".join(parts), file=self._output(), flush=True)


@register_default_callback
class TerminateOnNaN(Callback):
    """Stops training with a :class:`TrainingError` when the loss is NaN or infinite.

    The message names the epoch (1-based), the minibatch within it (0-based) and the
    iteration, and gives the current learning rate. One of
    :func:`tgraph.callbacks.default_callbacks`; runs before the others (``order`` -10).
    It only watches the losses, so the trainer runs steps ahead of it.
    """

    order = -10

    def next_batch_action(self, iteration):
        return None

    def on_batch_end(self, iteration, logs=None):
        loss = logs["loss"]
        if not math.isfinite(loss):
            lr = learning_rate_of(getattr(self.trainer.model, "optimizer", None))
            hint = f" (now {lr:g})" if lr is not None else ""
            raise TrainingError(
                f"training loss became {loss} at epoch {logs['epoch']}, batch {logs['batch']} "
                f"(iteration {iteration}); lower the learning rate{hint}, add gradient clipping "
                "(clip_norm=...), or check the data for NaN/inf values"
            )

