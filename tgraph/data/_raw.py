"""What a reader hands to :func:`tgraph.data.load_dataset`: stored arrays per split.

Readers only read: labels stay as stored (indices or names), inputs keep their dtype,
nothing is split off or scaled. :mod:`tgraph.data.loading` turns a :class:`RawData`
into a :class:`tgraph.data.Dataset` the same way for every format.
"""

from typing import NamedTuple

import attrs
import numpy as np

__all__ = ["Part", "RawData", "KINDS_OF_DATA"]

KINDS_OF_DATA = ("images", "table")


class Part(NamedTuple):
    """One stored split: inputs, labels, and their names for messages."""

    x: np.ndarray
    y: np.ndarray
    x_name: str
    y_name: str


@attrs.frozen(eq=False)
class RawData:
    """The stored splits of one source.

    Attributes:
        parts: ``{"train": Part, "valid": Part, "test": Part}``, valid and test optional.
        kind: ``"images"``, ``"table"``, or None to decide from the arrays (see
            :func:`tgraph.data.loading.kind_of_data`).
        class_names: the class names in index order when the format stores them
            (CIFAR's meta file, an image folder's subdirectories), else None.
        info: format details for ``Dataset.meta`` (JSON-serialisable), e.g. columns.
    """

    parts: dict
    kind: str | None = None
    class_names: tuple | None = None
    info: dict = attrs.field(factory=dict)
