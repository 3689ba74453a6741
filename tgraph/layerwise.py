"""Running greedy layer-wise pretraining: each phase is a :class:`tgraph.trainer.Trainer` run.

Phase ``k`` (a :class:`tgraph.pretraining.Pretrain`) hands the trainer a
:class:`LayerModel`: a view of the model whose training step minimises layer ``k``'s
:class:`tgraph.layers.LocalObjective` with the phase's own optimizer (a fresh copy),
batch size and epochs, and whose training set is the deterministic output of layers
``< k`` on the training images. That output is computed once per phase (one forward
pass of the frozen lower layers) rather than in every step: for the third RBM of
784-1000-1000-1000 at batch 10, a step took 68 ms on precomputed inputs and 107 ms with
the lower layers in its graph (2-core machine, busy; 100 steps each). The same
callbacks as supervised training run (progress line per epoch, ``log.csv`` /
``log.jsonl`` rows tagged with the ``phase``, ``last.tgraph`` at an epoch's end with
the phase in its metadata), so ``--resume`` continues exactly in the middle of any
phase; a row's ``loss`` is the mean of the layer's first monitor over the epoch (what
the tutorials print). At the end of a phase every monitor is averaged over the training
set and, if asked, ``filters_layer<k>.png`` and ``samples.png`` are written.
"""

import math
import os

import attrs
import numpy as np
import pytensor
import pytensor.tensor as pt

from tgraph.callbacks import CSVLogger, JSONLinesLogger, ModelCheckpoint, ProgressLogger
from tgraph.errors import ModelFileError
from tgraph.images import filter_image, save_png, square_side, tile_images
from tgraph.layers.base import ApplyContext
from tgraph.ops.sampling import bernoulli
from tgraph.params import create_param
from tgraph.pretraining import objective_label, phases_of
from tgraph.random import RandomDraws, RandomSource, generator_state, set_generator_state
from tgraph.runfiles import RunFiles
from tgraph.backend import compile_steps
from tgraph.backend.threads import one_pool
from tgraph.trainer import Trainer

__all__ = ["LayerModel", "pretrain", "PHASE_KEY", "FINETUNE"]

PHASE_KEY = "phase"  # checkpoint metadata and log column naming the phase
FINETUNE = "finetune"  # the phase name of supervised training after pretraining
_PHASES_KEY = "phases"  # checkpoint metadata: results of the phases already done
_FORWARD_BATCH = 1000


def _fresh(optimizer):
    return attrs.evolve(optimizer) if attrs.has(type(optimizer)) else optimizer


def _copy(variable):
    return np.array(variable.get_value(borrow=True))


