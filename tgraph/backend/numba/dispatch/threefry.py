"""Numba code of :class:`tgraph.ops.threefry.ThreefryUniform`."""

import numba
import numpy as np
from numba.np.unsafe.ndarray import to_fixed_tuple
from pytensor.link.numba.dispatch.basic import register_funcify_and_cache_key

from tgraph.backend.numba.kernels import threefry as kernels
from tgraph.backend.numba.runtime.cache import source_key
from tgraph.ops import threefry as threefry_ops
from tgraph.ops.threefry import ThreefryUniform

__all__ = []

_U32 = np.uint32
_SOURCE_KEY = source_key([threefry_ops.__file__, kernels.__file__, __file__])


@register_funcify_and_cache_key(ThreefryUniform)
def _numba_threefry_uniform(op, node, **kwargs):
    fill, ndim, dtype = kernels.FILL[op.dtype], node.outputs[0].ndim, np.dtype(op.dtype)

    @numba.njit
    def threefry_uniform_op(key, shape):
        out = np.empty(to_fixed_tuple(shape, ndim), dtype)
        fill(_U32(key[0] & 0xFFFFFFFF), _U32(key[1] & 0xFFFFFFFF), out.ravel())
        return out

    return threefry_uniform_op, f"tgraph_threefry_uniform_{op.dtype}_{ndim}_{_SOURCE_KEY}"
