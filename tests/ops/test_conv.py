"""tgraph's convolution ops: forward against scipy, gradients against finite differences,
the Numba path against the Python path (FAST_COMPILE, numpy ``perform``).

Compiling is the slow part, so each mode compiles one float64 function holding every
case's forward and both gradients (module-scoped fixture) and the tests index into it.
"""

import functools

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.gradient import verify_grad

from tgraph.backend import get_mode
from tgraph.ops import conv

from support.image_reference import reference_conv

# (x shape (N, C, H, W), w shape (F, C, kh, kw), stride, padding)
CASES = [
    ((2, 3, 7, 9), (4, 3, 3, 2), (1, 1), (0, 0)),    # valid, rectangular kernel
    ((2, 3, 8, 7), (5, 3, 3, 3), (2, 3), (1, 2)),    # strides and pairs of padding
    ((1, 2, 5, 5), (3, 2, 5, 5), (1, 1), (4, 4)),    # 'full' padding of a 5x5 kernel
    ((3, 2, 9, 6), (2, 2, 3, 3), (1, 1), (1, 1)),    # 'same' padding
    ((2, 1, 11, 10), (7, 1, 4, 3), (3, 2), (0, 1)),  # odd sizes, strides not dividing
    ((3, 70, 6, 6), (67, 70, 3, 3), (1, 1), (1, 1)),  # more channels and filters than a tile
    ((2, 4, 4, 4), (2, 4, 4, 4), (1, 1), (0, 0)),    # kernel = image: 1x1 output
    ((2, 6, 8, 14), (3, 6, 3, 3), (1, 1), (1, 1)),   # gradient wrt x as a shifted correlation
]


@functools.lru_cache(maxsize=None)
def _case_arrays(index):
    rng = np.random.default_rng(index)
    x_shape, w_shape, stride, padding = CASES[index]
    x, w = rng.normal(size=x_shape), rng.normal(size=w_shape)
    gy = rng.normal(size=reference_conv(x, w, stride, padding).shape)
    return x, w, gy


def graph():
    """Inputs ``(x, w, gy)`` and outputs ``(y, gx, gw)`` of every case (the ``compiled``
    fixture compiles it in each mode)."""
    inputs, outputs = [], []
    for _, _, stride, padding in CASES:
        x, w, gy = (pt.tensor4(name, dtype="float64") for name in ("x", "w", "gy"))
        y = conv.conv2d(x, w, stride, padding)
        gx, gw = pytensor.grad(None, [x, w], known_grads={y: gy})
        inputs += [x, w, gy]
        outputs += [y, gx, gw]
    return inputs, outputs


def _run(compiled, index, x, w, gy):
    """``(y, gx, gw)`` of case ``index`` for ``(x, w, gy)`` from the compiled ``graph()``."""
    _, fn = compiled
    args = [a for i in range(len(CASES)) for a in (_case_arrays(i) if i != index
                                                  else (x, w, gy))]
    return fn(*args)[3 * index:3 * index + 3]


@pytest.mark.parametrize("index", range(len(CASES)))
def test_forward_matches_scipy(compiled, index):
    x, w, gy = _case_arrays(index)
    y, _, _ = _run(compiled, index, x, w, gy)
    np.testing.assert_allclose(y, reference_conv(x, w, *CASES[index][2:]), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("index", range(len(CASES)))
def test_gradients_match_finite_differences(compiled, index):
    """``d/de sum(gy * conv(x + e dx, w))`` against ``<gx, dx>``, likewise for ``w``."""
    x, w, gy = _case_arrays(index)
    rng = np.random.default_rng(100 + index)
    dx, dw = rng.normal(size=x.shape), rng.normal(size=w.shape)
    _, gx, gw = _run(compiled, index, x, w, gy)
    eps = 1e-3

    def slope(step_x, step_w):
        loss = [np.sum(gy * _run(compiled, index, x + e * step_x, w + e * step_w, gy)[0])
                for e in (eps, -eps)]
        return (loss[0] - loss[1]) / (2 * eps)

    np.testing.assert_allclose(np.sum(gx * dx), slope(dx, 0), rtol=1e-7)
    np.testing.assert_allclose(np.sum(gw * dw), slope(0, dw), rtol=1e-7)


def test_numba_and_python_paths_agree():
    inputs, outputs = graph()
    fast = pytensor.function(inputs, outputs, mode=get_mode("NUMBA"))
    slow = pytensor.function(inputs, outputs, mode="FAST_COMPILE")
    args = [a for i in range(len(CASES)) for a in _case_arrays(i)]
    for a, b in zip(fast(*args), slow(*args)):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-11)


