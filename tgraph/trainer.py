"""The training loop: epochs of minibatches, with every optional behaviour a callback.

Events, in order: ``on_train_begin``; per epoch ``on_epoch_begin``, then per minibatch
the step, ``on_validation_end`` when validation is due, ``on_batch_end``; then
``on_epoch_end``; finally ``on_train_end``. Validation runs every
``validation_frequency`` minibatches (default: once per epoch, at its last minibatch;
a callback may ask for more, see :meth:`tgraph.callbacks.Callback.validation_frequency`).

The trainer knows no callback class: it imports the protocol
(:mod:`tgraph.callbacks.base`) only, and each callback declares its own scheduling
(validation frequency, next batch action, order, the best model's monitor, the log keys
it adds). The callbacks every run should have (history, NaN guard) are registered by
their modules and added from :func:`tgraph.callbacks.base.default_callbacks`.

Steps run several at a time (:meth:`tgraph.Model.train_steps`, one Python call for up
to ~50 ms of steps); the events of each step follow, in order, with its own loss. A run
of steps ends where validation is due, at the end of the epoch, and before any
iteration at which an ``on_batch_end`` callback may stop training (see
:meth:`tgraph.callbacks.Callback.next_batch_action`), so the weights seen by every
callback and the iteration training stops at are those of one step at a time.
Callbacks that only watch the losses (``TerminateOnNaN``, ``ProgressLogger``) let the
steps run ahead: ``TerminateOnNaN`` stops at the right iteration, but the weights
(already NaN) may have taken the rest of the call's steps.

"The best model so far" is the trainer's :class:`tgraph.callbacks.base.BestModel`
(``trainer.best_model``), updated before the callbacks see each validation (or epoch).
"""

import time

import numpy as np

from tgraph.callbacks.base import BestModel, Callback
from tgraph.callbacks.base import default_callbacks as registered_default_callbacks
from tgraph.config import Training
from tgraph.errors import ConfigError, DataError, ModelFileError
from tgraph.optim.base import learning_rate_of

__all__ = ["Trainer", "splits_of", "next_batch_action", "steps_per_call", "CALL_SECONDS",
           "DEFAULT_BEST_MONITOR"]

CALL_SECONDS = 0.05  # aim of one call of several steps: short enough for Ctrl-C and progress
MAX_STEPS_PER_CALL = 256
DEFAULT_BEST_MONITOR = ("valid_error", "min")
# Keys of every epoch's logs besides the validation ones, in the order messages list them.
EPOCH_KEYS = ("loss", "lr", "epoch", "iteration", "time_s", "samples_per_s")


def splits_of(data):
    """``{"train": (x, y), "valid": ..., "test": ...}`` from a Dataset or a dict of pairs."""
    result = {}
    for name in ("train", "valid", "test"):
        split = data.get(name) if isinstance(data, dict) else getattr(data, name, None)
        if split is not None and not isinstance(split, tuple):
            split = (split.x, split.y)
        if split is not None:
            result[name] = split
    if "train" not in result:
        raise DataError("the data has no training split")
    return result


def _overrides(callback, hook):
    return getattr(type(callback), hook) is not getattr(Callback, hook)


def _steps_of(model, batch_size):
    """``run(first, count) -> losses`` of ``model`` (a step at a time without ``train_steps``)."""
    if callable(getattr(model, "train_steps", None)):
        model.train_function(batch_size)  # compiles now, not inside the first epoch
        return lambda first, count: model.train_steps(first, count, batch_size)
    step = model.train_function(batch_size)
    return lambda first, count: [float(step(i)) for i in range(first, first + count)]


def next_batch_action(callback, iteration):
    """First iteration >= ``iteration`` at which ``callback``'s ``on_batch_end`` may act
    (None: it only watches); see :meth:`tgraph.callbacks.Callback.next_batch_action`."""
    return callback.next_batch_action(iteration)


