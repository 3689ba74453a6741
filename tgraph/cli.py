"""The ``tgraph`` command: train, eval, predict, summary, plot, sweep.

Exit codes: 0 success (also ``train --resume`` of a run that already finished: it says
so on standard error, trains nothing and changes no file), 1 a tgraph error (bad spec,
data, model file, NaN loss, a run directory in use), 2 bad command-line usage,
130 interrupted.
"""

import argparse
import json
import os
import sys

from tgraph import runfiles
from tgraph.errors import TGraphError

__all__ = ["main", "build_parser"]

EPILOG = "Run `tgraph COMMAND --help` for the options of each command."


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def _fraction(text):
    value = _positive_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1), got {text!r}")
    return value


def _data_args(p):
    p.add_argument("--data", metavar="PATH",
                   help="dataset: .npz, the tutorials' mnist.pkl.gz, or a directory of IDX "
                        "files (default: the embedded MNIST subset)")
    p.add_argument("--valid-fraction", type=_fraction, metavar="F",
                   help="validation share of a training set without its own (default 0.2)")
    p.add_argument("--download", action="store_true",
                   help="download the full MNIST (sha256-checked) into the cache first")


def _import_args(p):
    p.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE",
                   help="import MODULE (a module name or a .py file) first, so that the model's "
                        "own layer classes are known (repeatable); a copy of the spec file "
                        f"beside the model ({runfiles.SPEC_COPY_PREFIX}*.py) is imported when "
                        "needed")


def _train_parser(sub):
    p = sub.add_parser("train", help="train a spec file", epilog=EPILOG,
                       description="Train the model of a spec file and save it with its logs "
                                   f"and {runfiles.METRICS} in --out.")
    p.add_argument("spec", help="spec file, e.g. specs/mlp.py")
    _data_args(p)
    p.add_argument("--epochs", type=_positive_int, metavar="N", help="maximum number of epochs")
    p.add_argument("--batch-size", type=_positive_int, metavar="N", help="minibatch size")
    p.add_argument("--optimizer", metavar="NAME", help="optimizer name (sgd, momentum, nesterov, "
                   "rmsprop, adagrad, adadelta, adam, adamax, or a registered one)")
    p.add_argument("--lr", type=_positive_float, metavar="X", help="learning rate")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a spec value, e.g. training.batch_size=50, model.1.units=300, "
                        "optimizer.momentum=0.95 (repeatable)")
    p.add_argument("--out", metavar="DIR", help="output directory (default runs/SPEC_NAME, "
                   "numbered if it exists)")
    p.add_argument("--resume", metavar="DIR", help="continue the run saved in DIR "
                   f"(its {runfiles.LAST} checkpoint); output goes to DIR unless --out is given")
    p.add_argument("--seed", type=int, metavar="N", help="seed of weights, dropout and shuffling")
    p.add_argument("--mode", metavar="MODE", help="PyTensor mode: NUMBA (default), FAST_RUN, JAX")
    p.add_argument("--quiet", action="store_true", help="print only the final result")
    p.add_argument("--plot", action="store_true", help="write the run's figures to OUT/plots "
                   "at the end (tgraph plot; needs matplotlib)")
    p.set_defaults(run=_run_train)


def _eval_parser(sub):
    p = sub.add_parser("eval", help="evaluate a saved model", epilog=EPILOG,
                       description="Print the loss and error rate of a model file on the "
                                   "validation and test splits.")
    p.add_argument("model", help=f"model file, or a run directory holding {runfiles.MODEL}")
    _data_args(p)
    _import_args(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=_run_eval)


def _predict_parser(sub):
    p = sub.add_parser("predict", help="predict classes of new inputs", epilog=EPILOG,
                       description="Predict classes and class probabilities of the images in "
                                   "INPUT (an .npz/.npy array, a PNG, or a directory of PNGs).")
    p.add_argument("model", help=f"model file, or a run directory holding {runfiles.MODEL}")
    p.add_argument("input", help=".npz / .npy array of images, a PNG, or a directory of PNGs")
    p.add_argument("--out", metavar="FILE", help="write predictions to FILE (.csv, .json or .npz)")
    p.add_argument("--invert", action="store_true",
                   help="invert PNGs (for dark digits on a light background)")
    _import_args(p)
    p.set_defaults(run=_run_predict)


def _summary_parser(sub):
    p = sub.add_parser("summary", help="print a model's layers and shapes", epilog=EPILOG,
                       description="Print the layer table (output shapes, parameter counts) of "
                                   "a spec file or a saved model.")
    p.add_argument("spec", help="spec file or model file")
    _import_args(p)
    p.set_defaults(run=_run_summary)


