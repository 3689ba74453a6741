"""Datasets stored as a numpy ``.npz`` archive (read without pickle)."""

import numpy as np

from tgraph.data._files import existing_path, reading
from tgraph.errors import DataError

__all__ = ["NPZ_KEYS", "read_npz_dataset"]

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
_OPTIONAL_KEYS = ("x_valid", "y_valid")
_KIND = "a dataset .npz file"
_LAYOUT = ("a dataset .npz needs the arrays x_train, y_train, x_test, y_test "
           "(and optionally both x_valid, y_valid)")


def read_npz_dataset(path):
    """The splits stored in a ``.npz`` file, as stored.

    Args:
        path: a ``.npz`` with ``x_train, y_train, x_test, y_test`` and optionally
            ``x_valid, y_valid`` (e.g. ``np.savez_compressed(path, x_train=..., ...)``).

    Returns:
        ``{split: (x, y, x_name, y_name)}`` for ``train``, ``test`` and, if stored,
        ``valid``; the names (``"x_train"``, ...) are for messages.

    Raises:
        DataError: unreadable file, or missing arrays.
    """
    path = existing_path(path, _KIND)
    with reading(path, _KIND), np.load(path, allow_pickle=False) as archive:
        splits = _split_names(path, set(archive.files))
        return {name: _read_split(archive, name) for name in splits}


def _split_names(path, keys):
    missing = [k for k in NPZ_KEYS if k not in keys]
    if missing:
        raise DataError(f"{path}: missing {', '.join(missing)}; {_LAYOUT}; the file holds "
                        f"{', '.join(sorted(keys)) or 'no arrays'}")
    valid = [k for k in _OPTIONAL_KEYS if k in keys]
    if len(valid) == 1:
        raise DataError(f"{path}: has {valid[0]} without its partner; {_LAYOUT}")
    return ("train", "valid", "test") if valid else ("train", "test")


def _read_split(archive, name):
    x_key, y_key = f"x_{name}", f"y_{name}"
    return archive[x_key], archive[y_key], x_key, y_key
