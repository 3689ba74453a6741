"""load_dataset on the real files: embedded subset, .npz, tutorials' pickle, IDX directory."""

import hashlib
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tgraph.data import Split, embedded_path, load_dataset, split_off_validation
from tgraph.errors import ConfigError, DataError

from support.paths import EMBEDDED_MNIST, EMBEDDED_MNIST_SHA256, shared_data_file

FIRST_TRAIN_LABELS = [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
FIRST_TEST_LABELS = [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


def as_uint8(x):
    return np.rint(x * 255).astype(np.uint8)


def check_split(split, n, image_shape):
    assert split.x.shape == (n, *image_shape) and split.x.dtype == np.float32
    assert split.y.shape == (n,) and split.y.dtype == np.int32
    assert split.x.min() == 0.0 and split.x.max() == 1.0
    assert split.y.min() == 0 and split.y.max() == 9


@pytest.fixture(scope="module")
def embedded():
    return load_dataset()


def test_embedded_subset(embedded, mnist_arrays):
    check_split(embedded.train, 8000, (28, 28))
    check_split(embedded.valid, 2000, (28, 28))
    check_split(embedded.test, 10000, (28, 28))
    assert embedded.source == "embedded:mnist_10k.npz"
    assert embedded.meta == {"format": "npz", "valid": "last 20% of the training set",
                             "valid_fraction": 0.2, "seed": None,
                             "sizes": {"train": 8000, "valid": 2000, "test": 10000}}
    assert embedded.train.y[:10].tolist() == FIRST_TRAIN_LABELS
    assert embedded.test.y[:10].tolist() == FIRST_TEST_LABELS
    # The validation set is the last 2000 of the file's training images, in order.
    assert np.array_equal(as_uint8(embedded.train.x), mnist_arrays["x_train"][:8000])
    assert np.array_equal(as_uint8(embedded.valid.x), mnist_arrays["x_train"][8000:])
    assert np.array_equal(embedded.valid.y, mnist_arrays["y_train"][8000:])
    assert np.array_equal(as_uint8(embedded.test.x), mnist_arrays["x_test"])


def test_embedded_file_is_the_shared_npz_compressed_uint8():
    assert embedded_path() == EMBEDDED_MNIST
    assert hashlib.sha256(embedded_path().read_bytes()).hexdigest() == EMBEDDED_MNIST_SHA256
    with np.load(embedded_path()) as d:
        assert all(d[k].dtype == np.uint8 for k in d.files)
    assert embedded_path().stat().st_size < 3_500_000  # compressed, not 15.7 MB


def test_embedded_file_holds_the_first_10k_and_the_test_set_of_the_full_mnist(mnist_arrays):
    from tgraph.data import read_idx

    full = shared_data_file("mnist-idx")
    train_x = read_idx(full / "train-images-idx3-ubyte.gz")
    train_y = read_idx(full / "train-labels-idx1-ubyte.gz")
    assert train_x.shape == (60000, 28, 28) and train_y.shape == (60000,)
    assert np.array_equal(mnist_arrays["x_train"], train_x[:10000])
    assert np.array_equal(mnist_arrays["y_train"], train_y[:10000])
    assert np.array_equal(mnist_arrays["x_test"], read_idx(full / "t10k-images-idx3-ubyte.gz"))
    assert np.array_equal(mnist_arrays["y_test"], read_idx(full / "t10k-labels-idx1-ubyte.gz"))


def test_pixels_are_uint8_over_255_rounded_once(embedded, mnist_arrays):
    assert np.array_equal(embedded.test.x, (mnist_arrays["x_test"] / 255.0).astype(np.float32))


def test_npz_path_gives_the_embedded_arrays(embedded, tmp_path):
    path = tmp_path / "mnist_10k.npz"
    path.write_bytes(EMBEDDED_MNIST.read_bytes())  # a copy, outside the package
    data = load_dataset(path)
    assert data.source == str(path.resolve())
    for name in ("train", "valid", "test"):
        assert np.array_equal(getattr(data, name).x, getattr(embedded, name).x)
        assert np.array_equal(getattr(data, name).y, getattr(embedded, name).y)


def test_tutorials_pickle(seedformat_pkl):
    data = load_dataset(seedformat_pkl, valid_fraction=0.5)  # ignored: the pickle has its own
    check_split(data.train, 1500, (784,))
    check_split(data.valid, 500, (784,))
    check_split(data.test, 1000, (784,))
    assert data.train.y[:10].tolist() == FIRST_TRAIN_LABELS
    assert data.valid.y[:10].tolist() == [9, 0, 0, 6, 6, 8, 6, 9, 4, 5]
    assert data.test.y[:10].tolist() == FIRST_TEST_LABELS
    assert data.meta["format"] == "pickle" and data.meta["valid"] == "from the file"
    assert data.meta["valid_fraction"] is None


def test_pickle_agrees_with_idx_and_npz(embedded, t10k_dir, seedformat_pkl):
    from tgraph.data import read_idx

    pkl = load_dataset(seedformat_pkl)
    t10k = read_idx(t10k_dir / "t10k-images-idx3-ubyte.gz")[:1000]
    # Bit-identical floats: the pickle's k/255 and ours.
    assert np.array_equal(pkl.test.x, (t10k.reshape(1000, 784) / 255).astype(np.float32))
    assert np.array_equal(pkl.test.x.reshape(-1, 28, 28), embedded.test.x[:1000])
    assert np.array_equal(pkl.train.x.reshape(-1, 28, 28), embedded.train.x[:1500])
    assert np.array_equal(pkl.valid.x.reshape(-1, 28, 28), embedded.train.x[1500:2000])
    assert np.array_equal(pkl.valid.y, embedded.train.y[1500:2000])


def test_idx_directory(idx_dir, embedded):
    data = load_dataset(idx_dir)
    check_split(data.train, 8000, (28, 28))
    check_split(data.valid, 2000, (28, 28))
    check_split(data.test, 10000, (28, 28))
    assert data.meta["format"] == "idx" and data.source == str(idx_dir.resolve())
    assert np.array_equal(data.test.x, embedded.test.x)
    assert np.array_equal(data.valid.y, data.test.y[8000:])  # t10k under the train names


def test_valid_fraction():
    data = load_dataset(valid_fraction=0.1)
    assert data.meta["sizes"] == {"train": 9000, "valid": 1000, "test": 10000}
    assert data.meta["valid"] == "last 10% of the training set"


@pytest.mark.parametrize("fraction", [0, 1, 1.5, -0.2, True, "0.2", None])
def test_valid_fraction_out_of_range(fraction):
    with pytest.raises(ConfigError) as err:
        load_dataset(valid_fraction=fraction)
    assert str(err.value) == (f"`valid_fraction` (={fraction!r}) must be in (0, 1), e.g. 0.2 to "
                              "keep the last 20% of the training images for validation")


@given(n=st.integers(1, 500), fraction=st.floats(0.001, 0.999))
def test_split_off_validation_keeps_the_tail(n, fraction):
    split = Split(x=np.arange(n, dtype=np.float32), y=np.arange(n, dtype=np.int32))
    n_valid = round(n * fraction)
    if not 0 < n_valid < n:
        with pytest.raises(DataError, match="each needs at least one"):
            split_off_validation(split, fraction)
        return
    train, valid = split_off_validation(split, fraction)
    assert len(valid) == n_valid and len(train) == n - n_valid
    assert valid.y.tolist() == list(range(n - n_valid, n)) and train.y[-1] == n - n_valid - 1


def test_seed_shuffles_the_training_split_only(embedded):
    data = load_dataset(seed=7)
    again = load_dataset(seed=7)
    other = load_dataset(seed=8)
    assert np.array_equal(data.train.y, again.train.y)
    assert not np.array_equal(data.train.y, embedded.train.y)
    assert not np.array_equal(data.train.y, other.train.y)
    order = np.random.default_rng(7).permutation(8000)
    assert np.array_equal(data.train.x, embedded.train.x[order])
    assert np.array_equal(data.train.y, embedded.train.y[order])
    assert np.array_equal(data.valid.y, embedded.valid.y)
    assert np.array_equal(data.test.x, embedded.test.x)
    assert data.meta["seed"] == 7


def test_seed_with_the_pickle_keeps_its_validation_set(seedformat_pkl):
    plain, shuffled = load_dataset(seedformat_pkl), load_dataset(seedformat_pkl, seed=0)
    order = np.random.default_rng(0).permutation(1500)
    assert np.array_equal(shuffled.train.y, plain.train.y[order])
    assert np.array_equal(shuffled.valid.x, plain.valid.x)


def test_missing_path(tmp_path):
    with pytest.raises(DataError) as err:
        load_dataset(tmp_path / "missing.npz")
    assert str(err.value) == (
        f"{tmp_path / 'missing.npz'}: no such file or directory; expected a CSV/TSV table, a "
        "directory of images with one subdirectory per class, a CIFAR-10/100 python-version "
        "directory, a .npz file (x_train, y_train, or x, y), the tutorials' mnist.pkl.gz, or a "
        "directory of the four MNIST IDX files")


def test_unknown_extension(tmp_path):
    path = tmp_path / "digits.xls"
    path.write_text("1,2,3\n")
    with pytest.raises(DataError) as err:
        load_dataset(path)
    assert str(err.value).startswith(f"{path}: unknown dataset format (from the file name); "
                                     "expected a CSV/TSV table")


def test_single_idx_file_points_to_read_idx(t10k_dir):
    with pytest.raises(DataError, match="a single IDX file; load_dataset needs the directory "
                                        r"holding the four MNIST IDX files \(read one file with "
                                        r"tgraph.data.read_idx\)"):
        load_dataset(t10k_dir / "t10k-images-idx3-ubyte.gz")


def test_cache_dir_without_download_warns(tmp_path):
    with pytest.warns(UserWarning, match="`cache_dir` is only used with download=True; ignored"):
        load_dataset(cache_dir=tmp_path)


def test_no_warning_by_default():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_dataset()
