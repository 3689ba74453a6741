"""JAX implementations of the convolution ops (:mod:`tgraph.ops.conv`).

``jax.lax.conv_general_dilated`` and its VJPs: the gradients are ``jax.vjp`` of the
forward convolution, which XLA turns into the transposed convolutions; the spatial sizes
they need must be static (see :func:`static_size`).
"""

import jax
import jax.numpy as jnp
from pytensor.link.jax.dispatch import jax_funcify

from tgraph.ops.conv import Conv2D, Conv2DGradFilters, Conv2DGradInput, known_pair

__all__ = ["static_size"]


def static_size(known, implied, what):
    """A spatial size the JAX backend needs at trace time (JAX shapes are static).

    Args:
        known: the size if it is a graph constant, else None.
        implied: the size implied by the other (static) shapes, or None if they do not
            determine it (a stride > 1 leaves the last rows unused).
        what: the op and axis, for the message.

    Raises:
        NotImplementedError: the size is neither constant nor implied.
    """
    if known is not None:
        return known
    if implied is not None:
        return implied
    raise NotImplementedError(
        f"{what}: the JAX backend needs the input's spatial size as a constant; give the "
        "input a static shape, e.g. pt.tensor4(shape=(None, 1, 28, 28)) (tgraph models "
        "always do)"
    )


def _forward(op):
    """``(x, w) -> conv2d(x, w)`` for ``op``'s stride and padding."""

    def run(x, w):
        return jax.lax.conv_general_dilated(
            x, w, window_strides=op.stride, padding=[(p, p) for p in op.padding],
            dimension_numbers=("NCHW", "OIHW", "NCHW"))

    return run


@jax_funcify.register(Conv2D)
def _jax_conv2d(op, **kwargs):
    return _forward(op)


@jax_funcify.register(Conv2DGradInput)
def _jax_conv2d_grad_input(op, node, **kwargs):
    known = known_pair(node.inputs[2])

    def run(gz, w, x_hw):
        hw = [static_size(k, (o - 1) * s + kk - 2 * p if s == 1 else None,
                          f"Conv2DGradInput axis {a}")
              for a, k, o, s, kk, p in
              zip((2, 3), known, gz.shape[2:], op.stride, w.shape[2:], op.padding)]
        x0 = jnp.zeros((gz.shape[0], w.shape[1], *hw), gz.dtype)
        return jax.vjp(lambda x: _forward(op)(x, w), x0)[1](gz)[0]

    return run


@jax_funcify.register(Conv2DGradFilters)
def _jax_conv2d_grad_filters(op, node, **kwargs):
    known = known_pair(node.inputs[2])

    def run(x, gz, w_hw):
        khw = [static_size(k, n + 2 * p - (o - 1) * s if s == 1 else None,
                           f"Conv2DGradFilters axis {a}")
               for a, k, n, o, s, p in
               zip((2, 3), known, x.shape[2:], gz.shape[2:], op.stride, op.padding)]
        w0 = jnp.zeros((gz.shape[1], x.shape[1], *khw), x.dtype)
        return jax.vjp(lambda w: _forward(op)(x, w), w0)[1](gz)[0]

    return run
