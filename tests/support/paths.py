"""Where the tests find the repository, the specs and the MNIST files.

Every test reads MNIST from the subset the package ships (``EMBEDDED_MNIST``), or from
small files it makes, so the suite runs on a fresh clone. Only the few tests that check
the shipped files against the complete original MNIST read ``SHARED_DATA`` (the
project's ``../shared/data`` beside the repository, or ``$TGRAPH_SHARED_DATA``), and they
skip when it is absent (:func:`shared_data_file`).
"""

import os
from pathlib import Path

import pytest

__all__ = ["ROOT", "SPECS", "README", "EMBEDDED_MNIST", "EMBEDDED_MNIST_SHA256", "SHARED_DATA",
           "shared_data_file"]

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "specs"
README = ROOT / "README.md"
# The first 10,000 training images of MNIST with their labels and the official 10k test
# set, uint8 (see tgraph/data/embedded/README.md). Its sha256 is that of the project's
# shared mnist_10k.npz: the shipped file is a byte-identical copy.
EMBEDDED_MNIST = ROOT / "tgraph" / "data" / "embedded" / "mnist_10k.npz"
EMBEDDED_MNIST_SHA256 = "3be1bb6efef62c4154f22f1c60c12b6a271e20181b29300050905b41f0045b24"
SHARED_DATA = Path(os.environ.get("TGRAPH_SHARED_DATA", ROOT.parent / "shared" / "data"))


def shared_data_file(name):
    """Path of ``name`` in the complete MNIST data; skips the calling test if it is absent.

    Args:
        name: a file or directory under ``SHARED_DATA`` (e.g. ``"mnist-idx"``).
    """
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"needs the complete original MNIST ({path} not found): the test compares "
                    "the shipped data with it; set TGRAPH_SHARED_DATA to the directory holding "
                    "mnist-idx/ and mnist_seedformat_small.pkl.gz to run it")
    return path
