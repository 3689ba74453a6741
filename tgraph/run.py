"""One training run: spec -> data -> model -> trainer -> files in an output directory.

``train(experiment, out_dir=...)`` is what ``tgraph train`` runs. The output directory
holds the files :mod:`tgraph.runfiles` names: ``model.tgraph`` (the best-validation
model), ``best.tgraph``, ``last.tgraph`` (the checkpoint ``--resume`` continues from),
``log.csv``, ``log.jsonl``, ``spec.json``, a copy of the spec file, ``metrics.json``,
and the lock file that keeps a second process out while one trains there.
"""

import os
import shutil
import sys
import time

import attrs

from tgraph.callbacks import (
    CSVLogger,
    JSONLinesLogger,
    ModelCheckpoint,
    ProgressLogger,
    TrainError,
)
from tgraph.errors import ConfigError, DataError, ModelFileError, TGraphError
from tgraph.experiment import DATA_OPTIONS
from tgraph.fileio import write_json
from tgraph.layerwise import FINETUNE, PHASE_KEY, finetune_meta, pretrain, previous_seconds
from tgraph.modelfile import read_model_file, save_model
from tgraph.optim.base import get_optimizer
from tgraph.runfiles import RunFiles, RunFinished, lock_run, make_run_directory
from tgraph.serialize import to_json
from tgraph.specfile import apply_overrides, load_spec

__all__ = ["train", "train_from_args", "default_out_dir", "data_options", "RunFinished"]


def default_out_dir(spec_path, root="runs"):
    """``runs/<spec name>``, or ``runs/<spec name>-2``, ``-3``, ... if taken."""
    stem = os.path.splitext(os.path.basename(spec_path))[0]
    candidate, n = os.path.join(root, stem), 2
    while os.path.exists(candidate) and os.listdir(candidate):
        candidate, n = os.path.join(root, f"{stem}-{n}"), n + 1
    return candidate


def _check_fresh(files):
    taken = [n for n in files.existing_models() if n != os.path.basename(files.best)]
    if taken:
        raise ConfigError(
            f"--out {files.directory} already holds a run ({', '.join(taken)}); continue it with "
            f"--resume {files.directory}, or choose another --out"
        )


def _with_cli_options(experiment, args):
    """Apply ``--optimizer``, then ``--set``, ``--epochs``, ``--batch-size``, ``--seed``, ``--lr``.

    ``--optimizer`` comes first so that ``--set optimizer.momentum=...`` tunes the new
    optimizer; ``--lr`` comes last and wins over ``--set optimizer.learning_rate``.
    """
    if args.optimizer:
        experiment = attrs.evolve(experiment, optimizer=get_optimizer(args.optimizer))
    _check_supervised_options(experiment, args)
    overrides = list(args.set)
    if args.epochs:
        overrides.append(f"training.max_epochs={args.epochs}")
    if args.batch_size:
        overrides.append(f"training.batch_size={args.batch_size}")
    if args.seed is not None:
        overrides.append(f"seed={args.seed}")
    if getattr(args, "checkpoint_every", None) is not None:
        overrides.append(f"checkpoint_seconds={args.checkpoint_every}")
    experiment = apply_overrides(experiment, overrides)
    if args.lr:
        optimizer = get_optimizer(experiment.optimizer)
        if not attrs.has(type(optimizer)):
            raise ConfigError(f"--lr: the optimizer {type(optimizer).__name__} has no "
                              "`learning_rate` field to set")
        experiment = attrs.evolve(experiment, optimizer=attrs.evolve(optimizer,
                                                                     learning_rate=args.lr))
    return experiment


def _check_supervised_options(experiment, args):
    """``--epochs`` / ``--batch-size`` set ``training``, which a pretraining-only spec lacks."""
    if experiment.training is None and (args.epochs or args.batch_size):
        raise ConfigError(
            f"{experiment.source}: --epochs and --batch-size set the supervised training, and "
            "this spec has training = None (pretraining only); set the pretraining's with "
            "--set pretraining.epochs=N (pretraining.0.epochs=N for a list of Pretrain)"
        )


