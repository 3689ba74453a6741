"""The identical-numerics check: a peer's first training steps must give tgraph's losses.

Both start from tgraph's initial weights and run the first :data:`CHECK_STEPS` steps on
minibatches 0, 1, 2 of the same data; each loss (mean cross-entropy of the minibatch,
before the step's update, without the weight penalty) must match tgraph's
``Model.train_steps`` loss within :data:`RTOL` relative. Dropout draws different random
masks in every framework, so for a spec with dropout both sides run with every dropout
rate set to 0 (tgraph: a second model of the same experiment and weights; the peers: their
Dropout layers left out): the check then covers the rest of the network, the loss and
three optimizer updates, and the timed runs use dropout as the spec says.
"""

import numpy as np

from peers import make_peer
from peers.common import has_dropout, without_dropout

__all__ = ["CHECK_STEPS", "RTOL", "NumericsMismatch", "reference_losses", "check_peer"]

CHECK_STEPS = 3
RTOL = 1e-4  # float32 rounding of three steps stays near 1e-6 relative


class NumericsMismatch(RuntimeError):
    """A peer's losses differ from tgraph's: it does not train the same network."""


def reference_losses(experiment, model, x, y, steps=CHECK_STEPS):
    """tgraph's losses of its first ``steps`` steps (dropout off), from ``model``'s
    current (initial) weights.

    Args:
        experiment: the resolved experiment ``model`` was built from.
        model: a fresh :class:`tgraph.Model` with its training data set. Without dropout
            it runs the steps itself (they also compile its step); with dropout a
            dropout-free model of the same experiment and weights runs them and ``model``
            is left untouched.
        x, y: the training examples and labels ``model`` was given.
        steps: number of steps (minibatches 0 .. steps - 1).

    Returns:
        (steps,) float64 losses.
    """
    bs = experiment.training.batch_size
    if has_dropout(model.network):
        weights = model.get_weights()
        model = without_dropout(experiment).build_model()
        model.set_weights(weights)
        model.set_train_data(x, y)
    return np.asarray(model.train_steps(0, steps, bs), dtype=np.float64)


def check_peer(name, experiment, network, weights, reference, x, y):
    """Run the peer's first steps (dropout off) from ``weights`` and compare its losses.

    Args:
        name: a peer name (see :data:`peers.PEERS`).
        experiment, network, weights: the resolved experiment, its built network and
            tgraph's initial weights (``Model.get_weights()`` before any step).
        reference: (steps,) tgraph's losses from :func:`reference_losses`.
        x, y: the training examples and labels.

    Returns:
        (steps,) float64: the peer's losses.

    Raises:
        NumericsMismatch: a loss differs by more than :data:`RTOL` relative.
    """
    peer = make_peer(name, experiment, network, weights, x, y, dropout=False)
    losses = peer.step_losses(len(reference))
    rel = np.abs(losses - reference) / np.maximum(np.abs(reference), 1e-12)
    if not np.all(rel <= RTOL):  # also catches NaN
        raise NumericsMismatch(
            f"{name}: its first {len(reference)} training losses {np.round(losses, 7).tolist()} "
            f"differ from tgraph's {np.round(reference, 7).tolist()} by up to {np.max(rel):.1e} "
            f"relative (tolerance {RTOL:.0e}): the twin does not train the same network; "
            f"compare its layers, initial weights and optimizer with the spec's")
    return losses
