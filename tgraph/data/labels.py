"""Class labels: stored labels (indices or names) to int32 class indices and class names.

The rule, the same for every format:

- labels that are all non-negative integers are class indices as they are; the class
  names are ``"0"``, ``"1"``, ... up to the largest label of any split (MNIST: ``"0"``
  to ``"9"``);
- any other labels (strings, booleans, negative integers) are class *names*, numbered
  in **sorted** order (numeric order for numbers, ``-1 < 1``; text order for strings,
  ``"cat" < "dog"``), over all splits together, so the numbering does not depend on the
  order of the rows or on which rows went to validation (as Keras'
  ``image_dataset_from_directory`` and scikit-learn's ``LabelEncoder`` do).

``class_names=[...]`` fixes the order instead: names are numbered in that order (a label
not in the list is an error), integer indices are checked to lie below its length.
"""

import numpy as np

from tgraph.data._arrays import describe
from tgraph.errors import DataError

__all__ = ["encode_labels", "index_names", "label_kind"]

_INT32 = np.iinfo(np.int32)


def label_kind(y):
    """``"indices"`` for non-negative integer labels, ``"names"`` for any other labels."""
    if y.dtype.kind in "iu" and (y.size == 0 or y.min() >= 0):
        return "indices"
    return "names"


def index_names(n_classes):
    """Class names of integer labels: ``("0", "1", ..., str(n_classes - 1))``."""
    return tuple(str(i) for i in range(n_classes))


def encode_labels(labels, class_names=None):
    """Class indices and class names of the labels of several splits.

    Args:
        labels: ``{split: (y, where)}``: (N,) labels of each split (any integer dtype,
            strings or booleans) and the file and field to name in messages.
        class_names: None (default: the rule in the module docstring), or the class
            names in index order.

    Returns:
        ``({split: (N,) int32 class indices}, class names as a tuple of str)``.

    Raises:
        DataError: labels that are floats, not 1-D, out of 32-bit range, mixed kinds
            across splits, or not in ``class_names``.
    """
    for y, where in labels.values():
        _check_label_array(y, where)
    kinds = {label_kind(y) for y, _ in labels.values()}
    if kinds == {"indices"}:
        return _from_indices(labels, class_names)
    return _from_names(labels, class_names)


def _check_label_array(y, where):
    if y.dtype.kind not in "iubUS":
        raise DataError(f"{where}: labels are a {describe(y)}; expected integer class "
                        "indices (convert with y.astype(int))")
    if y.ndim != 1:
        hint = " (one-hot labels: use y.argmax(axis=1))" if y.ndim == 2 else ""
        raise DataError(f"{where}: labels have shape {y.shape}; expected (N,){hint}")
    if y.dtype.kind in "iu" and y.size and (y.min() < _INT32.min or y.max() > _INT32.max):
        raise DataError(f"{where}: labels range over [{y.min()}, {y.max()}], "
                        "beyond 32-bit integers")


def _from_indices(labels, class_names):
    top = max((int(y.max()) for y, _ in labels.values() if y.size), default=-1)
    if class_names is None:
        return {s: y.astype(np.int32) for s, (y, _) in labels.items()}, index_names(top + 1)
    names = _checked_names(class_names)
    for y, where in labels.values():
        if y.size and y.max() >= len(names):
            raise DataError(f"{where}: labels range up to {y.max()}, but {len(names)} class "
                            f"names were given ({_short(names)}); integer labels are class "
                            "indices and must lie below the number of class names")
    return {s: y.astype(np.int32) for s, (y, _) in labels.items()}, names


def _from_names(labels, class_names):
    texts = {s: (_as_text(y), where) for s, (y, where) in labels.items()}
    if class_names is None:
        names = _sorted_names(labels)
    else:
        names = _checked_names(class_names)
    index = {name: i for i, name in enumerate(names)}
    return {s: _lookup(t, index, names, where) for s, (t, where) in texts.items()}, names


def _as_text(y):
    """Labels as a str array: bytes decoded as UTF-8, numbers and booleans with str()."""
    if y.dtype.kind == "S":
        return np.char.decode(y, "utf-8", errors="replace")
    if y.dtype.kind == "b":
        return np.where(y, "True", "False")
    return y.astype(str)


def _sorted_names(labels):
    """The distinct labels of all splits, sorted; numbers in numeric order."""
    values = [y for y, _ in labels.values()]
    if all(y.dtype.kind in "iub" for y in values):
        distinct = np.unique(np.concatenate([y.astype(np.int64) for y in values]))
        if all(y.dtype.kind == "b" for y in values):
            return tuple(str(bool(v)) for v in distinct)
        return tuple(str(v) for v in distinct)
    return tuple(str(v) for v in np.unique(np.concatenate([_as_text(y) for y in values])))


def _checked_names(class_names):
    names = tuple(str(name) for name in class_names)
    if len(set(names)) != len(names) or not names:
        raise DataError(f"`class_names` (={list(names)!r}) must be a non-empty list of "
                        "distinct names, in class index order")
    return names


def _lookup(texts, index, names, where):
    try:
        return np.fromiter((index[t] for t in texts), dtype=np.int32, count=len(texts))
    except KeyError as exc:
        label = str(exc.args[0])
        row = int(np.flatnonzero(texts == label)[0])
        raise DataError(f"{where}: label {label!r} (example {row}) is not one of the "
                        f"class names {_short(names)}; fix the label or the `class_names`"
                        ) from None


def _short(names, limit=10):
    shown = ", ".join(repr(n) for n in names[:limit])
    return f"[{shown}{', ...' if len(names) > limit else ''}]"
