"""Shared fixtures: real MNIST arrays (the subset the package ships), compiled once per
session; op graphs compiled in each mode, once per test module."""

import numpy as np
import pytensor
import pytest

from support.dropout_mlp import DropoutMLPs
from support.paths import EMBEDDED_MNIST

from tgraph.backend import get_mode


@pytest.fixture(scope="session")
def mnist():
    """The 8k / 2k / 10k split of mnist_10k.npz as float32 (N, 784) in [0, 1] and int32."""
    with np.load(EMBEDDED_MNIST) as d:
        x = (d["x_train"].reshape(-1, 784) / 255.0).astype(np.float32)
        y = d["y_train"].astype(np.int32)
        xt = (d["x_test"].reshape(-1, 784) / 255.0).astype(np.float32)
        yt = d["y_test"].astype(np.int32)
    return {"train": (x[:8000], y[:8000]), "valid": (x[8000:], y[8000:]), "test": (xt, yt)}


@pytest.fixture(scope="session")
def small_npz(tmp_path_factory):
    """A real-MNIST .npz of 1000 training and 500 test images (uint8), for quick CLI runs.

    ``load_dataset`` splits it 800 / 200 / 500.
    """
    path = tmp_path_factory.mktemp("data") / "mnist_small.npz"
    with np.load(EMBEDDED_MNIST) as d:
        np.savez(path, x_train=d["x_train"][:1000], y_train=d["y_train"][:1000],
                 x_test=d["x_test"][:500], y_test=d["y_test"][:500])
    return path


@pytest.fixture(scope="session")
def dropout_mlp():
    """``dropout_mlp(optimizer, seed=..., batch_size=...)``: a small dropout MLP for MNIST,
    compiled once per session per optimizer and batch size (see support/dropout_mlp.py)."""
    return DropoutMLPs()


# the modes an op test compares: tgraph's Numba mode, and Python (the ops' numpy
# ``perform``, the reference)
OP_MODES = ("NUMBA", "FAST_COMPILE")


@pytest.fixture(scope="module", params=OP_MODES)
def op_mode(request):
    """The name of each of :data:`OP_MODES`, module by module (compiling is the slow part)."""
    return request.param


@pytest.fixture(scope="module")
def compiled(request, op_mode):
    """``(mode name, function)``: the test module's ``graph()`` compiled in each mode.

    ``graph()`` returns ``(inputs, outputs)``: every case of the module in one graph, so
    each mode compiles once and the tests index into the outputs.
    """
    inputs, outputs = request.module.graph()
    return op_mode, pytensor.function(inputs, outputs, mode=get_mode(op_mode))
