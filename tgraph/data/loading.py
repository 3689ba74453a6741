"""``load_dataset``: one entry point for every supported dataset format.

The stored arrays are converted the same way whatever the format: pixels to float32 in
[0, 1] (uint8 / 255), labels to int32. A format without its own validation set gives
up the **last** ``valid_fraction`` of its training images, as in the deeplearning.net
tutorials (50,000 / 10,000 of the 60,000 MNIST training images) and in
``REFERENCE.md`` (8,000 / 2,000 of the embedded 10,000).
"""

import warnings
from pathlib import Path

from tgraph.data._arrays import to_labels, to_unit_float
from tgraph.data._files import existing_path
from tgraph.data.dataset import Dataset, Split, shuffle
from tgraph.data.download import download_mnist
from tgraph.data.idx import read_idx_directory
from tgraph.data.npz import read_npz_dataset
from tgraph.data.pickled import read_pickled_dataset
from tgraph.errors import ConfigError, DataError

__all__ = ["FORMATS", "EMBEDDED_SOURCE", "embedded_path", "load_dataset", "split_off_validation"]

FORMATS = ("a .npz file (x_train, y_train, x_test, y_test), the tutorials' mnist.pkl.gz, "
           "or a directory of the four MNIST IDX files")
EMBEDDED_NAME = "mnist_10k.npz"
EMBEDDED_SOURCE = f"embedded:{EMBEDDED_NAME}"
_PICKLE_SUFFIXES = (".pkl", ".pkl.gz", ".pickle", ".pickle.gz")
_READERS = {"idx": read_idx_directory, "npz": read_npz_dataset, "pickle": read_pickled_dataset}


def load_dataset(path=None, *, valid_fraction=0.2, seed=None, download=False, cache_dir=None,
                 base_url=None):
    """Load a dataset as float32 pixels in [0, 1] and int32 labels, split three ways.

    Args:
        path: one of

            - None (default): the MNIST subset shipped with tgraph (the first 10,000
              official training images, the official 10,000 test images);
            - a ``.npz`` with ``x_train, y_train, x_test, y_test`` (and optionally
              ``x_valid, y_valid``), e.g. images (N, 28, 28) uint8;
            - the tutorials' ``mnist.pkl.gz`` (read with a restricted unpickler; it
              brings its own validation set);
            - a directory holding LeCun's four IDX files (gzip-compressed or not).

            With ``download=True``: the directory to download into (default: the cache).
        valid_fraction: share of the training images kept for validation when the format
            has no validation set: the last ``round(N * valid_fraction)`` of them. In (0, 1).
        seed: if given, the training split (only) is shuffled with
            ``numpy.random.default_rng(seed)``; the validation split stays the end of the
            file's training images.
        download: download the full MNIST (60,000 / 10,000 images; sha256-checked, see
            :func:`tgraph.data.download_mnist`) unless it is already there, and load it.
        cache_dir: download directory when ``path`` is None (default
            ``$TGRAPH_CACHE/mnist`` or ``~/.cache/tgraph/mnist``); only with ``download``.
        base_url: the mirror to download from (default: the official mirrors in turn).

    Returns:
        A :class:`Dataset`: images keep their stored layout, (N, 28, 28) from IDX and
        .npz files, (N, 784) from the pickle; ``source`` is the resolved path (or
        ``"embedded:mnist_10k.npz"``).

    Raises:
        DataError: a missing, unreadable, truncated or inconsistent file.
        ConfigError: ``valid_fraction`` out of (0, 1), or conflicting arguments.
    """
    _check_fraction(valid_fraction)
    if download:
        path = download_mnist(_download_directory(path, cache_dir), base_url=base_url)
    elif cache_dir is not None:
        warnings.warn("load_dataset: `cache_dir` is only used with download=True; ignored",
                      stacklevel=2)
    fmt, source, parts = _read(path)
    splits = {name: _to_split(source, *part) for name, part in parts.items()}
    if "valid" not in splits:
        splits["train"], splits["valid"] = split_off_validation(splits["train"], valid_fraction,
                                                                source)
    if seed is not None:
        splits["train"] = shuffle(splits["train"], seed)
    meta = _meta(fmt, splits, own_valid="valid" in parts, valid_fraction=valid_fraction, seed=seed)
    return Dataset(**splits, source=source, meta=meta)


