"""Activation functions by name, each ``f(x) -> y`` on symbolic tensors of any shape.

``softmax`` and ``log_softmax`` normalise over the last axis. Where PyTensor's generated
Numba code for a transcendental function is slow, the function uses tgraph's own op
(see :mod:`tgraph.ops.elementwise`), which has the same value and gradient.
"""

import pytensor.tensor as pt

from tgraph.ops import elementwise as ew
from tgraph.registry import Registry

__all__ = [
    "ACTIVATIONS",
    "get_activation",
    "linear",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "elu",
    "softplus",
    "softmax",
    "log_softmax",
]

ACTIVATIONS = Registry("activation")


@ACTIVATIONS.register("linear")
def linear(x):
    """Identity: ``y = x``."""
    return x


@ACTIVATIONS.register("sigmoid")
def sigmoid(x):
    """Logistic sigmoid ``1 / (1 + exp(-x))``, values in (0, 1)."""
    return ew.sigmoid(x)


@ACTIVATIONS.register("tanh")
def tanh(x):
    """Hyperbolic tangent, values in (-1, 1)."""
    return ew.tanh(x)


@ACTIVATIONS.register("relu")
def relu(x):
    """Rectifier ``max(x, 0)`` (the dropout tutorial's 'rectify')."""
    return pt.maximum(x, 0)


@ACTIVATIONS.register("leaky_relu")
def leaky_relu(x, alpha=0.01):
    """Leaky rectifier: ``x`` for x > 0, ``alpha * x`` otherwise (Maas et al. 2013)."""
    return pt.switch(x > 0, x, pt.cast(alpha, x.dtype) * x)


@ACTIVATIONS.register("elu")
def elu(x):
    """Exponential linear unit: ``x`` for x > 0, ``exp(x) - 1`` otherwise (Clevert et al. 2016)."""
    return ew.elu(x)


@ACTIVATIONS.register("softplus")
def softplus(x):
    """``log(1 + exp(x))``, computed without overflow."""
    return ew.softplus(x)


@ACTIVATIONS.register("softmax")
def softmax(x):
    """Softmax over the last axis: non-negative rows summing to 1."""
    return ew.softmax(x)


@ACTIVATIONS.register("log_softmax")
def log_softmax(x):
    """Log of the softmax over the last axis, computed stably."""
    return ew.log_softmax(x)


def get_activation(name):
    """The activation function registered under ``name``.

    Raises:
        ConfigError: unknown name; the message lists the known ones.
    """
    return ACTIVATIONS.get(name)
