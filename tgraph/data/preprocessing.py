"""Preprocessing as data: what is done to the inputs, fitted on the training split, saved.

A :class:`Preprocessing` is a small frozen description, JSON-serialisable, that a model
file stores so that ``eval`` and ``predict`` transform new inputs exactly as training
did. ``fit(train_x)`` returns a fitted copy (statistics of the training split only, never
of validation or test data); ``apply(x)`` transforms any split, or inputs to predict.

Kinds (``kind``):

- ``"scale"`` (default for images): ``(x - low) / (high - low)`` into [0, 1], with
  ``(low, high)`` = (0, 255) for uint8 data and other integers up to 255 or floats in
  [0, 255] beyond 1, (0, 65535) for 16-bit integers, (0, 1) for floats already in [0, 1]
  (left alone), else the training minimum and maximum. ``uint8 / 255`` gives the
  tutorials' MNIST floats bit for bit (computed in float64, rounded once to float32).
- ``"standardize"`` (default for tables): ``(x - mean) / std`` per feature, with the
  training split's mean and (population) standard deviation; a constant feature
  (std < 1e-12 times its scale) is divided by 1, so it becomes 0 rather than NaN or inf.
- ``"normalize"``: per-channel normalization of (N, C, H, W) images: ``"scale"`` first,
  then ``(x - mean[c]) / std[c]`` per colour channel (as torchvision's ``Normalize``
  with statistics of the training split).
- ``"none"``: the values as they are, as float32.

``impute="mean"`` or ``"median"`` replaces missing values (NaN) of each feature by that
statistic of the training split, before the kind's transform; without it a NaN is an
error naming the example and the feature.
"""

import json

import attrs
import numpy as np

from tgraph.data._arrays import UNIT_TABLE
from tgraph.errors import ConfigError, DataError

__all__ = ["KINDS", "IMPUTE", "Preprocessing", "default_preprocessing"]

KINDS = ("none", "scale", "standardize", "normalize")
IMPUTE = (None, "mean", "median")
_FIELDS = ("kind", "impute", "shape", "low", "high", "mean", "std", "fill")
_CHUNK = 8192  # rows transformed at a time: bounds the float64 temporary
_TINY = 1e-12


def _one_of(options, what):
    def check(instance, attribute, value):
        if value not in options:
            shown = ", ".join(repr(o) for o in options)
            raise ConfigError(f"`{what}` (={value!r}) must be one of {shown}")
    return check


def _floats(value):
    return None if value is None else tuple(float(v) for v in value)


def _ints(value):
    return None if value is None else tuple(int(v) for v in value)


def _float(value):
    return None if value is None else float(value)


