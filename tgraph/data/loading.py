"""``load_dataset``: one entry point for every supported dataset format.

Every format goes through the same steps (:func:`build_dataset`), so they all behave
alike:

1. a reader returns the stored arrays (:class:`tgraph.data._raw.RawData`);
2. labels become int32 class indices with class names (:mod:`tgraph.data.labels`);
3. 4-D images become NCHW (:mod:`tgraph.data.layout`; never a reshape);
4. a source without its own validation split gives up part of its training examples
   (:mod:`tgraph.data.splits`): by default the **last** ``valid_fraction`` of them, as in
   the deeplearning.net tutorials (50,000 / 10,000 of the 60,000 MNIST training images)
   and ``REFERENCE.md`` (8,000 / 2,000 of the embedded 10,000); or a seeded, stratified
   random part;
5. a separate ``test_path`` file, of the same format, becomes the test split;
6. the preprocessing (:mod:`tgraph.data.preprocessing`) is fitted on the training split
   only and applied to every split: images scaled to [0, 1] (uint8 / 255, the
   tutorials' floats bit for bit), table columns standardized, by default.
"""

import warnings
from pathlib import Path

import attrs
import numpy as np

from tgraph.data._files import existing_path
from tgraph.data._raw import Part, RawData
from tgraph.data.cifar import is_cifar_directory, read_cifar_directory
from tgraph.data.csv import TABLE_SUFFIXES, read_csv_table
from tgraph.data.dataset import Dataset, Split, shuffle
from tgraph.data.download import download_mnist
from tgraph.data.folders import is_image_folder, read_image_folders
from tgraph.data.idx import MNIST_IDX_NAMES, read_idx_directory
from tgraph.data.labels import encode_labels
from tgraph.data.layout import to_nchw
from tgraph.data.npz import read_npz_dataset
from tgraph.data.pickled import read_pickled_dataset
from tgraph.data.preprocessing import KINDS, Preprocessing, default_preprocessing
from tgraph.data.splits import (
    check_fraction,
    check_last_split,
    check_valid_split,
    split_indices,
    split_off_validation,
    validation_size,
)
from tgraph.errors import ConfigError, DataError

__all__ = [
    "FORMATS",
    "FORMAT_NAMES",
    "EMBEDDED_SOURCE",
    "embedded_path",
    "load_dataset",
    "reload_dataset",
    "build_dataset",
    "format_of",
    "kind_of_data",
    "split_off_validation",
]

FORMATS = ("a CSV/TSV table, a directory of images with one subdirectory per class, a "
           "CIFAR-10/100 python-version directory, a .npz file (x_train, y_train, or x, y), "
           "the tutorials' mnist.pkl.gz, or a directory of the four MNIST IDX files")
EMBEDDED_NAME = "mnist_10k.npz"
EMBEDDED_SOURCE = f"embedded:{EMBEDDED_NAME}"
_PICKLE_SUFFIXES = (".pkl", ".pkl.gz", ".pickle", ".pickle.gz")


def _parts(splits):
    return {name: Part(*part) for name, part in splits.items()}


def _idx(path, **_):
    return RawData(_parts(read_idx_directory(path)), kind="images")


def _npz(path, **_):
    return RawData(read_npz_dataset(path))


def _pickle(path, **_):
    return RawData(_parts(read_pickled_dataset(path)), kind="images")


def _csv(path, *, target, header, delimiter, impute, **_):
    return read_csv_table(path, target=target, header=header, delimiter=delimiter,
                          allow_missing=impute is not None)


def _folders(path, *, image_size, color_mode, **_):
    return read_image_folders(path, image_size=image_size, color_mode=color_mode)


def _cifar(path, *, cifar_labels, **_):
    return read_cifar_directory(path, labels=cifar_labels)


