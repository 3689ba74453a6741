"""What every peer reads from a resolved tgraph network: weights per layer, penalties,
minibatches, and the dropout-free variant of an experiment used by the numerics check."""

import attrs
import numpy as np

from tgraph import layers as L

__all__ = ["layer_weights", "l2_coefficients", "has_dropout", "without_dropout",
           "minibatches", "learning_rate"]


def layer_weights(network, weights):
    """``{layer index: {"W": array, "b": array}}`` of tgraph's weights.

    Args:
        network: the built :class:`tgraph.network.Network`.
        weights: ``Model.get_weights()`` (``{"1_dense/W": array, ...}``); tgraph's
            layouts: Dense ``W`` (in, out), Conv2D ``W`` (filters, channels, kh, kw).
    """
    out = {}
    for p in network.params:
        out.setdefault(p.layer_index, {})[p.name.rsplit("/", 1)[1]] = weights[p.name]
    return out


def l2_coefficients(network, regularization):
    """``{param name: l2}`` of the penalised parameters (tgraph adds ``l2 * sum(p**2)``
    to the training loss, so the gradient gains ``2 * l2 * p``).

    Raises:
        NotImplementedError: an L1 penalty (no peer has one).
    """
    out = {}
    for p in network.params:
        if not (p.regularizable and p.trainable):
            continue
        l1, l2 = p.l1 + regularization.l1, p.l2 + regularization.l2
        if l1:
            raise NotImplementedError(f"{p.name}: l1={l1}: no peer twin has an L1 penalty")
        if l2:
            out[p.name] = l2
    return out


def has_dropout(network):
    """Whether a layer of the network draws random numbers in training (Dropout)."""
    return any(isinstance(layer, L.Dropout) and layer.rate > 0 for layer in network.specs)


def without_dropout(experiment):
    """The experiment with every ``Dropout`` rate set to 0 (the same parameters: dropout
    has none), for the numerics check of a dropout spec."""
    model = [attrs.evolve(layer, rate=0.0) if isinstance(layer, L.Dropout) else layer
             for layer in experiment.model]
    return attrs.evolve(experiment, model=model)


def minibatches(x, y, batch_size, input_shape):
    """The whole minibatches of ``(x, y)`` as ``(n_batches, batch_size, *input_shape[1:])``
    float32 and ``(n_batches, batch_size)`` int64 arrays (the last partial one dropped,
    as tgraph's epochs drop it)."""
    n = len(x) // batch_size
    xs = np.ascontiguousarray(x[:n * batch_size], dtype=np.float32)
    xs = xs.reshape((n, batch_size, *input_shape[1:]))
    return xs, np.asarray(y[:n * batch_size], dtype=np.int64).reshape(n, batch_size)


def learning_rate(optimizer):
    """The optimizer's initial learning rate (a float)."""
    return float(optimizer.learning_rate)
