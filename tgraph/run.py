"""One training run: spec -> data -> model -> trainer -> files in an output directory.

``train(experiment, out_dir=...)`` is what ``tgraph train`` runs. The output directory
holds ``model.tgraph`` (the best-validation model), ``best.tgraph``, ``last.tgraph``
(the checkpoint ``--resume`` continues from), ``log.csv``, ``log.jsonl``,
``spec.json``, a copy of the spec file, and ``metrics.json``.
"""

import os
import shutil
import time

import attrs

from tgraph.callbacks import CSVLogger, JSONLinesLogger, ModelCheckpoint, ProgressLogger
from tgraph.errors import ConfigError, ModelFileError, TGraphError
from tgraph.fileio import write_json
from tgraph.layerwise import FINETUNE, PHASE_KEY, finetune_meta, pretrain, previous_seconds
from tgraph.modelfile import read_model_file, save_model
from tgraph.optim.base import get_optimizer
from tgraph.serialize import to_json
from tgraph.specfile import apply_overrides, load_spec

__all__ = ["train", "train_from_args", "default_out_dir", "MODEL_FILE"]

MODEL_FILE = "model.tgraph"


def default_out_dir(spec_path, root="runs"):
    """``runs/<spec name>``, or ``runs/<spec name>-2``, ``-3``, ... if taken."""
    stem = os.path.splitext(os.path.basename(spec_path))[0]
    candidate, n = os.path.join(root, stem), 2
    while os.path.exists(candidate) and os.listdir(candidate):
        candidate, n = os.path.join(root, f"{stem}-{n}"), n + 1
    return candidate


