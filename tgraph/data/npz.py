"""Datasets stored as a numpy ``.npz`` archive (read without pickle).

Arrays of any shape and dtype; labels as integer class indices or as class names
(numpy string arrays, ``np.array(["cat", "dog"])``, load without pickle; object arrays
do not). Images may be NCHW or NHWC (see :mod:`tgraph.data.layout`).
"""

import numpy as np

from tgraph.data._files import existing_path, reading
from tgraph.data._raw import Part
from tgraph.errors import DataError

__all__ = ["NPZ_KEYS", "read_npz_dataset"]

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
_PAIRS = {"train": ("x_train", "y_train"), "valid": ("x_valid", "y_valid"),
          "test": ("x_test", "y_test")}
_KIND = "a dataset .npz file"
_LAYOUT = ("a dataset .npz needs the arrays x_train and y_train (or x and y), optionally "
           "x_valid, y_valid and x_test, y_test, each pair complete")


def read_npz_dataset(path):
    """The splits stored in a ``.npz`` file, as stored.

    Args:
        path: a ``.npz`` with ``x_train, y_train`` and optionally ``x_valid, y_valid``
            and ``x_test, y_test`` (e.g. ``np.savez_compressed(path, x_train=..., ...)``),
            or with ``x, y`` only (the training split).

    Returns:
        ``{split: Part(x, y, x_name, y_name)}`` for ``train`` and the stored ``valid``
        and ``test``; the names (``"x_train"``, ...) are for messages.

    Raises:
        DataError: unreadable file, or missing arrays.
    """
    path = existing_path(path, _KIND)
    with reading(path, _KIND), np.load(path, allow_pickle=False) as archive:
        pairs = _pairs(path, set(archive.files))
        return {name: Part(archive[x], archive[y], x, y) for name, (x, y) in pairs.items()}


def _pairs(path, keys):
    pairs = dict(_PAIRS)
    if not keys & {"x_train", "y_train"} and {"x", "y"} <= keys:
        pairs = {"train": ("x", "y")}
    if not set(pairs["train"]) <= keys:
        missing = [k for k in pairs["train"] if k not in keys]
        raise DataError(f"{path}: missing {', '.join(missing)}; {_LAYOUT}; the file holds "
                        f"{', '.join(sorted(keys)) or 'no arrays'}")
    for x, y in pairs.values():
        if (x in keys) != (y in keys):
            raise DataError(f"{path}: has {x if x in keys else y} without its partner; {_LAYOUT}")
    return {name: (x, y) for name, (x, y) in pairs.items() if x in keys}
