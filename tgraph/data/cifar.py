"""CIFAR-10 and CIFAR-100, "python version" (https://www.cs.toronto.edu/~kriz/cifar.html).

A directory extracted from ``cifar-10-python.tar.gz`` holds ``data_batch_1`` ...
``data_batch_5``, ``test_batch`` and ``batches.meta``; one from
``cifar-100-python.tar.gz`` holds ``train``, ``test`` and ``meta``. Each batch is a
Python 2 ``cPickle`` (protocol 2) of a dict: ``data``, a uint8 (N, 3072) array of
32 x 32 images stored channel by channel (1024 red, 1024 green, 1024 blue values, rows
top to bottom), and ``labels`` (CIFAR-10) or ``fine_labels`` / ``coarse_labels``
(CIFAR-100), lists of ints; the meta file lists ``label_names`` (CIFAR-10) or
``fine_label_names`` / ``coarse_label_names``. Keys are Python 2 strings (bytes to
Python 3's ``pickle.load(f, encoding="bytes")``); files written again by Python 3 may
have bytes or str keys: both are read.

Every file is read with the restricted unpickler of :mod:`tgraph.data.pickled`, which
rebuilds numpy arrays, dicts, lists, strings and numbers, and nothing else.
"""

import re

import numpy as np

from tgraph.data._arrays import describe
from tgraph.data._files import FETCH_AGAIN, existing_path
from tgraph.data._raw import Part, RawData
from tgraph.data.pickled import unpickle_numpy
from tgraph.errors import ConfigError, DataError

__all__ = ["CIFAR_LABELS", "is_cifar_directory", "read_cifar_directory", "read_cifar_batch"]

CIFAR_LABELS = ("fine", "coarse")
_KIND = ("a CIFAR-10 python-version directory (data_batch_1 ... data_batch_5, test_batch, "
         "batches.meta) or a CIFAR-100 one (train, test, meta)")
_BATCH_KIND = "a CIFAR batch (a pickled dict with data and labels)"
_ACCEPTS = "the tutorials' mnist.pkl.gz, CIFAR python-version batches"
_SHAPE = (3, 32, 32)
_BATCH = re.compile(r"^data_batch_(\d+)$")


def is_cifar_directory(path):
    """True if the directory holds CIFAR-10 or CIFAR-100 python-version files."""
    names = {p.name for p in path.iterdir()}
    return "batches.meta" in names or "data_batch_1" in names or {"train", "meta"} <= names


def read_cifar_directory(path, *, labels="fine"):
    """The CIFAR-10 or CIFAR-100 train and test sets of a python-version directory.

    Args:
        path: the directory (``cifar-10-batches-py/`` or ``cifar-100-python/``).
        labels: CIFAR-100 only: ``"fine"`` (100 classes) or ``"coarse"`` (20 superclasses).

    Returns:
        A :class:`RawData` of kind ``"images"``: x (N, 3, 32, 32) uint8, y (N,) int64
        class indices, ``class_names`` from the meta file; ``train`` (the five data
        batches in order, or ``train``) and ``test`` (if ``test_batch`` / ``test`` is there).

    Raises:
        DataError: missing files, a refused global, a truncated or corrupt pickle,
            arrays of the wrong shape.
    """
    path = existing_path(path, _KIND)
    if labels not in CIFAR_LABELS:
        raise ConfigError(f"`cifar_labels` (={labels!r}) must be \"fine\" or \"coarse\"")
    if (path / "batches.meta").is_file() or (path / "data_batch_1").is_file():
        return _cifar10(path)
    return _cifar100(path, labels)


def _cifar10(path):
    batches = sorted((p for p in path.iterdir() if _BATCH.match(p.name)),
                     key=lambda p: int(_BATCH.match(p.name).group(1)))
    if not batches:
        raise DataError(f"{path}: no data_batch_1 ... data_batch_5; expected {_KIND}")
    names = _names(_meta(path / "batches.meta"), "label_names", path / "batches.meta")
    train = [read_cifar_batch(b, "labels") for b in batches]
    x = np.concatenate([bx for bx, _ in train])
    y = np.concatenate([by for _, by in train])
    parts = {"train": Part(x, y, "data of " + ", ".join(b.name for b in batches), "labels")}
    if (path / "test_batch").is_file():
        tx, ty = read_cifar_batch(path / "test_batch", "labels")
        parts["test"] = Part(tx, ty, "data of test_batch", "labels of test_batch")
    return RawData(parts, kind="images", class_names=names, info={"cifar": "CIFAR-10"})


def _cifar100(path, labels):
    key = f"{labels}_labels"
    if not (path / "train").is_file():
        raise DataError(f"{path}: no train file; expected {_KIND}")
    names = _names(_meta(path / "meta"), f"{labels}_label_names", path / "meta")
    x, y = read_cifar_batch(path / "train", key)
    parts = {"train": Part(x, y, "data of train", f"{key} of train")}
    if (path / "test").is_file():
        tx, ty = read_cifar_batch(path / "test", key)
        parts["test"] = Part(tx, ty, "data of test", f"{key} of test")
    return RawData(parts, kind="images", class_names=names,
                   info={"cifar": "CIFAR-100", "cifar_labels": labels})


def _meta(path):
    if not path.is_file():
        raise DataError(f"{path}: missing; the class names of CIFAR come from it; "
                        f"expected {_KIND}")
    return _dict(path, "the CIFAR meta file (a pickled dict of label names)")


def _dict(path, kind):
    content = unpickle_numpy(path, kind, _ACCEPTS)
    if not isinstance(content, dict):
        raise DataError(f"{path}: holds {describe(content)}; expected {kind}")
    return {_text(k): v for k, v in content.items()}


def _text(value):
    return value.decode("latin1") if isinstance(value, bytes) else value


def _names(meta, key, path):
    names = meta.get(key)
    if not isinstance(names, (list, tuple)) or not names:
        raise DataError(f"{path}: no list {key!r} (it holds {', '.join(map(str, meta))}); "
                        f"is it the meta file of this CIFAR version? {FETCH_AGAIN}")
    return tuple(_text(n) for n in names)


def read_cifar_batch(path, labels_key="labels"):
    """The images and labels of one CIFAR batch file.

    Args:
        path: e.g. ``data_batch_1`` or CIFAR-100's ``train``.
        labels_key: ``"labels"`` (CIFAR-10), ``"fine_labels"`` or ``"coarse_labels"``.

    Returns:
        ``(x, y)``: (N, 3, 32, 32) uint8 images, (N,) int64 labels.

    Raises:
        DataError: unreadable, refused or truncated pickle, missing keys, bad shapes.
    """
    batch = _dict(path, _BATCH_KIND)
    missing = [k for k in ("data", labels_key) if k not in batch]
    if missing:
        raise DataError(f"{path}: the batch has no {' or '.join(missing)} (it holds "
                        f"{', '.join(map(str, batch))}); expected {_BATCH_KIND}")
    x, y = batch["data"], np.asarray(batch[labels_key])
    if not (isinstance(x, np.ndarray) and x.dtype == np.uint8 and x.ndim == 2
            and x.shape[1] == np.prod(_SHAPE)):
        raise DataError(f"{path}: data is a {describe(x)}; expected uint8 (N, 3072): 32 x 32 "
                        f"RGB images, channel by channel; {FETCH_AGAIN}")
    if y.shape != (len(x),) or y.dtype.kind not in "iu":
        raise DataError(f"{path}: {labels_key} is a {describe(y)}, expected {len(x)} integer "
                        f"labels, one per image; {FETCH_AGAIN}")
    return x.reshape(len(x), *_SHAPE), y.astype(np.int64)
