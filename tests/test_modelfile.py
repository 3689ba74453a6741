"""Model files: round trip, atomic writes, no pickle, clear errors on bad files."""

import io
import json
import os
import pickle
import zipfile

import numpy as np
import pytest

import tgraph
from tgraph import layers as L
from tgraph import optim
from tgraph.errors import ModelFileError
from tgraph.fileio import atomic_write
from tgraph.modelfile import load_model, read_model_file, save_model
from tgraph.ops.init import Normal


def small_model():
    return tgraph.Model([L.Input((784,)), L.Dropout(0.2),
                         L.Dense(32, activation="relu", init=Normal(std=0.05), l2=1e-4),
                         L.Dense(10, activation="softmax", use_bias=False)],
                        optimizer=optim.Adam(learning_rate=0.002), seed=11)


@pytest.fixture(scope="module")
def trained(mnist, tmp_path_factory):
    model = small_model()
    model.set_train_data(*mnist["train"])
    step = model.train_function(100)
    for i in range(30):
        step(i)
    path = tmp_path_factory.mktemp("m") / "model.tgraph"
    save_model(model, path, meta={"note": "test"})
    return model, path


def test_round_trip_predicts_identically(trained, mnist):
    model, path = trained
    loaded = load_model(path)
    x = mnist["test"][0][:500]
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.meta["note"] == "test"
    assert loaded.layers == model.layers
    assert isinstance(loaded.optimizer, optim.Adam) and loaded.optimizer.learning_rate == 0.002


def test_spec_is_readable_json(trained):
    _, path = trained
    with zipfile.ZipFile(path) as zf:
        header = json.loads(zf.read("tgraph.json"))
        names = zf.namelist()
    layers = header["spec"]["layers"]
    assert layers[2] == {"type": "Dense", "name": None, "units": 32, "activation": "relu",
                         "use_bias": True, "init": {"type": "Normal", "std": 0.05, "mean": 0.0},
                         "bias_init": "zeros", "l1": 0.0, "l2": 0.0001, "max_norm": None}
    assert "weights/2_dense/W.npy" in names
    assert not any(n.endswith(".pkl") for n in names)


def test_pickled_array_inside_is_refused(tmp_path, trained):
    _, good = trained
    bad = tmp_path / "bad.tgraph"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name == "weights/2_dense/W.npy":
                buf = io.BytesIO()
                np.save(buf, np.array([object()], dtype=object), allow_pickle=True)
                data = buf.getvalue()
            dst.writestr(name, data)
    with pytest.raises(ModelFileError, match="not a plain numpy array .* never loads pickled"):
        read_model_file(bad)


@pytest.mark.parametrize("content, message", [
    (b"", "not a readable tgraph model file"),
    (b"PK\x03\x04garbage", "not a readable tgraph model file"),
    (pickle.dumps({"a": 1}), "not a readable tgraph model file"),
])
def test_corrupt_files(tmp_path, content, message):
    path = tmp_path / "x.tgraph"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match=message):
        read_model_file(path)


def test_truncated_file(tmp_path, trained):
    _, good = trained
    data = good.read_bytes()
    path = tmp_path / "cut.tgraph"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match=r"cut.tgraph: not a readable tgraph model file"):
        read_model_file(path)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ModelFileError, match="no such model file"):
        read_model_file(tmp_path / "nope.tgraph")
    with pytest.raises(ModelFileError, match="is a directory"):
        read_model_file(tmp_path)


def test_weights_of_another_spec_are_rejected(trained, tmp_path):
    _, path = trained
    other = tgraph.Model([L.Input((784,)), L.Dense(10, activation="softmax")])
    with pytest.raises(ModelFileError, match="names do not match the model"):
        other.set_weights(read_model_file(path).weights)


def test_atomic_write_keeps_old_file_on_crash(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_write(path) as f:
            f.write(b"new partial")
            raise RuntimeError("crash")
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["f.bin"]
