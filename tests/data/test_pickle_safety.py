"""The tutorials' pickle format: numpy arrays load, anything that could run code is refused.

Every malicious file would create a marker file if it were executed; each test checks that
the marker is still absent after the refusal.
"""

import builtins
import copyreg
import gzip
import os
import pickle
import pickletools
import subprocess

import numpy as np
import pytest

from tgraph.cli import main
from tgraph.data import load_dataset, read_pickled_dataset
from tgraph.errors import DataError

from support.paths import EMBEDDED_MNIST, SPECS, shared_data_file
from support.seedformat import python2_pickle, seedformat_splits

REFUSAL = ("refusing to unpickle the global {}: tgraph only loads pickles of numpy arrays (the "
           "tutorials' mnist.pkl.gz); if you trust the file, convert it to .npz yourself and load "
           "that")
# Protocols 0-2 write Python 2 names (pickle's fix_imports); the message names what is written.
PYTHON2_NAMES = {"builtins.eval": "__builtin__.eval", "builtins.exec": "__builtin__.exec",
                 "subprocess.Popen": "commands.Popen"}


class Calls:
    """Pickles as ``function(*args)``: what an attacker's ``__reduce__`` returns."""

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


def tiny_dataset(evil=None):
    """A well-formed (train, valid, test) triple; ``evil`` replaces the valid labels."""
    x, y = np.zeros((4, 784), np.float32), np.arange(4, dtype=np.int64)
    return (x, y), (x, y if evil is None else evil), (x, y)


def write(path, obj=None, *, raw=None, protocol=2, compress=True):
    data = raw if raw is not None else pickle.dumps(obj, protocol=protocol)
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


@pytest.fixture
def marker(tmp_path):
    path = tmp_path / "PWNED"
    yield path
    assert not path.exists(), "the pickle ran code"


def payloads(marker):
    """(name, object to pickle, the global the message must name)."""
    return [
        ("os.system", Calls(os.system, f"touch {marker}"), f"{os.system.__module__}.system"),
        ("eval", Calls(builtins.eval, f"open({str(marker)!r}, 'w').close()"), "builtins.eval"),
        ("exec", Calls(builtins.exec, f"open({str(marker)!r}, 'w').close()"), "builtins.exec"),
        ("Popen", Calls(subprocess.Popen, ["touch", str(marker)]), "subprocess.Popen"),
        ("np.load", Calls(np.load, str(marker)), "numpy.load"),  # an allowed module, not name
    ]


@pytest.mark.parametrize("index", range(5), ids=["os.system", "eval", "exec", "Popen", "np.load"])
@pytest.mark.parametrize("protocol", [0, 2, 5])
@pytest.mark.parametrize("nested", [False, True], ids=["alone", "inside-dataset"])
def test_code_running_pickles_are_refused(index, protocol, nested, tmp_path, marker):
    _, payload, name = payloads(marker)[index]
    path = write(tmp_path / "mnist.pkl.gz", tiny_dataset(payload) if nested else payload,
                 protocol=protocol)
    if protocol < 3:
        name = PYTHON2_NAMES.get(name, name)
    with pytest.raises(DataError) as err:
        load_dataset(path)
    assert str(err.value) == f"{path}: " + REFUSAL.format(name)


def test_hand_written_opcodes_are_refused(tmp_path, marker):
    cases = {
        b"cos\nsystem\n(S'touch %s'\ntR." % bytes(marker): "os.system",  # GLOBAL, protocol 0
        b"\x80\x04\x8c\x08builtins\x8c\x04exec\x93\x8c\x04passR.": "builtins.exec",  # STACK_GLOBAL
        b"(ios\nsystem\nS'touch %s'\no." % bytes(marker): "os.system",  # INST
    }
    for data, name in cases.items():
        path = write(tmp_path / "evil.pkl", raw=data, compress=False)
        with pytest.raises(DataError) as err:
            read_pickled_dataset(path)
        assert str(err.value) == f"{path}: " + REFUSAL.format(name)


def test_extension_registry_and_persistent_ids_are_refused(tmp_path, marker):
    copyreg.add_extension("posix", "system", 0xF1)
    try:
        path = write(tmp_path / "ext.pkl.gz", raw=b"\x80\x02\x82\xf1X\x04\x00\x00\x00trueq\x85R.")
        with pytest.raises(DataError, match="refusing to unpickle the global posix.system"):
            load_dataset(path)
    finally:
        copyreg.remove_extension("posix", "system", 0xF1)
    path = write(tmp_path / "pid.pkl.gz", raw=b"\x80\x02P0\n.")
    with pytest.raises(DataError) as err:
        load_dataset(path)
    assert str(err.value) == (f"{path}: refusing a persistent id in the pickle; tgraph only loads "
                              "pickles of numpy arrays")


