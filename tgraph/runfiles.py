"""The files of a run directory, and the lock that keeps one process at a time in it.

A run directory (``tgraph train --out DIR``) holds::

    model.tgraph     the final model: the best-validation weights, with the run's metrics
    best.tgraph      the best model so far, written with last.tgraph when it changed
    last.tgraph      the checkpoint ``--resume`` continues from (end of an epoch; the
                     first, then at most every 30 s, and the last; see ModelCheckpoint)
    log.csv          one row per epoch
    log.jsonl        one JSON object per epoch
    metrics.json     the run's result
    spec.json        the experiment as JSON
    spec_<name>.py   a copy of the spec file
    .lock            held (``fcntl.flock``) by the process training in the directory
    filters_layer<k>.png, samples.png
                     first-layer filters and RBM Gibbs chains of pretraining phases

This module is the one place that names them: :class:`RunFiles` gives their paths, and
:func:`lock_run` takes the directory's lock. The lock is an OS file lock, so it dies
with its process (even a ``kill -9``); the file keeps the PID of the last holder for
the message a second process gets.
"""

import contextlib
import errno
import fcntl
import glob
import os

import attrs

from tgraph.errors import ConfigError, TGraphError

__all__ = ["RunFiles", "RunFinished", "RunLock", "lock_run", "make_run_directory",
           "run_model_file", "MODEL", "BEST", "LAST", "CSV_LOG", "JSON_LOG", "METRICS",
           "SPEC_JSON", "SPEC_COPY_PREFIX", "LOCK", "FILTERS", "SAMPLES", "MODEL_FILES"]

MODEL = "model.tgraph"
BEST = "best.tgraph"
LAST = "last.tgraph"
CSV_LOG = "log.csv"
JSON_LOG = "log.jsonl"
METRICS = "metrics.json"
SPEC_JSON = "spec.json"
SPEC_COPY_PREFIX = "spec_"
LOCK = ".lock"
FILTERS = "filters_layer{layer}.png"
SAMPLES = "samples.png"

# Model files of a run, in the order ``tgraph eval/predict/summary DIR`` looks for them.
MODEL_FILES = (MODEL, BEST, LAST)


class RunFinished(TGraphError):
    """``--resume`` of a run that already finished: nothing to train (``tgraph`` exits 0)."""


@attrs.frozen
class RunFiles:
    """The paths of everything a run directory holds.

    Attributes:
        directory: the run directory.
    """

    directory: str = attrs.field(converter=os.fspath)

    def _path(self, name):
        return os.path.join(self.directory, name)

    @property
    def model(self):
        return self._path(MODEL)

    @property
    def best(self):
        return self._path(BEST)

    @property
    def last(self):
        return self._path(LAST)

    @property
    def csv_log(self):
        return self._path(CSV_LOG)

    @property
    def json_log(self):
        return self._path(JSON_LOG)

    @property
    def metrics(self):
        return self._path(METRICS)

    @property
    def spec_json(self):
        return self._path(SPEC_JSON)

    @property
    def lock(self):
        return self._path(LOCK)

    def filters(self, layer):
        """The picture of layer ``layer``'s filters (a pretraining phase writes it)."""
        return self._path(FILTERS.format(layer=layer))

    @property
    def samples(self):
        return self._path(SAMPLES)

    def spec_copy(self, spec_path):
        """Where the copy of the spec file ``spec_path`` goes: ``spec_<file name>``."""
        return self._path(SPEC_COPY_PREFIX + os.path.basename(spec_path))

    def spec_copies(self):
        """The spec-file copies present in the directory, sorted."""
        return sorted(glob.glob(os.path.join(glob.escape(self.directory),
                                             SPEC_COPY_PREFIX + "*.py")))

    def existing_models(self):
        """Names of the model files present (``model.tgraph``, ``best.tgraph``, ...)."""
        return [n for n in MODEL_FILES if os.path.exists(self._path(n))]


def run_model_file(path):
    """The model file meant by ``path``: itself, or the first of ``model.tgraph``,
    ``best.tgraph``, ``last.tgraph`` inside it if it is a run directory."""
    if os.path.isdir(path):
        files = RunFiles(path)
        for name in MODEL_FILES:
            candidate = files._path(name)
            if os.path.exists(candidate):
                return candidate
    return path


def make_run_directory(directory, option="--out"):
    """Create ``directory`` (and its parents) or raise a :class:`ConfigError` saying why.

    Args:
        directory: the run directory.
        option: the command-line option that named it, for the message.
    """
    try:
        os.makedirs(directory, exist_ok=True)
    except (NotADirectoryError, FileExistsError):
        blocker = _regular_file_on_the_way(directory)
        raise ConfigError(f"{option} {directory}: {blocker} is a file, not a directory; "
                          f"choose another {option}") from None
    except PermissionError as err:
        raise ConfigError(f"{option} {directory}: cannot create the directory "
                          f"({err.strerror}); choose another {option}") from None


def _regular_file_on_the_way(directory):
    """The first existing path above (or at) ``directory``, which is a regular file."""
    path = os.path.abspath(directory)
    while not os.path.exists(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    return path if not os.path.isdir(path) else directory


class RunLock:
    """An exclusive ``fcntl.flock`` on a run directory's lock file.

    Use :func:`lock_run`; :meth:`release` (or the end of the process) frees it.
    """

    def __init__(self, path, fd):
        self.path, self._fd = path, fd

    @property
    def held(self):
        return self._fd is not None

    def release(self):
        """Free the lock (the file stays, with the PID of its last holder)."""
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


LOCKED_MESSAGE = ("{directory}: the run directory is in use by process {pid} (it holds "
                  "{lock}); wait for it to end or stop it, or choose another --out")


def lock_run(directory):
    """Lock the run directory ``directory`` for this process, or fail at once.

    Args:
        directory: an existing run directory.

    Returns:
        A :class:`RunLock`; the lock lasts until :meth:`RunLock.release` or the end of
        the process, whichever comes first.

    Raises:
        ConfigError: another process holds the lock; the message gives its PID.
    """
    path = RunFiles(directory).lock
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        holder = _read_pid(fd)
        os.close(fd)
        if err.errno not in (errno.EWOULDBLOCK, errno.EACCES, errno.EAGAIN):
            raise
        raise ConfigError(LOCKED_MESSAGE.format(directory=directory, pid=holder or "unknown",
                                                lock=LOCK)) from None
    _write_pid(fd)
    return RunLock(path, fd)


def _read_pid(fd):
    with contextlib.suppress(OSError, ValueError):
        os.lseek(fd, 0, os.SEEK_SET)
        return int(os.read(fd, 32).decode().strip())
    return None


def _write_pid(fd):
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, f"{os.getpid()}\n".encode())
