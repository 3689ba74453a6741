"""CIFAR-10/100 python-version batches: tiny fake batches in the exact format, bad files.

The CIFAR files are Python 2 ``cPickle`` dumps (protocol 2): their dict keys, file names
and array data are Python 2 ``str``, written with the BINSTRING opcodes, and numpy's
globals are named ``numpy.core.multiarray``. :class:`Python2Pickler` writes the same
opcodes from Python 3; files re-written by Python 3 (protocol 3, bytes keys) are the
other case.
"""

import os
import pickle
import pickletools
import struct

import numpy as np
import pytest

from tgraph.data import load_dataset, read_cifar_batch
from tgraph.errors import DataError

CIFAR10_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                 "ship", "truck"]


class Python2Pickler(pickle._Pickler):
    """Protocol 2 as Python 2's cPickle wrote it: byte strings as (SHORT_)BINSTRING."""

    dispatch = dict(pickle._Pickler.dispatch)

    def save_py2_str(self, obj):
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str

    def save_global(self, obj, name=None):
        module = obj.__module__.replace("numpy._core", "numpy.core")
        self.write(pickle.GLOBAL + f"{module}\n{name or obj.__qualname__}\n".encode())
        self.memoize(obj)


def python2_dumps(obj):
    import io

    buffer = io.BytesIO()
    Python2Pickler(buffer, protocol=2).dump(obj)
    return buffer.getvalue()


def images(seed, n):
    """(n, 32, 32, 3) uint8 images and their CIFAR rows (channel by channel)."""
    hwc = np.random.default_rng(seed).integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    return hwc, hwc.transpose(0, 3, 1, 2).reshape(n, 3072)


def cifar10_batch(seed, n, first_label):
    hwc, rows = images(seed, n)
    labels = [(first_label + i) % 10 for i in range(n)]
    batch = {b"batch_label": b"training batch %d of 5" % seed, b"labels": labels,
             b"data": rows, b"filenames": [b"img_%d.png" % i for i in range(n)]}
    return hwc, labels, batch


@pytest.fixture
def cifar10(tmp_path):
    """A CIFAR-10 directory of five 4-image batches and a 3-image test batch (Python 2)."""
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    train_x, train_y = [], []
    for k in range(1, 6):
        hwc, labels, batch = cifar10_batch(k, 4, first_label=4 * k)
        (root / f"data_batch_{k}").write_bytes(python2_dumps(batch))
        train_x.append(hwc)
        train_y += labels
    hwc, test_y, batch = cifar10_batch(9, 3, first_label=0)
    (root / "test_batch").write_bytes(python2_dumps(batch))
    meta = {b"label_names": [n.encode() for n in CIFAR10_NAMES], b"num_cases_per_batch": 4,
            b"num_vis": 3072}
    (root / "batches.meta").write_bytes(python2_dumps(meta))
    return root, np.concatenate(train_x), np.array(train_y), hwc, np.array(test_y)


def test_fake_batches_have_python2_opcodes(cifar10):
    root = cifar10[0]
    ops = {op.name for op, arg, pos in pickletools.genops((root / "data_batch_1").read_bytes())}
    assert {"SHORT_BINSTRING", "BINSTRING", "GLOBAL"} <= ops and "BINBYTES" not in ops
    assert b"numpy.core.multiarray\n_reconstruct" in (root / "data_batch_1").read_bytes()


def test_cifar10_python2_batches(cifar10):
    root, train_x, train_y, test_x, test_y = cifar10
    data = load_dataset(root)
    assert data.meta["format"] == "cifar" and data.meta["cifar"] == "CIFAR-10"
    assert data.class_names == tuple(CIFAR10_NAMES) and data.num_classes == 10
    assert data.sizes() == {"train": 16, "valid": 4, "test": 3}
    nchw = (train_x.transpose(0, 3, 1, 2) / 255.0).astype(np.float32)
    assert np.array_equal(data.train.x, nchw[:16]) and np.array_equal(data.valid.x, nchw[16:])
    assert data.train.y.tolist() == train_y[:16].tolist()
    assert np.array_equal(data.test.x, (test_x.transpose(0, 3, 1, 2) / 255.0).astype(np.float32))
    assert data.test.y.tolist() == test_y.tolist()


