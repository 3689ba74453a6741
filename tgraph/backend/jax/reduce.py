"""PyTensor's JAX ``CAReduce`` returning its node's output dtype, not the accumulator's.

PyTensor 3.0.7's JAX ``Sum`` of float32 with a float64 accumulator returned float64 (see
:mod:`tgraph.backend.jax`); here the result is cast to the node's output dtype.
"""

from pytensor.link.jax.dispatch import jax_funcify
from pytensor.tensor.elemwise import CAReduce

__all__ = []

_pytensor_careduce = jax_funcify.dispatch(CAReduce)


@jax_funcify.register(CAReduce)
def _careduce(op, node=None, **kwargs):
    reduce = _pytensor_careduce(op, node=node, **kwargs)
    if node is None:
        return reduce
    dtype = node.outputs[0].dtype
    return lambda *args: reduce(*args).astype(dtype)
