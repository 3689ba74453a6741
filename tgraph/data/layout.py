"""Image layouts: colour images stored channels-last (NHWC) become NCHW, never reshaped.

tgraph's convolutions read (N, channels, height, width). A 4-D array of images is
converted with a transpose, which keeps every pixel's channels together; a reshape of
(N, 32, 32, 3) into (N, 3, 32, 32) would scramble them. The layout of a 4-D array is
detected when the shape leaves no doubt:

- last axis 1 or 3 (grayscale, RGB) and first non-batch axis not 1 or 3: NHWC;
- first non-batch axis 1 or 3 and last axis not 1 or 3: NCHW;
- anything else (e.g. (N, 3, 32, 3), or 4 channels) is ambiguous and needs
  ``layout="NCHW"`` or ``layout="NHWC"`` (``--layout``).

Arrays of another rank ((N, features), (N, H, W) grayscale) have no channel axis and are
kept as they are.
"""

import numpy as np

from tgraph.errors import ConfigError, DataError

__all__ = ["LAYOUTS", "detect_layout", "to_nchw"]

LAYOUTS = ("NCHW", "NHWC")
_CHANNELS = (1, 3)


def detect_layout(shape, where="the images"):
    """``"NCHW"`` or ``"NHWC"`` for a 4-D shape, when the rule above decides it.

    Args:
        shape: (N, a, b, c).
        where: the file and field, named in the message.

    Raises:
        DataError: the layout is ambiguous.
    """
    first, last = shape[1] in _CHANNELS, shape[3] in _CHANNELS
    if last and not first:
        return "NHWC"
    if first and not last:
        return "NCHW"
    raise DataError(f"{where}: images of shape {tuple(shape)} could be channels-first (NCHW) or "
                    "channels-last (NHWC); say which with layout=\"NCHW\" or layout=\"NHWC\" "
                    "(`--layout NCHW` or `--layout NHWC`)")


def to_nchw(x, layout=None, where="the images"):
    """Images in NCHW layout (a transposed copy for NHWC input).

    Args:
        x: (N, ...) array; 4-D arrays are images, other ranks are returned unchanged.
        layout: None to detect it, ``"NCHW"`` or ``"NHWC"``.
        where: the file and field, named in messages.

    Returns:
        The array, (N, C, H, W) if it is 4-D (C-contiguous).

    Raises:
        ConfigError: an unknown ``layout``.
        DataError: an ambiguous 4-D shape and no ``layout``.
    """
    if layout is not None and layout not in LAYOUTS:
        raise ConfigError(f"`layout` (={layout!r}) must be \"NCHW\" or \"NHWC\" (or None to "
                          "detect it)")
    if x.ndim != 4:
        return x
    layout = layout or detect_layout(x.shape, where)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2)) if layout == "NHWC" else x
