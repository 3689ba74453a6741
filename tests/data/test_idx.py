"""IDX files: the t10k files (official content, rebuilt from the shipped subset), every type
code, and corrupt or mismatched files."""

import gzip
import hashlib
import shutil
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tgraph.data import IMAGES_MAGIC, read_idx, read_idx_directory
from tgraph.data.idx import IDX_DTYPES
from tgraph.errors import DataError

CODES = {np.dtype(v).newbyteorder("="): k for k, v in IDX_DTYPES.items()}
# sha256 of the uncompressed official t10k files (LeCun, Cortes, Burges).
OFFICIAL_T10K_SHA256 = {
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}


def idx_bytes(array):
    """The IDX encoding of ``array`` (big-endian header and data)."""
    array = np.asarray(array)
    code = CODES[array.dtype]
    header = struct.pack(">BBBB", 0, 0, code, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write(path, data, compress=False):
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def test_real_t10k_files(t10k_dir, mnist_arrays):
    for name, sha256 in OFFICIAL_T10K_SHA256.items():  # the official files' content
        content = gzip.decompress((t10k_dir / f"{name}.gz").read_bytes())
        assert hashlib.sha256(content).hexdigest() == sha256, name
    images = read_idx(t10k_dir / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(t10k_dir / "t10k-labels-idx1-ubyte.gz")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and labels.dtype == np.uint8
    assert labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert np.array_equal(images, mnist_arrays["x_test"])
    assert np.array_equal(labels, mnist_arrays["y_test"])
    assert images.flags.writeable


def test_uncompressed_file_reads_the_same(t10k_dir, tmp_path):
    gz = t10k_dir / "t10k-labels-idx1-ubyte.gz"
    plain = write(tmp_path / "t10k-labels-idx1-ubyte", gzip.decompress(gz.read_bytes()))
    assert np.array_equal(read_idx(plain), read_idx(gz))


@settings(max_examples=40, deadline=None)
@given(dtype=st.sampled_from(sorted(CODES, key=str)),
       shape=st.lists(st.integers(0, 4), min_size=1, max_size=4), compress=st.booleans())
def test_every_type_code_round_trips(tmp_path_factory, dtype, shape, compress):
    array = (np.arange(int(np.prod(shape))) - 3).astype(dtype).reshape(shape)
    path = write(tmp_path_factory.mktemp("idx") / "a.idx", idx_bytes(array), compress)
    back = read_idx(path)
    assert back.dtype == dtype and back.shape == tuple(shape)
    assert np.array_equal(back, array)


def test_truncated_payload_says_how_many_bytes(tmp_path):
    path = write(tmp_path / "cut-images-idx3-ubyte", idx_bytes(np.zeros((3, 28, 28), np.uint8))[:-5])
    with pytest.raises(DataError) as err:
        read_idx(path)
    assert str(err.value) == (
        f"{path}: the header announces uint8 data of shape (3, 28, 28), 2368 bytes with the "
        "header, but the file holds 2363 bytes (uncompressed); the file is truncated; "
        "download or copy the file again")


def test_payload_longer_than_the_header_says(tmp_path):
    path = write(tmp_path / "long", idx_bytes(np.zeros(4, np.uint8)) + b"\x00")
    with pytest.raises(DataError, match="holds 13 bytes .* is longer than its header says"):
        read_idx(path)


def test_truncated_gzip(t10k_dir, tmp_path):
    data = (t10k_dir / "t10k-labels-idx1-ubyte.gz").read_bytes()
    path = write(tmp_path / "t10k-labels-idx1-ubyte.gz", data[: len(data) // 2])
    with pytest.raises(DataError) as err:
        read_idx(path)
    assert str(err.value).startswith(f"{path}: cannot read an IDX file: EOFError: ")
    assert str(err.value).endswith("the file is truncated, corrupt or of another format; "
                                   "download or copy the file again")


def test_wrong_magic_for_the_role(t10k_dir):
    path = t10k_dir / "t10k-labels-idx1-ubyte.gz"
    with pytest.raises(DataError) as err:
        read_idx(path, magic=IMAGES_MAGIC)
    assert str(err.value) == (f"{path}: magic number 0x00000801, expected 0x00000803 "
                              "(uint8, 3 dimensions); is it the right file?")


def test_not_an_idx_file(tmp_path):
    path = write(tmp_path / "photo.idx", b"\x89PNG\r\n\x1a\n")
    with pytest.raises(DataError) as err:
        read_idx(path)
    assert str(err.value) == (f"{path}: not an IDX file: it starts with 89504e47, an IDX magic "
                              "number with two zero bytes (e.g. 0x00000803); download or copy "
                              "the file again")


def test_unknown_type_code_and_short_header(tmp_path):
    with pytest.raises(DataError, match=r"magic number 0x00000701 has the unknown type code "
                                        r"0x07; IDX type codes are 0x08, 0x09, 0x0B"):
        read_idx(write(tmp_path / "a", b"\x00\x00\x07\x01\x00\x00\x00\x00"))
    with pytest.raises(DataError, match=r"announces 3 dimensions but the header is 8 bytes long"):
        read_idx(write(tmp_path / "b", b"\x00\x00\x08\x03\x00\x00\x00\x01"))


def test_missing_file(tmp_path):
    with pytest.raises(DataError) as err:
        read_idx(tmp_path / "nope-idx1-ubyte")
    assert str(err.value) == f"{tmp_path / 'nope-idx1-ubyte'}: no such file or directory; expected an IDX file"


def test_directory_of_four_files(idx_dir, mnist_arrays):
    splits = read_idx_directory(idx_dir)
    images, labels, images_name, labels_name = splits["train"]
    assert (images_name, labels_name) == ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
    assert np.array_equal(images, mnist_arrays["x_test"]) and labels.shape == (10000,)


def test_directory_accepts_plain_and_dotted_names(idx_dir):
    for gz in idx_dir.glob("train-*.gz"):
        dotted = idx_dir / gz.name.removesuffix(".gz").replace("-idx", ".idx")
        dotted.write_bytes(gzip.decompress(gz.read_bytes()))
        gz.unlink()
    _, _, images_name, labels_name = read_idx_directory(idx_dir)["train"]
    assert (images_name, labels_name) == ("train-images.idx3-ubyte", "train-labels.idx1-ubyte")


def test_directory_with_a_missing_file(idx_dir):
    (idx_dir / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError) as err:
        read_idx_directory(idx_dir)
    assert str(err.value) == (
        f"{idx_dir}: no t10k-labels-idx1-ubyte or t10k-labels-idx1-ubyte.gz; expected a "
        "directory holding the four MNIST IDX files train-images-idx3-ubyte(.gz), "
        "train-labels-idx1-ubyte(.gz), t10k-images-idx3-ubyte(.gz), t10k-labels-idx1-ubyte(.gz); "
        "download them with load_dataset(download=True) (`tgraph ... --download`)")


def test_directory_with_mismatched_counts(idx_dir):
    labels = idx_dir / "train-labels-idx1-ubyte.gz"
    write(labels, idx_bytes(np.zeros(9999, np.uint8)), compress=True)
    with pytest.raises(DataError) as err:
        read_idx_directory(idx_dir)
    assert str(err.value) == (
        f"{idx_dir / 'train-images-idx3-ubyte.gz'} holds 10000 images but {labels} holds 9999 "
        "labels; both files must come from the same set; download or copy the file again")


def test_labels_file_in_place_of_images(idx_dir):
    shutil.copyfile(idx_dir / "t10k-labels-idx1-ubyte.gz", idx_dir / "train-images-idx3-ubyte.gz")
    with pytest.raises(DataError, match="magic number 0x00000801, expected 0x00000803"):
        read_idx_directory(idx_dir)