def test_the_tutorials_file_is_a_python2_cpickle(seedformat_pkl):
    # What the tests load as the tutorials' file must exercise what the real one does: the
    # three numpy globals, Python 2 strings (latin-1 for Python 3), protocol 2.
    stream = gzip.decompress(seedformat_pkl.read_bytes())
    ops = list(pickletools.genops(stream))
    assert (ops[0][0].name, ops[0][1]) == ("PROTO", 2)
    assert {arg for op, arg, _ in ops if op.name == "GLOBAL"} == {
        "numpy.core.multiarray _reconstruct", "numpy ndarray", "numpy dtype"}
    names = {op.name for op, _, _ in ops}
    assert {"SHORT_BINSTRING", "BINSTRING"} <= names
    assert not names & {"BINUNICODE", "SHORT_BINUNICODE", "BINBYTES", "SHORT_BINBYTES"}
    with pytest.raises(UnicodeDecodeError, match="'ascii' codec can't decode"):
        pickle.loads(stream)  # Python 3's default for Python 2 strings, as with the original
    splits = read_pickled_dataset(seedformat_pkl)
    assert [splits[s][0].shape for s in ("train", "valid", "test")] == [
        (1500, 784), (500, 784), (1000, 784)]
    assert all(splits[s][0].dtype == np.float32 and splits[s][1].dtype == np.int64
               for s in ("train", "valid", "test"))


def test_the_tutorials_file_is_byte_for_byte_the_real_one():
    real = shared_data_file("mnist_seedformat_small.pkl.gz")
    assert python2_pickle(seedformat_splits(EMBEDDED_MNIST)) == gzip.decompress(real.read_bytes())


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_arrays_written_by_this_python_and_numpy_load(protocol, tmp_path):
    rng = np.random.default_rng(0)
    splits = tuple((rng.uniform(size=(n, 784)).astype(np.float32), rng.integers(0, 10, n))
                   for n in (6, 3, 4))
    data = load_dataset(write(tmp_path / "mine.pkl.gz", splits, protocol=protocol))
    assert data.sizes() == {"train": 6, "valid": 3, "test": 4}
    for split, (x, y) in zip((data.train, data.valid, data.test), splits):
        np.testing.assert_array_equal(split.x, x)
        assert split.y.dtype == np.int32 and split.y.tolist() == y.tolist()


def test_truncated_pkl_gz(tmp_path, seedformat_pkl):
    original = seedformat_pkl.read_bytes()
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(original[: len(original) // 2])
    with pytest.raises(DataError) as err:
        load_dataset(path)
    assert str(err.value) == (
        f"{path}: cannot read the tutorials' mnist.pkl.gz (a pickled (train, valid, test) tuple "
        "of (x, y) pairs): EOFError: Compressed file ended before the end-of-stream marker was "
        "reached; the file is truncated, corrupt or of another format; download or copy the "
        "file again")


def test_corrupt_pkl_gz_and_truncated_plain_pickle(tmp_path, seedformat_pkl):
    data = bytearray(seedformat_pkl.read_bytes())
    data[len(data) // 2:len(data) // 2 + 100] = bytes(100)
    path = tmp_path / "garbled.pkl.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match=rf"^{path}: cannot read the tutorials' mnist.pkl.gz .*; "
                                        r"the file is truncated, corrupt or of another format"):
        load_dataset(path)
    plain = pickle.dumps(tiny_dataset(), protocol=2)
    path = write(tmp_path / "cut.pkl", raw=plain[:-40], compress=False)
    with pytest.raises(DataError, match=rf"^{path}: cannot read .*UnpicklingError: pickle data was "
                                        r"truncated; the file is truncated"):
        load_dataset(path)


def test_other_layouts_are_described(tmp_path):
    path = write(tmp_path / "dict.pkl.gz", {"x": np.zeros(3)})
    with pytest.raises(DataError) as err:
        load_dataset(path)
    assert str(err.value) == (f"{path}: holds dict; expected the tutorials' mnist.pkl.gz (a "
                              "pickled (train, valid, test) tuple of (x, y) pairs)")
    path = write(tmp_path / "pair.pkl.gz", tiny_dataset()[:2])
    with pytest.raises(DataError, match=r"holds a tuple of 2 \(a tuple of 2 \(float32 array of "
                                        r"shape \(4, 784\), int64 array of shape \(4,\)\), "):
        load_dataset(path)


def test_cli_refuses_a_malicious_data_file(tmp_path, marker, capsys):
    path = write(tmp_path / "mnist.pkl.gz", tiny_dataset(Calls(os.system, f"touch {marker}")))
    assert main(["train", str(SPECS / "logreg.py"), "--data", str(path), "--out",
                 str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert err == f"tgraph train: error: {path}: " + REFUSAL.format("posix.system") + "\n"
    assert not (tmp_path / "run").exists()
