"""Validation splits of a dataset that has none: the file's last part, or a random part.

``valid_split="last"`` keeps today's rule, the deeplearning.net tutorials' one: the last
``n_valid`` examples of the file validate (50,000 / 10,000 of MNIST's 60,000; 8,000 /
2,000 of the embedded 10,000). On data sorted by class that validates on the last
classes only (the long-standing trap of Keras' ``validation_split``), so such a split is
refused. ``valid_split="random"`` draws a seeded random part, stratified by class: each
class gives its share of examples (largest remainders), and keeps at least one for
training.
"""

import math

import numpy as np

from tgraph.data.dataset import Split
from tgraph.errors import ConfigError, DataError

__all__ = [
    "VALID_SPLITS",
    "SORTED_P",
    "validation_size",
    "split_indices",
    "stratified_indices",
    "check_last_split",
    "split_off_validation",
]

VALID_SPLITS = ("last", "random")
SORTED_P = 0.01  # see check_last_split
_RANDOM_HINT = ("use valid_split=\"random\" (`--valid-split random`) for a seeded random "
                "validation split stratified by class")


def check_fraction(valid_fraction):
    """A :class:`ConfigError` unless ``valid_fraction`` is a number in (0, 1)."""
    ok = isinstance(valid_fraction, (int, float)) and not isinstance(valid_fraction, bool)
    if not (ok and 0 < valid_fraction < 1):
        raise ConfigError(f"`valid_fraction` (={valid_fraction!r}) must be in (0, 1), e.g. 0.2 "
                          "to keep the last 20% of the training images for validation")


def check_valid_split(valid_split):
    """A :class:`ConfigError` unless ``valid_split`` is ``"last"`` or ``"random"``."""
    if valid_split not in VALID_SPLITS:
        raise ConfigError(f"`valid_split` (={valid_split!r}) must be \"last\" (the last part "
                          "of the file) or \"random\" (seeded, stratified by class)")


def validation_size(n, valid_fraction=0.2, valid_size=None, source="the training set"):
    """How many of ``n`` examples validate: ``valid_size``, else ``round(n * valid_fraction)``.

    Raises:
        ConfigError: ``valid_size`` not a positive int, or ``valid_fraction`` out of (0, 1).
        DataError: one of the two parts would be empty.
    """
    if valid_size is not None:
        if not isinstance(valid_size, (int, np.integer)) or isinstance(valid_size, bool) \
                or valid_size < 1:
            raise ConfigError(f"`valid_size` (={valid_size!r}) must be a positive number of "
                              "examples, e.g. 10000 for the tutorials' MNIST split")
        n_valid, asked = int(valid_size), f"`valid_size` (={valid_size})"
    else:
        check_fraction(valid_fraction)
        n_valid, asked = round(n * valid_fraction), f"`valid_fraction` (={valid_fraction})"
    if not 0 < n_valid < n:
        raise DataError(f"{source}: {n} training examples cannot be split with {asked}: that "
                        f"leaves {n - n_valid} for training and {n_valid} for validation; each "
                        "needs at least one")
    return n_valid


def split_indices(y, n_valid, valid_split="last", seed=None, source="the training set"):
    """Which examples train and which validate.

    Args:
        y: (N,) int class indices, in the file's order.
        n_valid: size of the validation part, in (0, N).
        valid_split: ``"last"`` or ``"random"``.
        seed: seed of the random split (None: 0).
        source: named in the error message.

    Returns:
        ``(train, valid)``: slices for ``"last"``, sorted index arrays for ``"random"``.
    """
    check_valid_split(valid_split)
    if valid_split == "last":
        cut = len(y) - n_valid
        return slice(0, cut), slice(cut, len(y))
    valid = stratified_indices(y, n_valid, seed, source)
    return np.setdiff1d(np.arange(len(y)), valid, assume_unique=True), valid