class LayerModel:
    """What a :class:`Trainer` trains in a pretraining phase: one layer's local objective.

    Delegates the model file's content (layers, weights, dtype, loss) to the full model,
    so checkpoints written during the phase hold every layer's weights.

    Args:
        model: the full :class:`tgraph.Model`.
        phase: the :class:`tgraph.pretraining.Pretrain`.
    """

    def __init__(self, model, phase):
        self.full, self.phase, self.index = model, phase, phase.layer
        self.network = model.network
        self.layer = self.network.specs[self.index]
        self.optimizer = _fresh(phase.optimizer)
        self.random = RandomSource(self.network.seed)  # the phase's own streams
        input_shape = self.network.shapes[self.index - 1]
        rng = np.random.default_rng(0)
        self.local_state = [create_param(spec, self.layer, self.index, rng, model.dtype)
                            for spec in self.layer.local_state_specs(input_shape,
                                                                     phase.batch_size)]
        self.state_variables = []
        self._functions, self._data = {}, None

    # -- what save_model and the callbacks read -------------------------------------------

    layers = property(lambda self: self.full.layers)
    loss = property(lambda self: self.full.loss)
    dtype = property(lambda self: self.full.dtype)
    regularization = property(lambda self: self.full.regularization)

    def get_weights(self):
        return self.full.get_weights()

    def set_weights(self, weights):
        self.full.set_weights(weights)

    # -- data: the lower layers' outputs ------------------------------------------------------

    def features(self, x):
        """Deterministic output of layers ``1 .. k-1`` for inputs ``x`` (N, ...)."""
        x, _ = self.full.check_data(x, None)
        if self.index == 1:
            return x
        fn = self._forward_function()
        with one_pool:
            parts = [fn(x[i:i + _FORWARD_BATCH]) for i in range(0, len(x), _FORWARD_BATCH)]
        return np.ascontiguousarray(np.concatenate(parts))

    def _forward_function(self):
        if "forward" not in self._functions:
            x = self.network.input_variable()
            out = self.network.layer_input(x, self.index)
            self._functions["forward"] = self.full._compile([x], out)
        return self._functions["forward"]

    def check_data(self, x, y):
        """The layer's training inputs for images ``x``, and empty targets (N, 0)."""
        features = self.features(x)
        return features, np.zeros((len(features), 0), np.int8)

    def set_train_data(self, x, y):
        x = np.ascontiguousarray(x, dtype=self.dtype)
        if self._data is None:
            self._data = pytensor.shared(x, name="pretrain_x", borrow=True,
                                         shape=(None, x.shape[1]))
        else:
            self._data.set_value(x, borrow=True)

    # -- the training step ------------------------------------------------------------------------

    def _objective(self, index, batch_size):
        """The layer's local objective on minibatch ``index`` and its context."""
        width = self._data.type.shape[1]
        x = pt.specify_shape(self._data[index * batch_size:(index + 1) * batch_size],
                             (batch_size, width))
        ctx = ApplyContext(deterministic=False, random=RandomDraws(self.random)).for_layer(
            self.index, self.layer)
        params = dict(self.network.layer_params(self.index))
        params.update({v.name.rsplit("/", 1)[1]: v for v in (p.variable for p in self.local_state)})
        return self.layer.local_objective(x, params, ctx), ctx

    def train_function(self, batch_size):
        """The compiled step ``f(batch_index) -> first monitor`` (or the cost)."""
        key = ("train", int(batch_size))
        if key not in self._functions:
            self._functions[key] = self._build_train(int(batch_size))
        return self._functions[key]

    def _build_train(self, batch_size):
        index = pt.iscalar("batch_index")
        with pytensor.config.change_flags(floatX=self.dtype):
            local, ctx = self._objective(index, batch_size)
            params = [p.variable for p in self.network.params
                      if p.layer_index == self.index and p.trainable]
            grads = pytensor.grad(local.cost, params)
            updates = self.optimizer.updates(params, grads)
            updates = list(updates.items()) if hasattr(updates, "items") else list(updates)
            updates += ctx.updates
        report = next(iter(local.monitors.values()), local.cost)
        fn = self.full._compile([index], report, updates=updates)
        known = {id(p.variable) for p in self.network.params}
        self.state_variables = [v for v, _ in updates if id(v) not in known]
        return fn

    def train_steps(self, first, count, batch_size):
        """``count`` steps from minibatch ``first`` in one call; their reported values."""
        key = ("steps", int(batch_size))
        if key not in self._functions:
            self._functions[key] = compile_steps(self.train_function(batch_size))
        with one_pool:
            return self._functions[key](int(first), int(count))

    def monitors(self):
        """Each monitor averaged over the full minibatches of the training set.

        Runs the local objective without its updates: the random streams, chains and
        weights are left as they are.
        """
        b = self.phase.batch_size
        key = ("monitors", b)
        if key not in self._functions:
            index = pt.iscalar("batch_index")
            with pytensor.config.change_flags(floatX=self.dtype):
                local, _ = self._objective(index, b)
            names = list(local.monitors) or ["cost"]
            values = list(local.monitors.values()) or [local.cost]
            self._functions[key] = (names, self.full._compile([index], values))
        names, fn = self._functions[key]
        n = len(self._data.get_value(borrow=True)) // b
        with one_pool:
            sums = np.sum([[float(v) for v in fn(i)] for i in range(n)], axis=0)
        return {name: float(total / n) for name, total in zip(names, sums)}

    def evaluate(self, x, y, batch_size=1000):
        raise NotImplementedError("a pretraining phase has no validation; its monitors are "
                                  "reported by LayerModel.monitors()")

    # -- training state ---------------------------------------------------------------------------

    def _generators(self):
        return {v.name: v for v in self.random.generators.values()}

    def get_state(self):
        """Optimizer state, local state (chains), random streams and learning rate."""
        from tgraph.optim.base import learning_rate_of

        arrays = {v.name: _copy(v) for v in self.state_variables if hasattr(v.type, "dtype")}
        rng = {name: generator_state(v) for name, v in self._generators().items()}
        return {"arrays": arrays, "rng": rng, "lr": learning_rate_of(self.optimizer)}

    def set_state(self, state):
        """Restore a :meth:`get_state` result (after :meth:`train_function`)."""
        from tgraph.optim.base import set_learning_rate

        arrays = {v.name: v for v in self.state_variables if hasattr(v.type, "dtype")}
        if set(arrays) != set(state["arrays"]):
            raise ModelFileError(f"the checkpoint's state of phase {self.phase.name} has "
                                 f"{sorted(state['arrays'])}, this phase {sorted(arrays)}; "
                                 "was it saved from another spec?")
        for name, variable in arrays.items():
            value = np.asarray(state["arrays"][name], dtype=variable.type.dtype)
            variable.set_value(value.copy(), borrow=True)
        generators = self._generators()
        for name, value in state["rng"].items():
            set_generator_state(generators[name], value)
        if state.get("lr") is not None:
            set_learning_rate(self.optimizer, state["lr"])


