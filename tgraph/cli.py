"""The ``tgraph`` command: train, eval, predict, summary, plot, sweep.

Exit codes: 0 success (also ``train --resume`` of a run that already finished: it says
so on standard error, trains nothing and changes no file), 1 a tgraph error (bad spec,
data, model file, NaN loss, a run directory in use), 2 bad command-line usage,
130 interrupted (Ctrl-C), 143 terminated (SIGTERM; a run's state is written as at a Ctrl-C).
"""

import argparse
import contextlib
import json
import os
import shlex
import signal
import sys

from tgraph import runfiles
from tgraph.data.folders import COLOR_MODES
from tgraph.data.layout import LAYOUTS
from tgraph.data.preprocessing import KINDS as PREPROCESSINGS
from tgraph.data.splits import VALID_SPLITS
from tgraph.errors import Terminated, TGraphError, interrupt_of, is_interrupt

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


def _seconds(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds >= 0, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected seconds >= 0, got {text!r}")
    return value


def _fraction(text):
    value = _positive_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1), got {text!r}")
    return value


def _target(text):
    """A column index (an integer, negative from the end) or a column name."""
    try:
        return int(text)
    except ValueError:
        return text


def _delimiter(text):
    value = {"tab": "\t", "\\t": "\t"}.get(text, text)
    if len(value) != 1:
        raise argparse.ArgumentTypeError(f"expected one character (or 'tab'), got {text!r}")
    return value


def _image_size(text):
    parts = text.lower().split("x")
    try:
        size = tuple(int(v) for v in parts)
    except ValueError:
        size = ()
    if len(size) == 1:
        size = size * 2
    if len(size) != 2 or min(size) <= 0:
        raise argparse.ArgumentTypeError(f"expected HEIGHTxWIDTH in pixels, e.g. 32x32, got {text!r}")
    return size


def _format_args(p):
    """How to read a table or 4-D arrays (train, eval, and predict's inputs)."""
    p.add_argument("--target", type=_target, metavar="COLUMN",
                   help="tables: the label column, by header name or index (default: the last)")
    p.add_argument("--header", action=argparse.BooleanOptionalAction, default=None,
                   help="tables: the first row is (not) a header (default: detected)")
    p.add_argument("--delimiter", type=_delimiter, metavar="CHAR",
                   help="tables: the field separator (default ',', tab for .tsv; 'tab')")
    p.add_argument("--layout", choices=LAYOUTS,
                   help="4-D image arrays: NCHW or NHWC, when it cannot be detected")


def _data_args(p):
    from tgraph.data import FORMAT_NAMES

    p.add_argument("--data", metavar="PATH",
                   help="dataset: a CSV/TSV table, a directory of images with one subdirectory "
                        "per class, a CIFAR-10/100 python-version directory, an .npz, the "
                        "tutorials' mnist.pkl.gz, or a directory of MNIST IDX files (default: "
                        "the spec's `data`, else the embedded MNIST subset)")
    p.add_argument("--format", dest="data_format", choices=FORMAT_NAMES,
                   help="the dataset format, when the path does not tell")
    p.add_argument("--test-data", metavar="PATH",
                   help="a separate test file of the same format (e.g. test.csv)")
    p.add_argument("--valid-split", choices=VALID_SPLITS,
                   help="validation part of a dataset without one: the file's last part, or a "
                        "seeded random part stratified by class (default: random for image "
                        "folders, last otherwise)")
    p.add_argument("--valid-fraction", type=_fraction, metavar="F",
                   help="validation share of a training set without its own (default 0.2)")
    p.add_argument("--valid-size", type=_positive_int, metavar="N",
                   help="number of validation examples instead of --valid-fraction")
    p.add_argument("--preprocessing", choices=("auto", *PREPROCESSINGS),
                   help="auto (default: images scaled to [0, 1], table columns standardized), "
                        "scale, standardize, normalize (per channel) or none")
    p.add_argument("--impute", choices=("mean", "median"),
                   help="tables: fill missing values with the training split's mean or median "
                        "(default: a missing value is an error)")
    _format_args(p)
    p.add_argument("--image-size", type=_image_size, metavar="HxW",
                   help="image folders: resize every image to HxW pixels, e.g. 32x32")
    p.add_argument("--color-mode", choices=COLOR_MODES,
                   help="image folders: grayscale or rgb (default: rgb if any image has colour)")
    p.add_argument("--cifar-labels", choices=("fine", "coarse"),
                   help="CIFAR-100: the 100 fine or the 20 coarse classes (default fine)")
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
    p.add_argument("--checkpoint-every", type=_seconds, metavar="SECONDS",
                   help=f"least time between two writes of {runfiles.LAST} (default 30; 0: "
                        "every epoch); a killed run resumes from the last one, exactly")
    p.add_argument("--mode", metavar="MODE", help="PyTensor mode: NUMBA (default), FAST_RUN, JAX")
    p.add_argument("--quiet", action="store_true", help="print only the final result")
    p.add_argument("--plot", action="store_true", help="write the run's figures to OUT/plots "
                   "at the end (tgraph plot; needs matplotlib); implies --train-error")
    p.add_argument("--train-error", action="store_true",
                   help="log the training set's error every epoch (one forward pass over it)")
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
                       description="Predict classes (with their names) and class probabilities "
                                   "of the inputs in INPUT, transformed by the model's own "
                                   "preprocessing; images are resized to the model's input.")
    p.add_argument("model", help=f"model file, or a run directory holding {runfiles.MODEL}")
    p.add_argument("input", help=".npz / .npy array, an image (PNG, JPEG, BMP), a directory of "
                                 "images, or a CSV/TSV table of features")
    p.add_argument("--out", metavar="FILE", help="write predictions to FILE (.csv, .json or .npz)")
    p.add_argument("--invert", action="store_true",
                   help="invert PNGs (for dark digits on a light background)")
    _format_args(p)
    _import_args(p)
    p.set_defaults(run=_run_predict)


