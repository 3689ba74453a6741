"""PyTensor's JAX backend (``mode="JAX"``, how tgraph runs on a GPU) on tgraph's image ops:
the same forward values and gradients as the Python path, a whole LeNet-style model
taking the same training steps as in the default Numba mode, and ``Model`` training
from its shared data (the minibatch gather of static size) in JAX as in Numba, and
Threefry's numbers equal to numpy's.
"""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from support.paths import SPECS

import tgraph
from tgraph import layers as L
from tgraph import optim
from tgraph.backend import get_mode
from tgraph.model import training_updates
from tgraph.objective import objective, target_variable
from tgraph.ops import conv, pool
from tgraph.ops.threefry import threefry_uniform

from support.image_reference import reference_conv

pytest.importorskip("jax")
pytestmark = pytest.mark.jax

CONV_CASES = [((2, 3, 8, 7), (5, 3, 3, 3), (2, 3), (1, 2)),
              ((1, 2, 5, 5), (3, 2, 5, 5), (1, 1), (4, 4)),
              ((2, 1, 11, 10), (4, 1, 4, 3), (3, 2), (0, 1))]
POOL_CASES = [((2, 3, 13, 13), (2, 2), (2, 2), False),
              ((1, 2, 7, 8), (3, 3), (2, 2), False),
              ((1, 2, 5, 7), (2, 3), (1, 2), True)]


def _conv_case(rng, x_shape, w_shape, stride, padding):
    """With a stride > 1 the input needs a static size in JAX (see
    tgraph.backend.jax.conv.static_size)."""
    strided = max(stride) > 1
    x = pt.tensor4("x", dtype="float64", shape=x_shape if strided else (None,) * 4)
    w = pt.tensor4("w", dtype="float64", shape=w_shape if strided else (None,) * 4)
    gy = pt.tensor4("gy", dtype="float64")
    y = conv.conv2d(x, w, stride, padding)
    xv, wv = rng.normal(size=x_shape), rng.normal(size=w_shape)
    gyv = rng.normal(size=reference_conv(xv, wv, stride, padding).shape)
    return [x, w, gy], [y, *pytensor.grad(None, [x, w], known_grads={y: gy})], [xv, wv, gyv]


def _pool_case(rng, op, x_shape, pool_size, stride, ignore):
    x = pt.tensor4("x", dtype="float64", shape=(None, None, *x_shape[2:]))
    gy = pt.tensor4("gy", dtype="float64")
    y = op(x, pool_size, stride, ignore)
    xv = rng.permutation(np.prod(x_shape)).reshape(x_shape) * 0.01  # no ties
    gyv = rng.normal(size=(*x_shape[:2], *y.type.shape[2:]))
    return [x, gy], [y, pytensor.grad(None, x, known_grads={y: gy})], [xv, gyv]


@pytest.fixture(scope="module")
def graph():
    """(inputs, outputs, arrays) of every case, in one graph."""
    rng = np.random.default_rng(0)
    cases = [_conv_case(rng, *case) for case in CONV_CASES]
    cases += [_pool_case(rng, op, *case) for case in POOL_CASES
              for op in (pool.max_pool2d, pool.avg_pool2d)]
    return [sum((case[k] for case in cases), []) for k in range(3)]


def test_ops_agree_with_python_path(graph):
    inputs, outputs, arrays = graph
    jax_fn = pytensor.function(inputs, outputs, mode=get_mode("JAX"))
    python_fn = pytensor.function(inputs, outputs, mode="FAST_COMPILE")
    got, want = jax_fn(*arrays), python_fn(*arrays)
    assert len(got) == len(want) == 3 * len(CONV_CASES) + 4 * len(POOL_CASES)
    for a, b in zip(got, want):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


def test_unknown_size_with_stride_is_a_clear_error():
    x = pt.tensor4("x", dtype="float64")
    w = pt.tensor4("w", dtype="float64", shape=(1, 1, 3, 3))
    y = conv.conv2d(x, w, (2, 2))
    gy = y.type("gy")
    gx = pytensor.grad(None, x, known_grads={y: gy})
    fn = pytensor.function([x, w, gy], gx, mode=get_mode("JAX"))
    with pytest.raises(NotImplementedError, match=r"Conv2DGradInput axis 2: the JAX backend "
                                                  r"needs the input's spatial size as a constant"):
        fn(np.zeros((1, 1, 6, 6)), np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 2, 2)))


LENET = [L.Input((1, 28, 28)), L.Conv2D(6, 5, activation="tanh"), L.MaxPool2D(2),
         L.Conv2D(8, 3, padding="same", stride=2, activation="relu"),
         L.AvgPool2D(2, ignore_border=False), L.Dropout(0.0), L.Flatten(),
         L.Dense(20, activation="tanh"), L.Dense(10, activation="softmax")]


def _train_steps(mode, x, y):
    """Losses of 3 SGD steps on (x, y) and the weights after them, compiled in ``mode``."""
    net = tgraph.build(LENET, seed=3)
    xs, ys = net.input_variable(), target_variable(net, "nll")
    terms = objective(net, "nll", xs, ys, deterministic=False)
    updates = training_updates(net, terms, optim.SGD(learning_rate=0.1))
    step = pytensor.function([xs, ys], terms.loss, updates=updates, mode=get_mode(mode))
    losses = [float(step(x, y)) for _ in range(3)]
    return losses, [p.variable.get_value() for p in net.params]


