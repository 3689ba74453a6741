"""Network output + loss + regularizers -> the scalar that training minimises."""

import attrs
import pytensor.tensor as pt

from tgraph.ops.losses import get_loss
from tgraph.optim.regularizers import Regularization, penalty

__all__ = ["Terms", "objective", "target_variable", "takes_labels", "binary_labels"]


@attrs.frozen
class Terms:
    """The symbolic pieces of an objective.

    Attributes:
        loss: mean data loss over the batch (what the training log reports).
        per_example: (N,) data losses.
        penalty: the weight penalty, or None (added in training only).
        total: ``loss + penalty`` for training, ``loss`` when deterministic.
        output: the network output.
        updates: the forward pass's ``(shared variable, new value)`` pairs (random
            streams and layer state such as running averages); empty when
            deterministic. The training step applies them.
    """

    loss: object
    per_example: object
    penalty: object
    total: object
    output: object
    updates: tuple


def binary_labels(network, loss):
    """True for a binary classifier: ``binary_crossentropy`` on one output unit, trained
    on (N,) 0/1 class labels (the unit's output is the probability of class 1)."""
    return get_loss(loss).name == "binary_crossentropy" and \
        tuple(network.output_shape[1:]) == (1,)


def takes_labels(network, loss):
    """True if the targets are (N,) integer class labels (``nll``, or a binary classifier,
    see :func:`binary_labels`), which also gives an error rate."""
    return get_loss(loss).target == "labels" or binary_labels(network, loss)


def target_variable(network, loss, name="y"):
    """A symbolic target matching ``loss``: int32 labels (N,) or a tensor like the output."""
    if takes_labels(network, loss):
        return pt.ivector(name)
    return pt.tensor(name, dtype=network.dtype, shape=network.output_shape)


def objective(network, loss, x, y, *, deterministic, regularization=Regularization()):
    """Build the objective of ``network`` on input ``x`` and target ``y``.

    When the loss has a stable form on logits and the last layer ends with the
    activation that form absorbs (``nll`` after ``softmax``), that form is used.

    Args:
        network: a :class:`tgraph.network.Network`.
        loss: a loss name or :class:`tgraph.ops.losses.Loss`.
        x: symbolic input batch.
        y: symbolic target (see :func:`target_variable`); a binary classifier's (N,)
            labels are compared with its (N, 1) output as 0.0 / 1.0.
        deterministic: ``False`` for the training graph (dropout on, penalty added).
        regularization: model-wide :class:`Regularization`.

    Returns:
        :class:`Terms`.
    """
    target = y
    if binary_labels(network, loss):
        target = pt.cast(y, network.dtype)[:, None]  # (N,) 0/1 labels -> (N, 1) targets
    loss = get_loss(loss)
    fwd = network.forward(x, deterministic=deterministic, absorb=loss.absorbs)
    if fwd.pre_activation is not None and loss.logits_fn is not None:
        per_example = loss.logits_fn(fwd.pre_activation, target)
    else:
        per_example = loss.fn(fwd.output, target)
    mean = per_example.mean()
    pen = None if deterministic else penalty(network.params, regularization)
    total = mean if pen is None else mean + pen
    return Terms(mean, per_example, pen, total, fwd.output, fwd.updates)
