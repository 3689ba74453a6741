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
from tgraph.modelfile import load_model, model_from_spec, read_model_file, save_model
from tgraph.init import Normal


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


def test_legacy_init_is_kept_and_older_files_without_it_load(tmp_path):
    model = tgraph.Model([L.Input((6,)), L.Dense(3, activation="softmax")], seed=5,
                         legacy_init=True)
    path = tmp_path / "legacy.tgraph"
    save_model(model, path)
    assert read_model_file(path).spec["legacy_init"] is True
    assert load_model(path).network.legacy_init is True
    older = {k: v for k, v in read_model_file(path).spec.items() if k != "legacy_init"}
    assert model_from_spec(older).network.legacy_init is False


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


# --- atomic writes -----------------------------------------------------------------------------


def test_crash_while_saving_keeps_the_old_model_file(trained, tmp_path, monkeypatch):
    import tgraph.modelfile

    model, good = trained
    path = tmp_path / "model.tgraph"
    path.write_bytes(good.read_bytes())
    calls = []
    real = tgraph.modelfile._write_array

    def crash_on_second_array(zf, name, array):
        calls.append(name)
        if len(calls) == 2:
            raise KeyboardInterrupt  # e.g. Ctrl-C half-way through the weights
        real(zf, name, array)

    monkeypatch.setattr(tgraph.modelfile, "_write_array", crash_on_second_array)
    with pytest.raises(KeyboardInterrupt):
        save_model(model, path, meta={"note": "new"})
    assert len(calls) == 2
    assert path.read_bytes() == good.read_bytes()
    assert os.listdir(tmp_path) == ["model.tgraph"]  # no temporary file left behind


def test_unserialisable_metadata_leaves_no_file(trained, tmp_path):
    model, _ = trained
    with pytest.raises(TypeError):
        save_model(model, tmp_path / "m.tgraph", meta={"bad": object()})
    assert os.listdir(tmp_path) == []


def test_written_files_get_the_usual_permissions(trained, tmp_path):
    from tgraph.fileio import write_json

    model, _ = trained
    umask = os.umask(0o022)
    try:
        save_model(model, tmp_path / "m.tgraph")
        write_json(tmp_path / "metrics.json", {"a": 1})
    finally:
        os.umask(umask)
    for name in ("m.tgraph", "metrics.json"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o644, name


# --- damaged files -----------------------------------------------------------------------------


def rewrite(good, bad, edit):
    """Copy the archive ``good`` to ``bad``, passing each member through ``edit(name, data)``."""
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w", zipfile.ZIP_DEFLATED) as dst:
        for name in src.namelist():
            data = edit(name, src.read(name))
            if data is not None:
                dst.writestr(name, data)
    return bad


def test_garbled_weights_member(trained, tmp_path):
    _, good = trained
    data = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as zf:
        info = zf.getinfo("weights/2_dense/W.npy")
    start = info.header_offset + 30 + len(info.filename) + 200
    data[start:start + 64] = bytes(64)  # zero a block inside the compressed weights
    path = tmp_path / "garbled.tgraph"
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=r"garbled.tgraph: not a readable tgraph model file "
                                             r"\(.*\); it may be truncated or corrupt"):
        read_model_file(path)


def test_missing_weight_and_edited_spec(trained, tmp_path):
    _, good = trained
    bad = rewrite(good, tmp_path / "no_w.tgraph",
                  lambda n, d: None if n == "weights/3_dense/W.npy" else d)
    with pytest.raises(ModelFileError) as err:
        load_model(bad)
    assert str(err.value) == (f"{bad}: parameter names do not match the model: missing "
                              "['3_dense/W'], unexpected []; was the file saved from another spec?")

    def edit_spec(name, data):
        if name != "tgraph.json":
            return data
        header = json.loads(data)
        header["spec"]["loss"] = "hinge"
        return json.dumps(header)

    bad = rewrite(good, tmp_path / "loss.tgraph", edit_spec)
    with pytest.raises(ModelFileError, match=rf"^{bad}: the spec does not build a model: unknown "
                                             r"loss 'hinge'; expected one of: .*; the file is "
                                             r"damaged or was written by another tgraph version"):
        load_model(bad)


def test_header_without_spec_and_bad_training_json(trained, tmp_path):
    _, good = trained
    bad = rewrite(good, tmp_path / "nospec.tgraph", lambda n, d: json.dumps(
        {k: v for k, v in json.loads(d).items() if k != "spec"}) if n == "tgraph.json" else d)
    with pytest.raises(ModelFileError, match=rf"^{bad}: tgraph.json has no `spec` object"):
        read_model_file(bad)
    bad = tmp_path / "ckpt.tgraph"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        for name in src.namelist():
            dst.writestr(name, src.read(name))
        dst.writestr("training.json", b"{not json")
    with pytest.raises(ModelFileError, match=rf"^{bad}: training.json is not valid JSON"):
        read_model_file(bad)


def test_model_file_has_no_pickle_opcodes(trained):
    """No member of the archive is a pickle (protocol 2+ pickles start with 0x80)."""
    _, path = trained
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            data = zf.read(name)
            assert not data.startswith(b"\x80"), name
            if name.endswith(".npy"):
                header = data[:128].decode("latin1")
                assert "'descr': '<f4'" in header and "|O" not in header, name


def test_unknown_optimizer_class_still_loads_for_prediction(trained, tmp_path, mnist):
    """A model trained with an optimizer defined in its spec file predicts without it."""
    model, good = trained

    def edit(name, data):
        if name != "tgraph.json":
            return data
        header = json.loads(data)
        header["spec"]["optimizer"] = {"type": "MySpecFileOptimizer", "learning_rate": 0.1}
        return json.dumps(header)

    loaded = load_model(rewrite(good, tmp_path / "custom.tgraph", edit))
    assert isinstance(loaded.optimizer, optim.SGD)
    x = mnist["test"][0][:50]
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
