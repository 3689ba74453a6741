"""A directory of images with one subdirectory per class (``cats/001.png``, ``dogs/7.jpg``).

Layout (as Keras' ``image_dataset_from_directory`` and torchvision's ``ImageFolder``)::

    flowers/                       flowers/
        daisy/  a.png b.jpg   or       train/  daisy/ ...  tulip/ ...
        tulip/  c.bmp ...              valid/  daisy/ ...  tulip/ ...   (optional)
                                       test/   daisy/ ...  tulip/ ...   (optional)

The class names are the subdirectory names, numbered in sorted order (those of
``train/`` when the splits have subdirectories of their own; ``valid/`` and ``test/``
may lack a class but not add one; ``validation/`` and ``val/`` also name the validation
split). PNG, JPEG and BMP files are read with Pillow (``pip install 'tgraph[images]'``);
hidden files are ignored, other files skipped with a warning.

Images are grayscale (1 channel) or RGB (3 channels): ``color_mode=None`` picks RGB if
any image has colour. Transparent pixels are put on black. Every image must have the
size of the first one, or ``image_size=(height, width)`` resizes them all (bilinear).
The inputs come as uint8 (N, C, H, W); :func:`tgraph.data.load_dataset` scales them.
"""

import warnings

import numpy as np

from tgraph.data._files import existing_path
from tgraph.data._raw import Part, RawData
from tgraph.errors import ConfigError, DataError

