"""JAX implementations of the activation and loss ops (:mod:`tgraph.ops.elementwise`)."""

import jax
import jax.numpy as jnp
from pytensor.link.jax.dispatch import jax_funcify

from tgraph.ops import elementwise as ew

__all__ = ["IMPLEMENTATIONS"]


def _softmax_nll(x, labels):
    m = x.max(axis=-1)
    log_s = jnp.log(jnp.exp(x - m[:, None]).sum(axis=-1))
    picked = jnp.take_along_axis(x, labels[:, None], axis=-1)[:, 0]
    return (m - picked) + log_s, jnp.stack([m, log_s], axis=1)


def _softmax_nll_grad(g, x, stats, labels):
    onehot = jax.nn.one_hot(labels, x.shape[-1], dtype=x.dtype)
    return (jnp.exp((x - stats[:, :1]) - stats[:, 1:]) - onehot) * g[:, None]


IMPLEMENTATIONS = {
    ew.Tanh: jnp.tanh, ew.Sigmoid: jax.nn.sigmoid, ew.Softplus: jax.nn.softplus,
    ew.Elu: jax.nn.elu,
    ew.Softmax: lambda x: jax.nn.softmax(x, axis=-1),
    ew.LogSoftmax: lambda x: jax.nn.log_softmax(x, axis=-1),
    ew.SoftmaxGrad: ew.SoftmaxGrad.numpy,  # numpy-style array code, runs on jax arrays
    ew.LogSoftmaxGrad: lambda g, y: g - jnp.exp(y) * g.sum(axis=-1, keepdims=True),
    ew.SoftmaxNLL: _softmax_nll,
    ew.SoftmaxNLLGrad: _softmax_nll_grad,
}

for _cls, _impl in IMPLEMENTATIONS.items():
    jax_funcify.register(_cls)(lambda op, impl=_impl, **kwargs: impl)