def _callbacks(out_dir, meta, append, verbose, checkpoint_seconds):
    files = RunFiles(out_dir)
    logs = [CSVLogger(files.csv_log, append=append),
            JSONLinesLogger(files.json_log, append=append)]
    progress = [ProgressLogger()] if verbose else []
    checkpoints = ModelCheckpoint(out_dir, meta=meta, every_seconds=checkpoint_seconds)
    return [*logs, *progress, checkpoints]


def _describe(phase, layer, verbose):
    if verbose:
        lr = getattr(phase.optimizer, "learning_rate", None)
        print(f"{phase.name}: layer {phase.layer} {type(layer).__name__} "
              f"({objective_label(layer)}), {phase.epochs} epochs, batch {phase.batch_size}, "
              f"{type(phase.optimizer).__name__}" + (f" lr {lr:g}" if lr is not None else ""),
              flush=True)


def _run_phase(model, phase, data, *, out_dir, meta, append, resume, seed, verbose,
               checkpoint_seconds):
    layer_model = LayerModel(model, phase)
    _describe(phase, layer_model.layer, verbose)
    trainer = Trainer(layer_model, batch_size=phase.batch_size, max_epochs=phase.epochs,
                      callbacks=_callbacks(out_dir, meta, append, verbose, checkpoint_seconds),
                      shuffle=phase.shuffle, seed=seed)
    trainer.log_tags = {PHASE_KEY: phase.name}
    trainer.fit({"train": (data.train.x, None)}, resume=resume)
    result = {PHASE_KEY: phase.name, "layer": phase.layer, "type": type(layer_model.layer).__name__,
              "epochs": trainer.epoch, "iterations": trainer.iteration,
              "batch_size": phase.batch_size, "train_time_s": trainer.elapsed,
              "loss": trainer.history.epochs[-1]["loss"] if trainer.history.epochs else None,
              "monitors": layer_model.monitors()}
    result["images"] = write_images(layer_model, data, out_dir, seed)
    return result


