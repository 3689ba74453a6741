"""Running a sweep: workers that take trials from one Optuna study until it has enough.

Every trial is a normal training run (:func:`tgraph.run.train`) with its own run
directory ``OUT/trial-NNNN``; its validation error is reported to Optuna per epoch
(:class:`tgraph.sweep.pruning.OptunaPruning`) and its objective is the run's best
validation error, never the test error. ``--trials N`` is the study's total: a worker
checks the number of finished (complete or pruned) trials before it starts one, so K
workers finish at most N + K - 1 trials, and a rerun of the same command continues the
study where it stopped.
"""

import argparse
import json
import multiprocessing
import os
import socket
import sys
import time

import attrs

from tgraph.errors import ConfigError, TGraphError, TrainingError
from tgraph.fileio import write_json
from tgraph.specfile import apply_overrides
from tgraph.sweep.params import check_params
from tgraph.sweep.pruning import OptunaPruning
from tgraph.sweep.storage import default_storage, open_storage, redact, require_optuna

__all__ = ["SweepConfig", "run_sweep", "run_worker", "open_study", "finished_trials",
           "fixed_experiment", "PRUNERS", "SAMPLERS", "TRIAL_DIR", "MARKER"]

PRUNERS = ("median", "percentile", "hyperband", "successive_halving", "none")
SAMPLERS = ("tpe", "random")
TRIAL_DIR = "trial-{number:04d}"
MARKER = "sweep.json"  # in the study directory: which study its trial directories belong to
MAX_FAILURES = 3  # trials in a row a worker lets fail (errors in training) before it stops


@attrs.frozen
class SweepConfig:
    """Everything a sweep worker needs (picklable: extra workers are new processes).

    Attributes:
        spec: the spec file.
        params: the :class:`tgraph.sweep.params.SweepParam` tuple.
        trials: the study's total of finished trials.
        study: the study name.
        out: the study directory (trial run directories, study.db, sweep.csv, plots).
        storage: the storage URL (None: SQLite in ``out``).
        jobs: worker processes on this machine.
        pruner: one of :data:`PRUNERS`.
        sampler: one of :data:`SAMPLERS`.
        heartbeat: seconds between heartbeats of a running trial.
        train_options: ``tgraph train`` options fixed for every trial (``set``,
            ``epochs``, ``batch_size``, ``optimizer``, ``lr``, ``seed``).
        data: dataset path (None: the spec's, else the embedded subset).
        valid_fraction: validation share of a training set without its own.
        download: download the full MNIST first.
        mode: PyTensor mode.
        verbose: print every trial's epochs.
    """

    spec: str
    params: tuple = attrs.field(converter=tuple)
    trials: int
    study: str
    out: str
    storage: str | None = None
    jobs: int = 1
    pruner: str = "median"
    sampler: str = "tpe"
    heartbeat: int = 60
    train_options: dict = attrs.field(factory=dict)
    data: str | None = None
    valid_fraction: float | None = None
    download: bool = False
    mode: str | None = None
    verbose: bool = False

    @property
    def storage_url(self):
        return self.storage or default_storage(self.out)

    def fingerprint(self):
        """What must be equal for two commands to share a study (not trials, jobs, out)."""
        return {"spec": os.path.basename(self.spec),
                "params": {p.key: p.describe() for p in self.params},
                "options": {k: v for k, v in sorted(self.train_options.items()) if v not in
                            (None, [], ())},
                "data": os.path.basename(self.data) if self.data else None,
                "valid_fraction": self.valid_fraction}


def fixed_experiment(config):
    """The experiment every trial starts from: the spec with the fixed train options.

    Uses the ``tgraph train`` option handling (``--optimizer``, ``--set``, ``--epochs``,
    ``--batch-size``, ``--seed``, ``--lr``, and the data options ``--target``,
    ``--valid-split``, ...) so that both commands read them alike; the sizes that follow
    the data (``Input()``, ``Dense("classes")``) are set from the sweep's data.
    """
    from tgraph.run import experiment_from_args

    options = {"optimizer": None, "set": [], "epochs": None, "batch_size": None, "seed": None,
               "lr": None, **config.train_options}
    args = argparse.Namespace(**options)
    experiment = experiment_from_args(config.spec, args)
    if config.data:
        experiment = attrs.evolve(experiment, data=config.data)
    # Input() and Dense("classes") sized from the data once, for the checks of the --param
    # values and for every trial
    return experiment.for_data(download=config.download)[0]


