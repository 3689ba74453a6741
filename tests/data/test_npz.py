"""Dataset .npz files: optional validation arrays, value conversion, and bad files."""

import numpy as np
import pytest

from tgraph.data import load_dataset, read_npz_dataset
from tgraph.errors import DataError

from support.paths import EMBEDDED_MNIST


def arrays(n_train=10, n_test=4, **extra):
    rng = np.random.default_rng(0)
    base = {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, n_train, dtype=np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    return {**base, **extra}


def save(tmp_path, name="d.npz", **content):
    path = tmp_path / name
    np.savez_compressed(path, **content)
    return path


def test_own_validation_arrays_are_used(tmp_path):
    xv = np.full((3, 28, 28), 255, np.uint8)
    data = load_dataset(save(tmp_path, **arrays(x_valid=xv, y_valid=np.array([1, 2, 3]))))
    assert data.meta["sizes"] == {"train": 10, "valid": 3, "test": 4}
    assert data.meta["valid"] == "from the file"
    assert data.valid.x.min() == 1.0 and data.valid.y.tolist() == [1, 2, 3]


def test_float_pixels_and_int64_labels_are_accepted(tmp_path):
    content = arrays()
    content["x_train"] = content["x_train"] / 255.0  # float64 in [0, 1]
    content["y_train"] = content["y_train"].astype(np.int64)
    data = load_dataset(save(tmp_path, **content), valid_fraction=0.3)
    assert data.train.x.dtype == np.float32 and data.train.y.dtype == np.int32
    assert data.meta["sizes"] == {"train": 7, "valid": 3, "test": 4}


def test_labels_beyond_nine_are_not_an_error(tmp_path):
    content = arrays(y_test=np.array([0, 11, 25, 3]))
    assert load_dataset(save(tmp_path, **content)).test.y.tolist() == [0, 11, 25, 3]


def test_missing_arrays(tmp_path):
    path = save(tmp_path, x_train=np.zeros((2, 2), np.uint8), x=np.zeros(1))
    with pytest.raises(DataError) as err:
        read_npz_dataset(path)
    assert str(err.value) == (
        f"{path}: missing y_train; a dataset .npz needs the arrays x_train and y_train (or x and "
        "y), optionally x_valid, y_valid and x_test, y_test, each pair complete; the file holds "
        "x, x_train")


def test_validation_inputs_without_labels(tmp_path):
    path = save(tmp_path, **arrays(x_valid=np.zeros((2, 28, 28), np.uint8)))
    with pytest.raises(DataError) as err:
        load_dataset(path)
    assert str(err.value).startswith(f"{path}: has x_valid without its partner; ")


def test_mismatched_counts(tmp_path):
    path = save(tmp_path, **arrays(y_train=np.zeros(9, np.uint8)))
    with pytest.raises(DataError) as err:
        load_dataset(path)
    assert str(err.value) == (f"{path.resolve()}: x_train has 10 examples but y_train has 9 labels; "
                              "inputs and labels must pair up one to one")


def test_values_out_of_unit_range_are_scaled_with_the_training_range(tmp_path):
    # Not an error any more: the test split goes through the training split's scaling.
    path = save(tmp_path, **arrays(x_test=np.full((4, 28, 28), 2.5)))
    data = load_dataset(path)
    assert data.preprocessing.kind == "scale"
    assert (data.preprocessing.low, data.preprocessing.high) == (0.0, 255.0)  # x_train uint8
    assert np.array_equal(data.test.x, np.full((4, 28, 28), np.float32(2.5 / 255)))


def test_nan_pixels(tmp_path):
    x = np.zeros((4, 28, 28))
    x[1, 2, 3] = np.nan
    path = save(tmp_path, **arrays(x_test=x))
    with pytest.raises(DataError) as err:
        load_dataset(path)
    assert str(err.value) == (
        f"{path.resolve()}: x_test: 1 missing values (NaN), the first in example 1, feature "
        "(2, 3); fill them, or pass impute=\"mean\" or impute=\"median\" (`--impute mean`)")


def test_float_and_one_hot_labels(tmp_path):
    path = save(tmp_path, **arrays(y_test=np.zeros(4)))
    with pytest.raises(DataError) as err:
        load_dataset(path)
    assert str(err.value) == (f"{path.resolve()}: y_test: labels are a float64 array of shape "
                              "(4,); expected integer class indices (convert with y.astype(int))")
    path = save(tmp_path, **arrays(y_test=np.eye(10, dtype=np.uint8)[:4]))
    with pytest.raises(DataError, match=r"y_test: labels have shape \(4, 10\); expected \(N,\) "
                                        r"\(one-hot labels: use y.argmax\(axis=1\)\)"):
        load_dataset(path)


def test_truncated_npz(tmp_path):
    path = tmp_path / "cut.npz"
    path.write_bytes(EMBEDDED_MNIST.read_bytes()[:1_000_000])
    with pytest.raises(DataError) as err:
        load_dataset(path)
    assert str(err.value).startswith(f"{path}: cannot read a dataset .npz file: BadZipFile: ")
    assert str(err.value).endswith("the file is truncated, corrupt or of another format; "
                                   "download or copy the file again")


def test_corrupt_member_data(tmp_path):
    path = save(tmp_path, **arrays())
    data = bytearray(path.read_bytes())
    data[200:260] = b"\xff" * 60  # inside the first member's deflate stream
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match=f"{path}: cannot read a dataset .npz file: "):
        load_dataset(path)


def test_object_arrays_are_refused_without_unpickling(tmp_path):
    path = save(tmp_path, **arrays(y_test=np.array([1, "a", None, 3], dtype=object)))
    with pytest.raises(DataError, match="Object arrays cannot be loaded when allow_pickle=False"):
        load_dataset(path)


def test_not_a_zip_file(tmp_path):
    path = tmp_path / "text.npz"
    path.write_text("hello")
    with pytest.raises(DataError, match=f"{path}: cannot read a dataset .npz file: "):
        load_dataset(path)
