"""Float32 test matrices in the layouts the matrix-product kernels receive."""

import numpy as np

__all__ = ["matrix"]


def matrix(rng, rows, cols, layout):
    """A float32 (rows, cols) array from ``rng``: C-contiguous (``"C"``), a transposed view
    (``"T"``), or a strided view (anything else)."""
    if layout == "C":
        return rng.normal(size=(rows, cols)).astype(np.float32)
    if layout == "T":
        return rng.normal(size=(cols, rows)).astype(np.float32).T
    return rng.normal(size=(2 * rows, cols + 3)).astype(np.float32)[::2, 1:cols + 1]
