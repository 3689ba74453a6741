"""The deeplearning.net tutorials' ``mnist.pkl.gz``, read with a restricted unpickler.

The file is a gzip of a Python 2 ``cPickle`` (protocol 2) of ``(train_set, valid_set,
test_set)``, each ``(x, y)`` with x float32 (N, 784) in [0, 1] and y int64 (N,)
(http://deeplearning.net/tutorial/gettingstarted.html). Unpickling can run arbitrary
code, so :class:`NumpyOnlyUnpickler` resolves only the few globals that rebuild numpy
arrays and refuses every other one before it is looked up.
"""

import importlib
import pickle

import numpy as np

from tgraph.data._arrays import describe
from tgraph.data._files import FETCH_AGAIN, existing_path, open_maybe_gzip
from tgraph.errors import DataError

__all__ = ["ALLOWED_GLOBALS", "NumpyOnlyUnpickler", "unpickle_numpy", "read_pickled_dataset"]

_KIND = "the tutorials' mnist.pkl.gz (a pickled (train, valid, test) tuple of (x, y) pairs)"
_SPLITS = ("train", "valid", "test")


def _numpy_core(module, name):
    """``numpy._core.<module>.<name>`` (numpy 2) or ``numpy.core.<module>.<name>`` (1.x)."""
    def resolve():
        try:
            found = importlib.import_module(f"numpy._core.{module}")
        except ImportError:
            found = importlib.import_module(f"numpy.core.{module}")
        return getattr(found, name)
    return resolve


# (module, name) as written in the pickle -> resolver of the object. Protocol 2 files
# (Python 2 cPickle, numpy 1.x) use the first three; files written by numpy 2 say
# numpy._core; protocol 5 writes _frombuffer; Python 3 protocol 2 bytes use _codecs.encode.
ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _numpy_core("multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"): _numpy_core("multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"): _numpy_core("numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"): _numpy_core("numeric", "_frombuffer"),
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
    ("_codecs", "encode"): lambda: importlib.import_module("_codecs").encode,
}


class NumpyOnlyUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds numpy arrays, tuples, lists and numbers, nothing else.

    Python 2 byte strings are decoded as latin-1, as numpy needs for its array data.
    Dicts, strings and bytes need no global, so CIFAR's batches (dicts of arrays, label
    lists and file names) load with the same short allow-list.

    Args:
        file: binary file object of the pickle.
        path: the file's path, named in the error message.
        accepts: the pickles tgraph reads in this place, named in the refusal.
    """

    def __init__(self, file, path, accepts="the tutorials' mnist.pkl.gz"):
        super().__init__(file, encoding="latin1")
        self.path, self.accepts = path, accepts

    def find_class(self, module, name):
        resolve = ALLOWED_GLOBALS.get((module, name))
        if resolve is None:
            raise DataError(
                f"{self.path}: refusing to unpickle the global {module}.{name}: tgraph only "
                f"loads pickles of numpy arrays ({self.accepts}); if you trust the "
                "file, convert it to .npz yourself and load that")
        return resolve()

    def persistent_load(self, pid):
        raise DataError(f"{self.path}: refusing a persistent id in the pickle; tgraph only "
                        "loads pickles of numpy arrays")


def read_pickled_dataset(path):
    """The train, valid and test splits of a tutorials-style ``mnist.pkl.gz``, as stored.

    Args:
        path: the pickle, gzip-compressed or not.

    Returns:
        ``{split: (x, y, x_name, y_name)}`` for ``train``, ``valid`` and ``test``;
        x (N, 784) float32, y (N,) int64 for the original file; the names
        (``"train_set x"``, ...) are for messages.

    Raises:
        DataError: unreadable or truncated file, a refused global, or another layout.
    """
    path = existing_path(path, _KIND)
    content = unpickle_numpy(path, _KIND)
    if not _is_triple_of_pairs(content):
        raise DataError(f"{path}: holds {_outline(content)}; expected {_KIND}")
    return {name: (x, y, f"{name}_set x", f"{name}_set y")
            for name, (x, y) in zip(_SPLITS, content)}


def unpickle_numpy(path, kind, accepts="the tutorials' mnist.pkl.gz"):
    """The object in a pickle (gzip-compressed or not), read with :class:`NumpyOnlyUnpickler`.

    Args:
        path: the file.
        kind: what the file should be, named in the message if it cannot be read.
        accepts: the pickles tgraph reads in this place, named if a global is refused.

    Raises:
        DataError: a refused global, or a truncated, corrupt or non-pickle file.
    """
    try:
        with open_maybe_gzip(path) as f:
            return NumpyOnlyUnpickler(f, path, accepts).load()
    except DataError:
        raise
    except Exception as exc:  # a garbled pickle can raise almost anything
        raise DataError(f"{path}: cannot read {kind}: {type(exc).__name__}: {exc}; the file "
                        f"is truncated, corrupt or of another format; {FETCH_AGAIN}") from exc


def _is_triple_of_pairs(content):
    return (isinstance(content, (tuple, list)) and len(content) == 3
            and all(isinstance(part, (tuple, list)) and len(part) == 2
                    and all(isinstance(a, np.ndarray) for a in part) for part in content))


def _outline(content):
    if isinstance(content, (tuple, list)):
        inner = ", ".join(_outline(c) for c in content[:4])
        more = ", ..." if len(content) > 4 else ""
        return f"a {type(content).__name__} of {len(content)} ({inner}{more})"
    return describe(content)
