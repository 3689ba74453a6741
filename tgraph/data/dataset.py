"""Splits and datasets: arrays ready for a model, in frozen containers.

A :class:`Split` is one set of examples (inputs ``x``, labels ``y``); a
:class:`Dataset` holds the train, validation and test splits of one source. Loaders
(:func:`tgraph.data.load_dataset`) produce them; :meth:`tgraph.Model.set_train_data`
and :meth:`tgraph.Model.evaluate` consume ``split.x`` and ``split.y``.
"""

import attrs
import numpy as np

from tgraph.data._arrays import describe
from tgraph.errors import DataError

__all__ = ["Split", "Dataset", "shuffle"]


def _float32_examples(instance, attribute, value):
    if not (isinstance(value, np.ndarray) and value.dtype == np.float32 and value.ndim >= 1):
        raise DataError(f"Split: `x` (={describe(value)}) must be a float32 array of shape "
                        "(N, ...); scale pixels to [0, 1] and cast with x.astype(np.float32)")


def _int32_labels(instance, attribute, value):
    if not (isinstance(value, np.ndarray) and value.dtype == np.int32):
        raise DataError(f"Split: `y` (={describe(value)}) must be an int32 array of labels; "
                        "cast with y.astype(np.int32)")
    if value.shape != (len(instance.x),):
        raise DataError(f"Split: `y` has shape {value.shape}, expected ({len(instance.x)},): "
                        "one label per example of `x`")


def _array_repr(value):
    return f"<{describe(value)}>"


@attrs.frozen(eq=False)
class Split:
    """One set of examples.

    Attributes:
        x: (N, ...) float32 inputs; images keep their stored layout, (N, 28, 28) from
            IDX and .npz files, (N, 784) from the tutorials' pickle, pixels in [0, 1].
        y: (N,) int32 class labels.
    """

    x: np.ndarray = attrs.field(validator=_float32_examples, repr=_array_repr)
    y: np.ndarray = attrs.field(validator=_int32_labels, repr=_array_repr)

    def __len__(self):
        return len(self.y)


def _split(instance, attribute, value):
    if not isinstance(value, Split):
        raise DataError(f"Dataset: `{attribute.name}` (={describe(value)}) must be a Split")


def _optional_split(instance, attribute, value):
    if value is not None:
        _split(instance, attribute, value)


def _class_names(value):
    return None if value is None else tuple(str(name) for name in value)


@attrs.frozen(eq=False)
class Dataset:
    """The train, validation and test splits of one data source.

    Attributes:
        train: the training :class:`Split`.
        valid: the validation :class:`Split` (None if there is none).
        test: the test :class:`Split` (None if there is none: ``notes`` says why).
        source: where the data came from: a resolved path, or ``"embedded:mnist_10k.npz"``.
        meta: details of the loading (``format``, how the validation set was made,
            ``valid_fraction``, ``seed``, split ``sizes``); JSON-serialisable.
        class_names: the name of each class, in label index order (``("0", ..., "9")``
            for MNIST, ``("cat", "dog")`` for a folder of ``cat/`` and ``dog/``), or
            None for data built without labels' names.
        preprocessing: the fitted :class:`tgraph.data.Preprocessing` that turned the
            stored inputs into ``x`` (None: ``x`` is as given); a model file stores it
            so that eval and predict transform new inputs the same way.
        split_info: how the splits were made, for the run files (JSON-serialisable):
            ``valid_split`` (``"file"``, ``"last"`` or ``"random"``), ``valid_fraction``,
            ``valid_size``, ``seed``, ``test`` (``"file"``, the ``test_path``, or None)
            and ``sizes``.
        notes: sentences worth reporting about the data, e.g. why there is no test split.
        load_options: the keyword arguments of :func:`tgraph.data.load_dataset` that
            read ``source`` again the same way (format, split and format options;
            JSON-serialisable), e.g. for ``tgraph eval RUN`` on the run's own data:
            ``load_dataset(source, **load_options, preprocessing=..., class_names=...)``;
            empty for data built from Python objects.
    """

    train: Split = attrs.field(validator=_split)
    valid: Split | None = attrs.field(default=None, validator=_optional_split)
    test: Split | None = attrs.field(default=None, validator=_optional_split)
    source: str = "<arrays>"
    meta: dict = attrs.field(factory=dict)
    class_names: tuple | None = attrs.field(default=None, converter=_class_names)
    preprocessing: object = None
    split_info: dict = attrs.field(factory=dict)
    notes: tuple = attrs.field(default=(), converter=tuple)
    load_options: dict = attrs.field(factory=dict)

    @property
    def num_classes(self):
        """Number of classes (``len(class_names)``), or None without class names."""
        return None if self.class_names is None else len(self.class_names)

    @property
    def input_shape(self):
        """The shape of one example, e.g. ``(30,)`` or ``(3, 32, 32)``."""
        return self.train.x.shape[1:]

    def sizes(self):
        """Number of examples per split: ``{"train": 8000, "valid": 2000, "test": 10000}``."""
        splits = {"train": self.train, "valid": self.valid, "test": self.test}
        return {name: len(split) for name, split in splits.items() if split is not None}

    def record(self):
        """What a run records about its data, as a JSON-serialisable dict.

        Returns:
            ``source``, ``format``, ``input_shape``, ``class_names``, ``num_classes``,
            ``preprocessing`` (its ``to_dict()``, or None), ``split`` (``split_info``),
            ``notes`` and ``load_options``.
        """
        preprocessing = self.preprocessing
        return {
            "source": self.source,
            "format": self.meta.get("format"),
            "input_shape": list(self.input_shape),
            "class_names": None if self.class_names is None else list(self.class_names),
            "num_classes": self.num_classes,
            "preprocessing": None if preprocessing is None else preprocessing.to_dict(),
            "split": dict(self.split_info),
            "notes": list(self.notes),
            "load_options": dict(self.load_options),
        }


def shuffle(split, rng):
    """A copy of ``split`` with its examples in a random order (inputs and labels together).

    Args:
        split: a :class:`Split` of N examples.
        rng: a ``numpy.random.Generator`` (call once per epoch for a new order), or an
            int seed for ``numpy.random.default_rng``.

    Returns:
        A new :class:`Split`; ``split`` is unchanged.
    """
    generator = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    order = generator.permutation(len(split))
    return Split(x=split.x[order], y=split.y[order])
