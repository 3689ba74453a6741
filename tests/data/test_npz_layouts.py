"""Arrays of any shape: NHWC transposed (never reshaped), string labels, Python objects."""

import json

import numpy as np
import pytest

from tgraph.data import detect_layout, from_arrays, from_dataframe, load_dataset, to_nchw
from tgraph.errors import ConfigError, DataError


def colour(n, shape=(32, 32, 3), seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, *shape), dtype=np.uint8)


def save(tmp_path, name="d.npz", **arrays):
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


def test_nhwc_npz_is_transposed_to_nchw(tmp_path):
    x, xt = colour(10), colour(4, seed=1)
    y = np.arange(10) % 5
    path = save(tmp_path, x_train=x, y_train=y, x_test=xt, y_test=np.arange(4))
    data = load_dataset(path)
    assert data.input_shape == (3, 32, 32)
    expected = (x.transpose(0, 3, 1, 2) / 255.0).astype(np.float32)
    assert np.array_equal(data.train.x, expected[:8]) and np.array_equal(data.valid.x, expected[8:])
    assert np.array_equal(data.test.x, (xt.transpose(0, 3, 1, 2) / 255.0).astype(np.float32))
    # The pixel (row 5, column 7) of image 2 keeps its three channels together.
    assert (np.rint(data.train.x[2, :, 5, 7] * 255) == x[2, 5, 7, :]).all()
    # What the old reshape gave is not what comes out.
    reshaped = (x.reshape(10, 3, 32, 32)[:8] / 255.0).astype(np.float32)
    assert not np.array_equal(data.train.x, reshaped)


def test_nchw_npz_is_kept(tmp_path):
    x = colour(10, (3, 8, 8))
    data = load_dataset(save(tmp_path, x=x, y=np.arange(10) % 2), valid_size=2)
    assert np.array_equal(data.train.x, (x[:8] / 255.0).astype(np.float32))


@pytest.mark.parametrize("shape, layout", [((32, 32, 3), "NHWC"), ((28, 28, 1), "NHWC"),
                                           ((3, 32, 32), "NCHW"), ((1, 28, 28), "NCHW"),
                                           ((3, 5, 7), "NCHW"), ((64, 64, 1), "NHWC")])
def test_detected_layouts(shape, layout):
    assert detect_layout((10, *shape)) == layout


@pytest.mark.parametrize("shape", [(3, 32, 3), (1, 28, 1), (4, 32, 32), (32, 32, 4), (3, 3, 3)])
def test_ambiguous_layout_asks_for_it(tmp_path, shape):
    path = save(tmp_path, x=colour(4, shape), y=np.arange(4) % 2)
    with pytest.raises(DataError) as err:
        load_dataset(path, valid_size=1)
    assert str(err.value) == (
        f"{path.resolve()}: x: images of shape {(4, *shape)} could be channels-first (NCHW) or "
        "channels-last (NHWC); say which with layout=\"NCHW\" or layout=\"NHWC\" (`--layout NCHW` "
        "or `--layout NHWC`)")


def test_explicit_layout(tmp_path):
    x = colour(4, (3, 32, 3))
    path = save(tmp_path, x=x, y=np.arange(4) % 2)
    nhwc = load_dataset(path, layout="NHWC", valid_size=1, valid_split="random")
    assert nhwc.input_shape == (3, 3, 32)
    nchw = load_dataset(path, layout="NCHW", valid_size=1, valid_split="random")
    assert nchw.input_shape == (3, 32, 3)
    with pytest.raises(ConfigError, match=r"`layout` \(='HWC'\) must be \"NCHW\" or \"NHWC\""):
        to_nchw(x, "HWC")