# format -> (reader, the format-specific options it uses)
_READERS = {
    "csv": (_csv, ("target", "header", "delimiter")),
    "folders": (_folders, ("image_size", "color_mode")),
    "cifar": (_cifar, ("cifar_labels",)),
    "npz": (_npz, ()),
    "pickle": (_pickle, ()),
    "idx": (_idx, ()),
}
FORMAT_NAMES = tuple(_READERS)
_OPTION_DEFAULTS = {"target": None, "header": None, "delimiter": None, "image_size": None,
                    "color_mode": None, "cifar_labels": "fine"}


def load_dataset(path=None, *, format=None, valid_fraction=0.2, valid_size=None,
                 valid_split=None, seed=None, test_path=None, class_names=None,
                 preprocessing="auto", impute=None, layout=None, target=None, header=None,
                 delimiter=None, image_size=None, color_mode=None, cifar_labels="fine",
                 download=False, cache_dir=None, base_url=None):
    """Load a dataset: float32 inputs, int32 labels, class names, three splits.

    Args:
        path: one of (the format is detected from the path; ``format`` overrides)

            - None (default): the MNIST subset shipped with tgraph (the first 10,000
              official training images, the official 10,000 test images);
            - a ``.csv`` / ``.tsv`` table (``.gz`` too): numeric feature columns and one
              label column (see :func:`tgraph.data.read_csv_table`);
            - a directory of images with one subdirectory per class, optionally inside
              ``train/``, ``valid/`` and ``test/`` (see :func:`tgraph.data.read_image_folders`);
            - a CIFAR-10 / CIFAR-100 "python version" directory (``data_batch_1`` ...
              ``test_batch``, ``batches.meta``; or ``train``, ``test``, ``meta``);
            - a ``.npz`` with ``x_train, y_train`` (or ``x, y``), optionally
              ``x_valid, y_valid`` and ``x_test, y_test``: any shape and dtype, integer
              or string labels, images NCHW or NHWC;
            - the tutorials' ``mnist.pkl.gz`` (restricted unpickler; it brings its own
              validation set);
            - a directory holding LeCun's four IDX files (gzip-compressed or not);
            - from Python: an ``(x, y)`` pair of arrays (see :func:`tgraph.data.from_arrays`;
              ``test_path`` may then be an ``(x_test, y_test)`` pair) or a pandas
              DataFrame (see :func:`tgraph.data.from_dataframe`; ``target`` names the
              label column, ``test_path`` may be a DataFrame).

            With ``download=True``: the directory to download MNIST into.
        format: ``"csv"``, ``"folders"``, ``"cifar"``, ``"npz"``, ``"pickle"`` or
            ``"idx"`` to override the detection.
        valid_fraction: share of the training examples kept for validation when the
            source has no validation split: ``round(N * valid_fraction)``. In (0, 1).
        valid_size: the number of validation examples instead (e.g. 10000 for the
            tutorials' 50,000 / 10,000 MNIST split); takes precedence over
            ``valid_fraction``.
        valid_split: ``"last"``: the last examples of the file, in order (refused
            when they hold fewer classes than the training part); or ``"random"``: a
            random part stratified by class, drawn with ``seed`` (0 if None). Default
            None: ``"random"`` for image folders (sorted by class by construction),
            ``"last"`` for every other format.
        seed: if given, the training split (only) is shuffled with
            ``numpy.random.default_rng(seed)`` (after the validation split is taken);
            also the seed of ``valid_split="random"``.
        test_path: a separate file (or directory) of the same format whose examples
            are the test split (its test part if it has one, else all of it), e.g.
            ``test.csv`` beside ``train.csv``; it replaces the source's own test split.
        class_names: the class names in index order, to fix the numbering (default:
            integer labels are indices, other labels are numbered in sorted order; see
            :mod:`tgraph.data.labels`).
        preprocessing: ``"auto"`` (default: ``"scale"`` for images, ``"standardize"``
            for tables), ``"scale"``, ``"standardize"``, ``"normalize"``, ``"none"``,
            or a :class:`tgraph.data.Preprocessing`: fitted ones (e.g. a model file's)
            are applied as they are, others are fitted on the training split.
        impute: None (default: a missing value is an error naming its row and column),
            ``"mean"`` or ``"median"``: fill missing features with the training split's
            statistic.
        layout: ``"NCHW"`` or ``"NHWC"`` for 4-D image arrays whose layout cannot be
            detected (see :mod:`tgraph.data.layout`).
        target: CSV only: the label column, by header name or index (negative counts
            from the end); default the last column.
        header: CSV only: True, False, or None to detect (a first row without numbers).
        delimiter: CSV only: the field separator (default ``","``, tab for ``.tsv``).
        image_size: image folders only: ``(height, width)`` to resize every image to.
        color_mode: image folders only: ``"grayscale"``, ``"rgb"``, or None (RGB if
            any image has colour, else grayscale).
        cifar_labels: CIFAR-100 only: ``"fine"`` (100 classes) or ``"coarse"`` (20).
        download: download the full MNIST (60,000 / 10,000 images; sha256-checked, see
            :func:`tgraph.data.download_mnist`) unless it is already there, and load it.
        cache_dir: download directory when ``path`` is None (default
            ``$TGRAPH_CACHE/mnist`` or ``~/.cache/tgraph/mnist``); only with ``download``.
        base_url: the mirror to download from (default: the official mirrors in turn).

    Returns:
        A :class:`Dataset`: ``x`` float32 after preprocessing (images (N, H, W) as
        stored, (N, C, H, W) for colour and folder images, (N, 784) from the pickle,
        (N, features) for tables), ``y`` int32 class indices, ``class_names``,
        ``num_classes``, the fitted ``preprocessing``, ``split_info`` and ``notes``;
        ``source`` is the resolved path (or ``"embedded:mnist_10k.npz"``).

    Raises:
        DataError: a missing, unreadable, truncated or inconsistent file; missing
            values without ``impute``; a last-part split missing classes.
        ConfigError: bad option values, or conflicting arguments.
    """
    if _is_in_memory(path):
        return _load_in_memory(path, target=target, test=test_path, valid_fraction=valid_fraction,
                               valid_size=valid_size, valid_split=valid_split or "last",
                               seed=seed, class_names=class_names, preprocessing=preprocessing,
                               impute=impute, layout=layout)
    check_fraction(valid_fraction)
    if valid_split is not None:
        check_valid_split(valid_split)
    options = {"target": target, "header": header, "delimiter": delimiter, "impute": impute,
               "image_size": image_size, "color_mode": color_mode, "cifar_labels": cifar_labels}
    if download:
        path = download_mnist(_download_directory(path, cache_dir), base_url=base_url)
    elif cache_dir is not None:
        warnings.warn("load_dataset: `cache_dir` is only used with download=True; ignored",
                      stacklevel=2)
    fmt, source, raw = _read(path, format, options)
    test = None
    if test_path is not None:
        test = _read(test_path, fmt, options)
    if valid_split is None:
        valid_split = "random" if fmt == "folders" else "last"
    dataset = build_dataset(raw, source=source, fmt=fmt, test=test,
                            valid_fraction=valid_fraction, valid_size=valid_size,
                            valid_split=valid_split, seed=seed, class_names=class_names,
                            preprocessing=preprocessing, impute=impute, layout=layout)
    reload = {"format": fmt, "valid_fraction": valid_fraction, "valid_size": valid_size,
              "valid_split": valid_split, "seed": seed, "test_path": test and test[1],
              "impute": impute, "layout": layout,
              **{name: options[name] for name in _READERS[fmt][1]}}
    return attrs.evolve(dataset, load_options=_jsonable(reload))


