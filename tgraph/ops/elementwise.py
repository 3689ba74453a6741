"""Elementwise and row-wise building blocks used by activations and losses.

This first version is written with PyTensor's own ops; the fast tgraph ops replace the
transcendental ones (see the module's later history and ``benchmarks/ops.py``).
"""

import pytensor.tensor as pt

__all__ = ["tanh", "sigmoid", "elu", "softplus", "softmax", "log_softmax", "softmax_nll"]


def tanh(x):
    """``tanh(x)``, any shape."""
    return pt.tanh(x)


def sigmoid(x):
    """``1 / (1 + exp(-x))``, any shape."""
    return pt.sigmoid(x)


def elu(x):
    """``x if x > 0 else exp(x) - 1``, any shape."""
    return pt.switch(x > 0, x, pt.expm1(x))


def softplus(x):
    """``log(1 + exp(x))``, any shape."""
    return pt.softplus(x)


def softmax(x):
    """Softmax over the last axis."""
    return pt.special.softmax(x, axis=-1)


def log_softmax(x):
    """Log-softmax over the last axis."""
    return pt.special.log_softmax(x, axis=-1)


def softmax_nll(logits, labels):
    """Per-example negative log-likelihood of integer ``labels`` under softmax(``logits``).

    Args:
        logits: (N, K) float tensor.
        labels: (N,) integer tensor with values in [0, K).

    Returns:
        (N,) tensor ``-log softmax(logits)[n, labels[n]]``.
    """
    return -log_softmax(logits)[pt.arange(labels.shape[0]), labels]