def pretrain(experiment, model, dataset, *, out_dir, meta, checkpoint=None, verbose=True):
    """Run the experiment's pretraining phases that are not done yet.

    Args:
        experiment: the :class:`tgraph.experiment.Experiment`.
        model: its :class:`tgraph.Model` (weights restored when resuming).
        dataset: the :class:`tgraph.data.Dataset`; phases train on ``dataset.train``.
        out_dir: the run directory.
        meta: metadata stored in every checkpoint.
        checkpoint: the ``last.tgraph`` content to resume from, or None.
        verbose: print a header per phase and a line per epoch.

    Returns:
        ``(results, checkpoint)``: one dict per phase (time, monitors, images), and the
        checkpoint left for supervised fine-tuning (None unless it was written there).
    """
    phases = phases_of(experiment)
    if not phases:
        return [], checkpoint
    where = checkpoint.meta.get(PHASE_KEY) if checkpoint is not None else None
    results = list(checkpoint.meta.get(_PHASES_KEY, [])) if checkpoint is not None else []
    if checkpoint is not None and where not in [p.name for p in phases]:
        return results, checkpoint  # supervised fine-tuning had started
    for phase in phases[len(results):]:
        resume = checkpoint.training if checkpoint is not None and where == phase.name else None
        phase_meta = {**meta, PHASE_KEY: phase.name, _PHASES_KEY: list(results)}
        append = bool(results) or checkpoint is not None
        results.append(_run_phase(model, phase, dataset, out_dir=out_dir, meta=phase_meta,
                                  append=append, resume=resume, seed=experiment.seed,
                                  verbose=verbose,
                                  checkpoint_seconds=experiment.checkpoint_seconds))
        checkpoint = None
    return results, None


def finetune_meta(meta, results):
    """Checkpoint metadata of supervised fine-tuning after pretraining phases ``results``."""
    return {**meta, PHASE_KEY: FINETUNE, _PHASES_KEY: list(results)} if results else meta


# -- images ------------------------------------------------------------------------------


def write_images(layer_model, data, out_dir, seed):
    """Filters and RBM samples of a finished phase, as the phase asks; returns the file names."""
    phase, written = layer_model.phase, []
    W = layer_model.network.layer_params(phase.layer)["W"].get_value()
    on_images = square_side(W.shape[0]) and W.shape[0] == math.prod(
        layer_model.network.input_shape[1:])  # the layer sees the pixels
    if phase.filters and on_images:
        path = RunFiles(out_dir).filters(phase.layer)
        save_png(filter_image(W), path)
        written.append(os.path.basename(path))
    if phase.samples is not None and hasattr(layer_model.layer, "visible_pre") and on_images:
        images = data.test.x if data.test is not None else data.train.x
        start = layer_model.features(images)
        path = RunFiles(out_dir).samples
        save_png(rbm_samples(layer_model, start, phase.samples, seed), path)
        written.append(os.path.basename(path))
    return written


def rbm_samples(layer_model, images, samples, seed):
    """Gibbs chains of an RBM from ``samples.chains`` consecutive images (the rbm tutorial).

    Returns:
        The uint8 picture: one row per sample, one column per chain, each tile the
        visible means after another ``samples.steps`` steps ``v -> h -> v``.
    """
    layer, params = layer_model.layer, layer_model.network.layer_params(layer_model.index)
    rng = np.random.default_rng(seed)
    first = int(rng.integers(0, len(images) - samples.chains + 1))
    chain = pytensor.shared(np.ascontiguousarray(images[first:first + samples.chains]))
    draws = RandomDraws(RandomSource(seed + 1))
    with pytensor.config.change_flags(floatX=layer_model.dtype):
        u_h = draws.uniform(0, (samples.chains, layer.units), chain.dtype)
        u_v = draws.uniform(0, chain.shape, chain.dtype)
        h = bernoulli(layer.apply(chain, params, None), u_h)
        v_mean = pt.sigmoid(layer.visible_pre(h, params))
        updates = [*draws.updates, (chain, bernoulli(v_mean, u_v))]
        step = layer_model.full._compile([], v_mean, updates=updates)
    side = square_side(images.shape[1])
    rows = []
    with one_pool:
        for _ in range(samples.rows):
            for _ in range(samples.steps):
                mean = step()
            rows.append(tile_images(mean, (side, side), (1, samples.chains), scale=False))
    spacer = np.zeros((1, rows[0].shape[1]), np.uint8)
    return np.concatenate([r for row in rows for r in (row, spacer)][:-1])


def previous_seconds(checkpoint):
    """Training seconds of the runs before a resume: finished phases plus the current one."""
    done = sum(p.get("train_time_s", 0.0) for p in checkpoint.meta.get(_PHASES_KEY, []))
    return done + checkpoint.training["elapsed_s"]