def reload_dataset(record, path=None, **options):
    """The data a run trained on, read again from its :meth:`Dataset.record`.

    The splits come out as in training, with the stored class names and the stored
    fitted preprocessing (applied as it is, not fitted again).

    Args:
        record: a :meth:`Dataset.record` dict (a run's ``metrics.json`` or model file
            ``dataset``).
        path: another dataset to read instead of the recorded source (e.g. ``--data``):
            it gets the recorded preprocessing and class names, and only ``options``.
        **options: :func:`load_dataset` arguments that replace the recorded ones.

    Raises:
        DataError: the data came from Python objects (nothing to read again), or the
            recorded source is gone.
    """
    preprocessing = record.get("preprocessing")
    fixed = {"class_names": record.get("class_names"),
             "preprocessing": "auto" if preprocessing is None
             else Preprocessing.from_dict(preprocessing, "the run's preprocessing")}
    if path is not None:
        return load_dataset(path, **options, **fixed)
    source = record.get("source")
    if source == EMBEDDED_SOURCE:
        source = None
    elif not record.get("load_options"):
        raise DataError(f"the run's data ({source}) came from Python objects, which cannot be "
                        "read again; give the data (`--data PATH`)")
    stored = {k: tuple(v) if k == "image_size" and v else v
              for k, v in record.get("load_options", {}).items()}
    return load_dataset(source, **{**stored, **options}, **fixed)


