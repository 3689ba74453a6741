"""Fixtures of the data tests: real MNIST files in every format, made from the shipped subset.

mnist_10k.npz holds the complete official test set and the first 10,000 training images,
so the t10k IDX files and the tutorials' pickle are rebuilt from it: the IDX content is
the official files' (their sha256 is checked in test_idx.py), the pickle is byte for byte
what Python 2 wrote (checked against the real file in test_pickle_safety.py when the
complete MNIST data is at hand).
"""

import gzip
import shutil

import numpy as np
import pytest

from support.idx import uint8_idx_bytes
from support.paths import EMBEDDED_MNIST
from support.seedformat import write_seedformat

T10K = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
TRAIN = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")


@pytest.fixture(scope="session")
def mnist_arrays():
    """The arrays of mnist_10k.npz (uint8 images, uint8 labels)."""
    with np.load(EMBEDDED_MNIST) as d:
        return {k: d[k] for k in d.files}


@pytest.fixture(scope="session")
def t10k_dir(mnist_arrays, tmp_path_factory):
    """A directory holding the two t10k IDX files (gzip), with the official content."""
    directory = tmp_path_factory.mktemp("mnist-idx")
    for name, array in zip(T10K, (mnist_arrays["x_test"], mnist_arrays["y_test"])):
        (directory / name).write_bytes(gzip.compress(uint8_idx_bytes(array), 1, mtime=0))
    return directory


@pytest.fixture
def idx_dir(t10k_dir, tmp_path):
    """A four-file IDX directory: the t10k files, also copied under the train names."""
    directory = tmp_path / "idx"
    directory.mkdir()
    for train_name, t10k_name in zip(TRAIN, T10K):
        shutil.copyfile(t10k_dir / t10k_name, directory / t10k_name)
        shutil.copyfile(t10k_dir / t10k_name, directory / train_name)
    return directory


@pytest.fixture(scope="session")
def seedformat_pkl(tmp_path_factory):
    """``mnist_seedformat_small.pkl.gz``: the tutorials' format, 1500 / 500 / 1000 images."""
    return write_seedformat(tmp_path_factory.mktemp("pickle") / "mnist_seedformat_small.pkl.gz",
                            EMBEDDED_MNIST)