def _summary_parser(sub):
    p = sub.add_parser("summary", help="print a model's layers and shapes", epilog=EPILOG,
                       description="Print the layer table (output shapes, parameter counts) of "
                                   "a spec file or a saved model.")
    p.add_argument("spec", help="spec file or model file")
    _data_args(p)  # the data whose shape and classes set Input() and Dense("classes")
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
    shown = {k: v for k, v in metrics.items() if k != "dataset"}  # in metrics.json
    print(json.dumps(shown, indent=2))
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


def _eval_dataset(args, content):
    """The run's own data (its recorded source, options, preprocessing and class names),
    or ``--data`` with the model's preprocessing and class names."""
    from tgraph.data import load_dataset, reload_dataset
    from tgraph.experiment import DATA_OPTIONS
    from tgraph.modelfile import dataset_record
    from tgraph.run import data_options

    options = {DATA_OPTIONS[k]: v for k, v in data_options(args).items()}
    record = dataset_record(content)
    if args.download:
        options["download"] = True
    if record:
        return reload_dataset(record, args.data, **options)
    return load_dataset(args.data, **options)


def _run_eval(args):
    from tgraph.modelfile import model_of

    content = _read_model(args, args.model)
    model = model_of(content)
    data = _eval_dataset(args, content)
    result, reports = {}, {}
    for split in ("valid", "test"):
        part = getattr(data, split, None)
        if part is not None:
            result[split] = {k: float(v) for k, v in model.evaluate(part.x, part.y).items()}
            reports[split] = _class_report(model, part, data.class_names)
            result[split]["confusion_matrix"] = reports[split].tolist() \
                if reports[split] is not None else None
    if args.json:
        print(json.dumps({"class_names": data.class_names and list(data.class_names), **result},
                         indent=2))
        return
    _print_eval(data, result, reports)


def _class_report(model, split, class_names):
    """The confusion matrix of ``model`` on ``split``, or None for a model without labels."""
    from tgraph.confusion import confusion_matrix
    from tgraph.ops.metrics import predicted_classes

    if not model.takes_labels:
        return None
    predicted = predicted_classes(model.predict(split.x))
    return confusion_matrix(split.y, predicted, model.num_classes)


def _print_eval(data, result, reports):
    from tgraph.confusion import format_confusion, per_class_table

    for note in data.notes:
        print(f"note: {note}")
    for split, values in result.items():
        text = "  ".join(f"{k} {v * 100:.2f}%" if k.endswith("error") else f"{k} {v:.4f}"
                         for k, v in values.items() if k != "confusion_matrix")
        print(f"{split:5s}  n={len(getattr(data, split).y):6d}  {text}")
    for split, matrix in reports.items():
        if matrix is None:
            continue
        print(f"\n{split}: errors per class\n{per_class_table(matrix, data.class_names)}")
        print(f"\n{split}: confusion matrix (rows: true class, columns: predicted)\n"
              f"{format_confusion(matrix, data.class_names)}")