def _jsonable(options):
    return {k: list(v) if isinstance(v, tuple) else v for k, v in options.items()}


def _is_in_memory(path):
    return isinstance(path, (tuple, list)) or type(path).__module__.startswith("pandas")


def _load_in_memory(data, *, target, test, **options):
    """``load_dataset`` of a DataFrame or an ``(x, y)`` pair: see :mod:`tgraph.data.inmemory`."""
    from tgraph.data.inmemory import from_arrays, from_dataframe

    if not isinstance(data, (tuple, list)):
        return from_dataframe(data, target=target, test=test, **options)
    if len(data) != 2:
        raise ConfigError(f"load_dataset: a {type(data).__name__} of {len(data)} items; give "
                          "arrays as an (x, y) pair, or use tgraph.data.from_arrays")
    if test is not None:
        if not (isinstance(test, (tuple, list)) and len(test) == 2):
            raise ConfigError("load_dataset: with an (x, y) pair, `test_path` must be an "
                              "(x_test, y_test) pair")
        options.update(x_test=test[0], y_test=test[1])
    return from_arrays(*data, **options)


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


def _read(path, fmt, options):
    """(format, source, RawData) of a dataset path."""
    if path is None:
        _warn_unused("npz", options, ())
        return "npz", EMBEDDED_SOURCE, _npz(embedded_path())
    path = existing_path(path, FORMATS).resolve()
    fmt = fmt or format_of(path)
    if fmt not in _READERS:
        raise ConfigError(f"`format` (={fmt!r}) must be one of {', '.join(FORMAT_NAMES)}")
    reader, own_options = _READERS[fmt]
    _warn_unused(fmt, options, own_options)
    return fmt, str(path), reader(path, **options)


def _warn_unused(fmt, options, own_options):
    for name, default in _OPTION_DEFAULTS.items():
        if name not in own_options and options[name] != default:
            users = [f for f, (_, names) in _READERS.items() if name in names]
            warnings.warn(f"load_dataset: `{name}` is only used with the {' and '.join(users)} "
                          f"format, not {fmt}; ignored", stacklevel=4)


def format_of(path):
    """The format name of a dataset path, from its name and, for directories, its content.

    Raises:
        DataError: a name of no known format.
    """
    path = Path(path)
    name = path.name.lower()
    if path.is_dir():
        return _directory_format(path)
    if name.endswith(".npz"):
        return "npz"
    if name.endswith(_PICKLE_SUFFIXES):
        return "pickle"
    if name.endswith(TABLE_SUFFIXES):
        return "csv"
    if name.endswith(".npy"):
        raise DataError(f"{path}: a .npy file holds one array and no labels; save inputs and "
                        "labels together: numpy.savez(path, x=x, y=y), and load the .npz")
    if name.endswith((".tar.gz", ".tgz", ".tar")):
        raise DataError(f"{path}: an archive; extract it first (tar xzf {path.name}) and load "
                        "the directory it holds")
    if "idx" in name and "ubyte" in name:
        raise DataError(f"{path}: a single IDX file; load_dataset needs the directory holding "
                        "the four MNIST IDX files (read one file with tgraph.data.read_idx)")
    raise DataError(f"{path}: unknown dataset format (from the file name); expected {FORMATS}")


