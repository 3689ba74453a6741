"""Opening data files: existence checks, transparent gunzip, errors that name the file.

Every reader in :mod:`tgraph.data` goes through these helpers so that a missing,
truncated or corrupt file gives a :class:`tgraph.DataError` naming the file and saying
what to do, never a bare ``EOFError`` from gzip or ``BadZipFile`` from numpy.
"""

import contextlib
import gzip
import os
import zipfile
import zlib
from pathlib import Path

from tgraph.errors import DataError

__all__ = [
    "GZIP_MAGIC",
    "FETCH_AGAIN",
    "existing_path",
    "is_gzip",
    "open_maybe_gzip",
    "read_maybe_gzip",
    "reading",
]

GZIP_MAGIC = b"\x1f\x8b"
FETCH_AGAIN = "download or copy the file again"

# What the standard library and numpy raise on a file that is cut short or garbled.
_READ_ERRORS = (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error)


def existing_path(path, expected):
    """``path`` as a :class:`Path`, or a :class:`DataError` if nothing is there.

    Args:
        path: a file or directory path (str or path-like).
        expected: what the caller accepts, for the message, e.g. ``"a .npz file"``.
    """
    path = Path(os.fspath(path)).expanduser()
    if not path.exists():
        raise DataError(f"{path}: no such file or directory; expected {expected}")
    return path


def is_gzip(path):
    """True if the file starts with the gzip magic bytes (whatever its name)."""
    with reading(path, "a readable file"), open(path, "rb") as f:
        return f.read(2) == GZIP_MAGIC


def open_maybe_gzip(path):
    """A binary file object of ``path``, decompressing on the fly if it is gzip data."""
    return gzip.open(path, "rb") if is_gzip(path) else open(path, "rb")


def read_maybe_gzip(path, kind):
    """All bytes of ``path``, gunzipped if it is gzip data.

    Args:
        path: the file.
        kind: what the file should be, for the message (e.g. ``"an IDX file"``).

    Returns:
        The (uncompressed) content as ``bytes``.
    """
    with reading(path, kind), open_maybe_gzip(path) as f:
        return f.read()


@contextlib.contextmanager
def reading(path, kind):
    """Turn the low-level errors of reading ``path`` into a :class:`DataError`.

    Args:
        path: the file being read, named in the message.
        kind: what the file should be (``"a .npz file"``), named in the message.
    """
    try:
        yield
    except DataError:
        raise
    except _READ_ERRORS as exc:
        raise DataError(
            f"{path}: cannot read {kind}: {_describe(exc)}; the file is truncated, corrupt "
            f"or of another format; {FETCH_AGAIN}"
        ) from exc


def _describe(exc):
    text = str(exc) or "no details"
    return f"{type(exc).__name__}: {text}"
