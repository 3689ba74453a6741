"""Threefry-2x32-20 in Numba: the uniform numbers of :class:`tgraph.ops.threefry.ThreefryUniform`.

The same words in the same layout as the op's numpy reference
(:func:`tgraph.ops.threefry.uniform_array`), one block a loop iteration, which LLVM
vectorizes (~0.4 ns a number).
"""

import numba
import numpy as np

from tgraph.ops.threefry import PARITY, ROTATIONS, ROUNDS, SCALE

__all__ = ["FILL"]

_U32 = np.uint32


@numba.njit(inline="always")
def _rotl(x, r):
    return _U32((x << r) | (x >> (32 - r)))


@numba.njit(inline="always")
def _threefry_nb(k0, k1, c0, c1):
    keys = (k0, k1, _U32(k0 ^ k1 ^ _U32(PARITY)))
    x0, x1 = _U32(c0 + k0), _U32(c1 + k1)
    for block in range(ROUNDS // 4):
        for i in range(4):
            x0 = _U32(x0 + x1)
            x1 = _U32(_rotl(x1, ROTATIONS[4 * (block % 2) + i]) ^ x0)
        x0 = _U32(x0 + keys[(block + 1) % 3])
        x1 = _U32(x1 + keys[(block + 2) % 3] + _U32(block + 1))
    return x0, x1


def _fill_kernel(dtype):
    """``fill(k0, k1, out)``: the uniform numbers of key ``(k0, k1)`` into the flat ``out``."""
    scale = np.dtype(dtype).type(SCALE)

    @numba.njit(error_model="numpy")
    def fill(k0, k1, out):
        n = out.size
        half = (n + 1) // 2
        for j in range(half):
            w0, w1 = _threefry_nb(k0, k1, _U32(j & 0xFFFFFFFF), _U32(j >> 32))
            out[j] = out.dtype.type(w0 >> 8) * scale
            if j + half < n:
                out[j + half] = out.dtype.type(w1 >> 8) * scale

    return fill


FILL = {"float32": _fill_kernel("float32"), "float64": _fill_kernel("float64")}
