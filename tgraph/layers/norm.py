"""Normalization layers: BatchNorm."""

import attrs
import pytensor.tensor as pt

from tgraph.errors import ShapeError
from tgraph.layers.base import BIAS_TAGS, STATE_TAGS, Layer, ParamSpec
from tgraph.validate import Check, positive_float, unit_interval

__all__ = ["BatchNorm"]

_feature_axis = Check("a non-zero integer, the feature axis (1 for (N, F) and (N, C, H, W); "
                      "axis 0 is the batch)",
                      lambda v: isinstance(v, int) and not isinstance(v, bool) and v != 0)


@attrs.frozen
class BatchNorm(Layer):
    """Batch normalization: each feature (channel) standardised, then scaled and shifted.

    Ioffe & Szegedy (2015), "Batch Normalization: Accelerating Deep Network Training by
    Reducing Internal Covariate Shift", Algorithms 1 and 2. For a feature ``f`` of the
    input (a column of (N, F), a channel of (N, C, H, W)) with ``m`` values in the batch
    (``N``, or ``N * H * W``)::

        y = gamma[f] * (x - mean[f]) / sqrt(var[f] + epsilon) + beta[f]

    In training ``mean`` and ``var`` are the batch's (``var`` biased, divided by ``m``),
    and the gradient flows through them; each step also updates the running averages
    (through ``ctx.add_update``)::

        running_mean <- momentum * running_mean + (1 - momentum) * mean
        running_var  <- momentum * running_var + (1 - momentum) * var * m / (m - 1)

    (the unbiased variance, as in Algorithm 2 and PyTorch; ``m / 1`` when ``m`` is 1).
    Evaluation and prediction (``deterministic``) use ``running_mean`` and
    ``running_var`` instead, so an example's output does not depend on its batch.

    Parameters, each of shape (F,): ``gamma`` (ones) and ``beta`` (zeros), trained and
    never regularized (neither ``l1``/``l2`` nor the model-wide ``Regularization``
    applies to them); ``running_mean`` (zeros) and ``running_var`` (ones), not trained,
    saved and loaded with the weights.

    Attributes:
        momentum: weight of the old running average in each update, in [0, 1) (the
            Keras convention; PyTorch's ``momentum=0.1`` is ``momentum=0.9`` here).
        epsilon: added to the variance before the square root (> 0).
        axis: the feature axis, 1 by default (dense (N, F) and NCHW (N, C, H, W)
            inputs); the statistics are taken over every other axis. Negative values
            count from the end.
    """

    momentum: float = attrs.field(default=0.9, validator=unit_interval)
    epsilon: float = attrs.field(default=1e-5, validator=positive_float)
    axis: int = attrs.field(default=1, validator=_feature_axis)

    def output_shape(self, input_shape):
        self._feature_axis(len(input_shape))
        return input_shape

    def param_specs(self, input_shape):
        features = (input_shape[self._feature_axis(len(input_shape))],)
        return (ParamSpec("gamma", features, "ones", tags=BIAS_TAGS),
                ParamSpec("beta", features, "zeros", tags=BIAS_TAGS),
                ParamSpec("running_mean", features, "zeros", tags=STATE_TAGS),
                ParamSpec("running_var", features, "ones", tags=STATE_TAGS))

    def apply(self, x, params, ctx):
        if ctx.deterministic:
            mean, var = params["running_mean"], params["running_var"]
        else:
            mean, var = self._batch_statistics(x, params, ctx)
        axis, ndim = self._feature_axis(x.ndim), x.ndim
        scale = params["gamma"] / pt.sqrt(var + pt.cast(self.epsilon, x.dtype))
        return (x - _along(mean, axis, ndim)) * _along(scale, axis, ndim) + _along(
            params["beta"], axis, ndim)

    def _batch_statistics(self, x, params, ctx):
        """The batch's mean and biased variance per feature; records the running updates."""
        axis = self._feature_axis(x.ndim)
        others = tuple(a for a in range(x.ndim) if a != axis)
        mean = x.mean(axis=others)
        var = pt.sqr(x - _along(mean, axis, x.ndim)).mean(axis=others)
        m = (x.size // x.shape[axis]).astype(x.dtype)  # values per feature
        unbiased = var * (m / pt.maximum(m - 1, 1))
        keep = pt.cast(self.momentum, x.dtype)
        for name, batch_value in (("running_mean", mean), ("running_var", unbiased)):
            running = params[name]
            ctx.add_update(running, keep * running + (1 - keep) * batch_value)
        return mean, var

    def _feature_axis(self, ndim):
        """:attr:`axis` as a non-negative index into ``ndim`` dimensions."""
        if ndim < 2:
            raise ShapeError(
                f"expects an input with features, (batch, features) or (batch, channels, "
                f"height, width), got a {ndim}-D one"
            )
        if not -ndim < self.axis < ndim:
            raise ShapeError(
                f"`axis` (={self.axis}) is not a feature axis of a {ndim}-D input; use an "
                f"axis in 1..{ndim - 1} (the batch is axis 0)"
            )
        return self.axis % ndim


def _along(vector, axis, ndim):
    """An (F,) vector broadcast along ``axis`` of an ``ndim``-D tensor."""
    return vector.dimshuffle(*(0 if a == axis else "x" for a in range(ndim)))
