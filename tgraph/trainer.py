"""The training loop: epochs of minibatches, with every optional behaviour a callback.

Events, in order: ``on_train_begin``; per epoch ``on_epoch_begin``, then per minibatch
the step, ``on_validation_end`` when validation is due, ``on_batch_end``; then
``on_epoch_end``; finally ``on_train_end``. Validation runs every
``validation_frequency`` minibatches (default: once per epoch, at its last minibatch;
:class:`tgraph.callbacks.TutorialPatience` sets the tutorials' frequency).
"""

import time

import numpy as np

from tgraph.callbacks.base import Callback
from tgraph.callbacks.logging import History, TerminateOnNaN
from tgraph.errors import ConfigError, DataError, ModelFileError
from tgraph.optim.base import learning_rate_of

__all__ = ["Trainer", "splits_of"]


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


class Trainer:
    """Runs epochs of minibatch steps of a :class:`tgraph.Model` and calls callbacks.

    Args:
        model: the model to train.
        batch_size: examples per minibatch; the last partial minibatch of an epoch is
            dropped, as in the tutorials.
        max_epochs: upper bound on the number of epochs.
        callbacks: list of :class:`tgraph.callbacks.Callback`.
        shuffle: reshuffle the training set at each epoch (seeded by ``seed``).
        seed: seed of the shuffling.
        validation_frequency: validate every this many minibatches (None: per epoch, or
            what a callback such as ``TutorialPatience`` asks for).
    """

    def __init__(self, model, *, batch_size=128, max_epochs=100, callbacks=(), shuffle=True,
                 seed=0, validation_frequency=None):
        if not (isinstance(batch_size, int) and batch_size > 0):
            raise ConfigError(f"`batch_size` (={batch_size!r}) must be a positive integer")
        if not (isinstance(max_epochs, int) and max_epochs > 0):
            raise ConfigError(f"`max_epochs` (={max_epochs!r}) must be a positive integer")
        self.model, self.batch_size, self.max_epochs = model, batch_size, max_epochs
        self.shuffle, self.seed = shuffle, seed
        self.history = History()
        ordered = sorted(callbacks, key=lambda cb: bool(getattr(cb, "run_last", False)))
        self.callbacks = [self.history, TerminateOnNaN(), *ordered]
        self.requested_frequency = validation_frequency
        self.epoch = self.iteration = 0
        self.stop_training, self.stop_reason, self.resumed = False, None, False
        self.elapsed = self.step_time = 0.0
        self.current_epoch = 0  # the epoch in progress (1-based)
        self._rng = np.random.default_rng(seed)

    # -- helpers for callbacks -----------------------------------------------------------

    def evaluate(self, split):
        """Mean loss and error of the model on ``split`` (``"valid"`` or ``"test"``)."""
        if split not in self._splits:
            return {}
        return self.model.evaluate(*self._splits[split])

    @property
    def n_batches(self):
        """Minibatches per epoch."""
        return self._n_batches

    # -- the loop ------------------------------------------------------------------------------

    def fit(self, data, *, resume=None):
        """Train on ``data`` until ``max_epochs`` or a callback stops training.

        Args:
            data: a :class:`tgraph.data.Dataset` or ``{"train": (x, y), "valid": ...}``.
            resume: the ``training`` dict of a checkpoint (see :meth:`checkpoint_state`)
                to continue from; the model's weights must already be restored.

        Returns:
            The :class:`tgraph.callbacks.History`.
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
        self._splits = splits_of(data)
        x, y = self._splits["train"]
        self._train = self.model.check_data(x, y)
        self._n_batches = len(self._train[0]) // self.batch_size
        if self._n_batches == 0:
            raise DataError(f"the training set has {len(self._train[0])} examples, fewer than "
                            f"one minibatch of {self.batch_size}; lower the batch size")
        self.model.set_train_data(*self._train)
        self._step = self.model.train_function(self.batch_size)
        self.validation_frequency = self._frequency()
        self._batch_callbacks = [cb for cb in self.callbacks if _overrides(cb, "on_batch_end")]

    def _frequency(self):
        if self.requested_frequency:
            return int(self.requested_frequency)
        asked = [cb.validation_frequency(self._n_batches) for cb in self.callbacks
                 if hasattr(cb, "validation_frequency") and callable(cb.validation_frequency)]
        return min(asked) if asked else self._n_batches

    def _call(self, hook, *args):
        for cb in self.callbacks:
            getattr(cb, hook)(*args)

    def _shuffle(self):
        if self.shuffle:
            perm = self._rng.permutation(len(self._train[0]))
            self.model.set_train_data(self._train[0][perm], self._train[1][perm])

    def _run_epoch(self):
        epoch = self.current_epoch = self.epoch + 1
        start = time.perf_counter()
        self._call("on_epoch_begin", epoch, {})
        self._shuffle()
        losses, last_valid = [], {}
        clock = time.perf_counter
        for batch in range(self._n_batches):
            t0 = clock()
            loss = float(self._step(batch))
            self.step_time += clock() - t0
            self.iteration += 1
            losses.append(loss)
            if self.iteration % self.validation_frequency == 0:
                last_valid = self._validate()
            logs = {"loss": loss, "epoch": epoch, "batch": batch}
            for cb in self._batch_callbacks:
                cb.on_batch_end(self.iteration, logs)
            if self.stop_training:
                break
        self.epoch = epoch
        duration = time.perf_counter() - start
        self.elapsed += duration
        logs = {"epoch": epoch, "iteration": self.iteration, "loss": float(np.mean(losses)),
                "lr": learning_rate_of(self.model.optimizer), **last_valid,
                "time_s": duration, "samples_per_s": len(losses) * self.batch_size / duration}
        self._call("on_epoch_end", epoch, logs)

    def _validate(self):
        if "valid" not in self._splits:
            return {}
        result = self.model.evaluate(*self._splits["valid"])
        logs = {"valid_loss": result["loss"]}
        if "error" in result:
            logs["valid_error"] = result["error"]
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
            "model": self.model.get_state(),
            "callbacks": {k: cb.state_dict() for k, cb in zip(self._callback_keys(), self.callbacks)},
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
        saved = state["callbacks"]
        for key, cb in zip(self._callback_keys(), self.callbacks):
            if key in saved:
                cb.load_state_dict(saved[key])
        self.resumed = True