def build_parser():
    """The argparse parser of the ``tgraph`` command."""
    parser = argparse.ArgumentParser(prog="tgraph", epilog=EPILOG,
                                     description="Declarative deep-learning models on PyTensor.")
    from tgraph import __version__
    parser.add_argument("--version", action="version", version=f"tgraph {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in (_train_parser, _eval_parser, _predict_parser, _summary_parser):
        add(sub)
    from tgraph.plot.command import add_plot_parser
    from tgraph.sweep.command import add_sweep_parser

    add_plot_parser(sub, EPILOG)
    add_sweep_parser(sub, EPILOG)  # after train: it shares train's data and training options
    return parser


# -- commands -----------------------------------------------------------------------------


def _run_train(args):
    from tgraph.run import train_from_args

    if getattr(args, "plot", False):
        from tgraph.plot import require_matplotlib

        require_matplotlib()  # before training, not after it
    metrics = train_from_args(args)
    print(json.dumps(metrics, indent=2))
    if getattr(args, "plot", False):
        from tgraph.plot import write_run_plots

        for path in write_run_plots(args.out_dir):
            print(f"wrote {path}")


def _read_model(args, path):
    """The :class:`tgraph.modelfile.ModelFile` at ``path`` (or in run directory ``path``),
    after importing the modules of ``--import`` and, if the model has layer classes
    tgraph does not know yet, the copy of the spec file beside it."""
    from tgraph.modelfile import read_model_file
    from tgraph.runfiles import run_model_file
    from tgraph.specfile import import_user_module

    for target in args.imports:
        import_user_module(target)
    content = read_model_file(run_model_file(path))
    _import_spec_copies(content)
    return content


def _import_spec_copies(content):
    """Import the spec copies beside a model file that names unknown layer classes.

    Raises:
        UnknownTypeError: a class is still unknown; the message says to pass --import
            and why the spec copy did not help.
    """
    from tgraph.modelfile import unknown_layer_types
    from tgraph.runfiles import RunFiles
    from tgraph.serialize import UnknownTypeError
    from tgraph.specfile import import_user_module

    if not unknown_layer_types(content.spec):
        return
    failures = []
    for spec_copy in RunFiles(os.path.dirname(content.path) or ".").spec_copies():
        try:
            import_user_module(spec_copy)
        except TGraphError as err:
            failures.append(f"importing the spec copy failed: {err}")
    missing = unknown_layer_types(content.spec)
    if missing:
        raise UnknownTypeError(missing[0], f"{content.path}: ", "".join(f"; {f}" for f in failures))


def _load_data(args, default=None, valid_fraction=0.2):
    from tgraph.data import load_dataset

    return load_dataset(args.data or default, valid_fraction=args.valid_fraction or valid_fraction,
                        download=args.download)


def _run_eval(args):
    from tgraph.modelfile import model_of

    model = model_of(_read_model(args, args.model))
    data = _load_data(args)
    result = {}
    for split in ("valid", "test"):
        part = getattr(data, split, None)
        if part is not None:
            result[split] = {k: float(v) for k, v in model.evaluate(part.x, part.y).items()}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for split, values in result.items():
        text = "  ".join(f"{k} {v * 100:.2f}%" if k == "error" else f"{k} {v:.4f}"
                         for k, v in values.items())
        print(f"{split:5s}  n={len(getattr(data, split).y):6d}  {text}")


def _run_predict(args):
    from tgraph.data import load_inputs
    from tgraph.modelfile import model_of
    from tgraph.predictions import format_predictions, write_predictions

    model = model_of(_read_model(args, args.model))
    x, names = load_inputs(args.input, invert=args.invert)
    probs = model.predict(x)
    if args.out:
        write_predictions(args.out, probs, names)
    print(format_predictions(probs, names))


def _run_summary(args):
    from tgraph.modelfile import layers_from_spec
    from tgraph.pretraining import phases_table
    from tgraph.specfile import import_user_module, load_spec
    from tgraph.summary import summary

    phases = ""
    if args.spec.endswith(".py"):
        for target in args.imports:
            import_user_module(target)
        experiment = load_spec(args.spec)
        layers, where = list(experiment.model), experiment.source
        phases = phases_table(experiment)
    else:
        content = _read_model(args, args.spec)
        layers, where = layers_from_spec(content.spec, content.path), content.path
    try:
        print(summary(layers))
    except TGraphError as err:
        raise type(err)(f"{where}: {err}") from None
    if phases:
        print(f"\ntraining phases:\n{phases}")


def main(argv=None):
    """Entry point of the ``tgraph`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from tgraph.runfiles import RunFinished

    try:
        args.run(args)
    except RunFinished as done:
        print(f"tgraph {args.command}: {done}", file=sys.stderr)
        return 0
    except TGraphError as err:
        print(f"tgraph {args.command}: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        hint = ""
        if args.command == "train" and getattr(args, "out_dir", None):
            hint = f"; continue with: tgraph train {args.spec} --resume {args.out_dir}"
        if args.command == "sweep" and getattr(args, "out_dir", None):
            hint = "; resume the sweep by running the same command again"
        print(f"tgraph {args.command}: interrupted{hint}", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
