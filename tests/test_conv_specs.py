"""The convolutional tutorial specs: they load, and LeNet-5 learns through the public API."""

import numpy as np
import pytest

import tgraph
from tgraph.specfile import load_spec

from support.paths import SPECS


def test_convnet_spec_has_the_tutorial_shapes():
    exp = load_spec(SPECS / "convnet.py")
    shapes = tgraph.network.infer_shapes(exp.model)
    assert [s[2:] for s in shapes if len(s) == 4] == [
        (28, 28), (30, 30), (15, 15), (15, 15), (15, 15), (13, 13), (7, 7), (7, 7), (7, 7),
        (5, 5), (3, 3), (3, 3), (3, 3)]
    assert exp.training.batch_size == 128 and exp.optimizer.learning_rate == 0.001


@pytest.mark.slow  # 200 LeNet-5 steps: over a minute on two cores
def test_lenet5_error_falls_in_a_few_hundred_steps(mnist):
    """200 SGD steps of 50 images (lr 0.1) from the spec: test error from ~90% to < 15%."""
    exp = load_spec(SPECS / "lenet5.py")
    model = exp.build_model()
    x, y = mnist["train"]
    model.set_train_data(x[:5000], y[:5000])
    x_test, y_test = mnist["test"][0][:1000], mnist["test"][1][:1000]
    before = model.evaluate(x_test, y_test)["error"]
    step = model.train_function(50)
    losses = [float(step(i % 100)) for i in range(200)]
    after = model.evaluate(x_test, y_test)["error"]
    assert before > 0.8 and after < 0.15, (before, after)
    assert sum(losses[-20:]) < 0.5 * sum(losses[:20])


def test_legacy_init_reproduces_the_lenet_tutorials_initial_weights():
    """``convolutional_mlp.py``: ``rng = RandomState(23455)``, then conv0, conv1, hidden W."""
    experiment = load_spec(SPECS / "lenet5.py")
    assert experiment.legacy_init and experiment.seed == 23455
    net = experiment.build_model().network
    rng = np.random.RandomState(23455)
    expected = []
    for shape, fan_in, fan_out in [((20, 1, 5, 5), 25, 20 * 25 // 4),
                                   ((50, 20, 5, 5), 20 * 25, 50 * 25 // 4),
                                   ((800, 500), 800, 500)]:
        bound = np.sqrt(6.0 / (fan_in + fan_out))
        expected.append(np.asarray(rng.uniform(-bound, bound, size=shape), dtype="float32"))
    weights = {p.variable.name: p.variable.get_value() for p in net.params}
    for name, value in zip(["1_conv2d/W", "4_conv2d/W", "8_dense/W"], expected):
        np.testing.assert_array_equal(weights[name], value, err_msg=name)
    assert not weights["9_dense/W"].any() and not weights["1_conv2d/b"].any()
