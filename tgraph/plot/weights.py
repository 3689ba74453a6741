"""The first layer's weights as image tiles: class templates, receptive fields, filters."""

import math

import numpy as np

from tgraph.errors import ConfigError
from tgraph.plot._mpl import new_figure
from tgraph.plot.runs import run_model_path

__all__ = ["first_layer_weights", "first_weights", "weight_tiles", "image_shape"]

LABELLED_TILES = 25  # up to this many tiles get a title each; more form one mosaic


def image_shape(input_shape):
    """How one example of the network's ``Input`` shape is drawn.

    Args:
        input_shape: the ``Input`` layer's shape without the batch dimension, e.g.
            ``(784,)``, ``(28, 28)``, ``(1, 28, 28)`` or ``(3, 32, 32)``.

    Returns:
        ``(H, W)`` for grey images, ``(H, W, 3)`` for RGB, or None if the input is not
        an image (a flat vector whose length is not a square).
    """
    if len(input_shape) == 1:
        side = math.isqrt(input_shape[0])
        return (side, side) if side * side == input_shape[0] else None
    if len(input_shape) == 2:
        return tuple(input_shape)
    if len(input_shape) == 3 and input_shape[0] in (1, 3):
        channels, h, w = input_shape
        return (h, w) if channels == 1 else (h, w, 3)
    return None


def first_weights(content):
    """The first layer with a weight matrix or kernel ``W`` in a model file.

    Args:
        content: a :class:`tgraph.modelfile.ModelFile`.

    Returns:
        ``(index, layer, W, network input shape, is_output)``; ``is_output`` is True
        when no later layer has weights (the layer's units are the classes).

    Raises:
        ConfigError: no layer has a ``W``.
    """
    from tgraph.modelfile import layers_from_spec
    from tgraph.params import param_prefix

    layers = layers_from_spec(content.spec, content.path)
    names = [f"{param_prefix(i, layer)}/W" for i, layer in enumerate(layers)]
    weighted = [i for i, name in enumerate(names) if name in content.weights]
    if weighted:
        index = weighted[0]
        return (index, layers[index], np.asarray(content.weights[names[index]]),
                tuple(layers[0].shape), len(weighted) == 1)
    raise ConfigError(f"{content.path}: no layer has a weight `W` to draw")


def _scaled_grey(tiles):
    """Each tile to [0, 1] with 0.5 for a zero weight (symmetric about zero)."""
    peak = np.abs(tiles).reshape(len(tiles), -1).max(axis=1)
    peak = np.where(peak > 0, peak, 1.0).reshape(-1, *([1] * (tiles.ndim - 1)))
    return 0.5 + 0.5 * tiles / peak


def _scaled_rgb(tiles):
    """Each (H, W, 3) tile stretched to [0, 1] over its own range."""
    flat = tiles.reshape(len(tiles), -1)
    low, high = flat.min(axis=1), flat.max(axis=1)
    span = np.where(high > low, high - low, 1.0)
    return (tiles - low[:, None, None, None]) / span[:, None, None, None]


def weight_tiles(W, input_shape):
    """One image per output unit or filter of a first-layer weight.

    Args:
        W: a Dense weight (D, units) whose inputs are images of ``input_shape``, or a
            convolution kernel (filters, channels, kh, kw).
        input_shape: the network's input shape (without the batch dimension).

    Returns:
        ``(tiles, rgb)``: tiles (n, H, W) in [0, 1] (0.5 is a zero weight), or
        (n, H, W, 3) colour filters of a 3-channel convolution (each stretched to its
        own range); ``rgb`` says which.

    Raises:
        ConfigError: a Dense input that is not an image.
    """
    if W.ndim == 4:
        if W.shape[1] == 3:
            return _scaled_rgb(np.transpose(W, (0, 2, 3, 1))), True
        return _scaled_grey(W[:, 0]), False
    shape = image_shape(input_shape)
    if shape is None or math.prod(shape) != W.shape[0]:
        raise ConfigError(f"the first Dense layer takes {W.shape[0]} inputs of shape "
                          f"{input_shape}, which are not images; nothing to draw as tiles")
    if len(shape) == 3:
        tiles = W.T.reshape(-1, 3, *shape[:2]).transpose(0, 2, 3, 1)
        return _scaled_rgb(tiles), True
    return _scaled_grey(W.T.reshape(-1, *shape)), False