def test_cifar100_protocol3_bytes_keys(tmp_path):
    root = tmp_path / "cifar-100-python"
    root.mkdir()
    hwc, rows = images(0, 6)
    fine, coarse = [5, 99, 0, 42, 5, 7], [1, 19, 0, 3, 1, 2]
    batch = {b"data": rows, b"fine_labels": fine, b"coarse_labels": coarse,
             b"filenames": [b"f%d.png" % i for i in range(6)], b"batch_label": b"training batch"}
    (root / "train").write_bytes(pickle.dumps(batch, protocol=3))
    (root / "test").write_bytes(pickle.dumps(batch, protocol=3))
    meta = {b"fine_label_names": [b"fine%02d" % i for i in range(100)],
            b"coarse_label_names": [b"coarse%02d" % i for i in range(20)]}
    (root / "meta").write_bytes(pickle.dumps(meta, protocol=3))
    data = load_dataset(root, valid_size=1, valid_split="random")
    assert data.num_classes == 100 and data.class_names[99] == "fine99"
    assert np.array_equal(data.test.x, (hwc.transpose(0, 3, 1, 2) / 255.0).astype(np.float32))
    assert data.test.y.tolist() == fine
    coarse_data = load_dataset(root, cifar_labels="coarse", valid_size=1, valid_split="random")
    assert coarse_data.num_classes == 20 and coarse_data.test.y.tolist() == coarse
    assert coarse_data.meta["cifar_labels"] == "coarse"


def test_str_keys_written_by_python3(tmp_path):
    _, rows = images(1, 2)
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({"data": rows, "labels": np.array([3, 1])}, protocol=5))
    x, y = read_cifar_batch(path)
    assert x.shape == (2, 3, 32, 32) and y.tolist() == [3, 1]


class Calls:
    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


def test_code_running_batch_is_refused(cifar10, tmp_path):
    root = cifar10[0]
    marker = tmp_path / "PWNED"
    evil = {b"data": Calls(os.system, f"touch {marker}"), b"labels": [1]}
    (root / "data_batch_2").write_bytes(pickle.dumps(evil, protocol=2))
    with pytest.raises(DataError) as err:
        load_dataset(root)
    assert str(err.value) == (
        f"{(root / 'data_batch_2').resolve()}: refusing to unpickle the global posix.system: "
        "tgraph only loads pickles of numpy arrays (the tutorials' mnist.pkl.gz, CIFAR "
        "python-version batches); if you trust the file, convert it to .npz yourself and load "
        "that")
    assert not marker.exists()


def test_truncated_batch_names_the_file(cifar10):
    root = cifar10[0]
    path = root / "data_batch_3"
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(DataError) as err:
        load_dataset(root)
    assert str(err.value).startswith(f"{path.resolve()}: cannot read a CIFAR batch (a pickled "
                                     "dict with data and labels): ")
    assert str(err.value).endswith("the file is truncated, corrupt or of another format; "
                                   "download or copy the file again")


def test_missing_meta_and_wrong_shapes(cifar10):
    root, *_ = cifar10
    (root / "batches.meta").unlink()
    with pytest.raises(DataError, match=r"batches.meta: missing; the class names of CIFAR come "
                                        "from it"):
        load_dataset(root)
    path = root / "data_batch_1"
    path.write_bytes(python2_dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}))
    with pytest.raises(DataError, match=r"data is a uint8 array of shape \(2, 100\); expected "
                                        r"uint8 \(N, 3072\)"):
        read_cifar_batch(path)
    path.write_bytes(python2_dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}))
    with pytest.raises(DataError, match=r"labels is a int64 array of shape \(1,\), expected 2 "
                                        "integer labels, one per image"):
        read_cifar_batch(path)
