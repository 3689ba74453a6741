"""Datasets for tgraph: MNIST in the formats users have, ready for a model.

>>> from tgraph.data import load_dataset
>>> data = load_dataset()            # the embedded MNIST subset: 8000 / 2000 / 10000
>>> model.set_train_data(data.train.x, data.train.y)
>>> model.evaluate(data.test.x, data.test.y)

Formats: a ``.npz`` (``x_train, y_train, x_test, y_test``), the deeplearning.net
tutorials' ``mnist.pkl.gz`` (restricted unpickler), a directory of LeCun's IDX files,
or ``download=True`` for the full MNIST (sha256-checked). Pixels come as float32 in
[0, 1], labels as int32; every failure is a :class:`tgraph.DataError`.
"""

from tgraph.data.dataset import Dataset, Split, shuffle
from tgraph.data.download import (
    MIRRORS,
    MNIST_SHA256,
    content_sha256,
    default_cache_dir,
    download_mnist,
)
from tgraph.data.idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx, read_idx_directory
from tgraph.data.images import load_inputs
from tgraph.data.loading import FORMATS, embedded_path, load_dataset, split_off_validation
from tgraph.data.npz import read_npz_dataset
from tgraph.data.pickled import NumpyOnlyUnpickler, read_pickled_dataset

__all__ = [
    "Split",
    "Dataset",
    "shuffle",
    "load_dataset",
    "split_off_validation",
    "embedded_path",
    "FORMATS",
    "read_idx",
    "read_idx_directory",
    "IMAGES_MAGIC",
    "LABELS_MAGIC",
    "read_npz_dataset",
    "read_pickled_dataset",
    "NumpyOnlyUnpickler",
    "download_mnist",
    "default_cache_dir",
    "content_sha256",
    "MIRRORS",
    "MNIST_SHA256",
    "load_inputs",
]