def stratified_indices(y, n_valid, seed=None, source="the training set"):
    """``n_valid`` sorted example indices, each class represented by its share.

    Each class gets ``n_valid * count / N`` examples rounded by largest remainders, at
    most ``count - 1`` (a class keeps at least one training example); the examples of
    a class are drawn with ``numpy.random.default_rng(seed)``.

    Raises:
        DataError: ``n_valid`` leaves fewer training examples than classes.
    """
    classes, counts = np.unique(y, return_counts=True)
    if n_valid > len(y) - len(classes):
        raise DataError(f"{source}: a random validation split of {n_valid} of {len(y)} examples "
                        f"is impossible: each of the {len(classes)} classes keeps at least one "
                        f"example for training; validate on at most {len(y) - len(classes)}")
    rng = np.random.default_rng(0 if seed is None else seed)
    chosen = [rng.choice(np.flatnonzero(y == c), quota, replace=False)
              for c, quota in zip(classes, _quotas(counts, n_valid))]
    return np.sort(np.concatenate(chosen))


def _quotas(counts, n_valid):
    """Per-class validation counts summing to ``n_valid``, at most ``count - 1`` each."""
    exact = n_valid * counts / counts.sum()
    cap = counts - 1
    quota = np.minimum(np.floor(exact).astype(np.int64), cap)
    order = np.argsort(-(exact - np.floor(exact)), kind="stable")
    while quota.sum() < n_valid:
        for c in order:
            if quota.sum() < n_valid and quota[c] < cap[c]:
                quota[c] += 1
    return quota


def check_last_split(y_train, y_valid, class_names, source):
    """Refuse a last-part split that leaves classes out of one part, as sorted files do.

    Two signs of a file sorted by class: classes of the training part that the
    validation part lacks, and classes of the validation part that the training part
    lacks. Either is refused when a random order of the same examples would show it
    with a probability below :data:`SORTED_P` divided by the number of classes (a
    hypergeometric probability: the last ``n_valid`` of N examples miss all M examples
    of those classes, or hold all of them). So small random files, whose last few
    examples miss classes by chance, pass; MNIST's last 2,000 of 10,000 pass; a file
    sorted by class is refused.

    Raises:
        DataError: the split leaves classes out of a part, improbably for a random order.
    """
    train_classes, valid_classes = np.unique(y_train), np.unique(y_valid)
    n, n_valid = len(y_train) + len(y_valid), len(y_valid)
    threshold = SORTED_P / len(np.union1d(train_classes, valid_classes))
    where = f"the file's last {n_valid} examples, valid_split=\"last\""
    unseen = np.setdiff1d(valid_classes, train_classes)
    if len(unseen) and _p_all_in_valid(np.isin(y_valid, unseen).sum(), n, n_valid) < threshold:
        raise DataError(f"{source}: the training split (all but {where}) has no example of the "
                        f"classes {_names(unseen, class_names)}, which only the validation split "
                        f"holds; the file is probably sorted by class; {_RANDOM_HINT}")
    missing = np.setdiff1d(train_classes, valid_classes)
    if len(missing) and _p_none_in_valid(np.isin(y_train, missing).sum(), n, n_valid) < threshold:
        raise DataError(f"{source}: the validation split ({where}) holds {len(valid_classes)} of "
                        f"the {len(train_classes)} classes of the training split (missing: "
                        f"{_names(missing, class_names)}); the file is probably sorted by class; "
                        f"{_RANDOM_HINT}")


def _log_choose(n, k):
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def _p_none_in_valid(m, n, n_valid):
    """P(none of m given examples among n_valid drawn from n without replacement)."""
    if m > n - n_valid:
        return 0.0
    return math.exp(_log_choose(n - m, n_valid) - _log_choose(n, n_valid))


def _p_all_in_valid(m, n, n_valid):
    """P(all of m given examples among n_valid drawn from n without replacement)."""
    if m > n_valid:
        return 0.0
    return math.exp(_log_choose(n - m, n_valid - m) - _log_choose(n, n_valid))


def _names(indices, class_names):
    names = [repr(class_names[i]) for i in indices[:10]]
    return ", ".join(names) + (", ..." if len(indices) > 10 else "")


def split_off_validation(split, valid_fraction, source="the training set"):
    """Split off the last ``round(N * valid_fraction)`` examples for validation.

    Args:
        split: the training :class:`Split` of N examples, in the file's order.
        valid_fraction: in (0, 1).
        source: named in the error message.

    Returns:
        ``(train, valid)`` splits (views of ``split``'s arrays).

    Raises:
        DataError: one of the two parts would be empty.
    """
    n_valid = validation_size(len(split), valid_fraction, source=source)
    train, valid = split_indices(split.y, n_valid, "last")
    return Split(x=split.x[train], y=split.y[train]), Split(x=split.x[valid], y=split.y[valid])
