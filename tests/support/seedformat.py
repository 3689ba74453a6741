"""The tutorials' ``mnist.pkl.gz`` format, written as Python 2.7 ``cPickle`` wrote it.

The deeplearning.net tutorials' file is a gzip of ``cPickle.dump((train_set, valid_set,
test_set), f, 2)`` run by Python 2 with numpy 1.x: protocol 2, arrays rebuilt by the
globals ``numpy.core.multiarray._reconstruct``, ``numpy.ndarray`` and ``numpy.dtype``, their
bytes as Python 2 ``str`` (``SHORT_BINSTRING`` / ``BINSTRING``, read back in Python 3 with
``encoding="latin1"``). Python 3's pickler cannot write that (it writes ``bytes`` through
``_codecs.encode``), so :func:`python2_pickle` emits the opcodes itself, in cPickle's order
and memo numbering (which starts at 1 and skips objects nobody else refers to). For the
project's ``mnist_seedformat_small.pkl.gz`` the result is byte-identical to the real
file's uncompressed content (checked by a test when that file is at hand).
"""

import gzip
import pickle
import struct

import numpy as np

__all__ = ["python2_pickle", "write_seedformat", "seedformat_splits"]

class _Writer:
    """Opcodes of one protocol 2 stream, with cPickle's memo (``BINPUT`` from 1)."""

    def __init__(self):
        self.out = [pickle.PROTO + b"\x02"]
        self.memo = {}

    def put(self, key):
        self.memo[key] = len(self.memo) + 1
        self.out.append(pickle.BINPUT + struct.pack("<B", self.memo[key]))

    def get_or_global(self, module, name):
        key = ("global", module, name)
        if key in self.memo:
            self.out.append(pickle.BINGET + struct.pack("<B", self.memo[key]))
            return
        self.out.append(pickle.GLOBAL + f"{module}\n{name}\n".encode("ascii"))
        self.put(key)

    def int(self, value):
        if 0 <= value <= 0xFF:
            self.out.append(pickle.BININT1 + struct.pack("<B", value))
        elif 0 <= value <= 0xFFFF:
            self.out.append(pickle.BININT2 + struct.pack("<H", value))
        else:
            self.out.append(pickle.BININT + struct.pack("<i", value))

    def str(self, data):
        """A Python 2 ``str`` (bytes; latin-1 text when read by Python 3)."""
        if len(data) < 256:
            self.out.append(pickle.SHORT_BINSTRING + struct.pack("<B", len(data)) + data)
        else:
            self.out.append(pickle.BINSTRING + struct.pack("<I", len(data)) + data)

    def small_tuple(self, n):
        self.out.append({1: pickle.TUPLE1, 2: pickle.TUPLE2, 3: pickle.TUPLE3}[n])

    def dtype(self, dtype):
        key = ("dtype", dtype.str)
        if key in self.memo:
            self.out.append(pickle.BINGET + struct.pack("<B", self.memo[key]))
            return
        self.get_or_global("numpy", "dtype")
        self.str(f"{dtype.kind}{dtype.itemsize}".encode("ascii"))
        self.int(0)
        self.int(1)
        self.small_tuple(3)
        self.out.append(pickle.REDUCE)
        self.put(key)
        # numpy 1.x dtype state: (version 3, byte order, subdtype, names, fields, elsize,
        # alignment, flags), with None for the absent parts and -1 sizes for builtin types.
        self.out.append(pickle.MARK)
        self.int(3)
        self.str(dtype.str[0].encode("ascii"))  # "<": little-endian
        self.out.append(pickle.NONE * 3)
        for value in (-1, -1, 0):
            self.int(value)
        self.out.append(pickle.TUPLE + pickle.BUILD)

    def array(self, array):
        """``ndarray.__reduce__`` of numpy 1.x: ``_reconstruct(ndarray, (0,), 'b')`` + state."""
        self.get_or_global("numpy.core.multiarray", "_reconstruct")
        self.get_or_global("numpy", "ndarray")
        self.int(0)
        self.small_tuple(1)
        self.str(b"b")
        self.small_tuple(3)
        self.out.append(pickle.REDUCE)
        self.put(("array", id(array)))
        self.out.append(pickle.MARK)
        self.int(1)  # state version
        for size in array.shape:
            self.int(size)
        self.small_tuple(array.ndim)
        self.dtype(array.dtype)
        self.out.append(pickle.NEWFALSE)  # not Fortran order
        self.str(np.ascontiguousarray(array).tobytes())
        self.out.append(pickle.TUPLE + pickle.BUILD)


def python2_pickle(splits):
    """The bytes Python 2 ``cPickle.dumps(splits, 2)`` gives for (train, valid, test).

    Args:
        splits: three ``(x, y)`` pairs of little-endian numpy arrays of 1 to 3 dimensions.

    Returns:
        The uncompressed protocol 2 stream.
    """
    writer = _Writer()
    for x, y in splits:
        writer.array(x)
        writer.array(y)
        writer.small_tuple(2)  # each pair is referred to only by the outer tuple: no memo
    writer.small_tuple(3)
    writer.put(("splits",))
    writer.out.append(pickle.STOP)
    return b"".join(writer.out)


def seedformat_splits(npz_path):
    """The splits of ``mnist_seedformat_small.pkl.gz`` from the arrays of mnist_10k.npz.

    Training images 0-1499 for training, 1500-1999 for validation, the first 1000 test
    images for testing; x float32 (N, 784) = pixel / 255, y int64.
    """
    with np.load(npz_path) as d:
        x, y, xt, yt = d["x_train"], d["y_train"], d["x_test"], d["y_test"]

    def pair(images, labels):
        return (images.reshape(len(images), 784) / 255.0).astype(np.float32), labels.astype(np.int64)

    return pair(x[:1500], y[:1500]), pair(x[1500:2000], y[1500:2000]), pair(xt[:1000], yt[:1000])


def write_seedformat(path, npz_path):
    """Write the tutorials-format ``mnist_seedformat_small.pkl.gz`` to ``path``; returns it."""
    path.write_bytes(gzip.compress(python2_pickle(seedformat_splits(npz_path)), 1, mtime=0))
    return path