def test_string_labels_and_no_test_split(tmp_path):
    x = np.random.default_rng(0).normal(size=(6, 4))
    y = np.array(["spam", "ham", "ham", "spam", "ham", "spam"])
    data = load_dataset(save(tmp_path, x=x, y=y), valid_size=2)
    assert data.class_names == ("ham", "spam")
    assert data.train.y.tolist() == [1, 0, 0, 1] and data.valid.y.tolist() == [0, 1]
    assert data.preprocessing.kind == "standardize"  # a table: not in [0, 1], not uint8
    assert data.test is None and data.notes[0].startswith("no test split: ")


def test_integer_features_outside_unit_range_are_not_errors(tmp_path):
    x = np.arange(40, dtype=np.int64).reshape(10, 4) * 1000
    data = load_dataset(save(tmp_path, x=x, y=np.arange(10) % 2), valid_size=2)
    assert data.preprocessing.kind == "standardize"
    np.testing.assert_allclose(data.train.x.mean(axis=0), 0, atol=1e-6)


def test_mnist_classes_are_digit_names():
    data = load_dataset()
    assert data.class_names == tuple("0123456789") and data.num_classes == 10
    assert data.preprocessing.kind == "scale" and data.preprocessing.high == 255.0


def test_from_arrays_nhwc_and_binary_labels():
    x = colour(10, (6, 6, 3))
    y = np.array([0, 1] * 5)
    data = from_arrays(x, y, valid_size=2)
    assert data.input_shape == (3, 6, 6) and data.num_classes == 2
    assert data.train.y.dtype == np.int32 and data.train.y.shape == (8,)
    assert data.source == "<arrays>" and data.meta["format"] == "arrays"


def test_from_arrays_partner_and_object_arrays():
    with pytest.raises(DataError, match="from_arrays: x_test without its partner"):
        from_arrays(np.zeros((4, 2)), np.zeros(4, int), x_test=np.zeros((1, 2)))
    with pytest.raises(DataError, match="from_arrays: `y` is an object array"):
        from_arrays(np.zeros((4, 2)), np.array([1, "a", None, 2], dtype=object))


def test_from_dataframe():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"age": [20, 30, 40, 50, 60, 70], "income": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
                       "label": ["no", "yes", "no", "yes", "no", "yes"]})
    data = from_dataframe(df, target="label", valid_size=2, test=df.iloc[:2])
    assert data.class_names == ("no", "yes") and data.meta["columns"] == ["age", "income"]
    assert data.train.x.shape == (4, 2) and data.test.y.tolist() == [0, 1]
    np.testing.assert_allclose(data.preprocessing.mean, [35.0, 2.5])
    df.loc[3, "income"] = None
    with pytest.raises(DataError, match=r"`df` row 3, column 'income': missing value \(1 in all\)"):
        from_dataframe(df, target="label")
    assert from_dataframe(df, target="label", impute="median", valid_size=2).train.x.shape == (4, 2)
    df["city"] = ["a"] * 6
    with pytest.raises(DataError, match="`df` column 'city' holds (object|str) values; features "
                                        "must be numbers"):
        from_dataframe(df, target="label")


def test_load_dataset_takes_arrays_and_dataframes():
    x, y = colour(10, (4, 4, 3)), np.arange(10) % 2
    data = load_dataset((x, y), valid_size=2, test_path=(x[:3], y[:3]))
    assert data.input_shape == (3, 4, 4) and data.sizes() == {"train": 8, "valid": 2, "test": 3}
    record = data.record()
    assert record["format"] == "arrays" and record["class_names"] == ["0", "1"]
    assert record["input_shape"] == [3, 4, 4] and record["preprocessing"]["kind"] == "scale"
    assert record["split"]["valid_split"] == "last" and record["notes"] == []
    assert json.loads(json.dumps(record)) == record
    with pytest.raises(ConfigError, match=r"a tuple of 3 items; give arrays as an \(x, y\) pair"):
        load_dataset((x, y, y))
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"a": np.arange(10.0), "b": np.arange(10) ** 2, "y": ["u", "v"] * 5})
    frame = load_dataset(df, target="y", valid_size=2)
    assert frame.class_names == ("u", "v") and frame.meta["format"] == "dataframe"
