"""The part shared by the unsupervised layers with tied weights (RBM, denoising autoencoder).

In a network such a layer computes the code ``sigmoid(x W + hidden bias)``, so a stack of
them is fine-tuned as a sigmoid MLP, as the deeplearning.net ``DBN.py`` and ``SdA.py``
do; its visible bias is used only by its local objective (the reconstruction).
"""

import attrs
import pytensor.tensor as pt

from tgraph.layers.base import BIAS_TAGS, Layer, ParamSpec, check_ndim, weight_and_bias
from tgraph.layers.core import known_init
from tgraph.ops import elementwise as ew
from tgraph.validate import non_negative_float, positive_int

__all__ = ["TiedSigmoidLayer"]


@attrs.frozen
class TiedSigmoidLayer(Layer):
    """Input (N, n_visible) -> code (N, units) = ``sigmoid(x W + hidden bias)``.

    Parameters ``W`` (n_visible, units), the hidden bias (units,) and the visible bias
    (n_visible,), named by the subclass (:attr:`HIDDEN_BIAS`, :attr:`VISIBLE_BIAS`, the
    tutorials' names); the biases are not regularized. ``W`` starts uniform on
    ``±4 sqrt(6 / (n_visible + units))`` (the tutorials'), the biases at zero.

    Attributes:
        units: number of hidden (code) units.
        init: initializer of ``W``; Glorot uniform with the sigmoid gain 4 by default.
        l1: L1 penalty on ``W`` in supervised fine-tuning.
        l2: L2 penalty on ``W`` in supervised fine-tuning.
    """

    HIDDEN_BIAS = "b"
    VISIBLE_BIAS = "b_prime"

    units: int = attrs.field(validator=positive_int)
    init: object = attrs.field(default="glorot_uniform", validator=known_init, kw_only=True)
    l1: float = attrs.field(default=0.0, validator=non_negative_float, kw_only=True)
    l2: float = attrs.field(default=0.0, validator=non_negative_float, kw_only=True)

    activation = "sigmoid"  # what apply ends with (not a field: always sigmoid)

    def output_shape(self, input_shape):
        check_ndim(input_shape, 2, "(batch, features); insert Flatten() before it")
        return (input_shape[0], self.units)

    def param_specs(self, input_shape):
        n_vis = input_shape[1]
        weight, bias = weight_and_bias((n_vis, self.units), self.units, fan_in=n_vis,
                                       fan_out=self.units, init=self.init, bias_init="zeros",
                                       activation="sigmoid")
        return (weight, attrs.evolve(bias, name=self.HIDDEN_BIAS),
                ParamSpec(self.VISIBLE_BIAS, (n_vis,), "zeros", tags=BIAS_TAGS))

    def pre_activation(self, x, params, ctx):
        """``x W + hidden bias`` (N, units)."""
        return pt.dot(x, params["W"]) + params[self.HIDDEN_BIAS]

    def apply(self, x, params, ctx):
        return ew.sigmoid(self.pre_activation(x, params, ctx))