def data_options(args):
    """The data options given on the command line (``--target``, ``--valid-split``, ...):
    ``{Experiment field: value}`` (see :data:`tgraph.experiment.DATA_OPTIONS`)."""
    return {name: getattr(args, name) for name in DATA_OPTIONS
            if getattr(args, name, None) is not None}


def _with_data_options(experiment, args):
    """The data options of the command line set in the experiment's fields of the same names."""
    try:
        return attrs.evolve(experiment, **data_options(args))
    except TGraphError as err:
        raise type(err)(f"{experiment.source}: {err}") from None


def experiment_from_args(spec_path, args):
    """The experiment of the spec file ``spec_path`` with the training and data options of
    the command line applied (``tgraph train`` and ``tgraph sweep`` read them alike).

    ``--train-error`` (and ``--plot``, whose learning curves show it) adds a
    :class:`tgraph.callbacks.TrainError` to the experiment's callbacks.
    """
    experiment = _with_data_options(_with_cli_options(load_spec(spec_path), args), args)
    if getattr(args, "train_error", False) or getattr(args, "plot", False):
        experiment = attrs.evolve(experiment, callbacks=(*experiment.callbacks, TrainError()))
    return experiment


def train_from_args(args):
    """Run ``tgraph train`` with parsed arguments; returns the metrics dict."""
    experiment = experiment_from_args(args.spec, args)
    out_dir = args.out or args.resume or default_out_dir(args.spec)
    args.out_dir = out_dir
    return train(experiment, out_dir=out_dir, data=args.data, resume=args.resume,
                 valid_fraction=args.valid_fraction, download=args.download, mode=args.mode,
                 verbose=not args.quiet, fresh=not args.resume)


def _require_checkpoint(resume_dir):
    path = RunFiles(resume_dir).last
    if not os.path.exists(path):
        raise ModelFileError(f"--resume {resume_dir}: no checkpoint {os.path.basename(path)} "
                             "there; give the --out directory of an earlier `tgraph train`")
    return path


def _load_checkpoint(resume_dir, experiment):
    content = read_model_file(_require_checkpoint(resume_dir))
    if content.training is None:
        raise ModelFileError(f"{content.path}: holds no training state; it is not a checkpoint")
    if content.spec["layers"] != to_json(list(experiment.model)):
        raise ModelFileError(f"{content.path}: the checkpoint was trained with other layers than "
                             f"{experiment.source}; resume with the same spec and --set options")
    return content


_SPLIT_OPTIONS = ("valid_fraction", "valid_size", "valid_split")  # load_dataset's, as --options


def _data_identity(record):
    """(source, split sizes) of a dataset's record, as a checkpoint keeps it."""
    return record.get("source"), (record.get("split") or {}).get("sizes")


def _check_same_data(resume_dir, checkpoint, dataset):
    """Refuse to resume on other data than the run trained on (e.g. ``--resume`` without
    the run's ``--data``: the embedded MNIST instead of the user's files)."""
    saved = checkpoint.meta.get("dataset") if checkpoint.meta else None
    if not saved:  # a checkpoint from before datasets were recorded
        return
    theirs, ours = _data_identity(saved), _data_identity(dataset.record())
    if theirs != ours:
        options = saved.get("load_options") or {}
        hint = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in options.items()
                        if k in _SPLIT_OPTIONS and v is not None)
        raise DataError(f"--resume {resume_dir}: the run trained on {theirs[0]} (splits "
                        f"{theirs[1]}), not on {ours[0]} (splits {ours[1]}); resume with the "
                        f"run's data options: --data {theirs[0]} {hint}".rstrip())