def _directory_format(path):
    names = {p.name for p in path.iterdir()}
    idx_names = {n for pair in MNIST_IDX_NAMES.values() for n in pair}
    if any(n.replace(".gz", "").replace(".idx", "-idx") in idx_names for n in names):
        return "idx"
    if is_cifar_directory(path):
        return "cifar"
    if is_image_folder(path):
        return "folders"
    return "idx"  # its reader names the files it expected


def kind_of_data(x):
    """``"images"`` or ``"table"``: what the default preprocessing is chosen by.

    Images: arrays of 3 or more dimensions, uint8 arrays, and arrays whose values all lie
    in [0, 1] (the tutorials' (N, 784) MNIST); anything else is a table.
    """
    if x.ndim >= 3 or x.dtype == np.uint8:
        return "images"
    if x.dtype.kind in "fiub" and x.size and not np.isnan(x).any() \
            and x.min() >= 0 and x.max() <= 1:
        return "images"
    return "table"


# -- from stored arrays to a Dataset ----------------------------------------------------


def build_dataset(raw, *, source="<arrays>", fmt="arrays", test=None, valid_fraction=0.2,
                  valid_size=None, valid_split="last", seed=None, class_names=None,
                  preprocessing="auto", impute=None, layout=None):
    """A :class:`Dataset` from stored arrays: the steps 2 to 6 of the module docstring.

    Args:
        raw: the :class:`RawData` of the source.
        source: the source's name in messages and ``Dataset.source``.
        fmt: the format's name, for ``Dataset.meta``.
        test: ``(format, source, RawData)`` of a separate test file, or None.
        valid_fraction, valid_size, valid_split, seed, class_names, preprocessing,
        impute, layout: as for :func:`load_dataset`.

    Returns:
        The :class:`Dataset`.
    """
    parts, origins, notes = _with_test(raw, source, test)
    kind = raw.kind or kind_of_data(parts["train"].x)
    labels, names = encode_labels({s: (p.y, f"{origins[s]}: {p.y_name}") for s, p in parts.items()},
                                  class_names if class_names is not None else raw.class_names)
    xs = {s: _checked_x(origins[s], p, labels[s], layout) for s, p in parts.items()}
    own_valid = "valid" in xs
    if not own_valid:
        xs, labels, n_valid = _split_valid(xs, labels, names, source, valid_fraction,
                                           valid_size, valid_split, seed)
    fitted = _fitted(preprocessing, impute, kind, xs["train"], f"{source}: {parts['train'].x_name}")
    splits = {s: Split(x=fitted.apply(x, _where(parts, origins, s)), y=labels[s])
              for s, x in xs.items()}
    if seed is not None:
        splits["train"] = shuffle(splits["train"], seed)
    notes += _empty_class_notes(labels, names)
    if "test" not in splits:
        notes.append(f"no test split: {source} has none and no test file was given "
                     "(`test_path`, `--test-data`); only validation figures are reported")
    split_info = _split_info(splits, own_valid, valid_split, valid_fraction, valid_size,
                             None if own_valid else n_valid, seed, test)
    meta = {**_meta(fmt, splits, own_valid=own_valid, valid_fraction=valid_fraction, seed=seed,
                    valid_size=valid_size, valid_split=valid_split), **raw.info}
    return Dataset(**splits, source=source, meta=meta, class_names=names,
                   preprocessing=fitted, split_info=split_info, notes=notes)