def _pruner(optuna, name, max_epochs):
    """The pruner named ``name``; median and percentile prune from the second epoch on,
    once five trials have finished."""
    pruners = optuna.pruners
    if name == "median":
        return pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2)
    if name == "percentile":
        return pruners.PercentilePruner(25.0, n_startup_trials=5, n_warmup_steps=2)
    if name == "hyperband":
        return pruners.HyperbandPruner(min_resource=1, max_resource=max_epochs)
    if name == "successive_halving":
        return pruners.SuccessiveHalvingPruner()
    return pruners.NopPruner()


def _sampler(optuna, name):
    if name == "random":
        return optuna.samplers.RandomSampler()
    return optuna.samplers.TPESampler()


def _check_same_sweep(study, config):
    key = "tgraph_sweep"
    mine = json.loads(json.dumps(config.fingerprint()))
    theirs = study.user_attrs.get(key)
    if theirs is None:
        study.set_user_attr(key, mine)
    elif theirs != mine:
        raise ConfigError(
            f"study {config.study!r} in {redact(config.storage_url)} was started with other "
            f"settings ({json.dumps(theirs)}), not {json.dumps(mine)}; rerun it with the same "
            "spec, --param and training options, or name a new study with --study"
        )


def open_study(config, base=None):
    """Create or load the study of ``config`` (the same settings, or a ConfigError)."""
    optuna = require_optuna()
    base = base or fixed_experiment(config)
    storage = open_storage(config.storage_url, config.heartbeat)
    study = optuna.create_study(
        study_name=config.study, storage=storage, direction="minimize", load_if_exists=True,
        sampler=_sampler(optuna, config.sampler),
        pruner=_pruner(optuna, config.pruner, base.training.max_epochs))
    _check_same_sweep(study, config)
    return study


def finished_trials(study):
    """The study's complete and pruned trials (the ones ``--trials`` counts)."""
    from optuna.trial import TrialState

    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))


def _worker_name():
    return f"{socket.gethostname()}:{os.getpid()}"


class Objective:
    """One trial: draw the parameters, train a run, return its best validation error.

    Attributes:
        last_error: the error of the last failed trial, or None.
        failures: failed trials in a row.
    """

    RESULT_KEYS = ("best_valid_error", "test_error", "best_epoch", "epochs_run", "wall_time_s",
                   "stop_reason")

    def __init__(self, config, base):
        self.config, self.base = config, base
        self.last_error, self.failures, self.last_trial = None, 0, None

    def _experiment(self, trial, pruning):
        values = {p.key: p.suggest(trial) for p in self.config.params}
        overrides = [p.override(values[p.key]) for p in self.config.params]
        experiment = apply_overrides(self.base, overrides)
        return attrs.evolve(experiment, callbacks=(*experiment.callbacks, pruning))

    def _train(self, experiment, run_dir):
        from tgraph.run import train

        c = self.config
        return train(experiment, out_dir=run_dir, data=c.data, valid_fraction=c.valid_fraction,
                     download=c.download, mode=c.mode, verbose=c.verbose)

    def __call__(self, trial):
        import optuna

        self.last_trial = trial.number
        name = TRIAL_DIR.format(number=trial.number)
        run_dir = os.path.abspath(os.path.join(self.config.out, name))
        trial.set_user_attr("run_dir", run_dir)
        trial.set_user_attr("worker", _worker_name())
        pruning = OptunaPruning(trial)
        try:
            metrics = self._train(self._experiment(trial, pruning), run_dir)
        except TGraphError as err:
            self.failures, self.last_error = self.failures + 1, err
            trial.set_user_attr("error", str(err))
            raise
        self.failures = 0
        for key in self.RESULT_KEYS:
            trial.set_user_attr(key, metrics.get(key))
        if pruning.pruned_at is not None:
            raise optuna.TrialPruned(metrics.get("stop_reason"))
        return metrics["best_valid_error"]


def _fail_stale(study):
    import optuna

    optuna.storages.fail_stale_trials(study)


