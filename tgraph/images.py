"""PNG pictures of what a layer learned: filter tiles and RBM samples (needs Pillow).

:func:`tile_images` is the deeplearning.net tutorials' ``tile_raster_images``
(``utils.py``) for grey images: each row of ``X`` becomes one ``img_shape`` tile,
scaled to [0, 1] on its own, tiles laid out row by row with ``spacing`` black pixels
between them. Pillow is an optional dependency: ``pip install 'tgraph[images]'``.
"""

import math

import numpy as np

from tgraph.errors import ConfigError

__all__ = ["tile_images", "save_png", "filter_image", "square_side"]


def _scale_to_unit(x, eps=1e-8):
    x = x - x.min()
    return x / (x.max() + eps)


def tile_images(X, img_shape, tile_shape, spacing=(1, 1), scale=True):
    """Rows of ``X`` laid out as a grid of grey images (the tutorials' ``tile_raster_images``).

    Args:
        X: (n, h * w) array, one image a row; rows beyond the grid are left out, missing
            ones stay black.
        img_shape: ``(h, w)`` of each image.
        tile_shape: ``(rows, columns)`` of the grid.
        spacing: black pixels between tiles, ``(vertical, horizontal)``.
        scale: scale each image to [0, 1] on its own (for filters); else values are
            taken as they are (for probabilities).

    Returns:
        uint8 array of shape ``((h + sv) * rows - sv, (w + sh) * columns - sh)``.
    """
    (h, w), (rows, cols), (sv, sh) = img_shape, tile_shape, spacing
    out = np.zeros(((h + sv) * rows - sv, (w + sh) * cols - sh))
    for index in range(min(len(X), rows * cols)):
        r, c = divmod(index, cols)
        image = np.asarray(X[index], dtype=np.float64).reshape(h, w)
        out[r * (h + sv):r * (h + sv) + h, c * (w + sh):c * (w + sh) + w] = (
            _scale_to_unit(image) if scale else image)
    return np.clip(np.round(out * 255), 0, 255).astype(np.uint8)


def save_png(image, path):
    """Write a 2-D uint8 array as a greyscale PNG.

    Raises:
        ConfigError: Pillow is not installed (the message says how to install it).
    """
    try:
        from PIL import Image
    except ImportError:
        raise ConfigError(f"writing {path} needs Pillow: pip install 'tgraph[images]' (or set "
                          "filters=False and samples=None in the pretraining spec)") from None
    Image.fromarray(np.asarray(image, dtype=np.uint8), mode="L").save(path)


def square_side(n):
    """``s`` if ``n == s * s``, else None (a flat input that is a square image)."""
    side = math.isqrt(n)
    return side if side * side == n else None


def filter_image(W, max_tiles=100):
    """Tiles of the first ``max_tiles`` columns of ``W`` (n_visible, units) as square images.

    Args:
        W: weights, one column per unit; ``n_visible`` must be a square (784 = 28 * 28).
        max_tiles: at most this many units (100 in the tutorials: a 10 x 10 grid).

    Returns:
        The uint8 image (see :func:`tile_images`).
    """
    side = square_side(W.shape[0])
    n = min(W.shape[1], max_tiles)
    cols = math.ceil(math.sqrt(n))
    return tile_images(W.T[:n], (side, side), (math.ceil(n / cols), cols))
