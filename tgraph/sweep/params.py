"""``--param KEY=DIST``: which spec value a sweep tunes, and from which distribution.

Keys are exactly the ``--set`` keys of ``tgraph train`` (dotted paths into the
experiment: ``model.1.units``, ``optimizer.learning_rate``, ``training.batch_size``,
``callbacks.0.patience``, ``seed``), so a spec's tunable values need no declaration.
Distributions: ``int(lo,hi)``, ``float(lo,hi)``, ``loguniform(lo,hi)`` (integers when
the spec's value is an int and both bounds are, e.g. ``model.1.units=loguniform(10,500)``),
``choice(a,b,...)``. Everything here is checked against the spec before any trial runs.
"""

import ast
import re

import attrs

from tgraph.errors import ConfigError, TGraphError
from tgraph.network import infer_shapes
from tgraph.specfile import apply_overrides

__all__ = ["SweepParam", "parse_param", "check_params", "tunable_keys", "value_at",
           "DISTRIBUTIONS"]

DISTRIBUTIONS = "int(lo,hi), float(lo,hi), loguniform(lo,hi) or choice(a,b,...)"
_FORM = re.compile(r"^\s*([A-Za-z_]+)\s*\((.*)\)\s*$", re.S)
_SKIPPED = ("source", "description")  # Experiment fields that are not settings


@attrs.frozen
class SweepParam:
    """One tuned value.

    Attributes:
        key: the ``--set`` key, e.g. ``"model.1.units"``.
        kind: ``"int"``, ``"float"`` or ``"choice"``.
        low: lower bound (inclusive) of ``int`` and ``float``.
        high: upper bound (inclusive).
        log: sample ``log(value)`` uniformly (``loguniform``).
        choices: the values of ``choice``.
        text: the ``--param`` text, for messages.
    """

    key: str
    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple = ()
    text: str = ""

    def suggest(self, trial):
        """Draw this value for an Optuna ``trial`` (the key is the parameter's name)."""
        if self.kind == "int":
            return trial.suggest_int(self.key, self.low, self.high, log=self.log)
        if self.kind == "float":
            return trial.suggest_float(self.key, self.low, self.high, log=self.log)
        return trial.suggest_categorical(self.key, list(self.choices))

    def override(self, value):
        """The ``--set`` text giving ``value`` to the key (Python literal: read back exactly)."""
        return f"{self.key}={value!r}"

    def extremes(self):
        """The values checked against the spec before a sweep: both bounds, every choice."""
        if self.kind == "choice":
            return self.choices
        cast = int if self.kind == "int" else float  # what suggest() returns
        return (cast(self.low), cast(self.high))

    def describe(self):
        """``"int(10,500)"``-like text of the distribution."""
        if self.kind == "choice":
            return f"choice({','.join(map(repr, self.choices))})"
        name = "loguniform" if self.log else self.kind
        return f"{name}({self.low!r},{self.high!r})"


def _literal(text):
    text = text.strip()
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text  # a bare word: choice(tanh,relu)


