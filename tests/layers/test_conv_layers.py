"""Conv2D, MaxPool2D and AvgPool2D specs: fields, shape inference, errors, apply."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.gradient import verify_grad

import tgraph
from tgraph import layers as L
from tgraph.errors import ShapeError, SpecError
from tgraph.layers.base import ApplyContext

from support.image_reference import reference_conv, reference_pool

# Alec Radford's Theano-Tutorials convnet: 28 -> 'full' 3x3 -> 30 -> 15 -> 13 -> 7 -> 5 -> 3.
CONVNET = [
    L.Input((1, 28, 28)),
    L.Conv2D(32, 3, padding="full", activation="relu", use_bias=False),
    L.MaxPool2D(2, ignore_border=False),
    L.Dropout(0.2),
    L.Conv2D(64, 3, activation="relu", use_bias=False),
    L.MaxPool2D(2, ignore_border=False),
    L.Dropout(0.2),
    L.Conv2D(128, 3, activation="relu", use_bias=False),
    L.MaxPool2D(2, ignore_border=False),
    L.Flatten(),
    L.Dense(625, activation="relu", use_bias=False),
    L.Dense(10, activation="softmax", use_bias=False),
]


def test_tutorial_convnet_shapes():
    shapes = tgraph.network.infer_shapes(CONVNET)
    assert [s[2:] for s in shapes[1:9]] == [(30, 30), (15, 15), (15, 15), (13, 13), (7, 7),
                                             (7, 7), (5, 5), (3, 3)]
    assert shapes[9] == (None, 128 * 3 * 3)
    assert tgraph.summary(CONVNET).splitlines()[-1] == "total parameters: 818,698"


def test_lenet_shapes_and_params():
    specs = [L.Input((1, 28, 28)), L.Conv2D(20, 5, activation="tanh"), L.MaxPool2D(2),
             L.Conv2D(50, 5, activation="tanh"), L.MaxPool2D(2), L.Flatten()]
    assert tgraph.network.infer_shapes(specs)[1:] == (
        (None, 20, 24, 24), (None, 20, 12, 12), (None, 50, 8, 8), (None, 50, 4, 4), (None, 800))
    net = tgraph.build(specs, seed=0)
    assert [(p.name, p.variable.get_value().shape, p.regularizable) for p in net.params] == [
        ("1_conv2d/W", (20, 1, 5, 5), True), ("1_conv2d/b", (20,), False),
        ("3_conv2d/W", (50, 20, 5, 5), True), ("3_conv2d/b", (50,), False)]
    w = net.params[2].variable.get_value()
    bound = np.sqrt(6 / (20 * 25 + 50 * 25))  # Glorot with fan_in C kh kw, fan_out F kh kw
    assert 0.9 * bound < np.abs(w).max() <= bound


@pytest.mark.parametrize("layer, size, expected", [
    (L.Conv2D(4, 3, padding="same"), (9, 8), (9, 8)),
    (L.Conv2D(4, (3, 5), padding="same", stride=2), (9, 8), (5, 4)),
    (L.Conv2D(4, (3, 2), padding="full"), (9, 8), (11, 9)),
    (L.Conv2D(4, 3, padding=2, stride=(1, 3)), (9, 8), (11, 4)),
    (L.Conv2D(4, 3, padding=(0, 1)), (9, 8), (7, 8)),
    (L.MaxPool2D(3, stride=2), (9, 8), (4, 3)),
    (L.MaxPool2D(3, stride=2, ignore_border=False), (9, 8), (4, 4)),
    (L.AvgPool2D((2, 3), stride=1), (9, 8), (8, 6)),
])
def test_output_sizes(layer, size, expected):
    assert layer.output_shape((None, 3, *size)) == (None, getattr(layer, "filters", 3), *expected)


@pytest.mark.parametrize("make, message", [
    (lambda: L.Conv2D(0, 3), "Conv2D: `filters` (=0) must be a positive integer."),
    (lambda: L.Conv2D(8, (3, 3, 3)), "Conv2D: `kernel_size` (=(3, 3, 3)) must be a positive "
                                     "integer or a pair of them, e.g. 5 or (5, 3)."),
    (lambda: L.Conv2D(8, 3, stride=0), "Conv2D: `stride` (=(0, 0)) must be a positive integer "
                                       "or a pair of them, e.g. 5 or (5, 3)."),
    (lambda: L.Conv2D(8, 3, padding="sam"), "Conv2D: `padding` (='sam') must be one of "
                                            "('valid', 'same', 'full'), an int or a pair of ints "
                                            "(rows, columns) >= 0."),
    (lambda: L.Conv2D(8, 3, padding=-1), "Conv2D: `padding` (=(-1, -1)) must be one of "
                                         "('valid', 'same', 'full'), an int or a pair of ints "
                                         "(rows, columns) >= 0."),
    (lambda: L.Conv2D(8, (4, 3), padding="same"),
     "Conv2D: `padding` ('same') needs an odd `kernel_size`, got (4, 3); use an odd kernel or "
     "explicit padding, e.g. padding=(2, 1)."),
    (lambda: L.MaxPool2D(2, ignore_border=1), "MaxPool2D: `ignore_border` (=1) must be True or "
                                              "False."),
    (lambda: L.AvgPool2D(2, stride=(1, 0)), "AvgPool2D: `stride` (=(1, 0)) must be None or a "
                                            "positive integer or a pair of them, e.g. 5 or "
                                            "(5, 3)."),
])
def test_bad_fields(make, message):
    with pytest.raises(SpecError) as err:
        make()
    assert str(err.value) == message


@pytest.mark.parametrize("specs, message", [
    ([L.Input((784,)), L.Conv2D(8, 3)],
     "layer 1 (Conv2D): expects a 4-D input (batch, channels, height, width); for flat 28x28 "
     "images insert Reshape((1, 28, 28)) before it, got shape (None, 784)"),
    ([L.Input((1, 4, 4)), L.Conv2D(8, 5, name="c1")],
     "layer 1 (Conv2D 'c1'): kernel_size (5, 5) is larger than the padded input (4, 4) (input "
     "(4, 4) with padding (0, 0) on each side); use a smaller kernel, more padding, or less "
     "pooling before this layer"),
    ([L.Input((1, 28, 28)), L.MaxPool2D(2), L.MaxPool2D(2), L.MaxPool2D(2), L.MaxPool2D(2),
      L.MaxPool2D(2)],
     "layer 5 (MaxPool2D): pool_size (2, 2) is larger than the input (1, 1), so no whole window "
     "fits; use a smaller pool_size or ignore_border=False"),
    ([L.Input((1, 28, 28)), L.Conv2D(8, 3), L.Dense(10)],
     "layer 2 (Dense): expects a 2-D input (batch, features); insert Flatten() before it, got "
     "shape (None, 8, 26, 26)"),
])
def test_shape_errors_name_the_layer(specs, message):
    with pytest.raises(ShapeError) as err:
        tgraph.build(specs)
    assert str(err.value) == message


def _apply(layer, x, params):
    return layer.apply(x, params, ApplyContext(deterministic=True))


def test_conv2d_apply_adds_bias_then_activation():
    rng = np.random.default_rng(0)
    layer = L.Conv2D(3, (3, 2), stride=(2, 1), padding="full", activation="tanh")
    x, w, b = rng.normal(size=(2, 2, 7, 6)), rng.normal(size=(3, 2, 3, 2)), rng.normal(size=3)
    xs, ws, bs = pt.tensor4("x", dtype="float64"), pt.tensor4("w", dtype="float64"), pt.dvector()
    fn = pytensor.function([xs, ws, bs], _apply(layer, xs, {"W": ws, "b": bs}),
                           mode="FAST_COMPILE")
    want = np.tanh(reference_conv(x, w, (2, 1), (2, 1)) + b[:, None, None])
    np.testing.assert_allclose(fn(x, w, b), want, rtol=1e-12)
    assert want.shape[1:] == layer.output_shape((None, 2, 7, 6))[1:]


@pytest.mark.parametrize("layer, reduce", [
    (L.MaxPool2D((2, 3), stride=(1, 2)), np.max),
    (L.AvgPool2D(3, stride=2, ignore_border=False), np.mean),
])
def test_pool_apply(layer, reduce):
    x = np.random.default_rng(1).normal(size=(2, 3, 7, 8))
    xs = pt.tensor4("x", dtype="float64")
    fn = pytensor.function([xs], _apply(layer, xs, {}), mode="FAST_COMPILE")
    want = reference_pool(x, layer.pool_size, layer.stride_pair, layer.ignore_border, reduce)
    np.testing.assert_allclose(fn(x), want, rtol=1e-12)


def test_conv2d_layer_gradient():
    rng = np.random.default_rng(2)
    layer = L.Conv2D(2, 3, padding="same", activation="tanh")
    verify_grad(lambda x, w, b: _apply(layer, x, {"W": w, "b": b}),
                [rng.normal(size=(2, 2, 5, 4)), rng.normal(size=(2, 2, 3, 3)), rng.normal(size=2)],
                rng=rng, mode="FAST_COMPILE")