def _check_unfinished(resume_dir, checkpoint, experiment):
    """Raise :class:`RunFinished` if the checkpoint's run is over and its results are saved.

    A run killed after its last checkpoint but before ``metrics.json`` was written is
    not over: resuming it trains no epoch and writes the results. A checkpoint of a
    pretraining phase is over only for a spec that only pretrains.
    """
    if not os.path.exists(RunFiles(resume_dir).metrics):
        return
    if checkpoint.meta.get(PHASE_KEY, FINETUNE) != FINETUNE:
        if experiment.training is None:
            raise RunFinished(
                f"--resume {resume_dir}: the run already finished: its pretraining phases are "
                "done and the spec has no supervised training; nothing to train. To train "
                "more, start a new run with another --out (e.g. with more pretraining epochs)")
        return
    state = checkpoint.training
    epoch, max_epochs = state["epoch"], experiment.training.max_epochs
    if not (state["stop_training"] or epoch >= max_epochs):
        return
    if state["stop_training"]:
        raise RunFinished(
            f"--resume {resume_dir}: the run already finished: it stopped early at epoch {epoch} "
            f"({state['stop_reason']}); nothing to train. To train more, start a new run with "
            "another --out (e.g. with a larger patience)")
    raise RunFinished(
        f"--resume {resume_dir}: the run already finished: it reached max_epochs ({epoch} epochs); "
        f"nothing to train. To train further, resume with a larger --epochs, e.g. "
        f"--epochs {2 * epoch}")


def _build_model(experiment, mode):
    """The experiment's model; a spec that does not build names the spec file."""
    try:
        return experiment.build_model(mode=mode)
    except TGraphError as err:
        raise type(err)(f"{experiment.source}: {err}") from None


def _record(files, experiment):
    write_json(files.spec_json, to_json(attrs.evolve(experiment, source="")))
    if os.path.isfile(experiment.source):
        target = files.spec_copy(experiment.source)
        if os.path.abspath(target) != os.path.abspath(experiment.source):
            shutil.copyfile(experiment.source, target)


def _claim(out_dir, resume):
    """Create and lock the run directory; the lock lasts until released or the process ends."""
    same = resume and os.path.abspath(resume) == os.path.abspath(out_dir)
    make_run_directory(out_dir, "--resume" if same else "--out")
    return lock_run(out_dir)


def train(experiment, *, out_dir, data=None, resume=None, valid_fraction=None, download=False,
          mode=None, verbose=True, fresh=False):
    """Train ``experiment`` and write the run's files to ``out_dir``.

    The run directory is locked while training (:func:`tgraph.runfiles.lock_run`): a
    second process training in it fails at once, naming the first one.

    Args:
        experiment: an :class:`tgraph.experiment.Experiment` (or a spec file path).
        out_dir: output directory (created).
        data: dataset path (default: the experiment's, else the embedded MNIST subset),
            read with the experiment's data options (``valid_split``, ``target``, ...);
            ``Input()`` and ``Dense("classes")`` of the spec are set from it.
        resume: a run directory whose ``last.tgraph`` to continue from.
        valid_fraction: overrides the experiment's validation share.
        download: download the full MNIST first.
        mode: PyTensor mode name.
        verbose: print one line per epoch.
        fresh: refuse an ``out_dir`` that already holds a run.

    Returns:
        The metrics dict also written to ``metrics.json``.

    Raises:
        ConfigError: ``out_dir`` cannot be a directory, is in use, or (``fresh``) holds a run.
        RunFinished: ``resume`` names a run that already finished.
    """
    start = time.perf_counter()
    if isinstance(experiment, (str, os.PathLike)):
        experiment = load_spec(experiment)
    if resume:
        _require_checkpoint(resume)
    dataset = experiment.load_data(data, valid_fraction=valid_fraction, download=download)
    experiment, note = experiment.for_data(dataset)
    if verbose:
        for line in ([note] if note else []) + list(dataset.notes):
            print(f"note: {line}", file=sys.stderr)
    model = _build_model(experiment, mode)
    with _claim(out_dir, resume):
        files = RunFiles(out_dir)
        checkpoint = _load_checkpoint(resume, experiment) if resume else None
        if checkpoint is not None:
            _check_same_data(resume, checkpoint, dataset)
            _check_unfinished(resume, checkpoint, experiment)
        elif fresh:
            _check_fresh(files)
        return _train_in(files, experiment, model, dataset, checkpoint, verbose, start)


