"""Atomic file writes: a crash never leaves a half-written file in place.

Everything tgraph writes that a user keeps (model files, checkpoints, metrics) is
written to a temporary file in the same directory, flushed to disk, then renamed over
the target with ``os.replace`` (atomic on POSIX and Windows). The file gets the
permissions a plain ``open(path, "w")`` would give it (``0o666`` minus the umask), not
the owner-only ``0o600`` of the temporary file.
"""

import contextlib
import json
import os
import tempfile

__all__ = ["atomic_write", "write_json"]


@contextlib.contextmanager
def atomic_write(path, mode="wb"):
    """Context manager yielding a file object whose content replaces ``path`` on success.

    Args:
        path: destination path; its directory must exist.
        mode: ``"wb"`` or ``"w"``.

    On an exception inside the block the temporary file is removed and ``path`` is left
    as it was.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(fd, mode, encoding=encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _new_file_mode())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def _new_file_mode():
    """``0o666`` minus the process umask: the mode ``open()`` gives a new file."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _fsync_directory(directory):
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_json(path, data):
    """Atomically write ``data`` as indented JSON to ``path``."""
    with atomic_write(path, "w") as f:
        json.dump(data, f, indent=2, sort_keys=False, default=float)
        f.write("\n")
