"""Datasets for tgraph: your own classification data, ready for a model.

>>> from tgraph.data import load_dataset
>>> data = load_dataset()            # the embedded MNIST subset: 8000 / 2000 / 10000
>>> data = load_dataset("iris.csv", valid_split="random", test_path="iris_test.csv")
>>> data.class_names, data.num_classes, data.preprocessing.to_json()
>>> model.set_train_data(data.train.x, data.train.y)

Formats (:func:`load_dataset` detects them from the path): CSV/TSV tables, directories
of images with one subdirectory per class, CIFAR-10/100 python-version batches (read
with a restricted unpickler), ``.npz`` archives (any shape and dtype, NCHW or NHWC,
integer or string labels), the deeplearning.net tutorials' ``mnist.pkl.gz``, LeCun's
IDX files, or ``download=True`` for the full MNIST (sha256-checked); from Python,
:func:`from_arrays` and :func:`from_dataframe`. Inputs come as float32 after a
:class:`Preprocessing` fitted on the training split (images scaled to [0, 1], tables
standardized, by default), labels as int32 class indices with ``class_names``; every
failure is a :class:`tgraph.DataError`.
"""

from tgraph.data.cifar import read_cifar_batch, read_cifar_directory
from tgraph.data.csv import read_csv_table
from tgraph.data.dataset import Dataset, Split, shuffle
from tgraph.data.download import (
    MIRRORS,
    MNIST_SHA256,
    content_sha256,
    default_cache_dir,
    download_mnist,
)
from tgraph.data.folders import read_image, read_image_folders
from tgraph.data.idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx, read_idx_directory
from tgraph.data.images import load_inputs
from tgraph.data.inmemory import from_arrays, from_dataframe
from tgraph.data.labels import encode_labels
from tgraph.data.layout import detect_layout, to_nchw
from tgraph.data.loading import (
    FORMAT_NAMES,
    FORMATS,
    build_dataset,
    embedded_path,
    format_of,
    load_dataset,
    reload_dataset,
    split_off_validation,
)
from tgraph.data.npz import read_npz_dataset
from tgraph.data.pickled import NumpyOnlyUnpickler, read_pickled_dataset
from tgraph.data.preprocessing import Preprocessing, default_preprocessing
from tgraph.data.splits import VALID_SPLITS, stratified_indices

__all__ = [
    "Split",
    "Dataset",
    "shuffle",
    "load_dataset",
    "reload_dataset",
    "build_dataset",
    "format_of",
    "from_arrays",
    "from_dataframe",
    "split_off_validation",
    "stratified_indices",
    "VALID_SPLITS",
    "embedded_path",
    "FORMATS",
    "FORMAT_NAMES",
    "Preprocessing",
    "default_preprocessing",
    "encode_labels",
    "detect_layout",
    "to_nchw",
    "read_csv_table",
    "read_image_folders",
    "read_image",
    "read_cifar_directory",
    "read_cifar_batch",
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