def _train_in(files, experiment, model, dataset, checkpoint, verbose, start):
    _record(files, experiment)
    meta = {"spec": os.path.basename(experiment.source), "data": dataset.source,
            "dataset": dataset.record()}
    previous_wall, state = 0.0, None
    if checkpoint is not None:
        model.set_weights(checkpoint.weights)
        previous_wall = previous_seconds(checkpoint)  # epochs of the earlier runs and phases
    phases, checkpoint = pretrain(experiment, model, dataset, out_dir=files.directory, meta=meta,
                                  checkpoint=checkpoint, verbose=verbose)
    if experiment.training is None:
        return _finish_pretraining(model, files, meta, phases,
                                   previous_wall + time.perf_counter() - start)
    logs = [CSVLogger(files.csv_log, append=bool(phases)),
            JSONLinesLogger(files.json_log, append=bool(phases))]
    progress = [ProgressLogger()] if verbose else []
    checkpointer = ModelCheckpoint(files.directory, meta=finetune_meta(meta, phases),
                                   every_seconds=experiment.checkpoint_seconds)
    trainer = experiment.trainer(model, [*logs, *progress, checkpointer])
    if phases:
        trainer.log_tags = {PHASE_KEY: FINETUNE}
    if checkpoint is not None:
        state = _with_best_model(checkpoint.training,
                                 RunFiles(os.path.dirname(checkpoint.path)))
    trainer.fit(dataset, resume=state)
    wall = previous_wall + time.perf_counter() - start
    return _finish(model, trainer, dataset, files,
                   {**meta, **({"phases": phases} if phases else {})}, wall)


def _finish_pretraining(model, files, meta, phases, wall):
    """Files of a run that only pretrains: the model and its phases' metrics."""
    metrics = {**meta, "phases": phases, "wall_time_s": wall,
               "train_time_s": sum(p["train_time_s"] for p in phases)}
    save_model(model, files.model, meta=metrics)
    write_json(files.metrics, metrics)
    return metrics


def _with_best_model(state, files):
    """The checkpoint's training state, with the best model of ``best.tgraph`` added if
    the checkpoint predates :class:`tgraph.callbacks.base.BestModel` (it then held the
    best ``valid_error`` model in that file only)."""
    if "best_model" in state or not os.path.exists(files.best):
        return state
    best = read_model_file(files.best)
    if "valid_error" not in best.meta:
        return state
    return {**state, "best_model": {
        "monitor": "valid_error", "mode": "min", "value": best.meta["valid_error"],
        "epoch": best.meta["best_epoch"], "iteration": best.meta["best_iteration"],
        "weights": best.weights}}


def _split_errors(model, split, name):
    """``{name_error: ..., name_top5_error: ...}`` of the model on a split (errors only)."""
    result = model.evaluate(split.x, split.y)
    errors = {f"{name}_{k}": v for k, v in result.items() if k.endswith("error")}
    if name == "test" and "test_error" not in errors:
        errors["test_error"] = None
    return errors


def _no_test_reason(dataset):
    notes = [n for n in dataset.notes if n.startswith("no test split")]
    return notes[0] if notes else f"{dataset.source} has no test split"


def _finish(model, trainer, dataset, files, meta, wall):
    best = trainer.best_model
    best.restore(model)  # the final weights if no validation ever ran
    metrics = dict(meta)
    if dataset.test is not None:
        metrics.update(_split_errors(model, dataset.test, "test"))
    else:
        metrics["test_error"] = None
        metrics["test_error_reason"] = _no_test_reason(dataset)
    if dataset.valid is not None:
        valid = _split_errors(model, dataset.valid, "valid")
        metrics["best_valid_error"] = valid.pop("valid_error", None)
        metrics.update({f"best_{k}": v for k, v in valid.items()})
    samples = trainer.iteration * trainer.batch_size
    metrics.update({
        "best_epoch": best.epoch, "best_iteration": best.iteration,
        "epochs_run": trainer.epoch, "iterations": trainer.iteration,
        "batch_size": trainer.batch_size, "wall_time_s": wall,
        "train_time_s": trainer.elapsed, "step_time_s": trainer.step_time,
        "samples_per_s": samples / trainer.step_time if trainer.step_time else None,
        "stop_reason": trainer.stop_reason or "max_epochs reached",
    })
    save_model(model, files.model, meta=metrics)
    write_json(files.metrics, metrics)
    return metrics
