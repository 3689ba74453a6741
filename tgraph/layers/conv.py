"""Convolution layers on NCHW images: Conv2D.

The convolution is a cross-correlation (the kernel is not flipped), as in PyTorch's
``Conv2d`` and Lasagne's ``Conv2DLayer(flip_filters=False)``; see :mod:`tgraph.ops.conv`.
"""

import attrs

from tgraph.errors import ShapeError, SpecError
from tgraph.layers.base import Layer, check_ndim, weight_and_bias
from tgraph.layers.core import known_activation, known_init
from tgraph.ops.activations import get_activation
from tgraph.ops.conv import conv2d, conv_output_size
from tgraph.validate import (
    Check,
    boolean,
    int_tuple,
    invalid,
    non_negative_float,
    optional_positive_float,
    positive_int,
    positive_pair,
)

__all__ = ["Conv2D", "PADDING_MODES", "IMAGE_LAYOUT"]

PADDING_MODES = ("valid", "same", "full")
IMAGE_LAYOUT = ("(batch, channels, height, width); for flat 28x28 images insert "
                "Reshape((1, 28, 28)) before it")


def _convert_padding(value):
    return value if isinstance(value, str) else int_tuple(2)(value)


_PADDING_REQUIREMENT = (f"one of {PADDING_MODES}, an int or a pair of ints (rows, columns) "
                        ">= 0")
_padding_pair = Check(_PADDING_REQUIREMENT, lambda v: isinstance(v, tuple) and len(v) == 2
                      and all(isinstance(p, int) and not isinstance(p, bool) and p >= 0
                              for p in v))


def _check_padding(instance, attribute, value):
    if not isinstance(value, str):
        _padding_pair(instance, attribute, value)
    elif value not in PADDING_MODES:
        raise invalid(instance, attribute.name, value, _PADDING_REQUIREMENT)
    elif value == "same" and any(k % 2 == 0 for k in instance.kernel_size):
        raise SpecError(
            f"Conv2D: `padding` ('same') needs an odd `kernel_size`, got "
            f"{instance.kernel_size}; use an odd kernel or explicit padding, e.g. "
            f"padding={tuple(k // 2 for k in instance.kernel_size)}."
        )


@attrs.frozen
class Conv2D(Layer):
    """2-D convolution (cross-correlation) of NCHW images: ``activation(conv(x, W) + b)``.

    Input (N, C, H, W) -> output (N, filters, OH, OW) with
    ``OH = (H + 2 * ph - kh) // sh + 1`` (likewise OW). ``W`` has shape
    (filters, C, kh, kw) with ``fan_in = C * kh * kw`` and ``fan_out = filters * kh * kw``
    (Glorot & Bengio 2010; the deeplearning.net LeNet tutorial); ``b`` has shape (filters,).

    Attributes:
        filters: number of output channels.
        kernel_size: ``k`` or ``(kh, kw)``.
        stride: ``s`` or ``(sh, sw)``, default 1.
        padding: zero padding on each side: ``"valid"`` (0, the default), ``"same"``
            (``(k - 1) // 2``, odd kernels only; output size ``ceil(H / sh)``),
            ``"full"`` (``k - 1``: every partial overlap), an int or ``(ph, pw)``.
        activation: activation name (see :mod:`tgraph.ops.activations`).
        use_bias: add a per-filter bias ``b`` (not regularized).
        init: initializer of ``W``, Glorot uniform by default.
        bias_init: initializer of ``b``.
        l1: L1 penalty ``l1 * sum|W|`` added to the training loss.
        l2: L2 penalty ``l2 * sum(W ** 2)`` added to the training loss.
        max_norm: if set, each filter's weights ``W[f]`` are rescaled after every
            update to an L2 norm of at most ``max_norm``.
    """

    filters: int = attrs.field(validator=positive_int)
    kernel_size: tuple = attrs.field(converter=int_tuple(2), validator=positive_pair)
    stride: tuple = attrs.field(default=1, converter=int_tuple(2), validator=positive_pair)
    padding: str | tuple = attrs.field(default="valid", converter=_convert_padding,
                                       validator=_check_padding)
    use_bias: bool = attrs.field(default=True, validator=boolean)
    activation: str = attrs.field(default="linear", validator=known_activation)
    init: object = attrs.field(default="glorot_uniform", validator=known_init)
    bias_init: object = attrs.field(default="zeros", validator=known_init)
    l1: float = attrs.field(default=0.0, validator=non_negative_float)
    l2: float = attrs.field(default=0.0, validator=non_negative_float)
    max_norm: float | None = attrs.field(default=None, validator=optional_positive_float)

    @property
    def padding_pair(self):
        """The padding as ``(ph, pw)`` rows and columns added on each side."""
        if self.padding == "valid":
            return (0, 0)
        if self.padding == "same":
            return tuple((k - 1) // 2 for k in self.kernel_size)
        if self.padding == "full":
            return tuple(k - 1 for k in self.kernel_size)
        return self.padding

    def output_shape(self, input_shape):
        check_ndim(input_shape, 4, IMAGE_LAYOUT)
        n, _, h, w = input_shape
        padded = tuple(d + 2 * p for d, p in zip((h, w), self.padding_pair))
        if any(k > d for k, d in zip(self.kernel_size, padded)):
            raise ShapeError(
                f"kernel_size {self.kernel_size} is larger than the padded input {padded} "
                f"(input {(h, w)} with padding {self.padding_pair} on each side); use a "
                "smaller kernel, more padding, or less pooling before this layer"
            )
        dims = (conv_output_size(d, k, s, p) for d, k, s, p in
                zip((h, w), self.kernel_size, self.stride, self.padding_pair))
        return (n, self.filters, *dims)

    def param_specs(self, input_shape):
        channels = input_shape[1]
        kh, kw = self.kernel_size
        return weight_and_bias((self.filters, channels, kh, kw), self.filters,
                               fan_in=channels * kh * kw, fan_out=self.filters * kh * kw,
                               init=self.init, bias_init=self.bias_init,
                               activation=self.activation, use_bias=self.use_bias)

    def pre_activation(self, x, params, ctx):
        """``conv(x, W) + b`` (N, filters, OH, OW)."""
        z = conv2d(x, params["W"], self.stride, self.padding_pair)
        return z + params["b"].dimshuffle("x", 0, "x", "x") if self.use_bias else z

    def apply(self, x, params, ctx):
        return get_activation(self.activation)(self.pre_activation(x, params, ctx))


