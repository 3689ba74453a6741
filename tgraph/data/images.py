"""Inputs for ``tgraph predict``: arrays (.npz, .npy), images, or a table of features.

Images (PNG, JPEG, BMP) are read with Pillow (``pip install 'tgraph[images]'``).
By default (``channels=None``, the MNIST models' way) they are converted to grayscale
(N, H, W) float32 in [0, 1] with 1 = ink, as in MNIST (white digits on black); use
``invert=True`` for dark digits on a light background; they must already have the
model's size. With ``channels=1`` or ``3`` they come as (N, C, H, W), RGB if asked,
and ``resize=True`` resizes them to ``size``.

With ``preprocessing`` (the fitted :class:`tgraph.data.Preprocessing` of the model's
training data, stored in its model file) the stored values go through it, exactly as
the training data did; without it, pixels are scaled to [0, 1] (uint8 / 255).
"""

from pathlib import Path

import numpy as np

from tgraph.data._arrays import to_unit_float
from tgraph.data._files import existing_path, reading
from tgraph.data.csv import TABLE_SUFFIXES, read_csv_features
from tgraph.data.folders import IMAGE_SUFFIXES, read_image
from tgraph.data.layout import to_nchw
from tgraph.errors import ConfigError, DataError

__all__ = ["INPUT_FORMATS", "load_inputs"]

INPUT_FORMATS = "a .npz or .npy array of images, a PNG, or a directory of PNGs"
_NPZ_KEYS = ("x", "x_test")


def load_inputs(path, *, invert=False, size=(28, 28), channels=None, resize=False,
                preprocessing=None, layout=None, n_features=None, target=None, header=None,
                delimiter=None):
    """Inputs to predict, as float32.

    Args:
        path: a ``.npz`` (array ``x``, else ``x_test``, else its only array), a ``.npy``
            (read without pickle), an image (``.png``, ``.jpg``, ``.jpeg``, ``.bmp``), a
            directory of images (read in sorted name order; other files are ignored), or
            a ``.csv`` / ``.tsv`` table of features (with or without the label column).
            Arrays hold uint8 0..255 or floats in [0, 1] without ``preprocessing``, in
            any layout the model accepts ((N, 28, 28), (N, 784), NCHW or NHWC images).
        invert: use dark-on-light images as light-on-dark (``1 - x`` in [0, 1]; 255 - x
            for uint8 data with ``preprocessing``).
        size: (height, width) of the images, in pixels: required without ``resize``.
        channels: None (grayscale (N, H, W), the default), 1 or 3 ((N, C, H, W)).
        resize: resize images to ``size`` (bilinear) instead of refusing other sizes.
        preprocessing: a fitted :class:`tgraph.data.Preprocessing` to apply (default:
            pixels scaled to [0, 1]; table features as they are).
        layout: ``"NCHW"`` or ``"NHWC"`` for 4-D arrays whose layout is ambiguous.
        n_features: tables only: the model's number of features (default: the fitted
            ``preprocessing``'s).
        target, header, delimiter: tables only: see
            :func:`tgraph.data.read_csv_features`.

    Returns:
        ``(x, names)``: x float32 (N, ...); names: the image file names (for labelling
        predictions), or None for arrays and tables.

    Raises:
        DataError: a missing or unreadable file, another format, an image of another
            size without ``resize``.
    """
    path = existing_path(path, INPUT_FORMATS)
    if channels not in (None, 1, 3):
        raise ConfigError(f"`channels` (={channels!r}) must be None (grayscale (N, H, W)), 1 or 3")
    raw, names = _read(path, tuple(size), channels, resize, invert, layout,
                       (n_features, target, header, delimiter, preprocessing))
    if preprocessing is not None:
        return preprocessing.apply(_invert_raw(raw) if invert else raw, str(path)), names
    if raw.dtype.kind == "f" and raw.ndim == 2 and _is_table(path):
        return raw.astype(np.float32), names
    return _maybe_invert(to_unit_float(raw, str(path)), invert), names


def _is_table(path):
    return path.name.lower().endswith(TABLE_SUFFIXES)


def _read(path, size, channels, resize, invert, layout, table_options):
    """(stored values, names) of any input format."""
    if path.is_dir():
        files = _image_files(path)
        images = [_image(f, size, channels, resize, invert) for f in files]
        return np.stack(images), [f.name for f in files]
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return _image(path, size, channels, resize, invert)[None], [path.name]
    if suffix in (".npz", ".npy"):
        array = _npz_array(path) if suffix == ".npz" else _npy_array(path)
        return to_nchw(array, layout, str(path)), None
    if _is_table(path):
        return _table(path, *table_options), None
    raise DataError(f"{path}: unknown input format (from the file name); expected {INPUT_FORMATS}")


def _table(path, n_features, target, header, delimiter, preprocessing):
    if n_features is None and preprocessing is not None and preprocessing.fitted:
        n_features = int(np.prod(preprocessing.shape))
    if n_features is None:
        raise ConfigError(f"{path}: a table of inputs needs `n_features` (the model's number "
                          "of features) or the model's fitted `preprocessing`")
    allow_missing = preprocessing is not None and preprocessing.impute is not None
    return read_csv_features(path, n_features, target=target, header=header,
                             delimiter=delimiter, allow_missing=allow_missing)


def _maybe_invert(x, invert):
    return np.float32(1.0) - x if invert else x


def _invert_raw(x):
    return (255 - x).astype(np.uint8) if x.dtype == np.uint8 else 1.0 - x


def _npy_array(path):
    with reading(path, "a .npy array"):
        return np.load(path, allow_pickle=False)


def _npz_array(path):
    with reading(path, "a .npz archive"), np.load(path, allow_pickle=False) as archive:
        keys = [k for k in _NPZ_KEYS if k in archive.files]
        if keys:
            return archive[keys[0]]
        if len(archive.files) == 1:
            return archive[archive.files[0]]
        raise DataError(f"{path}: holds the arrays {', '.join(archive.files) or 'none'}; "
                        "expected one named x (or x_test), or a single array")


def _image_files(directory):
    files = sorted(f for f in Path(directory).iterdir()
                   if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file()
                   and not f.name.startswith("."))
    if not files:
        raise DataError(f"{directory}: no .png files in this directory; expected {INPUT_FORMATS}")
    return files


def _image(path, size, channels, resize, invert):
    """(H, W) uint8 for ``channels=None``, else (C, H, W) uint8; transparent = background."""
    image = read_image(path, channels=channels or 1, size=size if resize else None,
                       background=255 if invert else 0)
    if image.shape[1:] != size:
        raise DataError(f"{path}: the image is {image.shape[1]}x{image.shape[2]} pixels (height "
                        f"x width), the model needs {size[0]}x{size[1]}; resize it first")
    return image[0] if channels is None else image
