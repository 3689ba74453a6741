"""Inputs for ``tgraph predict``: arrays (.npz, .npy) or PNG images.

PNGs are read with Pillow (``pip install 'tgraph[images]'``), converted to grayscale
and scaled to float32 in [0, 1] with 1 = ink, as in MNIST (white digits on black). Use
``invert=True`` for dark digits on a light background. Images are not resized: each must
already have the model's size (28 x 28 for MNIST models).
"""

from pathlib import Path

import numpy as np

from tgraph.data._arrays import to_unit_float
from tgraph.data._files import existing_path, reading
from tgraph.errors import DataError

__all__ = ["INPUT_FORMATS", "load_inputs"]

INPUT_FORMATS = "a .npz or .npy array of images, a PNG, or a directory of PNGs"
_NPZ_KEYS = ("x", "x_test")


def load_inputs(path, *, invert=False, size=(28, 28)):
    """Images to predict, as float32 in [0, 1].

    Args:
        path: a ``.npz`` (array ``x``, else ``x_test``, else its only array), a ``.npy``
            (read without pickle), a ``.png``, or a directory of ``.png`` files (read in
            sorted name order; other files are ignored). Arrays hold uint8 0..255 or
            floats in [0, 1], in any layout the model accepts ((N, 28, 28), (N, 784)).
        invert: use ``1 - x`` (for dark digits on a light background).
        size: (height, width) every PNG must have, in pixels.

    Returns:
        ``(x, names)``: x float32, (N, height, width) for PNGs, as stored for arrays;
        names: the PNG file names (for labelling predictions), or None for arrays.

    Raises:
        DataError: a missing or unreadable file, another format, a PNG of another size.
    """
    path = existing_path(path, INPUT_FORMATS)
    size = tuple(size)
    if path.is_dir():
        files = _png_files(path)
        return np.stack([_read_png(f, size, invert) for f in files]), [f.name for f in files]
    suffix = path.suffix.lower()
    if suffix == ".png":
        return _read_png(path, size, invert)[None], [path.name]
    if suffix in (".npz", ".npy"):
        array = _npz_array(path) if suffix == ".npz" else _npy_array(path)
        return _maybe_invert(to_unit_float(array, str(path)), invert), None
    raise DataError(f"{path}: unknown input format (from the file name); expected {INPUT_FORMATS}")


def _maybe_invert(x, invert):
    return np.float32(1.0) - x if invert else x


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


def _png_files(directory):
    files = sorted(f for f in directory.iterdir()
                   if f.suffix.lower() == ".png" and f.is_file() and not f.name.startswith("."))
    if not files:
        raise DataError(f"{directory}: no .png files in this directory; expected {INPUT_FORMATS}")
    return files


def _read_png(path, size, invert):
    """(H, W) float32 in [0, 1], 1 = ink; transparent pixels count as background."""
    image = _open_image(path)
    if image.size[::-1] != size:
        raise DataError(f"{path}: the image is {image.height}x{image.width} pixels (height x "
                        f"width), the model needs {size[0]}x{size[1]}; resize it first")
    return _maybe_invert(_grayscale(image, path, background=255 if invert else 0), invert)


def _open_image(path):
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError as exc:
        raise DataError(f"{path}: reading PNG files needs Pillow: pip install "
                        "'tgraph[images]'") from exc
    try:
        with Image.open(path) as image:
            image.load()
            return image
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise DataError(f"{path}: cannot read the PNG ({type(exc).__name__}: {exc}); is it a "
                        "complete PNG file?") from exc


def _grayscale(image, path, background):
    """(H, W) float32 gray levels in [0, 1]; transparent pixels get the ``background`` gray."""
    from PIL import Image

    if image.mode.startswith("I;16"):
        return (np.asarray(image, dtype=np.float64) / 65535.0).astype(np.float32)
    if "A" in image.getbands() or "transparency" in image.info:
        backdrop = Image.new("RGBA", image.size, (background, background, background, 255))
        image = Image.alpha_composite(backdrop, image.convert("RGBA"))
    return to_unit_float(np.asarray(image.convert("L")), str(path))