def _split_args(text):
    """Comma-separated arguments, commas inside brackets kept: ``(3,3),(5,5)``."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p for p in parts if p.strip()]


def _is_number(value, integer=False):
    if isinstance(value, bool):
        return False
    return isinstance(value, int) if integer else isinstance(value, (int, float))


def _bounds(text, name, args, integer=False):
    if len(args) != 2:
        raise ConfigError(f"--param {text!r}: {name}() takes two bounds, lo and hi, got "
                          f"{len(args)} arguments; e.g. {name}(10,500)")
    low, high = (_literal(a) for a in args)
    if not (_is_number(low, integer) and _is_number(high, integer)):
        what = "integers" if integer else "numbers"
        raise ConfigError(f"--param {text!r}: the bounds of {name}() must be {what}, got "
                          f"{low!r} and {high!r}")
    if not low < high:
        raise ConfigError(f"--param {text!r}: lo (={low!r}) must be below hi (={high!r})")
    if name == "loguniform" and low <= 0:
        raise ConfigError(f"--param {text!r}: loguniform() needs lo > 0, got {low!r}")
    return low, high


def parse_param(text):
    """``"model.1.units=int(10,500)"`` -> a :class:`SweepParam`.

    Raises:
        ConfigError: no ``=``, an empty key, an unknown distribution or bad bounds; the
            message lists the distributions.
    """
    key, sep, dist = text.partition("=")
    key = key.strip()
    match = _FORM.match(dist)
    if not sep or not key or match is None:
        raise ConfigError(f"--param {text!r}: expected KEY=DIST with DIST one of "
                          f"{DISTRIBUTIONS}, e.g. --param model.1.units=int(10,500)")
    name, args = match.group(1), _split_args(match.group(2))
    if name == "choice":
        if len(args) < 2:
            raise ConfigError(f"--param {text!r}: choice() needs at least two values")
        return SweepParam(key, "choice", choices=tuple(_literal(a) for a in args), text=text)
    if name in ("int", "float", "loguniform"):
        low, high = _bounds(text, name, args, integer=name == "int")
        kind = "int" if name == "int" else "float"
        return SweepParam(key, kind, low, high, log=name == "loguniform", text=text)
    raise ConfigError(f"--param {text!r}: unknown distribution {name!r}; use {DISTRIBUTIONS}")


def _fields(obj):
    if attrs.has(type(obj)):
        return [f.name for f in attrs.fields(type(obj)) if f.init and not f.name.startswith("_")]
    return sorted(k for k in getattr(obj, "__dict__", {}) if not k.startswith("_"))


def _is_leaf(value):
    scalar = (bool, int, float, str, type(None))
    return isinstance(value, scalar) or (isinstance(value, tuple) and value
                                         and all(isinstance(v, scalar) for v in value))


def _leaves(obj, prefix):
    """``(key, value)`` of every setting under ``obj``."""
    if _is_leaf(obj):
        yield prefix, obj
    elif isinstance(obj, (list, tuple)):
        for i, item in enumerate(obj):
            yield from _leaves(item, f"{prefix}.{i}")
    else:
        for name in _fields(obj):
            if callable(getattr(obj, name)) and not attrs.has(type(getattr(obj, name))):
                continue  # methods and functions are not settings
            yield from _leaves(getattr(obj, name), f"{prefix}.{name}" if prefix else name)


def tunable_keys(experiment):
    """``{key: current value}`` of every setting ``--set`` and ``--param`` can change."""
    return {key: value for key, value in _leaves(experiment, "")
            if key.split(".")[0] not in _SKIPPED}


def value_at(experiment, key):
    """The spec's current value at ``key`` (raises KeyError if there is none)."""
    return tunable_keys(experiment)[key]


def _resolve(param, current):
    """A ``loguniform`` on an int setting with integer bounds samples integers."""
    integer_bounds = _is_number(param.low, True) and _is_number(param.high, True)
    if param.log and param.kind == "float" and _is_number(current, True) and integer_bounds:
        return attrs.evolve(param, kind="int")
    return param


def check_params(params, experiment, source="the spec"):
    """Check every parameter against the experiment before any trial runs.

    Args:
        params: :class:`SweepParam` list.
        experiment: the experiment every trial starts from.
        source: the spec file, named in messages.

    Returns:
        The parameters, with ``loguniform`` of int settings turned into integer ones.

    Raises:
        ConfigError: a key that is not a setting of the spec (the message lists the valid
            keys), a key given twice, or a bound or choice the setting refuses.
    """
    keys = tunable_keys(experiment)
    seen, checked = set(), []
    for param in params:
        if param.key not in keys:
            raise ConfigError(f"--param {param.text!r}: {source} has no setting "
                              f"{param.key!r}; valid keys: {', '.join(keys)}")
        if param.key in seen:
            raise ConfigError(f"--param {param.key}: given twice; give each key once")
        seen.add(param.key)
        param = _resolve(param, keys[param.key])
        for value in param.extremes():
            try:
                infer_shapes(list(apply_overrides(experiment, [param.override(value)]).model))
            except TGraphError as err:
                raise ConfigError(f"--param {param.text!r}: the value {value!r} is refused: "
                                  f"{err}") from None
        checked.append(param)
    return checked