def test_lenet_style_spec_trains_the_same_in_jax_and_numba(mnist):
    x, y = mnist["train"][0][:32].reshape(-1, 1, 28, 28), mnist["train"][1][:32]
    losses_jax, weights_jax = _train_steps("JAX", x, y)
    losses_numba, weights_numba = _train_steps("NUMBA", x, y)
    np.testing.assert_allclose(losses_jax, losses_numba, rtol=1e-4)
    assert losses_jax[2] < losses_jax[0]
    for a, b in zip(weights_jax, weights_numba):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)


SMALL_SPECS = {
    "dense": [L.Input((784,)), L.Dense(30, activation="tanh", l2=1e-4),
              L.Dense(10, activation="softmax")],
    "conv": [L.Input((1, 28, 28)), L.Conv2D(4, 5, stride=2, activation="relu"),
             L.MaxPool2D(2), L.Flatten(), L.Dense(10, activation="softmax")],
    "dropout": [L.Input((784,)), L.Dropout(0.2), L.Dense(30, activation="relu"),
                L.Dense(10, activation="softmax")],
}


def _model_run(spec, mode, x, y):
    """Losses of 3 + 1 steps (``train_steps``, then ``train_step``) of a ``Model`` in
    ``mode``, its weights after them and its evaluation on the training data."""
    model = tgraph.Model(SMALL_SPECS[spec], optimizer=optim.Adam(learning_rate=0.01),
                         seed=7, mode=mode)
    model.set_train_data(x, y)
    losses = list(model.train_steps(0, 3, 16)) + [model.train_step(3, 16)]
    return losses, model.get_weights(), model.evaluate(x, y)


@pytest.mark.parametrize("spec", ["dense", "conv"])
def test_model_trains_from_shared_data_in_jax_as_in_numba(spec, mnist):
    x, y = mnist["train"][0][:80], mnist["train"][1][:80]
    if spec == "conv":
        x = x.reshape(-1, 1, 28, 28)
    losses_jax, weights_jax, eval_jax = _model_run(spec, "JAX", x, y)
    losses_numba, weights_numba, eval_numba = _model_run(spec, "NUMBA", x, y)
    np.testing.assert_allclose(losses_jax, losses_numba, rtol=1e-5)
    assert len(set(losses_jax)) == 4  # four different minibatches were read
    for name in weights_numba:
        np.testing.assert_allclose(weights_jax[name], weights_numba[name], rtol=1e-4, atol=1e-6,
                                   err_msg=name)
    assert eval_jax == pytest.approx(eval_numba, rel=1e-5)
    assert all(type(w) is np.ndarray for w in weights_jax.values())


def test_jax_step_reads_a_static_size_minibatch(mnist):
    import pytensor.tensor.subtensor as subtensor

    # PyTensor 3.0 gathers rows with AdvancedSubtensor1; 3.1+ has only AdvancedSubtensor
    names = ("AdvancedSubtensor1", "AdvancedSubtensor")
    gather_ops = tuple(getattr(subtensor, n) for n in names if hasattr(subtensor, n))
    model = tgraph.Model(SMALL_SPECS["dense"], mode="JAX")
    model.set_train_data(*mnist["train"])
    fn = model.train_function(16)
    gathers = [n for n in fn.maker.fgraph.apply_nodes if isinstance(n.op, gather_ops)]
    assert len(gathers) == 2
    assert [g.outputs[0].type.shape[0] for g in gathers] == [16, 16]


def test_dropout_model_trains_reproducibly_in_jax(mnist):
    # The dropout keys come from PyTensor's JAX random generator, not numpy's: masks
    # differ from Numba's, but the same seed gives the same steps.
    x, y = mnist["train"][0][:80], mnist["train"][1][:80]
    first, weights, _ = _model_run("dropout", "JAX", x, y)
    again, weights_again, _ = _model_run("dropout", "JAX", x, y)
    assert first == again
    assert all(np.array_equal(weights[k], weights_again[k]) for k in weights)
    assert np.isfinite(first).all() and len(set(first)) == 4


def test_cli_trains_saves_and_evaluates_in_jax_mode(tmp_path, small_npz, capsys):
    import json

    from tgraph.cli import main

    spec = SPECS / "logreg.py"
    out = tmp_path / "run"
    assert main(["train", str(spec), "--mode", "JAX", "--epochs", "2", "--data", str(small_npz),
                 "--out", str(out), "--quiet"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["iterations"] == 2 * (800 // 600)
    capsys.readouterr()
    assert main(["eval", str(out), "--data", str(small_npz), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["test"]["error"] == pytest.approx(metrics["test_error"])


def test_threefry_gives_the_same_numbers_as_numpy():
    import tgraph.backend.jax  # noqa: F401  (mode="JAX" below is PyTensor's name)

    key = np.array([7, 9], np.int64)
    out = threefry_uniform(pt.as_tensor(key), (5, 3))
    got = pytensor.function([], out, mode="JAX")()
    want = pytensor.function([], out, mode="FAST_COMPILE")()
    np.testing.assert_array_equal(np.asarray(got), want)
