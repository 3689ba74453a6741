"""Loading spec files and applying ``--set key=value`` overrides."""

import ast
import contextlib
import copy
import importlib
import os
import sys
import traceback

import attrs

from tgraph.errors import ConfigError, SpecError, TGraphError
from tgraph.experiment import SPEC_NAMES, Experiment

__all__ = ["load_spec", "apply_overrides", "parse_override", "import_user_module"]


def _line_in(path, tb):
    frames = [f for f in traceback.extract_tb(tb) if os.path.abspath(f.filename) == path]
    return frames[-1].lineno if frames else None


def _execute(path, what="spec file"):
    try:
        with open(path, encoding="utf-8") as f:
            source = f.read()
    except FileNotFoundError:
        raise SpecError(f"{path}: no such {what}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise SpecError(f"{path}: cannot read the {what} ({err})") from None
    name = "tgraph_spec_" + os.path.splitext(os.path.basename(path))[0].replace("-", "_")
    namespace = {"__name__": name, "__file__": path}
    try:
        code = compile(source, path, "exec")
    except SyntaxError as err:
        raise SpecError(f"{path}, line {err.lineno}: syntax error: {err.msg}") from None
    module = type(sys)(name)
    module.__dict__.update(namespace)
    sys.modules[name] = module  # so classes defined in the spec have an importable module
    try:
        with _on_path(os.path.dirname(path)):  # the spec's own modules, as for a script
            exec(code, module.__dict__)
    except Exception as err:
        line = _line_in(path, err.__traceback__)
        where = f"{path}, line {line}" if line else path
        kind = "" if isinstance(err, TGraphError) else f"{type(err).__name__}: "
        cls = type(err) if isinstance(err, TGraphError) else SpecError
        raise cls(f"{where}: {kind}{err}") from None
    return module.__dict__


@contextlib.contextmanager
def _on_path(directory):
    """``directory`` first on ``sys.path`` for the duration of the block."""
    sys.path.insert(0, directory)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(directory)


def import_user_module(target):
    """Import a user's module so that its classes (layers, optimizers) become known.

    Args:
        target: a module name (``mypackage.layers``, looked up on ``sys.path`` and in
            the current directory) or the path of a ``.py`` file (run as a module, as
            spec files are).

    Returns:
        The module's namespace dict.

    Raises:
        SpecError: no such module or file, or an exception while importing it (with its line).
    """
    if target.endswith(".py") or os.sep in target:
        return _execute(os.path.abspath(target), "Python file (--import)")
    try:
        with _on_path(os.getcwd()):
            return vars(importlib.import_module(target))
    except ImportError as err:
        raise SpecError(f"--import {target}: cannot import the module ({err}); give a module "
                        "name importable from here or the path of a .py file") from None
    except Exception as err:
        line = err.__traceback__ and traceback.extract_tb(err.__traceback__)[-1]
        where = f"{line.filename}, line {line.lineno}: " if line else ""
        raise SpecError(f"--import {target}: {where}{type(err).__name__}: {err}") from None


def load_spec(path):
    """Run a spec file and collect what it defines into an :class:`Experiment`.

    Args:
        path: the spec file (Python). It must define ``model``; it may define
            ``experiment`` (an :class:`Experiment`) instead, or any of
            ``loss, optimizer, regularization, training, callbacks, seed, legacy_init, data,
            valid_fraction``.

    Raises:
        SpecError: missing file, syntax error, an exception in the file (with its line),
            or no ``model``.
    """
    path = os.path.abspath(os.fspath(path))
    names = _execute(path)
    if isinstance(names.get("experiment"), Experiment):
        return attrs.evolve(names["experiment"], source=path)
    if "model" not in names:
        raise SpecError(
            f"{path}: defines no `model`; a spec file needs a list of layers, e.g. "
            "model = [L.Input(shape=(784,)), L.Dense(10, activation='softmax')]"
        )
    kwargs = {k: names[k] for k in SPEC_NAMES if k in names}
    if not isinstance(kwargs["model"], (list, tuple)):
        raise SpecError(f"{path}: `model` must be a list of layer specs, got "
                        f"{type(kwargs['model']).__name__}")
    try:
        return Experiment(**kwargs, source=path, description=(names.get("__doc__") or "").strip())
    except TGraphError as err:
        raise type(err)(f"{path}: {err}") from None


def parse_override(text):
    """``"training.batch_size=50"`` -> ``(["training", "batch_size"], 50)``.

    The value is a Python literal when it parses as one (numbers, booleans, None,
    tuples, quoted strings), else the raw string.

    Raises:
        ConfigError: no ``=`` or an empty key.
    """
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE, e.g. --set training.batch_size=50")
    try:
        value = ast.literal_eval(raw.strip())
    except (ValueError, SyntaxError):
        value = raw.strip()
    return key.strip().split("."), value


def _fields(obj):
    if attrs.has(type(obj)):
        return [f.name for f in attrs.fields(type(obj)) if f.init and not f.name.startswith("_")]
    return sorted(k for k in getattr(obj, "__dict__", {}) if not k.startswith("_"))


def _replace(obj, path, value, done):
    if not path:
        return value
    head, rest = path[0], path[1:]
    where = ".".join(done + [head])
    if isinstance(obj, (list, tuple)):
        if not head.lstrip("-").isdigit() or not -len(obj) <= int(head) < len(obj):
            raise ConfigError(f"--set {where}: index {head!r} out of range; "
                              f"there are {len(obj)} entries (0..{len(obj) - 1})")
        items = list(obj)
        items[int(head)] = _replace(items[int(head)], rest, value, done + [head])
        return type(obj)(items)
    names = _fields(obj)
    if head not in names:
        raise ConfigError(f"--set {where}: {type(obj).__name__} has no field {head!r}; "
                          f"fields: {', '.join(names) or 'none'}")
    new = _replace(getattr(obj, head), rest, value, done + [head])
    if attrs.has(type(obj)):
        try:
            return attrs.evolve(obj, **{head: new})
        except TGraphError as err:
            raise type(err)(f"--set {where}: {err}") from None
    clone = copy.copy(obj)
    setattr(clone, head, new)
    return clone


def apply_overrides(experiment, overrides):
    """Apply ``key=value`` overrides (strings) to an :class:`Experiment`.

    Keys are dotted paths: ``training.batch_size``, ``optimizer.learning_rate``,
    ``model.1.units``, ``callbacks.0.patience``, ``seed``.

    Raises:
        ConfigError, SpecError: bad key (the message lists the valid fields) or a value the
            field rejects.
    """
    for text in overrides:
        path, value = parse_override(text)
        experiment = _replace(experiment, path, value, [])
    return experiment
