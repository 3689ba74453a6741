"""``tgraph sweep SPEC --param KEY=DIST ... --trials N``: the command line."""

import os

__all__ = ["add_sweep_parser", "run_sweep_command", "SHARED_TRAIN_OPTIONS"]

from tgraph.experiment import DATA_OPTIONS

# Options of `tgraph train` that a sweep takes too, fixed for every trial.
SHARED_TRAIN_OPTIONS = ("data", "download", "epochs", "batch_size", "optimizer", "lr", "set",
                        "seed", "mode", *DATA_OPTIONS)
# the data options (--target, --valid-split, ...) but valid_fraction, a SweepConfig field
_DATA_OPTIONS = tuple(name for name in DATA_OPTIONS if name != "valid_fraction")
TRAIN_OPTIONS = ("set", "epochs", "batch_size", "optimizer", "lr", "seed", *_DATA_OPTIONS)


def add_sweep_parser(sub, epilog=None):
    """Register ``sweep`` on the ``tgraph`` subparsers ``sub`` (after ``train``, whose
    data and training options it shares: one definition of each)."""
    from tgraph.cli import _positive_int  # the train command's argument types
    from tgraph.sweep.study import PRUNERS, SAMPLERS

    p = sub.add_parser(
        "sweep", help="tune hyperparameters of a spec with Optuna", epilog=epilog,
        description="Run trials of a spec file with values drawn for --param keys (the --set "
                    "keys) until the study has --trials finished trials; each trial is a "
                    "training run in OUT/trial-NNNN. Run the same command again to resume, "
                    "or on other machines with a shared --storage to add workers. Needs "
                    "optuna (pip install -e '.[sweep]').")
    p.add_argument("spec", help="spec file, e.g. specs/mlp.py")
    p.add_argument("--param", action="append", default=[], required=True, metavar="KEY=DIST",
                   help="a tuned value: KEY is a --set key, DIST one of int(lo,hi), "
                        "float(lo,hi), loguniform(lo,hi), choice(a,b,...), e.g. "
                        "model.1.units=int(10,500) (repeatable)")
    p.add_argument("--trials", type=_positive_int, required=True, metavar="N",
                   help="finished trials the study needs in all (over every worker)")
    p.add_argument("--study", metavar="NAME", help="study name (default: the spec's name)")
    p.add_argument("--storage", metavar="URL", help="Optuna storage: default a SQLite file "
                   "in --out; postgresql://USER@HOST/DB for workers on many machines")
    p.add_argument("--out", metavar="DIR", help="study directory (default sweeps/STUDY)")
    p.add_argument("--jobs", type=_positive_int, default=1, metavar="K",
                   help="worker processes on this machine (default 1)")
    p.add_argument("--pruner", choices=PRUNERS, default="median",
                   help="stops hopeless trials early (default median)")
    p.add_argument("--sampler", choices=SAMPLERS, default="tpe", help="default tpe")
    p.add_argument("--heartbeat", type=_positive_int, default=60, metavar="S",
                   help="seconds between heartbeats of a running trial; a trial silent for "
                        "2*S is taken as dead and run again (default 60)")
    p.add_argument("--top", type=_positive_int, default=10, metavar="N",
                   help="rows of the final table (default 10)")
    p.add_argument("--verbose", action="store_true", help="print every trial's epochs")
    train = sub.choices["train"]
    for action in train._actions:  # the train command's own definitions (argparse parents)
        if action.dest in SHARED_TRAIN_OPTIONS:
            p._add_action(action)
    p.set_defaults(run=run_sweep_command)
    return p


def config_from_args(args):
    """A :class:`tgraph.sweep.SweepConfig` from parsed ``tgraph sweep`` arguments."""
    from tgraph.sweep.params import parse_param
    from tgraph.sweep.study import SweepConfig

    study = args.study or os.path.splitext(os.path.basename(args.spec))[0]
    return SweepConfig(
        spec=args.spec, params=[parse_param(t) for t in args.param], trials=args.trials,
        study=study, out=args.out or os.path.join("sweeps", study), storage=args.storage,
        jobs=args.jobs, pruner=args.pruner, sampler=args.sampler, heartbeat=args.heartbeat,
        train_options={k: getattr(args, k, None) for k in TRAIN_OPTIONS},
        data=getattr(args, "data", None), valid_fraction=getattr(args, "valid_fraction", None),
        download=bool(getattr(args, "download", False)), mode=getattr(args, "mode", None),
        verbose=args.verbose)


def run_sweep_command(args):
    from tgraph.sweep.storage import require_optuna
    from tgraph.sweep.study import run_sweep

    config = config_from_args(args)
    require_optuna()
    args.out_dir = config.out
    run_sweep(config, top=args.top)
