"""The JAX twin of a tgraph experiment: a whole epoch as one ``jax.jit``-ed ``lax.scan``.

The network is built from the same resolved layer specs as the PyTorch twin (Dense,
Conv2D, MaxPool2D, Activation, Flatten, Reshape, Dropout), in float32, with tgraph's
initial weights in tgraph's layouts (Dense ``W`` (in, out), Conv2D ``W`` (F, C, kh, kw),
NCHW images), the output softmax folded into the cross-entropy, and the optax optimizer
matching the spec's (SGD, momentum, RMSprop with epsilon inside the root as tgraph's).
"""

import math
import time

import attrs
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax

from peers.common import l2_coefficients, layer_weights, learning_rate, minibatches
from tgraph import layers as L
from tgraph import optim

__all__ = ["JaxPeer", "forward_fn", "optax_optimizer"]

_ACTIVATIONS = {"linear": lambda z: z, "tanh": jnp.tanh, "sigmoid": jax.nn.sigmoid,
                "relu": jax.nn.relu, "elu": jax.nn.elu, "softplus": jax.nn.softplus}


def _max_pool(layer, in_shape, out_shape):
    """(N, C, H, W) -> (N, C, OH, OW) max over windows; ``ignore_border=False`` windows cut
    by the border pad with -inf up to the output size tgraph inferred."""
    (ph, pw), (sh, sw) = layer.pool_size, layer.stride_pair
    pads = [max(0, (o - 1) * s + p - d) for o, s, p, d in
            zip(out_shape[2:], (sh, sw), (ph, pw), in_shape[2:])]
    padding = ((0, 0), (0, 0), (0, pads[0]), (0, pads[1]))
    return lambda x: lax.reduce_window(x, -jnp.inf, lax.max, (1, 1, ph, pw), (1, 1, sh, sw),
                                       padding)


def _layer_fn(i, layer, in_shape, out_shape, dropout):
    """``f(params, x, key) -> y`` of layer ``i``; ``key`` is only read by Dropout."""
    if isinstance(layer, L.Dense) or isinstance(layer, L.Conv2D):
        act = _ACTIVATIONS[layer.activation]
        if isinstance(layer, L.Dense):
            return lambda params, x, key: act(_dense(x, params[str(i)]))
        pads = [(q, q) for q in layer.padding_pair]
        return lambda params, x, key: act(_conv(x, params[str(i)], layer.stride, pads))
    if isinstance(layer, L.Activation):
        act = _ACTIVATIONS[layer.activation]
        return lambda params, x, key: act(x)
    if isinstance(layer, L.MaxPool2D):
        pool = _max_pool(layer, in_shape, out_shape)
        return lambda params, x, key: pool(x)
    if isinstance(layer, (L.Flatten, L.Reshape)):
        return lambda params, x, key: x.reshape((x.shape[0], *out_shape[1:]))
    if isinstance(layer, L.Dropout):
        if not dropout or layer.rate == 0:
            return None
        keep = 1.0 - layer.rate
        return lambda params, x, key: jnp.where(
            jax.random.bernoulli(jax.random.fold_in(key, i), keep, x.shape), x / keep, 0.0)
    raise NotImplementedError(f"no JAX twin for {type(layer).__name__}")


def _dense(x, p):
    """(N, D) @ W (D, units) [+ b (units,)]."""
    return x @ p["W"] + p["b"] if "b" in p else x @ p["W"]


def _conv(x, p, stride, pads):
    """NCHW images (N, C, H, W) cross-correlated with W (F, C, kh, kw) [+ b (F,)]."""
    z = lax.conv_general_dilated(x, p["W"], stride, pads,
                                 dimension_numbers=("NCHW", "OIHW", "NCHW"))
    return z + p["b"][None, :, None, None] if "b" in p else z


def forward_fn(network, *, dropout=True):
    """``logits(params, x, key)``: the network up to the last layer's pre-activation.

    Args:
        network: the built tgraph network; its last layer must be a softmax Dense.
        dropout: False: Dropout layers are the identity (for the numerics check).

    Returns:
        A function of ``params`` (``{"layer index": {"W", "b"}}``), ``x`` (batch, *input
        shape) float32 and a PRNG key, giving (batch, classes) float32 logits.
    """
    last = network.specs[-1]
    if not (isinstance(last, L.Dense) and last.activation == "softmax"):
        raise NotImplementedError(f"JAX twin: the last layer must be a softmax Dense, not {last}")
    specs, shapes = network.specs, network.shapes
    fns = [_layer_fn(i, specs[i], shapes[i - 1], shapes[i], dropout)
           for i in range(1, len(specs) - 1)]
    fns = [f for f in fns if f is not None]
    out = _layer_fn(len(specs) - 1, attrs.evolve(last, activation="linear"), shapes[-2],
                    shapes[-1], dropout)

    def logits(params, x, key):
        for f in fns:
            x = f(params, x, key)
        return out(params, x, key)
    return logits


