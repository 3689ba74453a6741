"""Denoising autoencoder with tied weights (Vincent et al. 2008; the deeplearning.net ``dA.py``).

The local objective corrupts the input by masking (each input set to 0 with
probability ``corruption``), encodes it with ``y = sigmoid(x_tilde W + b)``, decodes
with the tied weights ``z = sigmoid(y W^T + b_prime)`` and compares ``z`` with the
clean input: cross-entropy summed over the inputs for data in [0, 1], or (``cost=
"squared_error"``, for real-valued inputs) the squared error of the affine decoder
``y W^T + b_prime`` (Vincent et al. 2010, section 4.2). In a network the layer computes
the uncorrupted code ``sigmoid(x W + b)``, so a stacked dA is fine-tuned as a sigmoid MLP.
"""

import attrs
import pytensor.tensor as pt

from tgraph.errors import SpecError
from tgraph.layers.base import LocalObjective
from tgraph.layers.tied import TiedSigmoidLayer
from tgraph.ops.losses import binary_crossentropy_from_logits, squared_error
from tgraph.ops.sampling import bernoulli

__all__ = ["DenoisingAutoencoder", "COSTS"]

COSTS = ("cross_entropy", "squared_error")


def _corruption(instance, attribute, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise SpecError(f"DenoisingAutoencoder: `corruption` (={value!r}) must be in [0, 1): "
                        "the probability of setting each input to 0 (0.3 in the dA tutorial).")


def _cost(instance, attribute, value):
    if value not in COSTS:
        raise SpecError(f"DenoisingAutoencoder: `cost` (={value!r}) must be one of {COSTS}: "
                        "cross_entropy for inputs in [0, 1], squared_error for real values.")


@attrs.frozen
class DenoisingAutoencoder(TiedSigmoidLayer):
    """Tied-weight denoising autoencoder; in a network, the code ``sigmoid(x W + b)``.

    Input (N, n_visible) -> output (N, units). Parameters ``W`` (n_visible, units),
    ``b`` (units,), ``b_prime`` (n_visible,, the decoder's bias, used only by the local
    objective); biases are not regularized. ``W`` starts uniform on
    ``±4 sqrt(6 / (n_visible + units))`` (the tutorial's), the biases at zero.

    Attributes:
        units: number of hidden (code) units.
        corruption: probability of masking each input to 0 in training, in [0, 1).
        cost: ``"cross_entropy"`` (sigmoid decoder) or ``"squared_error"`` (affine decoder).
        init: initializer of ``W``; Glorot uniform with the sigmoid gain 4 by default.
        l1: L1 penalty on ``W`` in supervised fine-tuning.
        l2: L2 penalty on ``W`` in supervised fine-tuning.

    Monitor of the local objective: ``reconstruction_cost``, the mean over the batch of
    the per-example cost (the tutorial's printed cost).
    """

    HIDDEN_BIAS = "b"
    VISIBLE_BIAS = "b_prime"

    corruption: float = attrs.field(default=0.0, validator=_corruption)
    cost: str = attrs.field(default="cross_entropy", validator=_cost)

    def corrupt(self, x, uniform):
        """``x`` with the entries where ``uniform >= 1 - corruption`` set to 0."""
        keep = bernoulli(pt.as_tensor_variable(1.0 - self.corruption).astype(x.dtype), uniform)
        return x * keep

    def reconstruction_cost(self, x, x_tilde, params):
        """Mean over the batch of the cost of reconstructing ``x`` from ``x_tilde``.

        Args:
            x: (N, n_visible) clean input.
            x_tilde: (N, n_visible) corrupted input.
            params: ``W``, ``b``, ``b_prime``.

        Returns:
            Scalar: mean of ``-sum(x log z + (1 - x) log(1 - z))`` (cross-entropy) or of
            ``sum((z_affine - x) ** 2)`` (squared error).
        """
        code = self.apply(x_tilde, params, None)
        z_pre = pt.dot(code, params["W"].T) + params["b_prime"]
        if self.cost == "squared_error":
            return squared_error(z_pre, x).mean()
        return binary_crossentropy_from_logits(z_pre, x).mean()

    def local_objective(self, x, params, ctx):
        """The denoising cost of ``x``, masked with the layer's random stream."""
        x_tilde = x
        if self.corruption > 0:
            x_tilde = self.corrupt(x, ctx.uniform(x.shape, x.dtype))
        cost = self.reconstruction_cost(x, x_tilde, params)
        return LocalObjective(cost, {"reconstruction_cost": cost})
