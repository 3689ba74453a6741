"""Network output + loss + regularizers -> the scalar that training minimises."""

import attrs
import pytensor.tensor as pt

from tgraph.ops.losses import get_loss
from tgraph.optim.regularizers import Regularization, penalty

__all__ = ["Terms", "objective", "target_variable"]


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


def target_variable(network, loss, name="y"):
    """A symbolic target matching ``loss``: int32 labels (N,) or a tensor like the output."""
    if get_loss(loss).target == "labels":
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
        y: symbolic target (see :func:`target_variable`).
        deterministic: ``False`` for the training graph (dropout on, penalty added).
        regularization: model-wide :class:`Regularization`.

    Returns:
        :class:`Terms`.
    """
    loss = get_loss(loss)
    fwd = network.forward(x, deterministic=deterministic, absorb=loss.absorbs)
    if fwd.pre_activation is not None and loss.logits_fn is not None:
        per_example = loss.logits_fn(fwd.pre_activation, y)
    else:
        per_example = loss.fn(fwd.output, y)
    mean = per_example.mean()
    pen = None if deterministic else penalty(network.params, regularization)
    total = mean if pen is None else mean + pen
    return Terms(mean, per_example, pen, total, fwd.output, fwd.updates)