def optax_optimizer(optimizer):
    """The optax transformation computing tgraph's update for ``optimizer``."""
    lr = learning_rate(optimizer)
    if isinstance(optimizer, optim.RMSprop):
        return optax.rmsprop(lr, decay=optimizer.rho, eps=optimizer.epsilon, eps_in_sqrt=True)
    if isinstance(optimizer, optim.Momentum):
        return optax.sgd(lr, momentum=optimizer.momentum)
    if type(optimizer) is optim.SGD:
        return optax.sgd(lr)
    raise NotImplementedError(f"no JAX twin for {type(optimizer).__name__}")


def _epoch_fn(experiment, network, *, dropout):
    """``epoch(params, opt_state, key, xs, ys) -> (params, opt_state, key, losses)``, jitted:
    one ``lax.scan`` over the minibatches ``xs`` (n, batch, ...) and ``ys`` (n, batch);
    ``losses`` (n,) are the mean cross-entropies (without the penalty, as tgraph logs)."""
    logits = forward_fn(network, dropout=dropout)
    tx = optax_optimizer(experiment.optimizer)
    coefficients = l2_coefficients(network, experiment.regularization)
    l2 = {(str(p.layer_index), p.name.rsplit("/", 1)[1]): coefficients[p.name]
          for p in network.params if p.name in coefficients}

    def total(params, x, y, key):
        z = logits(params, x, key)
        loss = optax.softmax_cross_entropy_with_integer_labels(z, y).mean()
        penalty = sum(c * jnp.sum(params[i][n] ** 2) for (i, n), c in l2.items())
        return loss + penalty, loss

    def step(carry, batch):
        params, state, key = carry
        key, sub = jax.random.split(key)
        grads, loss = jax.grad(total, has_aux=True)(params, *batch, sub)
        updates, state = tx.update(grads, state, params)
        return (optax.apply_updates(params, updates), state, key), loss

    @jax.jit
    def epoch(params, state, key, xs, ys):
        (params, state, key), losses = lax.scan(step, (params, state, key), (xs, ys))
        return params, state, key, losses
    return epoch, tx


class JaxPeer:
    """Training steps of the JAX twin, a whole epoch per call.

    Args:
        experiment, network, weights: the resolved experiment, its built network and
            tgraph's ``Model.get_weights()`` (the twin starts from them).
        x: (N, ...) float32 examples; y: (N,) int labels.
        dropout: False: Dropout layers are the identity (for the numerics check).
    """

    def __init__(self, experiment, network, weights, x, y, *, dropout=True):
        self.epoch, tx = _epoch_fn(experiment, network, dropout=dropout)
        self.params = {str(i): {k: jnp.asarray(v, jnp.float32) for k, v in values.items()}
                       for i, values in layer_weights(network, weights).items()}
        self.state, self.key = tx.init(self.params), jax.random.PRNGKey(0)
        xs, ys = minibatches(x, y, experiment.training.batch_size, network.input_shape)
        self.xs, self.ys = jnp.asarray(xs), jnp.asarray(ys.astype(np.int32))

    def _call(self, xs, ys):
        self.params, self.state, self.key, losses = self.epoch(
            self.params, self.state, self.key, xs, ys)
        return losses

    def step_losses(self, count):
        """(count,) float64: the losses of steps on minibatches 0..count-1 (one scan)."""
        return np.asarray(self._call(self.xs[:count], self.ys[:count]), dtype=np.float64)

    def warm_up(self):
        """Seconds of the first epoch (jit compilation included)."""
        t0 = time.perf_counter()
        self.run(1)
        return time.perf_counter() - t0

    def run(self, steps):
        """Run whole epochs covering at least ``steps`` steps; returns the steps run."""
        epochs = max(1, math.ceil(steps / len(self.xs)))
        for _ in range(epochs):
            losses = self._call(self.xs, self.ys)
        losses.block_until_ready()
        return epochs * len(self.xs)
