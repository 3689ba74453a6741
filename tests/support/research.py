"""Small data, a tiny spec and PNG checks for the plot and sweep tests."""

import struct
from pathlib import Path

import numpy as np

EMBEDDED = Path(__file__).resolve().parents[2] / "tgraph" / "data" / "embedded" / "mnist_10k.npz"

TINY_MLP = '''
from tgraph import layers as L
from tgraph import optim
from tgraph.experiment import Training

model = [
    L.Input(shape=(784,)),
    L.Dense(16, activation="tanh", init="glorot_uniform"),
    L.Dense(10, activation="softmax", init="zeros"),
]
optimizer = optim.SGD(learning_rate=0.1)
training = Training(batch_size=20, max_epochs=2, shuffle=False)
'''


def tiny_npz(path, n_train=500, n_test=200):
    """The first ``n_train`` training and ``n_test`` test images of the embedded MNIST
    subset as an .npz (``load_dataset`` keeps the last 20% of training for validation)."""
    with np.load(EMBEDDED) as d:
        np.savez(path, x_train=d["x_train"][:n_train], y_train=d["y_train"][:n_train],
                 x_test=d["x_test"][:n_test], y_test=d["y_test"][:n_test])
    return path


def tiny_spec(path, text=TINY_MLP):
    Path(path).write_text(text)
    return path


def png_size(path):
    """(width, height) of a PNG file; fails unless the file is a PNG."""
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert data.rstrip(b"\x00")[-8:-4] == b"IEND", f"{path} is truncated"
    return width, height
