"""Direct numpy/scipy definitions of convolution and pooling, the tests' references."""

import numpy as np
import scipy.signal

__all__ = ["reference_conv", "reference_pool", "theano_pool_size"]


def reference_conv(x, w, stride, padding):
    """``y[n, f] = sum_c correlate(xp[n, c], w[f, c])`` subsampled by ``stride``.

    Args:
        x: (N, C, H, W) array.
        w: (F, C, kh, kw) array.
        stride: (sh, sw).
        padding: (ph, pw) zeros added on each side.

    Returns:
        (N, F, OH, OW) float64 array.
    """
    (ph, pw), (sh, sw) = padding, stride
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    y = np.zeros((x.shape[0], w.shape[0], xp.shape[2] - w.shape[2] + 1,
                  xp.shape[3] - w.shape[3] + 1))
    for n in range(x.shape[0]):
        for f in range(w.shape[0]):
            for c in range(x.shape[1]):
                y[n, f] += scipy.signal.correlate(xp[n, c], w[f, c], mode="valid")
    return y[:, :, ::sh, ::sw]


def theano_pool_size(size, pool, stride, ignore_border):
    """Number of windows along one axis, as Theano's ``Pool.out_shape`` (no padding)."""
    if ignore_border:
        return (size - pool) // stride + 1
    if stride >= pool:
        return (size - 1) // stride + 1
    return max(0, (size - 1 - pool + stride) // stride) + 1


def reference_pool(x, pool_size, stride, ignore_border, reduce):
    """``reduce`` (np.max or np.mean) over each window, windows cut by the border included.

    Args:
        x: (N, C, H, W) array.
        pool_size: (kh, kw).
        stride: (sh, sw).
        ignore_border: see :func:`theano_pool_size`.
        reduce: a numpy reduction taking ``axis=(2, 3)``.

    Returns:
        (N, C, OH, OW) float64 array.
    """
    (kh, kw), (sh, sw) = pool_size, stride
    oh = theano_pool_size(x.shape[2], kh, sh, ignore_border)
    ow = theano_pool_size(x.shape[3], kw, sw, ignore_border)
    out = np.empty((*x.shape[:2], oh, ow))
    for i in range(oh):
        for j in range(ow):
            out[:, :, i, j] = reduce(x[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw], axis=(2, 3))
    return out