def _empty_class_notes(labels, names):
    """Notes on classes without any example, or without a training example."""
    def count(arrays):
        return np.bincount(np.concatenate(arrays), minlength=len(names))

    every, train = count(list(labels.values())), count([labels["train"]])
    notes = []
    if (every == 0).any():
        notes.append(f"the classes {_shown(names, every == 0)} have no example: integer labels "
                     "are class indices 0..K-1 (labels 1..3 make 4 classes); store labels as "
                     "names, or pass `class_names`")
    if ((train == 0) & (every > 0)).any():
        notes.append(f"the classes {_shown(names, (train == 0) & (every > 0))} have no training "
                     "example (only validation or test ones): the model cannot learn them")
    return notes


def _shown(names, mask):
    chosen = [repr(names[i]) for i in np.flatnonzero(mask)]
    return ", ".join(chosen[:10]) + (", ..." if len(chosen) > 10 else "")


def _where(parts, origins, split):
    """The file and field of a split's inputs (a split-off validation part: the training's)."""
    split = split if split in parts else "train"
    return f"{origins[split]}: {parts[split].x_name}"


def _with_test(raw, source, test):
    """(parts, ``{split: its file}``, notes) with the test part of ``test`` if given."""
    parts, notes = dict(raw.parts), []
    origins = {name: source for name in parts}
    if test is None:
        return parts, origins, notes
    _, test_source, test_raw = test
    if "test" in parts:
        notes.append(f"the test split of {source} was replaced by {test_source}")
    parts["test"] = test_raw.parts.get("test", test_raw.parts["train"])
    origins["test"] = test_source
    return parts, origins, notes


def _checked_x(source, part, y, layout):
    if len(part.x) != len(y):
        raise DataError(f"{source}: {part.x_name} has {len(part.x)} examples but {part.y_name} "
                        f"has {len(y)} labels; inputs and labels must pair up one to one")
    return to_nchw(part.x, layout, f"{source}: {part.x_name}")


def _split_valid(xs, labels, names, source, valid_fraction, valid_size, valid_split, seed):
    y = labels["train"]
    n_valid = validation_size(len(y), valid_fraction, valid_size, source)
    train, valid = split_indices(y, n_valid, valid_split, seed, source)
    if valid_split == "last":
        check_last_split(y[train], y[valid], names, source)
    x = xs["train"]
    xs = {**xs, "train": x[train], "valid": x[valid]}
    labels = {**labels, "train": y[train], "valid": y[valid]}
    return xs, labels, n_valid


def _fitted(preprocessing, impute, kind, x_train, where):
    """The fitted :class:`Preprocessing` for these training inputs."""
    if preprocessing is None:
        preprocessing = "none"
    if isinstance(preprocessing, Preprocessing):
        if preprocessing.fitted:
            return preprocessing
        return preprocessing.fit(x_train, where)
    if preprocessing == "auto":
        return default_preprocessing(kind, impute).fit(x_train, where)
    if preprocessing not in KINDS:
        raise ConfigError(f"`preprocessing` (={preprocessing!r}) must be \"auto\", one of "
                          f"{', '.join(KINDS)}, or a tgraph.data.Preprocessing")
    return Preprocessing(preprocessing, impute=impute).fit(x_train, where)


def _split_info(splits, own_valid, valid_split, valid_fraction, valid_size, n_valid, seed, test):
    return {
        "valid_split": "file" if own_valid else valid_split,
        "valid_fraction": None if own_valid or valid_size is not None else valid_fraction,
        "valid_size": n_valid,
        "seed": seed,
        "test": None if "test" not in splits else (test[1] if test else "file"),
        "sizes": {name: len(split) for name, split in splits.items()},
    }


def _meta(fmt, splits, *, own_valid, valid_fraction, seed, valid_size, valid_split):
    if own_valid:
        valid = "from the file"
    else:
        share = f"{valid_size}" if valid_size is not None else f"{valid_fraction:.0%}"
        valid = (f"last {share} of the training set" if valid_split == "last" else
                 f"random {share} of the training set (stratified by class)")
    return {
        "format": fmt,
        "valid": valid,
        "valid_fraction": None if own_valid or valid_size is not None else valid_fraction,
        "seed": seed,
        "sizes": {name: len(splits[name]) for name in ("train", "valid", "test")
                  if name in splits},
    }