def mosaic(tiles, columns, gap=1):
    """Tiles (n, H, W[, 3]) laid out in a grid with ``gap`` pixels between: NaN between
    grey tiles (drawn in the colour map's "bad" colour), white between colour ones."""
    zoom = max(1, 12 // min(tiles.shape[1:3]))  # small kernels: 3x3 -> 12x12, thin gaps
    tiles = np.repeat(np.repeat(tiles, zoom, axis=1), zoom, axis=2)
    n, h, w = tiles.shape[:3]
    rows = math.ceil(n / columns)
    out = np.full((rows * (h + gap) - gap, columns * (w + gap) - gap, *tiles.shape[3:]),
                  1.0 if tiles.ndim == 4 else np.nan)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        out[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = tile
    return out


def _describe(W, is_output):
    if W.ndim == 4:
        return "filter", f"{W.shape[0]} filters {W.shape[2]}x{W.shape[3]}"
    if is_output:
        return "class", f"{W.shape[1]} class templates"
    return "unit", f"receptive fields of {W.shape[1]} hidden units"


def _tile_names(word, count, class_names):
    if word == "class":
        return [str(class_names[i]) if class_names is not None and i < len(class_names)
                else f"class {i}" for i in range(count)]
    return [f"{word} {i}" for i in range(count)]


def _grey_map():
    from matplotlib import colormaps

    cmap = colormaps["gray"].copy()
    cmap.set_bad("#3b6ea8")  # the gaps between tiles: blue, so no tile edge looks like a weight
    return cmap


def _labelled(fig, tiles, rgb, names):
    columns = min(len(tiles), 5 if len(tiles) > 10 else len(tiles))
    rows = math.ceil(len(tiles) / columns)
    axes = np.atleast_1d(fig.subplots(rows, columns)).ravel()
    for ax, tile, name in zip(axes, tiles, names):
        ax.imshow(tile, cmap=None if rgb else "gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(name, fontsize=9)
    for ax in axes:
        ax.set_axis_off()


def first_layer_weights(run, *, max_tiles=100, class_names=None):
    """The first layer's weights as images.

    Logistic regression gives its class templates, an MLP its hidden units' receptive
    fields, a convolutional net its filters (in colour for 3-channel inputs). Grey
    tiles are scaled each to its own largest absolute weight: mid grey is 0, white
    the most positive, black the most negative.

    Args:
        run: a run directory or a model file.
        max_tiles: draw at most this many units or filters (the first ones).
        class_names: names of the classes, for class templates.

    Returns:
        A matplotlib Figure (800x800 px, 1000x190 for up to ten tiles).
    """
    from tgraph.modelfile import read_model_file

    path = run_model_path(run) if not str(run).endswith(".tgraph") else run
    content = read_model_file(path)
    index, layer, W, input_shape, is_output = first_weights(content)
    tiles, rgb = weight_tiles(W, input_shape)
    word, what = _describe(W, is_output)
    shown = tiles[:max_tiles]
    few = len(shown) <= 10
    fig = new_figure(10, 1.9) if few else new_figure(8, 8)
    if len(shown) <= LABELLED_TILES:
        _labelled(fig, shown, rgb, _tile_names(word, len(shown), class_names))
    else:
        ax = fig.subplots()
        columns = math.ceil(math.sqrt(len(shown)))
        ax.imshow(mosaic(shown, columns), cmap=None if rgb else _grey_map(), vmin=0, vmax=1,
                  interpolation="nearest")
        ax.set_axis_off()
    part = f"first {len(shown)} of " if len(shown) < len(tiles) else ""
    fig.suptitle(f"layer {index} ({type(layer).__name__}): {part}{what}"
                 + ("" if rgb else "; grey = 0, white > 0, black < 0"))
    return fig
