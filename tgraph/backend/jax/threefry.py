"""JAX implementation of :class:`tgraph.ops.threefry.ThreefryUniform` (the same numbers)."""

import jax.numpy as jnp
from pytensor.link.jax.dispatch import jax_funcify

from tgraph.ops.threefry import ThreefryUniform, uniform_array

__all__ = []


@jax_funcify.register(ThreefryUniform)
def _jax_threefry_uniform(op, node, **kwargs):
    static = node.outputs[0].type.shape

    def threefry_uniform_jax(key, shape):
        dims = static if None not in static else tuple(int(s) for s in shape)
        return uniform_array(key, dims, op.dtype, xp=jnp)

    return threefry_uniform_jax
