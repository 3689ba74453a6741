"""Shared fixtures: real MNIST arrays, compiled once per session."""

import os
from pathlib import Path

import numpy as np
import pytest

SHARED_DATA = Path(os.environ.get("TGRAPH_SHARED_DATA",
                                  Path(__file__).resolve().parents[2] / "shared" / "data"))


@pytest.fixture(scope="session")
def mnist():
    """The 8k / 2k / 10k split of mnist_10k.npz as float32 (N, 784) in [0, 1] and int32."""
    with np.load(SHARED_DATA / "mnist_10k.npz") as d:
        x = (d["x_train"].reshape(-1, 784) / 255.0).astype(np.float32)
        y = d["y_train"].astype(np.int32)
        xt = (d["x_test"].reshape(-1, 784) / 255.0).astype(np.float32)
        yt = d["y_test"].astype(np.int32)
    return {"train": (x[:8000], y[:8000]), "valid": (x[8000:], y[8000:]), "test": (xt, yt)}
