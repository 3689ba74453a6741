"""Losses: per-example values, averaged by the objective.

Each :class:`Loss` maps ``(output, target)`` to a vector of per-example losses (N,).
A loss that can absorb the output activation (``nll`` after ``softmax``,
``binary_crossentropy`` after ``sigmoid``) also has a numerically stable form on the
pre-activation (logits), which the objective uses automatically.
"""

import attrs
import pytensor.tensor as pt

from tgraph.ops import elementwise as ew
from tgraph.registry import Registry

__all__ = [
    "Loss",
    "LOSSES",
    "get_loss",
    "nll",
    "nll_from_logits",
    "categorical_crossentropy",
    "binary_crossentropy",
    "binary_crossentropy_from_logits",
    "squared_error",
]

LOSSES = Registry("loss")

_EPS = 1e-7  # keeps log() finite for probabilities that underflow to 0 in float32


def _flat(x):
    return x.flatten(2) if x.ndim > 2 else x


def nll(probs, labels):
    """Negative log-likelihood of integer labels (the tutorials' logistic-regression cost).

    Args:
        probs: (N, K) class probabilities.
        labels: (N,) integer labels in [0, K).

    Returns:
        (N,) ``-log probs[n, labels[n]]``.
    """
    picked = probs[pt.arange(labels.shape[0]), labels]
    return -pt.log(pt.maximum(picked, pt.cast(_EPS, probs.dtype)))


def nll_from_logits(logits, labels):
    """:func:`nll` of ``softmax(logits)``, computed stably (no log of 0).

    Args:
        logits: (N, K) pre-softmax scores.
        labels: (N,) integer labels.

    Returns:
        (N,) per-example losses.
    """
    return ew.softmax_nll(logits, labels)


def categorical_crossentropy(probs, targets):
    """Cross-entropy against target distributions (e.g. one-hot rows).

    Args:
        probs: (N, K) probabilities.
        targets: (N, K) target probabilities.

    Returns:
        (N,) ``-sum_k targets * log probs``.
    """
    return -(targets * pt.log(pt.maximum(probs, pt.cast(_EPS, probs.dtype)))).sum(axis=-1)


def binary_crossentropy(probs, targets):
    """Binary cross-entropy summed over features (the denoising-autoencoder tutorial's cost).

    Args:
        probs: (N, ...) probabilities in (0, 1).
        targets: (N, ...) targets in [0, 1].

    Returns:
        (N,) ``-sum(t log p + (1 - t) log(1 - p))`` over all but the first axis.
    """
    eps = pt.cast(_EPS, probs.dtype)
    p = pt.clip(_flat(probs), eps, 1 - eps)
    t = _flat(targets)
    return -(t * pt.log(p) + (1 - t) * pt.log1p(-p)).sum(axis=-1)


def binary_crossentropy_from_logits(logits, targets):
    """:func:`binary_crossentropy` of ``sigmoid(logits)``, computed stably.

    Uses ``softplus(z) - t * z`` = ``-t log s(z) - (1 - t) log(1 - s(z))``.
    """
    z = _flat(logits)
    return (ew.softplus(z) - _flat(targets) * z).sum(axis=-1)


def squared_error(output, targets):
    """Squared error summed over features.

    Args:
        output: (N, ...) predictions.
        targets: (N, ...) targets of the same shape.

    Returns:
        (N,) ``sum((output - targets) ** 2)`` over all but the first axis.
    """
    return pt.sqr(_flat(output) - _flat(targets)).sum(axis=-1)


@attrs.frozen
class Loss:
    """A named loss.

    Attributes:
        name: the registry name.
        fn: ``(output, target) -> (N,)`` per-example losses.
        target: ``"labels"`` (integer class labels, shape (N,)) or ``"like_output"``.
        logits_fn: stable ``(pre_activation, target) -> (N,)`` form, or None.
        absorbs: the output activation that ``logits_fn`` includes, or None.
    """

    name: str
    fn: object
    target: str
    logits_fn: object = None
    absorbs: str | None = None


for _loss in (
    Loss("nll", nll, "labels", nll_from_logits, "softmax"),
    Loss("categorical_crossentropy", categorical_crossentropy, "like_output"),
    Loss("binary_crossentropy", binary_crossentropy, "like_output",
         binary_crossentropy_from_logits, "sigmoid"),
    Loss("squared_error", squared_error, "like_output"),
):
    LOSSES.register(_loss.name, _loss)
LOSSES.register("negative_log_likelihood", LOSSES.get("nll"))
LOSSES.register("mse", LOSSES.get("squared_error"))


def get_loss(name):
    """The :class:`Loss` registered under ``name`` (a :class:`Loss` passes through)."""
    return name if isinstance(name, Loss) else LOSSES.get(name)