@attrs.frozen
class Preprocessing:
    """What is done to the inputs before the model sees them.

    Attributes:
        kind: ``"scale"``, ``"standardize"``, ``"normalize"`` or ``"none"`` (see the
            module docstring).
        impute: None, ``"mean"`` or ``"median"``: how missing values (NaN) are filled.
        shape: the shape of one example the statistics were fitted on (None until
            fitted), e.g. ``(30,)`` or ``(3, 32, 32)``.
        low, high: the range mapped to [0, 1] (``"scale"``, ``"normalize"``).
        mean, std: per feature (``"standardize"``, flattened) or per channel
            (``"normalize"``).
        fill: per-feature values replacing NaN (with ``impute``), flattened.
    """

    kind: str = attrs.field(default="scale", validator=_one_of(KINDS, "preprocessing"))
    impute: str | None = attrs.field(default=None, validator=_one_of(IMPUTE, "impute"))
    shape: tuple | None = attrs.field(default=None, converter=_ints)
    low: float | None = attrs.field(default=None, converter=_float)
    high: float | None = attrs.field(default=None, converter=_float)
    mean: tuple | None = attrs.field(default=None, converter=_floats, repr=False)
    std: tuple | None = attrs.field(default=None, converter=_floats, repr=False)
    fill: tuple | None = attrs.field(default=None, converter=_floats, repr=False)

    @property
    def fitted(self):
        """True once :meth:`fit` has set the statistics."""
        return self.shape is not None

    def fit(self, x, where="the training inputs"):
        """A fitted copy, with the statistics of ``x`` (the training split only).

        Args:
            x: (N, ...) training inputs, any numeric dtype (NaN for missing values).
            where: the file and field, named in messages.

        Returns:
            A new :class:`Preprocessing` with ``shape`` and the kind's statistics set.

        Raises:
            DataError: non-numeric or empty data, missing values without ``impute``, a
                feature with no value at all, or ``"normalize"`` on non-image data.
        """
        _check_numeric(x, where)
        if len(x) == 0:
            raise DataError(f"{where}: no examples to fit the {self.kind!r} preprocessing on")
        fill = _fit_fill(x, self.impute, where)
        x = _filled(x, fill, self.impute, where)
        return attrs.evolve(self, shape=x.shape[1:], fill=fill, **_fit_kind(self.kind, x, where))

    def apply(self, x, where="the inputs"):
        """``x`` transformed, as float32.

        Args:
            x: (N, ...) inputs whose examples have the fitted ``shape`` (or as many
                values, e.g. (N, 28, 28) for a fitted (784,)).
            where: the file and field, named in messages.

        Returns:
            A new float32 array of ``x``'s shape.

        Raises:
            DataError: not fitted, another example shape, missing values without
                ``impute``.
        """
        self._check_applicable(x, where)
        x = _filled(x, self.fill, self.impute, where)
        if self.kind == "scale" and x.dtype == np.uint8 and (self.low, self.high) == (0, 255):
            return UNIT_TABLE[x]
        out = np.empty(x.shape, np.float32)
        for start in range(0, len(x), _CHUNK):
            out[start:start + _CHUNK] = self._transform(x[start:start + _CHUNK])
        return out

    def _check_applicable(self, x, where):
        if not self.fitted:
            raise ConfigError(f"the {self.kind!r} preprocessing is not fitted; call "
                              "fit(train_x) first and apply the Preprocessing it returns")
        _check_numeric(x, where)
        if int(np.prod(x.shape[1:])) != int(np.prod(self.shape)) or (
                self.kind == "normalize" and _channels(x.shape) != len(self.mean)):
            raise DataError(f"{where}: examples of shape {x.shape[1:]}, but the preprocessing "
                            f"was fitted on examples of shape {self.shape}; give inputs "
                            "of the training data's shape")

    def _transform(self, x):
        """float64 transform of a chunk (rounded once to float32 by the caller)."""
        x = x.astype(np.float64)
        if self.kind in ("scale", "normalize"):
            x = (x - self.low) / (self.high - self.low)
        if self.kind == "standardize":
            flat = x.reshape(len(x), -1)
            x = ((flat - np.asarray(self.mean)) / np.asarray(self.std)).reshape(x.shape)
        if self.kind == "normalize":
            per_channel = (1, -1) + (1,) * (x.ndim - 2)
            x = (x - np.reshape(self.mean, per_channel)) / np.reshape(self.std, per_channel)
        return x

    # -- serialisation ----------------------------------------------------------------

    def to_dict(self):
        """The description as a dict of JSON values (lists for tuples)."""
        return {name: _jsonable(getattr(self, name)) for name in _FIELDS}

    @classmethod
    def from_dict(cls, content, where="the preprocessing"):
        """The inverse of :meth:`to_dict`.

        Raises:
            DataError: unknown or missing keys, or bad values.
        """
        if not isinstance(content, dict) or "kind" not in content or set(content) - set(_FIELDS):
            keys = sorted(content) if isinstance(content, dict) else type(content).__name__
            raise DataError(f"{where}: {keys} is not a preprocessing description; expected a "
                            f"dict with `kind` and some of {', '.join(_FIELDS[1:])}")
        try:
            return cls(**content)
        except (TypeError, ValueError) as exc:
            raise DataError(f"{where}: bad preprocessing description: {exc}") from exc

    def to_json(self):
        """The description as a JSON text (what a model file stores)."""
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text, where="the preprocessing"):
        """The inverse of :meth:`to_json`.

        Raises:
            DataError: not JSON, or not a preprocessing description.
        """
        try:
            content = json.loads(text)
        except (TypeError, ValueError) as exc:
            raise DataError(f"{where}: not JSON ({exc})") from exc
        return cls.from_dict(content, where)


