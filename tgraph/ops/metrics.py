"""Classification metrics on symbolic tensors and on numpy arrays."""

import numpy as np
import pytensor.tensor as pt

__all__ = ["errors", "error_rate", "accuracy", "errors_np"]


def errors(output, labels):
    """Per-example zero-one loss: 1 where ``argmax(output) != label``.

    Args:
        output: (N, K) class scores or probabilities.
        labels: (N,) integer labels.

    Returns:
        (N,) tensor of 0/1 in ``output.dtype``.
    """
    return pt.cast(pt.neq(pt.argmax(output, axis=-1), labels), output.dtype)


def error_rate(output, labels):
    """Fraction of misclassified examples (the tutorials' ``errors``), in [0, 1]."""
    return errors(output, labels).mean()


def accuracy(output, labels):
    """Fraction of correctly classified examples, in [0, 1]."""
    return 1 - error_rate(output, labels)


def errors_np(output, labels):
    """Number of misclassified examples, for numpy arrays (N, K) and (N,)."""
    return int(np.count_nonzero(np.argmax(output, axis=-1) != labels))
