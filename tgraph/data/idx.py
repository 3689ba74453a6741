"""LeCun's IDX files: one array per file, and the four-file MNIST directory.

Format (http://yann.lecun.com/exdb/mnist/): a big-endian header, then the data.
The 4-byte magic number is ``0x00 0x00 <type code> <number of dimensions>``, followed
by one big-endian uint32 per dimension. MNIST images are ``0x00000803`` (uint8, 3
dimensions: N, 28, 28), labels ``0x00000801`` (uint8, 1 dimension: N).
"""

import struct
from pathlib import Path

import numpy as np

from tgraph.data._files import FETCH_AGAIN, existing_path, read_maybe_gzip
from tgraph.errors import DataError

__all__ = [
    "IDX_DTYPES",
    "IMAGES_MAGIC",
    "LABELS_MAGIC",
    "MNIST_IDX_NAMES",
    "read_idx",
    "find_idx_file",
    "read_idx_directory",
]

IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801

# split -> (images file, labels file), the names of http://yann.lecun.com/exdb/mnist/.
MNIST_IDX_NAMES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_KIND = "an IDX file"
_DIRECTORY_KIND = ("a directory holding the four MNIST IDX files "
                   + ", ".join(f"{name}(.gz)" for pair in MNIST_IDX_NAMES.values() for name in pair))


def read_idx(path, *, magic=None):
    """The array stored in one IDX file (gzip-compressed or not).

    Args:
        path: the file, e.g. ``t10k-images-idx3-ubyte.gz``.
        magic: the magic number the file must have (e.g. :data:`IMAGES_MAGIC`), or None
            to accept any valid IDX type.

    Returns:
        A native-endian array with the shape of the header, e.g. (10000, 28, 28) uint8.

    Raises:
        DataError: missing file, bad gzip data, bad magic number or type code, or a
            payload that is not exactly as long as the header announces.
    """
    path = existing_path(path, _KIND)
    data = read_maybe_gzip(path, _KIND)
    found, dtype, shape, offset = _parse_header(data, path)
    if magic is not None and found != magic:
        raise DataError(f"{path}: magic number 0x{found:08X}, expected 0x{magic:08X} "
                        f"({_magic_meaning(magic)}); is it the right file?")
    _check_payload(data, path, dtype, shape, offset)
    array = np.frombuffer(data, dtype=dtype, offset=offset).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def _parse_header(data, path):
    """(magic, dtype, shape, payload offset) of an IDX file's bytes."""
    if len(data) < 4 or data[:2] != b"\x00\x00":
        start = data[:4].hex() or "nothing"
        raise DataError(f"{path}: not an IDX file: it starts with {start}, an IDX magic number "
                        f"with two zero bytes (e.g. 0x{IMAGES_MAGIC:08X}); {FETCH_AGAIN}")
    magic, code, ndim = struct.unpack(">I", data[:4])[0], data[2], data[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise DataError(f"{path}: magic number 0x{magic:08X} has the unknown type code "
                        f"0x{code:02X}; IDX type codes are {known}")
    offset = 4 + 4 * ndim
    if ndim == 0 or len(data) < offset:
        raise DataError(f"{path}: magic number 0x{magic:08X} announces {ndim} dimensions but "
                        f"the header is {len(data)} bytes long; {FETCH_AGAIN}")
    shape = struct.unpack(f">{ndim}I", data[4:offset])
    return magic, np.dtype(IDX_DTYPES[code]), shape, offset


def _check_payload(data, path, dtype, shape, offset):
    expected = offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        problem = "truncated" if len(data) < expected else "longer than its header says"
        raise DataError(
            f"{path}: the header announces {dtype.name} data of shape {shape}, {expected} bytes "
            f"with the header, but the file holds {len(data)} bytes (uncompressed); the file "
            f"is {problem}; {FETCH_AGAIN}")


def _magic_meaning(magic):
    code, ndim = (magic >> 8) & 0xFF, magic & 0xFF
    return f"{np.dtype(IDX_DTYPES.get(code, 'u1')).name}, {ndim} dimension{'s' * (ndim != 1)}"


def find_idx_file(directory, name):
    """The path of IDX file ``name`` in ``directory``, compressed or not.

    Accepts ``name``, ``name.gz`` and the dotted spelling of some mirrors
    (``train-images.idx3-ubyte``), in that order.

    Raises:
        DataError: none of them is there.
    """
    directory = Path(directory)
    dotted = name.replace("-idx", ".idx")
    for candidate in (name, f"{name}.gz", dotted, f"{dotted}.gz"):
        if (directory / candidate).is_file():
            return directory / candidate
    raise DataError(
        f"{directory}: no {name} or {name}.gz; expected {_DIRECTORY_KIND}; download them "
        "with load_dataset(download=True) (`tgraph ... --download`)")


def read_idx_directory(directory):
    """The MNIST train and test sets from a directory of the four IDX files.

    Args:
        directory: holds ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
            ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte`` (each may be ``.gz``).

    Returns:
        ``{"train": (images, labels, images_name, labels_name), "test": (...)}`` with
        (N, rows, cols) uint8 images, (N,) uint8 labels and the file names found
        (e.g. ``"train-images-idx3-ubyte.gz"``).

    Raises:
        DataError: a file is missing or bad, or images and labels do not pair up.
    """
    directory = existing_path(directory, _DIRECTORY_KIND)
    return {split: _read_pair(directory, *names) for split, names in MNIST_IDX_NAMES.items()}


def _read_pair(directory, images_name, labels_name):
    images_path = find_idx_file(directory, images_name)
    labels_path = find_idx_file(directory, labels_name)
    images = read_idx(images_path, magic=IMAGES_MAGIC)
    labels = read_idx(labels_path, magic=LABELS_MAGIC)
    if len(images) != len(labels):
        raise DataError(f"{images_path} holds {len(images)} images but {labels_path} holds "
                        f"{len(labels)} labels; both files must come from the same set; "
                        f"{FETCH_AGAIN}")
    return images, labels, images_path.name, labels_path.name