def steps_per_call(step_seconds):
    """How many steps to run in one call: about :data:`CALL_SECONDS` of them.

    Args:
        step_seconds: measured duration of one step (s); 0 or less for unknown.

    Returns:
        An int in [1, 256].
    """
    if step_seconds <= 0:
        return 1
    return int(min(MAX_STEPS_PER_CALL, max(1, CALL_SECONDS // step_seconds)))


class Trainer:
    """Runs epochs of minibatch steps of a :class:`tgraph.Model` and calls callbacks.

    Args:
        model: the model to train.
        batch_size: examples per minibatch; the last partial minibatch of an epoch is
            dropped, as in the tutorials.
        max_epochs: upper bound on the number of epochs.
        callbacks: list of :class:`tgraph.callbacks.Callback`, run in the order of their
            ``order`` attribute.
        default_callbacks: also run the registered default callbacks
            (:func:`tgraph.callbacks.default_callbacks`: the history, ``trainer.history``,
            which :meth:`fit` returns, and the NaN guard), except those whose class is
            already among ``callbacks``.
        shuffle: reshuffle the training set at each epoch (seeded by ``seed``).
        seed: seed of the shuffling.
        validation_frequency: validate every this many minibatches (None: per epoch, or
            what a callback such as ``TutorialPatience`` asks for).

    The settings are checked by :class:`tgraph.config.Training` (``trainer.training``).

    Attributes:
        history: the history callback, if one was given (it registers itself here).
        best_model: the :class:`tgraph.callbacks.base.BestModel` of the run.
    """

    def __init__(self, model, *, batch_size=128, max_epochs=100, callbacks=(), shuffle=True,
                 seed=0, validation_frequency=None, default_callbacks=True):
        self.training = Training(batch_size=batch_size, max_epochs=max_epochs, shuffle=shuffle,
                                 validation_frequency=validation_frequency)
        self.model, self.batch_size, self.max_epochs = model, batch_size, max_epochs
        self.shuffle, self.seed = shuffle, seed
        self.history = None
        callbacks = list(callbacks)
        if default_callbacks:
            given = {type(cb) for cb in callbacks}
            callbacks += [cb for cb in registered_default_callbacks() if type(cb) not in given]
        self.callbacks = sorted(callbacks, key=lambda cb: cb.order)
        self.best_model = BestModel(*_best_monitor(self.callbacks))
        self.requested_frequency = validation_frequency
        self.log_tags = {}  # constant entries of every epoch's logs, e.g. {"phase": "pretrain1"}
        self.epoch = self.iteration = 0
        self.stop_training, self.stop_reason, self.resumed = False, None, False
        self.elapsed = self.step_time = 0.0
        self.current_epoch = 0  # the epoch in progress (1-based)
        self._splits = {}  # set by fit
        self._checked = {}  # split -> its data, checked once; see _evaluate
        self._rng = np.random.default_rng(seed)
        self._per_call = 1  # steps per call; set from the measured step time

    # -- helpers for callbacks -----------------------------------------------------------

    def evaluate(self, split):
        """Mean loss and error of the model on ``split`` (``"valid"`` or ``"test"``)."""
        if split not in self._splits:
            return {}
        return self._evaluate(split)

    def _evaluate(self, split):
        """The model's evaluation of a split: checked at its first evaluation, then by
        ``evaluate_checked`` (a model without it checks every time, in ``evaluate``)."""
        if not hasattr(self.model, "evaluate_checked"):
            return self.model.evaluate(*self._splits[split])
        if split not in self._checked:
            self._checked[split] = (self._train if split == "train"
                                    else self.model.check_data(*self._splits[split]))
        return self.model.evaluate_checked(*self._checked[split])

    def has_split(self, split):
        """True if the data has ``split`` (``"train"``, ``"valid"`` or ``"test"``)."""
        return split in self._splits

    @property
    def n_batches(self):
        """Minibatches per epoch."""
        return self._n_batches

    def log_keys(self, when="epoch"):
        """The keys this run's logs will have.

        Args:
            when: ``"validation"`` (the logs of ``on_validation_end``) or ``"epoch"``
                (those of ``on_epoch_end``, which include the last validation's).

        Returns:
            Tuple of keys: the validation keys first (``valid_error`` for a loss on
            labels, ``valid_loss``, keys callbacks add), then for ``"epoch"`` the
            loss, learning rate, counters and timings, and keys callbacks add.
        """
        validation = []
        if self.has_split("valid"):
            validation = [*(("valid_error",) if self._has_labels() else ()),
                          *((f"valid_top{k}_error",) if (k := self._top_k()) else ()),
                          "valid_loss"]
            validation += [k for cb in self.callbacks for k in cb.log_keys().get("validation", ())]
        if when == "validation":
            return tuple(dict.fromkeys(validation))
        added = [k for cb in self.callbacks for k in cb.log_keys().get("epoch", ())]
        return tuple(dict.fromkeys([*validation, *EPOCH_KEYS, *added]))

    def check_monitor(self, owner, key, when="epoch"):
        """Raise a :class:`ConfigError` unless ``key`` will be in this run's ``when`` logs.

        Callbacks with a ``monitor`` call this in ``on_train_begin``, so that a misspelt
        key fails at once instead of never acting.

        Args:
            owner: the callback, named in the message.
            key: the monitored log key.
            when: ``"epoch"`` or ``"validation"`` (see :meth:`log_keys`).
        """
        available = self.log_keys(when)
        if key not in available:
            raise ConfigError(self._monitor_message(type(owner).__name__, key, when, available))

    def _monitor_message(self, owner, key, when, available):
        text = (f"{owner}: monitor {key!r} is not a key of this run's {when} logs; "
                f"available: {', '.join(available)}")
        if key.startswith("valid_") and not self.has_split("valid"):
            return text + "; valid_* keys need a validation split, and the data has none"
        if key == "valid_error":
            return text + ("; valid_error needs a loss on class labels (e.g. 'nll', or "
                           "'binary_crossentropy' on one sigmoid unit)")
        if key.startswith("valid_top"):
            return text + "; a top-5 error is reported for 20 classes or more"
        if key in self.log_keys("epoch"):
            return text + f"; {key} is in the epoch logs only"
        return text

    def _has_labels(self):
        if hasattr(self.model, "takes_labels"):
            return self.model.takes_labels
        loss = getattr(self.model, "loss", None)  # a model that quacks like tgraph.Model
        return getattr(loss, "target", "labels") == "labels"

    def _top_k(self):
        return getattr(self.model, "top_k", None)

    # -- the loop ------------------------------------------------------------------------------

    def fit(self, data, *, resume=None):
        """Train on ``data`` until ``max_epochs`` or a callback stops training.

        Args:
            data: a :class:`tgraph.data.Dataset` or ``{"train": (x, y), "valid": ...}``.
            resume: the ``training`` dict of a checkpoint (see :meth:`checkpoint_state`)
                to continue from; the model's weights must already be restored.

        Returns:
            ``trainer.history`` (None without a history callback).
        """
        self._prepare(data)
        if resume is not None:
            self._restore(resume)
        for cb in self.callbacks:
            cb.set_trainer(self)
        self._call("on_train_begin", {})
        try:
            while self.epoch < self.max_epochs and not self.stop_training:
                self._run_epoch()
        finally:
            self._call("on_train_end", {"epoch": self.epoch, "iteration": self.iteration})
        return self.history

    def _prepare(self, data):
        self._splits, self._checked = splits_of(data), {}
        x, y = self._splits["train"]
        self._train = self.model.check_data(x, y)
        self._n_batches = len(self._train[0]) // self.batch_size
        if self._n_batches == 0:
            raise DataError(f"the training set has {len(self._train[0])} examples, fewer than "
                            f"one minibatch of {self.batch_size}; lower the batch size")
        self.model.set_train_data(*self._train)
        self._steps = _steps_of(self.model, self.batch_size)
        self.validation_frequency = self._frequency()
        self._batch_callbacks = [cb for cb in self.callbacks if _overrides(cb, "on_batch_end")]
        self._best_at_validation = self.best_model.monitor in self.log_keys("validation")

    def _frequency(self):
        if self.requested_frequency:
            return int(self.requested_frequency)
        asked = [f for f in (cb.validation_frequency(self._n_batches) for cb in self.callbacks)
                 if f is not None]
        return min(asked) if asked else self._n_batches

    def _call(self, hook, *args):
        for cb in self.callbacks:
            getattr(cb, hook)(*args)

    def _shuffle(self):
        if self.shuffle:
            perm = self._rng.permutation(len(self._train[0]))
            self.model.set_train_data(self._train[0][perm], self._train[1][perm])

    def _steps_now(self, batch):
        """Steps to run in the next call, from minibatch ``batch`` of the epoch."""
        it, freq = self.iteration, self.validation_frequency
        count = min(self._n_batches - batch, freq - it % freq, self._per_call)
        for cb in self._batch_callbacks:
            act = cb.next_batch_action(it + 1)
            if act is not None:
                count = min(count, max(1, act - it))
        return count

    def _run_steps(self, batch):
        count = self._steps_now(batch)
        t0 = time.perf_counter()
        losses = self._steps(batch, count)
        seconds = time.perf_counter() - t0
        self.step_time += seconds
        self._per_call = steps_per_call(seconds / count)  # the first call also compiles
        return losses

    def _run_epoch(self):
        epoch = self.current_epoch = self.epoch + 1
        start = time.perf_counter()
        self._call("on_epoch_begin", epoch, {})
        self._shuffle()
        losses, last_valid, batch = [], {}, 0
        while batch < self._n_batches and not (batch and self.stop_training):
            for loss in self._run_steps(batch):
                self.iteration += 1
                losses.append(float(loss))
                if self.iteration % self.validation_frequency == 0:
                    last_valid = self._validate()
                logs = {"loss": float(loss), "epoch": epoch, "batch": batch}
                batch += 1
                for cb in self._batch_callbacks:
                    cb.on_batch_end(self.iteration, logs)
                if self.stop_training:
                    break
        self.epoch = epoch
        duration = time.perf_counter() - start
        self.elapsed += duration
        logs = {**self.log_tags, "epoch": epoch, "iteration": self.iteration,
                "loss": float(np.mean(losses)),
                "lr": learning_rate_of(self.model.optimizer), **last_valid,
                "time_s": duration, "samples_per_s": len(losses) * self.batch_size / duration}
        if not self._best_at_validation:
            self.best_model.observe(logs, self.model, epoch, self.iteration)
        self._call("on_epoch_end", epoch, logs)

    def _validate(self):
        if "valid" not in self._splits:
            return {}
        result = self._evaluate("valid")
        logs = {"valid_loss": result["loss"]}
        if "error" in result:
            logs["valid_error"] = result["error"]
        logs.update({f"valid_{k}": v for k, v in result.items() if k.startswith("top")})
        if self._best_at_validation:
            self.best_model.observe(logs, self.model, self.current_epoch, self.iteration)
        self._call("on_validation_end", self.iteration, logs)
        return logs

    # -- checkpoints ---------------------------------------------------------------------------

    def _callback_keys(self):
        counts, keys = {}, []
        for cb in self.callbacks:
            name = type(cb).__name__
            keys.append(f"{name}#{counts.get(name, 0)}")
            counts[name] = counts.get(name, 0) + 1
        return keys

    def checkpoint_state(self):
        """Everything needed to continue training exactly where it is (JSON + arrays)."""
        return {
            "epoch": self.epoch, "iteration": self.iteration, "elapsed_s": self.elapsed,
            "step_time_s": self.step_time, "stop_training": self.stop_training,
            "stop_reason": self.stop_reason,
            "batch_size": self.batch_size, "shuffle_rng": self._rng.bit_generator.state,
            "model": self.model.get_state(), "best_model": self.best_model.state_dict(),
            "callbacks": {k: cb.state_dict()
                          for k, cb in zip(self._callback_keys(), self.callbacks)},
        }

    def _restore(self, state):
        if state["batch_size"] != self.batch_size:
            raise ModelFileError(
                f"the checkpoint was trained with batch size {state['batch_size']}, not "
                f"{self.batch_size}; resume with --batch-size {state['batch_size']}"
            )
        self.epoch, self.iteration = state["epoch"], state["iteration"]
        self.elapsed, self.step_time = state["elapsed_s"], state["step_time_s"]
        self.stop_training, self.stop_reason = state["stop_training"], state["stop_reason"]
        self._rng.bit_generator.state = state["shuffle_rng"]
        self.model.set_state(state["model"])
        if state.get("best_model") is not None:  # absent in older checkpoints
            self.best_model.load_state_dict(state["best_model"])
        saved = state["callbacks"]
        for key, cb in zip(self._callback_keys(), self.callbacks):
            if key in saved:
                cb.load_state_dict(saved[key])
        self.resumed = True


def _best_monitor(callbacks):
    """The ``(key, mode)`` the callbacks want the best model chosen on (they must agree)."""
    asked = {}
    for cb in callbacks:
        wish = cb.best_model_monitor()
        if wish is not None:
            asked.setdefault(tuple(wish), type(cb).__name__)
    if len(asked) > 1:
        choices = ", ".join(f"{name} on {key} ({mode})" for (key, mode), name in asked.items())
        raise ConfigError(f"the callbacks choose the best model on different values: {choices}; "
                          "give them the same monitor and mode, or set restore_best=False")
    return next(iter(asked), DEFAULT_BEST_MONITOR)