def test_float32_forward_and_gradients_close_to_float64():
    x, w, gy = _case_arrays(5)
    x32, w32, gy32 = (pt.tensor4(n, dtype="float32") for n in ("x", "w", "gy"))
    y = conv.conv2d(x32, w32, (1, 1), (1, 1))
    grads = pytensor.grad(None, [x32, w32], known_grads={y: gy32})
    fn = pytensor.function([x32, w32, gy32], [y, *grads], mode=get_mode("NUMBA"))
    got = fn(*(a.astype(np.float32) for a in (x, w, gy)))
    assert [g.dtype for g in got] == ["float32"] * 3
    ref = reference_conv(x, w, (1, 1), (1, 1))
    np.testing.assert_allclose(got[0], ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


@pytest.mark.parametrize("stride, padding", [((1, 1), (0, 0)), ((2, 1), (1, 2))])
def test_verify_grad_including_second_order(stride, padding):
    """PyTensor's own finite-difference check, also of the gradient ops' gradients."""
    rng = np.random.default_rng(7)
    x, w = rng.normal(size=(2, 2, 6, 5)), rng.normal(size=(3, 2, 3, 2))
    gy = rng.normal(size=reference_conv(x, w, stride, padding).shape)
    verify_grad(lambda a, b: conv.conv2d(a, b, stride, padding), [x, w], rng=rng,
                mode="FAST_COMPILE")
    grad_input = conv.Conv2DGradInput(stride, padding)
    verify_grad(lambda g, b: grad_input(g, b, x.shape[2:]), [gy, w], rng=rng,
                mode="FAST_COMPILE")
    grad_filters = conv.Conv2DGradFilters(stride, padding)
    verify_grad(lambda a, g: grad_filters(a, g, w.shape[2:]), [x, gy], rng=rng,
                mode="FAST_COMPILE")


def test_static_shapes_and_infer_shape():
    x = pt.tensor4("x", shape=(None, 3, 28, 28))
    w = pt.tensor4("w", shape=(20, 3, 5, 5))
    y = conv.conv2d(x, w, (2, 1), (1, 0))
    assert y.type.shape == (None, 20, 13, 24)
    gx, gw = pytensor.grad(y.sum(), [x, w])
    assert gx.type.shape[1:] == (3, 28, 28) and gw.type.shape == (20, 3, 5, 5)
    unknown = pt.tensor4("u")
    shape = pytensor.function([unknown, w], conv.conv2d(unknown, w, (1, 1), (2, 2)).shape,
                              mode="FAST_COMPILE")
    assert tuple(shape(np.zeros((4, 3, 10, 12), "float32"), np.zeros(w.type.shape, "float32"))) \
        == (4, 20, 10, 12)


def test_bad_arguments():
    x, w = pt.tensor4("x", dtype="float32"), pt.tensor4("w", dtype="float64")
    with pytest.raises(TypeError, match=r"`x` is float32 but `w` is float64; cast one of them"):
        conv.conv2d(x, w)
    with pytest.raises(TypeError, match=r"`x` must be a 4-D float32 or float64 tensor"):
        conv.conv2d(pt.matrix("m"), w)
    with pytest.raises(ValueError, match=r"`stride` \(=\(0, 1\)\) must be two ints >= 1"):
        conv.conv2d(x, x, stride=(0, 1))