def default_preprocessing(kind_of_data, impute=None):
    """The default for ``"images"`` (``"scale"``) or ``"table"`` (``"standardize"``) data."""
    return Preprocessing("scale" if kind_of_data == "images" else "standardize", impute=impute)


def _jsonable(value):
    return list(value) if isinstance(value, tuple) else value


def _check_numeric(x, where):
    if not (isinstance(x, np.ndarray) and x.dtype.kind in "biuf" and x.ndim >= 1):
        shown = f"{x.dtype} array" if isinstance(x, np.ndarray) else type(x).__name__
        raise DataError(f"{where}: inputs are a {shown}; expected numbers (N, ...)")


def _channels(shape):
    return shape[1] if len(shape) == 4 else 1


# -- missing values ---------------------------------------------------------------------


def _fit_fill(x, impute, where):
    if impute is None or x.dtype.kind != "f":
        return None
    flat = x.reshape(len(x), -1)
    empty = np.isnan(flat).all(axis=0)
    if empty.any():
        raise DataError(f"{where}: feature {int(np.flatnonzero(empty)[0])} has no value in "
                        f"the training split; impute={impute!r} needs at least one; drop "
                        "that feature")
    return (np.nanmean if impute == "mean" else np.nanmedian)(flat, axis=0)


def _filled(x, fill, impute, where):
    """``x`` with NaN replaced by ``fill``; an error for NaN without ``impute``."""
    if x.dtype.kind != "f":
        return x
    missing = np.isnan(x)
    if not missing.any():
        return x
    if fill is None:
        example, *feature = np.argwhere(missing)[0]
        raise DataError(f"{where}: {int(missing.sum())} missing values (NaN), the first in "
                        f"example {example}, feature {tuple(int(f) for f in feature)}; fill "
                        "them, or pass impute=\"mean\" or impute=\"median\" (`--impute mean`)")
    flat = x.reshape(len(x), -1).copy()
    rows, cols = np.nonzero(np.isnan(flat))
    flat[rows, cols] = np.asarray(fill)[cols]
    return flat.reshape(x.shape)


# -- statistics per kind ----------------------------------------------------------------


def _fit_kind(kind, x, where):
    if kind == "scale":
        return dict(zip(("low", "high"), _scale_range(x)))
    if kind == "standardize":
        flat = x.reshape(len(x), -1).astype(np.float64)
        return {"mean": flat.mean(axis=0), "std": _guarded_std(flat, axis=0)}
    if kind == "normalize":
        return _fit_normalize(x, where)
    return {}


def _scale_range(x):
    """(low, high) of the ``"scale"`` rule (see the module docstring)."""
    lo, hi = (float(x.min()), float(x.max())) if x.size else (0.0, 0.0)
    if x.dtype == np.uint8:
        return 0.0, 255.0
    if x.dtype == np.uint16:
        return 0.0, 65535.0
    if lo >= 0 and hi <= 1 and x.dtype.kind in "fb":
        return 0.0, 1.0
    if lo >= 0 and hi <= 255:
        return 0.0, 255.0
    if lo >= 0 and hi <= 65535 and x.dtype.kind in "iu":
        return 0.0, 65535.0
    return lo, hi if hi > lo else lo + 1.0


def _guarded_std(values, axis):
    std = values.std(axis=axis)
    scale = np.maximum(np.abs(values).max(axis=axis), 1.0)
    return np.where(std < _TINY * scale, 1.0, std)


def _fit_normalize(x, where):
    if x.ndim not in (3, 4):
        raise DataError(f"{where}: per-channel normalization needs images (N, C, H, W) or "
                        f"(N, H, W); these inputs have shape {x.shape}; use "
                        "preprocessing=\"standardize\" for features")
    low, high = _scale_range(x)
    scaled = (x.astype(np.float64) - low) / (high - low)
    if x.ndim == 3:
        scaled = scaled[:, None]
    per_channel = np.moveaxis(scaled, 1, 0).reshape(scaled.shape[1], -1)
    return {"low": low, "high": high, "mean": per_channel.mean(axis=1),
            "std": _guarded_std(per_channel, axis=1)}
