"""Numba code of float sums (``CAReduce`` of ``add``: bias gradients, losses), cheap to compile.

PyTensor's Numba ``CAReduce`` orders the loops by the input's strides at run time, so it
compiles a sort (``np.argsort``), a hash and every loop order for each reduction:
~2 s of each cold start of a training graph, whose sums read C-contiguous arrays. Here a
float sum is one loop nest in C order over the input (made C-contiguous first, a copy
only if it is not), adding into an accumulator of the op's ``acc_dtype`` (float64 for
float32, as PyTensor's) and cast to the output dtype at the end: on a C-contiguous
input, the same additions in the same order as PyTensor's code. Other reductions go to
PyTensor's implementation.
"""

from hashlib import sha256

import numpy as np
from pytensor.link.numba.cache import compile_numba_function_src
from pytensor.link.numba.dispatch.basic import numba_njit, register_funcify_and_cache_key
from pytensor.link.numba.dispatch.elemwise import numba_funcify_CAReduce
from pytensor.scalar.basic import Add
from pytensor.tensor.elemwise import CAReduce

from tgraph.backend.numba.runtime.cache import source_key

__all__ = ["sum_source"]

_SOURCE_KEY = source_key([__file__])


def sum_source(ndim, axes, acc_dtype, out_dtype):
    """Source of ``careduce_sum(x)``: the sum of an ``ndim``-D array over ``axes``.

    Args:
        ndim: number of dimensions of the input.
        axes: sorted tuple of the axes summed over.
        acc_dtype, out_dtype: names of the accumulator's and the result's dtypes.

    Returns:
        Python source; the function returns an array of the kept dimensions (0-d if
        none are kept) of ``out_dtype``.
    """
    kept = [i for i in range(ndim) if i not in axes]
    index = ", ".join(f"i{i}" for i in range(ndim))
    lines = ["def careduce_sum(x):", "    x = np.ascontiguousarray(x)"]
    shape = ", ".join(f"x.shape[{i}]" for i in kept)
    lines.append(f"    acc = np.zeros(({shape}{',' if len(kept) == 1 else ''}), np.{acc_dtype})")
    for depth in range(ndim):
        lines.append(f"{'    ' * (depth + 1)}for i{depth} in range(x.shape[{depth}]):")
    target = f"acc[{', '.join(f'i{i}' for i in kept)}]" if kept else "acc[()]"
    lines.append(f"{'    ' * (ndim + 1)}{target} += x[{index}]")
    lines.append(f"    return acc.astype(np.{out_dtype})")
    return "\n".join(lines)


@register_funcify_and_cache_key(CAReduce)
def _numba_careduce(op, node, **kwargs):
    ndim = node.inputs[0].ndim
    in_dtype = node.inputs[0].type.dtype
    out_dtype = node.outputs[0].type.dtype
    acc_dtype = getattr(op, "acc_dtype", None) or out_dtype
    if not (isinstance(op.scalar_op, Add) and ndim >= 1 and in_dtype in ("float32", "float64")
            and np.dtype(acc_dtype).kind == "f" and np.dtype(out_dtype).kind == "f"):
        return numba_funcify_CAReduce(op, node, **kwargs)
    axes = tuple(sorted(range(ndim) if op.axis is None else
                        (a % ndim for a in op.axis)))
    source = sum_source(ndim, axes, acc_dtype, out_dtype)
    careduce_sum = compile_numba_function_src(source, "careduce_sum", {"np": np})
    key = sha256(f"tgraph_careduce_sum_{_SOURCE_KEY}\n{source}".encode()).hexdigest()
    return numba_njit(careduce_sum, boundscheck=False), key
