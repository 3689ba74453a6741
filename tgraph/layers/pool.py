"""Pooling layers on NCHW images: MaxPool2D, AvgPool2D.

``ignore_border=False`` rounds the output size up like Theano's ``pool_2d`` default
(30 -> 15, 13 -> 7, 5 -> 3 for pool 2), pooling a window cut by the border over the
values that exist; see :mod:`tgraph.ops.pool`.
"""

import attrs

from tgraph.errors import ShapeError
from tgraph.layers.base import Layer, check_ndim
from tgraph.layers.conv import IMAGE_LAYOUT
from tgraph.ops.pool import avg_pool2d, max_pool2d, pool_output_size
from tgraph.validate import boolean, int_tuple, optional, positive_pair

__all__ = ["MaxPool2D", "AvgPool2D"]


def _convert_stride(value):
    return None if value is None else int_tuple(2)(value)


@attrs.frozen
class _Pool2D(Layer):
    """Shared fields and shape rule of the pooling layers.

    Attributes:
        pool_size: ``k`` or ``(kh, kw)``, the window.
        stride: ``s`` or ``(sh, sw)``; ``None`` (default) means ``pool_size``.
        ignore_border: ``True`` keeps whole windows only; ``False`` rounds the output
            size up (see the module docstring).
    """

    pool_size: tuple = attrs.field(converter=int_tuple(2), validator=positive_pair)
    stride: tuple | None = attrs.field(default=None, converter=_convert_stride,
                                       validator=optional(positive_pair))
    ignore_border: bool = attrs.field(default=True, validator=boolean)

    @property
    def stride_pair(self):
        """The stride as ``(sh, sw)`` (``pool_size`` when ``stride`` is None)."""
        return self.stride or self.pool_size

    def output_shape(self, input_shape):
        check_ndim(input_shape, 4, IMAGE_LAYOUT)
        n, c, h, w = input_shape
        dims = tuple(pool_output_size(d, k, s, self.ignore_border)
                     for d, k, s in zip((h, w), self.pool_size, self.stride_pair))
        if 0 in dims:
            raise ShapeError(
                f"pool_size {self.pool_size} is larger than the input {(h, w)}, so no whole "
                "window fits; use a smaller pool_size or ignore_border=False"
            )
        return (n, c, *dims)

    def _pool_args(self):
        return self.pool_size, self.stride_pair, self.ignore_border


@attrs.frozen
class MaxPool2D(_Pool2D):
    """Maximum over each window: (N, C, H, W) -> (N, C, OH, OW).

    The gradient goes to the first maximum of each window (row-major), as in Theano
    and PyTorch.
    """

    def apply(self, x, params, ctx):
        return max_pool2d(x, *self._pool_args())


@attrs.frozen
class AvgPool2D(_Pool2D):
    """Mean over each window's values: (N, C, H, W) -> (N, C, OH, OW).

    A window cut by the border (``ignore_border=False``) is divided by the number of
    values it holds, not by the window size.
    """

    def apply(self, x, params, ctx):
        return avg_pool2d(x, *self._pool_args())
