"""tgraph's pooling ops: forward against a direct loop, gradients against finite
differences, the Numba path against the Python path (FAST_COMPILE), Theano's sizes.

Each mode compiles one float64 function holding every case (module-scoped fixture).
"""

import functools

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from tgraph.backend import get_mode
from tgraph.ops import pool

from support.image_reference import reference_pool

# (x shape (N, C, H, W), pool, stride, ignore_border)
CASES = [
    ((2, 3, 30, 30), (2, 2), (2, 2), False),  # the tutorial convnet: 30 -> 15
    ((2, 3, 13, 13), (2, 2), (2, 2), False),  # 13 -> 7
    ((2, 3, 13, 13), (2, 2), (2, 2), True),   # 13 -> 6
    ((1, 2, 5, 7), (2, 3), (1, 2), False),    # rectangular, overlapping rows
    ((1, 2, 5, 7), (2, 3), (1, 2), True),
    ((2, 2, 7, 8), (3, 3), (2, 2), False),    # overlapping windows, stride < pool
    ((2, 2, 7, 8), (3, 3), (2, 2), True),
    ((1, 1, 8, 6), (2, 2), (3, 3), False),    # stride > pool: gaps between windows
    ((1, 1, 8, 6), (2, 2), (3, 3), True),
]
KINDS = ("max", "avg")


@functools.lru_cache(maxsize=None)
def _case_arrays(index):
    """Distinct values 0.01 apart (no ties in a window) and an output gradient."""
    x_shape, pool_size, stride, ignore = CASES[index]
    rng = np.random.default_rng(index)
    x = rng.permutation(np.prod(x_shape)).reshape(x_shape) * 0.01
    gy = rng.normal(size=reference_pool(x, pool_size, stride, ignore, np.max).shape)
    return x, gy


def _ops(kind):
    return pool.max_pool2d if kind == "max" else pool.avg_pool2d


def graph():
    """Inputs ``(x, gy)`` and outputs ``(y, gx)`` of each kind of every case (the
    ``compiled`` fixture compiles it in each mode)."""
    inputs, outputs = [], []
    for _, pool_size, stride, ignore in CASES:
        x, gy = pt.tensor4("x", dtype="float64"), pt.tensor4("gy", dtype="float64")
        inputs += [x, gy]
        for kind in KINDS:
            y = _ops(kind)(x, pool_size, stride, ignore)
            outputs += [y, pytensor.grad(None, x, known_grads={y: gy})]
    return inputs, outputs


def _all_args(replace=None):
    return [a for i in range(len(CASES)) for a in (replace or {}).get(i, _case_arrays(i))]


def _run(compiled, index, kind, x, gy):
    """``(y, gx)`` of case ``index`` and ``kind`` for ``(x, gy)`` from the compiled
    ``graph()``."""
    _, fn = compiled
    start = 4 * index + 2 * KINDS.index(kind)
    return fn(*_all_args({index: (x, gy)}))[start:start + 2]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("index", range(len(CASES)))
def test_forward_matches_loop(compiled, index, kind):
    x, gy = _case_arrays(index)
    y, _ = _run(compiled, index, kind, x, gy)
    want = reference_pool(x, *CASES[index][1:], np.max if kind == "max" else np.mean)
    np.testing.assert_allclose(y, want, rtol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("index", range(len(CASES)))
def test_gradient_matches_finite_differences(compiled, index, kind):
    """``d/de sum(gy * pool(x + e dx))`` against ``<gx, dx>``; steps keep every argmax."""
    x, gy = _case_arrays(index)
    dx = np.random.default_rng(50 + index).normal(size=x.shape)
    _, gx = _run(compiled, index, kind, x, gy)
    eps = 1e-4
    loss = [np.sum(gy * _run(compiled, index, kind, x + e * dx, gy)[0]) for e in (eps, -eps)]
    np.testing.assert_allclose(np.sum(gx * dx), (loss[0] - loss[1]) / (2 * eps), rtol=1e-7)


def test_numba_and_python_paths_agree():
    inputs, outputs = graph()
    fast = pytensor.function(inputs, outputs, mode=get_mode("NUMBA"))
    slow = pytensor.function(inputs, outputs, mode="FAST_COMPILE")
    args = _all_args()
    for a, b in zip(fast(*args), slow(*args)):
        np.testing.assert_allclose(a, b, rtol=1e-13)


def _first_max_gradient(x, gy, pool_size, stride):
    """Each ``gy[n, c, i, j]`` added at the first (row-major) maximum of its window."""
    (kh, kw), (sh, sw) = pool_size, stride
    gx = np.zeros_like(x)
    for n, c, i, j in np.ndindex(gy.shape):
        window = x[n, c, i * sh:i * sh + kh, j * sw:j * sw + kw]
        r, col = np.unravel_index(np.argmax(window), window.shape)  # a NaN wins
        gx[n, c, i * sh + r, j * sw + col] += gy[n, c, i, j]
    return gx


@pytest.mark.parametrize("index", range(len(CASES)))
def test_ties_route_to_first_maximum_and_nan_propagates(compiled, index):
    x_shape, pool_size, stride, ignore = CASES[index]
    rng = np.random.default_rng(index)
    x = rng.integers(0, 3, size=x_shape).astype(float)  # many ties
    x.flat[rng.choice(x.size, 3, replace=False)] = np.nan
    gy = rng.normal(size=reference_pool(x, pool_size, stride, ignore, np.max).shape)
    y, gx = _run(compiled, index, "max", x, gy)
    np.testing.assert_array_equal(y, reference_pool(x, pool_size, stride, ignore, np.max))
    assert np.isnan(y).any()
    np.testing.assert_allclose(gx, _first_max_gradient(x, gy, pool_size, stride), rtol=1e-14)


@pytest.mark.parametrize("size, pool_size, stride, ignore, expected", [
    (30, 2, 2, False, 15), (13, 2, 2, False, 7), (5, 2, 2, False, 3), (13, 2, 2, True, 6),
    (7, 3, 2, False, 3), (8, 3, 2, False, 4), (8, 2, 3, False, 3), (1, 2, 2, True, 0),
])
def test_output_size_is_theanos(size, pool_size, stride, ignore, expected):
    assert pool.pool_output_size(size, pool_size, stride, ignore) == expected


def test_static_and_symbolic_shapes():
    x = pt.tensor4("x", shape=(None, 32, 13, 13))
    assert pool.max_pool2d(x, (2, 2), ignore_border=False).type.shape == (None, 32, 7, 7)
    unknown = pt.tensor4("u")
    y = pool.avg_pool2d(unknown, (3, 2), (2, 2), ignore_border=False)
    gx = pytensor.grad(y.sum(), unknown)
    fn = pytensor.function([unknown], [y.shape, gx.shape], mode="FAST_COMPILE")
    y_shape, gx_shape = fn(np.zeros((2, 3, 8, 7)))
    assert tuple(y_shape) == (2, 3, 4, 4) and tuple(gx_shape) == (2, 3, 8, 7)