def _check_fresh(out_dir):
    taken = [n for n in (MODEL_FILE, ModelCheckpoint.LAST) if os.path.exists(os.path.join(out_dir, n))]
    if taken:
        raise ConfigError(
            f"--out {out_dir} already holds a run ({', '.join(taken)}); continue it with "
            f"--resume {out_dir}, or choose another --out"
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


def train_from_args(args):
    """Run ``tgraph train`` with parsed arguments; returns the metrics dict."""
    experiment = _with_cli_options(load_spec(args.spec), args)
    if args.resume:
        out_dir = args.out or args.resume
    else:
        out_dir = args.out or default_out_dir(args.spec)
        _check_fresh(out_dir)
    args.out_dir = out_dir
    return train(experiment, out_dir=out_dir, data=args.data, resume=args.resume,
                 valid_fraction=args.valid_fraction, download=args.download, mode=args.mode,
                 verbose=not args.quiet)


def _load_checkpoint(resume_dir, experiment):
    path = os.path.join(resume_dir, ModelCheckpoint.LAST)
    if not os.path.exists(path):
        raise ModelFileError(f"--resume {resume_dir}: no checkpoint {ModelCheckpoint.LAST} there; "
                             "give the --out directory of an earlier `tgraph train`")
    content = read_model_file(path)
    if content.training is None:
        raise ModelFileError(f"{path}: holds no training state; it is not a checkpoint")
    if content.spec["layers"] != to_json(list(experiment.model)):
        raise ModelFileError(f"{path}: the checkpoint was trained with other layers than "
                             f"{experiment.source}; resume with the same spec and --set options")
    return content


def _build_model(experiment, mode):
    """The experiment's model; a spec that does not build names the spec file."""
    try:
        return experiment.build_model(mode=mode)
    except TGraphError as err:
        raise type(err)(f"{experiment.source}: {err}") from None


def _record(out_dir, experiment):
    write_json(os.path.join(out_dir, "spec.json"), to_json(attrs.evolve(experiment, source="")))
    if os.path.isfile(experiment.source):
        target = os.path.join(out_dir, "spec_" + os.path.basename(experiment.source))
        if os.path.abspath(target) != os.path.abspath(experiment.source):
            shutil.copyfile(experiment.source, target)


def train(experiment, *, out_dir, data=None, resume=None, valid_fraction=None, download=False,
          mode=None, verbose=True):
    """Train ``experiment`` and write the run's files to ``out_dir``.

    Args:
        experiment: an :class:`tgraph.experiment.Experiment` (or a spec file path).
        out_dir: output directory (created).
        data: dataset path (default: the experiment's, else the embedded MNIST subset).
        resume: a run directory whose ``last.tgraph`` to continue from.
        valid_fraction: overrides the experiment's validation share.
        download: download the full MNIST first.
        mode: PyTensor mode name.
        verbose: print one line per epoch.

    Returns:
        The metrics dict also written to ``metrics.json``.
    """
    from tgraph.data import load_dataset

    start = time.perf_counter()
    if isinstance(experiment, (str, os.PathLike)):
        experiment = load_spec(experiment)
    checkpoint = _load_checkpoint(resume, experiment) if resume else None
    model = _build_model(experiment, mode)
    dataset = load_dataset(data or experiment.data,
                           valid_fraction=valid_fraction or experiment.valid_fraction,
                           download=download)
    os.makedirs(out_dir, exist_ok=True)
    _record(out_dir, experiment)
    meta = {"spec": os.path.basename(experiment.source), "data": dataset.source}
    previous_wall = 0.0
    if checkpoint is not None:
        model.set_weights(checkpoint.weights)
        previous_wall = previous_seconds(checkpoint)  # epochs of the earlier runs
    phases, checkpoint = pretrain(experiment, model, dataset, out_dir=out_dir, meta=meta,
                                  checkpoint=checkpoint, verbose=verbose)
    if experiment.training is None:
        return _finish_pretraining(model, out_dir, meta, phases,
                                   previous_wall + time.perf_counter() - start)
    checkpointer = ModelCheckpoint(out_dir, meta=finetune_meta(meta, phases))
    logs = [CSVLogger(os.path.join(out_dir, "log.csv"), append=bool(phases)),
            JSONLinesLogger(os.path.join(out_dir, "log.jsonl"), append=bool(phases))]
    progress = [ProgressLogger()] if verbose else []
    trainer = experiment.trainer(model, [*logs, *progress, checkpointer])
    if phases:
        trainer.log_tags = {PHASE_KEY: FINETUNE}
    trainer.fit(dataset, resume=checkpoint.training if checkpoint else None)
    return _finish(model, trainer, dataset, checkpointer, out_dir,
                   {**meta, **({"phases": phases} if phases else {})},
                   previous_wall + time.perf_counter() - start)


def _finish_pretraining(model, out_dir, meta, phases, wall):
    """Files of a run that only pretrains: the model and its phases' metrics."""
    metrics = {**meta, "phases": phases, "wall_time_s": wall,
               "train_time_s": sum(p["train_time_s"] for p in phases)}
    save_model(model, os.path.join(out_dir, MODEL_FILE), meta=metrics)
    write_json(os.path.join(out_dir, "metrics.json"), metrics)
    return metrics


def _finish(model, trainer, dataset, checkpointer, out_dir, meta, wall):
    if os.path.exists(checkpointer.best_path):
        model.set_weights(read_model_file(checkpointer.best_path).weights)
    metrics = dict(meta)
    if dataset.test is not None:
        metrics["test_error"] = model.evaluate(dataset.test.x, dataset.test.y).get("error")
    if dataset.valid is not None:
        metrics["best_valid_error"] = model.evaluate(dataset.valid.x, dataset.valid.y).get("error")
    samples = trainer.iteration * trainer.batch_size
    metrics.update({
        "best_epoch": checkpointer.best_epoch, "best_iteration": checkpointer.best_iteration,
        "epochs_run": trainer.epoch, "iterations": trainer.iteration,
        "batch_size": trainer.batch_size, "wall_time_s": wall,
        "train_time_s": trainer.elapsed, "step_time_s": trainer.step_time,
        "samples_per_s": samples / trainer.step_time if trainer.step_time else None,
        "stop_reason": trainer.stop_reason or "max_epochs reached",
    })
    save_model(model, os.path.join(out_dir, MODEL_FILE), meta=metrics)
    write_json(os.path.join(out_dir, "metrics.json"), metrics)
    return metrics
