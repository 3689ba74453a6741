"""Fixtures of the data tests: the shared real MNIST files, IDX writing helpers."""

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

SHARED_DATA = Path(os.environ.get("TGRAPH_SHARED_DATA",
                                  Path(__file__).resolve().parents[3] / "shared" / "data"))
T10K = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
TRAIN = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")


def _shared(name):
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"shared MNIST data not found: {path} (set TGRAPH_SHARED_DATA)")
    return path


@pytest.fixture(scope="session")
def shared_file():
    """``shared_file(name)``: path of a shared MNIST file; skips the test if it is absent."""
    return _shared


@pytest.fixture(scope="session")
def shared_npz():
    """The arrays of mnist_10k.npz (uint8 images, uint8 labels)."""
    with np.load(_shared("mnist_10k.npz")) as d:
        return {k: d[k] for k in d.files}


@pytest.fixture(scope="session")
def t10k_dir():
    """The shared directory holding the two real t10k IDX files."""
    return _shared("mnist-idx")


@pytest.fixture
def idx_dir(t10k_dir, tmp_path):
    """A four-file IDX directory: the real t10k files, also copied under the train names."""
    directory = tmp_path / "idx"
    directory.mkdir()
    for train_name, t10k_name in zip(TRAIN, T10K):
        shutil.copyfile(t10k_dir / t10k_name, directory / t10k_name)
        shutil.copyfile(t10k_dir / t10k_name, directory / train_name)
    return directory