class _Progress:
    """A tqdm bar over the study's finished trials (on a terminal), else lines."""

    def __init__(self, total, done, show):
        self.bar = None
        if show and getattr(sys.stderr, "isatty", lambda: False)():
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=done, desc="trials", unit="trial")
        self.total, self.show = total, show

    def trial_done(self, trial, done):
        if not self.show:
            return
        line = _trial_line(trial, done, self.total)
        if self.bar is not None:
            self.bar.n = min(done, self.total)
            self.bar.write(line)
            self.bar.refresh()
        else:
            print(line, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _percent(value):
    return "-" if value is None else f"{value * 100:.2f}%"


def _trial_line(trial, done, total):
    attrs_ = trial.user_attrs
    params = " ".join(f"{k}={v}" for k, v in trial.params.items())
    state = trial.state.name.lower()
    if state == "fail":
        return f"trial {trial.number} failed ({params}): {attrs_.get('error', '')}"
    return (f"trial {trial.number} {state}: {params} -> best valid "
            f"{_percent(attrs_.get('best_valid_error'))} (epoch {attrs_.get('best_epoch')} of "
            f"{attrs_.get('epochs_run')}), test {_percent(attrs_.get('test_error'))}, "
            f"{attrs_.get('wall_time_s') or 0:.0f} s  [{done}/{total} finished]")


def run_worker(config, show=True):
    """Take trials from the study until it has ``config.trials`` finished ones.

    Returns:
        The study.

    Raises:
        TrainingError: :data:`MAX_FAILURES` trials in a row failed.
    """
    base = fixed_experiment(config)
    study = open_study(config, base)
    objective = Objective(config, base)
    _fail_stale(study)
    progress = _Progress(config.trials, len(finished_trials(study)), show)
    try:
        while len(finished_trials(study)) < config.trials:
            try:
                study.optimize(objective, n_trials=1, catch=(TGraphError,),
                               gc_after_trial=False)
            except KeyboardInterrupt:
                _requeue(study, objective.last_trial)
                raise
            progress.trial_done(_trial(study, objective.last_trial), len(finished_trials(study)))
            if objective.failures >= MAX_FAILURES:
                raise TrainingError(f"{MAX_FAILURES} trials in a row failed; the last one: "
                                    f"{objective.last_error}")
    finally:
        progress.close()
    _fail_stale(study)
    return study


def _requeue(study, number):
    """Queue again the parameters of trial ``number`` if it failed by an interrupt (Ctrl-C),
    as the heartbeat does for a worker that died, so that a rerun runs them first."""
    if number is None:
        return
    trial = _trial(study, number)
    if trial.state.name == "FAIL" and "error" not in trial.user_attrs:
        study.enqueue_trial(trial.params, user_attrs={"retry_of": number})


def _trial(study, number):
    """The study's trial ``number`` (a FrozenTrial)."""
    return next(t for t in study.get_trials(deepcopy=False) if t.number == number)


def _child(config):
    """Entry point of an extra worker process (``--jobs``)."""
    try:
        run_worker(config, show=False)
    except TGraphError as err:
        print(f"tgraph sweep: worker {_worker_name()}: error: {err}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)


def _write_marker(config):
    path = os.path.join(config.out, MARKER)
    mine = {"study": config.study, "storage": redact(config.storage_url)}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            theirs = json.load(f)
        if theirs.get("study") != config.study:
            raise ConfigError(f"--out {config.out} holds the trials of study "
                              f"{theirs.get('study')!r}, not {config.study!r}; choose another "
                              "--out, or --study " + repr(theirs.get("study")))
    write_json(path, mine)


def run_sweep(config, top=10):
    """Run ``tgraph sweep``: ``config.jobs`` workers here until the study has
    ``config.trials`` finished trials, then the report.

    Returns:
        A :class:`tgraph.sweep.report.SweepReport`.
    """
    from tgraph.sweep.report import write_report

    params = check_params(config.params, fixed_experiment(config), config.spec)
    config = attrs.evolve(config, params=params)
    os.makedirs(config.out, exist_ok=True)
    _write_marker(config)
    open_study(config)  # create the study (and its tables) once, before the workers
    context = multiprocessing.get_context("spawn")
    children = [context.Process(target=_child, args=(config,), daemon=False)
                for _ in range(config.jobs - 1)]
    for child in children:
        child.start()
        time.sleep(0.5)
    try:
        study = run_worker(config)
    finally:
        for child in children:
            child.join()
    failed = [c.exitcode for c in children if c.exitcode]
    if failed:
        print(f"tgraph sweep: {len(failed)} of {len(children)} extra workers failed "
              f"(exit codes {failed})", file=sys.stderr)
    return write_report(study, config, count=top)
