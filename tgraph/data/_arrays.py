"""Converting stored pixels to what a model reads: float32 in [0, 1] (uint8 / 255)."""

import numpy as np

from tgraph.errors import DataError

__all__ = ["UNIT_TABLE", "describe", "to_unit_float"]

# k / 255 for every uint8 value k, computed in float64 and rounded once to float32
# (the values of the tutorials' mnist.pkl.gz).
UNIT_TABLE = (np.arange(256, dtype=np.float64) / 255.0).astype(np.float32)


def describe(value):
    """Short description of an array (``"uint8 array of shape (10000, 28, 28)"``) or object."""
    if isinstance(value, np.ndarray):
        return f"{value.dtype} array of shape {value.shape}"
    return type(value).__name__


def to_unit_float(x, where):
    """Pixels as float32 in [0, 1].

    Args:
        x: (N, ...) array; uint8 (or other integers in 0..255) are divided by 255,
            floats must already lie in [0, 1].
        where: the file and field, named in error messages.

    Returns:
        (N, ...) float32 array (a new array).

    Raises:
        DataError: another dtype, or values out of range.
    """
    if x.dtype == np.uint8:
        return UNIT_TABLE[x]
    if x.dtype.kind in "iu":
        _check_range(x, where, 0, 255, "integer pixels must lie in 0..255")
        return UNIT_TABLE[x.astype(np.uint8)]
    if x.dtype.kind == "f":
        _check_range(x, where, 0.0, 1.0, "float pixels must lie in [0, 1]")
        return x.astype(np.float32)
    raise DataError(f"{where}: pixels are a {describe(x)}; expected uint8 (0..255) or "
                    "floats in [0, 1]")


def _check_range(x, where, low, high, rule):
    if x.size == 0:
        return
    lo, hi = x.min(), x.max()
    if not (lo >= low and hi <= high):  # also catches NaN
        raise DataError(f"{where}: pixel values range over [{lo}, {hi}]; {rule}; "
                        "rescale the images (e.g. x / 255) and save them again")