def _input_options(content, model):
    """load_inputs arguments that turn predict's inputs into what the model was trained on."""
    from tgraph.data import Preprocessing
    from tgraph.modelfile import dataset_record

    record = dataset_record(content)
    shape = tuple(record.get("input_shape") or model.network.input_shape[1:])
    options = {}
    if len(shape) == 3:
        options = {"channels": shape[0], "size": shape[1:], "resize": True}
    elif len(shape) == 2:
        options = {"size": shape, "resize": True}
    if record.get("preprocessing"):
        fitted = Preprocessing.from_dict(record["preprocessing"], f"{content.path}: preprocessing")
        if not _pixel_scaling(fitted):
            options["preprocessing"] = fitted
    return options


def _pixel_scaling(preprocessing):
    """True for the "scale" of pixels (uint8 / 255, or floats in [0, 1] as they are), which
    load_inputs applies by itself from each input's type, as training did: a model trained
    on PNGs then also takes arrays already in [0, 1]."""
    return (preprocessing.kind == "scale" and preprocessing.impute is None
            and (preprocessing.low, preprocessing.high) in ((0, 255), (0, 1)))


def _run_predict(args):
    from tgraph.data import load_inputs
    from tgraph.modelfile import dataset_record, model_of
    from tgraph.predictions import format_predictions, write_predictions

    content = _read_model(args, args.model)
    model = model_of(content)
    table = {k: getattr(args, k) for k in ("target", "header", "delimiter", "layout")
             if getattr(args, k) is not None}
    x, names = load_inputs(args.input, invert=args.invert, **_input_options(content, model),
                           **table)
    probs = model.predict(x)
    class_names = dataset_record(content).get("class_names")
    if args.out:
        write_predictions(args.out, probs, names, class_names)
    print(format_predictions(probs, names, class_names))


def _run_summary(args):
    import attrs

    from tgraph.modelfile import layers_from_spec
    from tgraph.pretraining import phases_table
    from tgraph.run import data_options
    from tgraph.specfile import import_user_module, load_spec
    from tgraph.summary import summary

    phases = ""
    if args.spec.endswith(".py"):
        for target in args.imports:
            import_user_module(target)
        experiment = load_spec(args.spec)
        experiment = attrs.evolve(experiment, data=args.data or experiment.data,
                                  **data_options(args))
        experiment, note = experiment.for_data(download=args.download)
        if note:
            print(note)
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


def _resume_command(args, argv):
    """``tgraph train`` with the interrupted run's own options (its data above all), its
    ``--out`` / ``--resume`` replaced by ``--resume OUT_DIR``."""
    words, skip = [], False
    for word in (sys.argv[1:] if argv is None else [str(a) for a in argv]):
        if skip:
            skip = False
        elif word in ("--out", "--resume"):
            skip = True
        elif not word.startswith(("--out=", "--resume=")):
            words.append(word)
    return shlex.join(["tgraph", *words, "--resume", str(args.out_dir)])


def _terminate(signum, frame):
    raise Terminated


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """SIGTERM raises :class:`tgraph.errors.Terminated` in the main thread while the
    body runs (unless a handler of the program's own is installed)."""
    try:
        own = signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, None)
        if not own:
            signal.signal(signal.SIGTERM, _terminate)
    except ValueError:  # not the main thread: leave the signals alone
        own = True
    try:
        yield
    finally:
        if not own:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


def main(argv=None):
    """Entry point of the ``tgraph`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from tgraph.runfiles import RunFinished

    try:
        with _sigterm_as_interrupt():
            args.run(args)
    except RunFinished as done:
        print(f"tgraph {args.command}: {done}", file=sys.stderr)
        return 0
    except TGraphError as err:
        print(f"tgraph {args.command}: error: {err}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, SystemError) as err:
        if not is_interrupt(err):
            raise
        hint = ""
        if args.command == "train" and getattr(args, "out_dir", None):
            hint = f"; continue with: {_resume_command(args, argv)}"
        if args.command == "sweep" and getattr(args, "out_dir", None):
            hint = "; resume the sweep by running the same command again"
        terminated = isinstance(interrupt_of(err), Terminated)
        print(f"tgraph {args.command}: {'terminated' if terminated else 'interrupted'}{hint}",
              file=sys.stderr)
        return 143 if terminated else 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