__all__ = [
    "IMAGE_SUFFIXES",
    "COLOR_MODES",
    "SPLIT_DIRECTORIES",
    "is_image_folder",
    "read_image_folders",
    "read_image",
    "check_image_size",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
COLOR_MODES = ("grayscale", "rgb")
SPLIT_DIRECTORIES = {"train": ("train",), "valid": ("valid", "validation", "val"),
                     "test": ("test",)}
_GRAY_MODES = ("1", "L", "LA", "I", "F", "I;16", "I;16L", "I;16B", "I;16N")
_KIND = "a directory of images with one subdirectory per class"
_PILLOW = "reading images needs Pillow: pip install 'tgraph[images]' (or pip install pillow)"


def is_image_folder(path):
    """True if the directory has a (non-hidden) subdirectory: classes or splits."""
    return any(p.is_dir() and not p.name.startswith(".") for p in path.iterdir())


def check_image_size(image_size):
    """``image_size`` as a (height, width) tuple of positive ints, or None.

    Accepts ``(28, 28)``, ``[32, 32]``, ``"32x32"`` and ``"32,32"``.

    Raises:
        ConfigError: anything else.
    """
    if image_size is None:
        return None
    values = image_size
    if isinstance(image_size, str):
        values = image_size.lower().replace("x", ",").split(",")
    try:
        size = tuple(int(v) for v in values)
    except (TypeError, ValueError):
        size = ()
    if len(size) != 2 or min(size) < 1:
        raise ConfigError(f"`image_size` (={image_size!r}) must be (height, width) in pixels, "
                          "e.g. (32, 32) or \"32x32\"")
    return size


def read_image_folders(path, *, image_size=None, color_mode=None):
    """The images of a class-per-subdirectory folder, as uint8 arrays.

    Args:
        path: the directory (see the module docstring for the layout).
        image_size: ``(height, width)`` to resize every image to (or ``"HxW"``); None:
            every image must have the size of the first one.
        color_mode: ``"grayscale"``, ``"rgb"``, or None (RGB if any image has colour).

    Returns:
        A :class:`RawData` of kind ``"images"``: per split, x (N, C, H, W) uint8 and y
        (N,) class names; ``class_names`` sorted; ``info`` with ``image_size``,
        ``channels`` and ``resized``.

    Raises:
        DataError: no class subdirectories, a class without images, an unreadable
            image, an image of another size without ``image_size``, no Pillow.
    """
    path = existing_path(path, _KIND)
    size = check_image_size(image_size)
    if color_mode not in (None, *COLOR_MODES):
        raise ConfigError(f"`color_mode` (={color_mode!r}) must be \"grayscale\", \"rgb\" or "
                          "None (RGB if any image has colour)")
    roots = _split_roots(path)
    class_names = _class_directories(roots["train"])
    files = {split: _labelled_files(root, class_names) for split, root in roots.items()}
    probes = {split: [_probe(f) for f, _ in pairs] for split, pairs in files.items()}
    channels = _channels(color_mode, probes)
    size = size or _common_size(files, probes)
    parts = {split: _read_part(root, files[split], channels, size, image_size is not None)
             for split, root in roots.items()}
    info = {"image_size": list(size), "channels": channels, "resized": image_size is not None}
    return RawData(parts, kind="images", class_names=tuple(class_names), info=info)


def _split_roots(path):
    """{split: directory}: the split subdirectories if there is a ``train/``, else the path."""
    subdirs = {p.name: p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")}
    split_names = {n for names in SPLIT_DIRECTORIES.values() for n in names}
    if "train" not in subdirs or not set(subdirs) <= split_names:
        return {"train": path}
    roots = {}
    for split, names in SPLIT_DIRECTORIES.items():
        found = [subdirs[n] for n in names if n in subdirs]
        if len(found) > 1:
            raise DataError(f"{path}: both {found[0].name}/ and {found[1].name}/; keep one "
                            f"directory for the {split} split")
        if found:
            roots[split] = found[0]
    return roots


def _class_directories(root):
    names = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not names:
        raise DataError(f"{root}: no class subdirectories; expected {_KIND} "
                        "(e.g. cat/001.png, dog/002.jpg)")
    return names


def _labelled_files(root, class_names):
    """[(image file, class name)] of every class subdirectory of ``root``, sorted."""
    pairs, skipped = [], []
    for directory in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if directory.name not in class_names:
            raise DataError(f"{directory}: a class that the training directory does not have "
                            f"(its classes: {', '.join(class_names)}); add it there or remove it")
        found = _images_in(directory, skipped)
        if not found and root.name not in ("valid", "validation", "val", "test"):
            raise DataError(f"{directory}: no images ({', '.join(IMAGE_SUFFIXES)}) in this "
                            "class directory; add some or remove the directory")
        pairs += [(f, directory.name) for f in found]
    if skipped:
        warnings.warn(f"{root}: skipped {len(skipped)} files that are not "
                      f"{'/'.join(s[1:] for s in IMAGE_SUFFIXES)} images, e.g. {skipped[0]}",
                      stacklevel=4)
    if not pairs:
        raise DataError(f"{root}: no images in its class subdirectories")
    return pairs


def _images_in(directory, skipped):
    found = []
    for f in sorted(directory.iterdir()):
        if f.name.startswith(".") or not f.is_file():
            continue
        (found if f.suffix.lower() in IMAGE_SUFFIXES else skipped).append(f)
    return found


def _pillow(path):
    try:
        from PIL import Image
    except ImportError as exc:
        raise DataError(f"{path}: {_PILLOW}") from exc
    return Image


def _probe(path):
    """(mode, (height, width)) from the image's header, without decoding the pixels."""
    image_module = _pillow(path)
    try:
        with image_module.open(path) as image:
            return image.mode, (image.height, image.width)
    except (OSError, ValueError) as exc:
        raise _unreadable(path, exc) from exc


def _unreadable(path, exc):
    return DataError(f"{path}: cannot read the image ({type(exc).__name__}: {exc}); is it a "
                     "complete PNG, JPEG or BMP file? Replace or remove it")


def _channels(color_mode, probes):
    if color_mode is not None:
        return 1 if color_mode == "grayscale" else 3
    colour = any(mode not in _GRAY_MODES for modes in probes.values() for mode, _ in modes)
    return 3 if colour else 1


def _common_size(files, probes):
    first_file, first_size = files["train"][0][0], probes["train"][0][1]
    for split, pairs in files.items():
        for (f, _), (_, size) in zip(pairs, probes[split]):
            if size != first_size:
                raise DataError(
                    f"{f}: the image is {size[0]}x{size[1]} pixels (height x width), but "
                    f"{first_file} is {first_size[0]}x{first_size[1]}; images of several "
                    "sizes need image_size=(height, width) (`--image-size HxW`) to resize "
                    "them all to one size")
    return first_size


def _read_part(root, pairs, channels, size, resize):
    x = np.empty((len(pairs), channels, *size), np.uint8)
    for i, (f, _) in enumerate(pairs):
        x[i] = read_image(f, channels=channels, size=size if resize else None)
    y = np.array([name for _, name in pairs], dtype=str)
    return Part(x, y, f"images in {root}", f"class subdirectories of {root}")


def read_image(path, *, channels=None, size=None, background=0):
    """One image file as a uint8 (C, H, W) array.

    Args:
        path: a PNG, JPEG or BMP file (any format Pillow reads).
        channels: 1 (grayscale), 3 (RGB), or None (1 for grayscale files, else 3).
        size: ``(height, width)`` to resize to (bilinear), or None to keep the size.
        background: the gray level (0..255) that transparent pixels get.

    Returns:
        (channels, height, width) uint8; transparent pixels are ``background`` (black
        by default); 16-bit grayscale is rounded to 8 bits.

    Raises:
        DataError: no Pillow, or an unreadable file.
    """
    image_module = _pillow(path)
    try:
        with image_module.open(path) as image:
            image.load()
            image = _converted(image_module, image, channels, background)
            if size is not None and (image.height, image.width) != tuple(size):
                image = image.resize((size[1], size[0]), image_module.Resampling.BILINEAR)
            array = np.asarray(image, dtype=np.uint8)
    except (OSError, ValueError) as exc:
        raise _unreadable(path, exc) from exc
    return array[None] if array.ndim == 2 else np.ascontiguousarray(array.transpose(2, 0, 1))


def _converted(image_module, image, channels, background=0):
    """The image in mode ``"L"`` or ``"RGB"``."""
    if channels is None:
        channels = 1 if image.mode in _GRAY_MODES else 3
    if image.mode.startswith("I;16") or image.mode == "I":
        levels = np.asarray(image, dtype=np.float64) / 257.0
        image = image_module.fromarray(np.clip(np.rint(levels), 0, 255).astype(np.uint8), "L")
    if "A" in image.getbands() or "transparency" in image.info:
        backdrop = image_module.new("RGBA", image.size, (background,) * 3 + (255,))
        image = image_module.alpha_composite(backdrop, image.convert("RGBA"))
    return image.convert("L" if channels == 1 else "RGB")
