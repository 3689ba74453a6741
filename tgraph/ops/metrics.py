"""Classification metrics on symbolic tensors and on numpy arrays."""

import numpy as np
import pytensor.tensor as pt

__all__ = ["errors", "top_k_errors", "error_rate", "accuracy", "errors_np", "predicted_classes",
           "class_probabilities", "TOP_K", "TOP_K_MIN_CLASSES"]

TOP_K = 5
TOP_K_MIN_CLASSES = 20  # models with this many classes or more also report a top-5 error


def _is_binary(output):
    return output.type.shape[-1] == 1


def errors(output, labels):
    """Per-example zero-one loss: 1 where the predicted class is not the label.

    The predicted class is ``argmax(output)``; for a single output unit (a binary
    classifier's probability of class 1) it is 1 where the output exceeds 0.5.

    Args:
        output: (N, K) class scores or probabilities, or (N, 1) probabilities of class 1.
        labels: (N,) integer labels.

    Returns:
        (N,) tensor of 0/1 in ``output.dtype``.
    """
    if _is_binary(output):
        predicted = pt.cast(pt.gt(output[:, 0], 0.5), labels.dtype)
    else:
        predicted = pt.argmax(output, axis=-1)
    return pt.cast(pt.neq(predicted, labels), output.dtype)


def top_k_errors(output, labels, k=TOP_K):
    """Per-example top-k zero-one loss: 1 where the label is not among the ``k`` highest
    scores (ties counted in the label's favour).

    Args:
        output: (N, K) class scores or probabilities, K > k.
        labels: (N,) integer labels.
        k: number of guesses.

    Returns:
        (N,) tensor of 0/1 in ``output.dtype``.
    """
    own = output[pt.arange(labels.shape[0]), labels]
    higher = pt.gt(output, own[:, None]).sum(axis=-1)
    return pt.cast(pt.ge(higher, k), output.dtype)


def class_probabilities(output):
    """(N, K) class probabilities of a network output: (N, 1) binary outputs become
    ``[1 - p, p]``; other outputs are returned as they are."""
    output = np.asarray(output)
    if output.ndim == 2 and output.shape[1] == 1:
        return np.concatenate([1 - output, output], axis=1)
    return output


def predicted_classes(output):
    """(N,) predicted classes of a network output, as :func:`errors` counts them."""
    output = np.asarray(output)
    if output.ndim == 2 and output.shape[1] == 1:
        return (output[:, 0] > 0.5).astype(np.int64)
    return np.argmax(output, axis=-1)


def error_rate(output, labels):
    """Fraction of misclassified examples (the tutorials' ``errors``), in [0, 1]."""
    return errors(output, labels).mean()


def accuracy(output, labels):
    """Fraction of correctly classified examples, in [0, 1]."""
    return 1 - error_rate(output, labels)


def errors_np(output, labels):
    """Number of misclassified examples, for numpy arrays (N, K) and (N,)."""
    return int(np.count_nonzero(predicted_classes(output) != labels))