def _check_fraction(valid_fraction):
    ok = isinstance(valid_fraction, (int, float)) and not isinstance(valid_fraction, bool)
    if not (ok and 0 < valid_fraction < 1):
        raise ConfigError(f"`valid_fraction` (={valid_fraction!r}) must be in (0, 1), e.g. 0.2 "
                          "to keep the last 20% of the training images for validation")


def _download_directory(path, cache_dir):
    if path is not None and cache_dir is not None:
        raise ConfigError("with download=True give the download directory once: as `path` or "
                          f"as `cache_dir`, not both (got {path!r} and {cache_dir!r})")
    directory = path if path is not None else cache_dir
    if directory is not None and Path(directory).is_file():
        raise DataError(f"{directory}: download=True saves the MNIST IDX files into a "
                        "directory, but this is a file; give a directory or no path")
    return directory


def embedded_path():
    """Path of the MNIST subset shipped in ``tgraph/data/embedded/`` (see its README.md).

    Raises:
        DataError: the file is missing from this installation.
    """
    path = Path(__file__).resolve().parent / "embedded" / EMBEDDED_NAME
    if not path.is_file():
        raise DataError(f"{path}: the embedded MNIST subset is missing from this installation; "
                        "reinstall tgraph, or pass a dataset path")
    return path


def _read(path):
    """(format, source, ``{split: (x, y, x_name, y_name)}``) of a dataset path."""
    if path is None:
        return "npz", EMBEDDED_SOURCE, read_npz_dataset(embedded_path())
    path = existing_path(path, FORMATS).resolve()
    fmt = _format_of(path)
    return fmt, str(path), _READERS[fmt](path)


def _format_of(path):
    name = path.name.lower()
    if path.is_dir():
        return "idx"
    if name.endswith(".npz"):
        return "npz"
    if name.endswith(_PICKLE_SUFFIXES):
        return "pickle"
    if "idx" in name and "ubyte" in name:
        raise DataError(f"{path}: a single IDX file; load_dataset needs the directory holding "
                        "the four MNIST IDX files (read one file with tgraph.data.read_idx)")
    raise DataError(f"{path}: unknown dataset format (from the file name); expected {FORMATS}")


def _to_split(source, x, y, x_name, y_name):
    if len(x) != len(y):
        raise DataError(f"{source}: {x_name} has {len(x)} examples but {y_name} has {len(y)} "
                        "labels; inputs and labels must pair up one to one")
    return Split(x=to_unit_float(x, f"{source}: {x_name}"), y=to_labels(y, f"{source}: {y_name}"))


def split_off_validation(split, valid_fraction, source="the training set"):
    """Split off the last ``round(N * valid_fraction)`` examples for validation.

    Args:
        split: the training :class:`Split` of N examples, in the file's order.
        valid_fraction: in (0, 1).
        source: named in the error message.

    Returns:
        ``(train, valid)`` splits (views of ``split``'s arrays).

    Raises:
        DataError: one of the two parts would be empty.
    """
    _check_fraction(valid_fraction)
    n = len(split)
    n_valid = round(n * valid_fraction)
    if not 0 < n_valid < n:
        raise DataError(f"{source}: {n} training examples cannot be split with `valid_fraction` "
                        f"(={valid_fraction}): that leaves {n - n_valid} for training and "
                        f"{n_valid} for validation; each needs at least one")
    cut = n - n_valid
    return Split(x=split.x[:cut], y=split.y[:cut]), Split(x=split.x[cut:], y=split.y[cut:])


def _meta(fmt, splits, *, own_valid, valid_fraction, seed):
    return {
        "format": fmt,
        "valid": "from the file" if own_valid else f"last {valid_fraction:.0%} of the training set",
        "valid_fraction": None if own_valid else valid_fraction,
        "seed": seed,
        "sizes": {name: len(splits[name]) for name in ("train", "valid", "test")},
    }
