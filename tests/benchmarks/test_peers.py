"""The benchmark's peers train the same network as tgraph: their first losses match
tgraph's (the identical-numerics check), a different network fails the check, and the
FLOP count of the peak share follows the layer sizes."""

import functools
import sys

import attrs
import numpy as np
import pytest
from support.paths import ROOT, SPECS

sys.path.insert(0, str(ROOT / "benchmarks"))

from flops import flops_per_sample  # noqa: E402
from peers.numerics import (CHECK_STEPS, NumericsMismatch, check_peer,  # noqa: E402
                            reference_losses)

from tgraph import layers as L  # noqa: E402
from tgraph.data import load_dataset  # noqa: E402
from tgraph.network import build  # noqa: E402
from tgraph.optim import SGD  # noqa: E402
from tgraph.specfile import load_spec  # noqa: E402

PEER_MODULES = {"torch": "torch", "torch.compile": "torch", "jax": "optax"}


@functools.lru_cache(maxsize=None)
def _reference(spec_name):
    """(experiment, network, initial weights, x, y, tgraph's losses) on the first
    ``CHECK_STEPS`` minibatches of the embedded MNIST only."""
    data = load_dataset()
    exp, _ = load_spec(SPECS / f"{spec_name}.py").for_data(data)
    n = CHECK_STEPS * exp.training.batch_size
    x, y = data.train.x[:n], data.train.y[:n]
    model = exp.build_model()
    model.set_train_data(x, y)
    weights = model.get_weights()  # before the reference steps change them
    return exp, model.network, weights, x, y, reference_losses(exp, model, x, y)


@pytest.mark.parametrize("spec_name,peer", [("logreg", "torch"), ("logreg", "jax"),
                                            ("mlp", "torch"), ("mlp", "jax"),
                                            ("logreg", "torch.compile")])
def test_peer_losses_match_tgraph(spec_name, peer):
    pytest.importorskip(PEER_MODULES[peer])
    exp, network, weights, x, y, reference = _reference(spec_name)
    losses = check_peer(peer, exp, network, weights, reference, x, y)
    assert losses.shape == (CHECK_STEPS,)
    np.testing.assert_allclose(losses, reference, rtol=1e-4)
    assert reference[0] > reference[-1]  # the steps trained: the check covers updates too


@pytest.mark.parametrize("peer", ["torch", "jax"])
def test_another_training_fails_the_check(peer):
    pytest.importorskip(PEER_MODULES[peer])
    exp, network, weights, x, y, reference = _reference("mlp")
    other = attrs.evolve(exp, optimizer=SGD(learning_rate=2 * exp.optimizer.learning_rate))
    with pytest.raises(NumericsMismatch, match=f"{peer}: its first 3 training losses"):
        check_peer(peer, other, network, weights, reference, x, y)


def test_flops_per_sample_from_layer_sizes():
    mlp = build([L.Input((784,)), L.Dense(500, activation="tanh"),
                 L.Dense(10, activation="softmax")], seed=1)
    assert flops_per_sample(mlp) == 2 * (2 * 784 * 500) + 3 * (2 * 500 * 10) == 1_598_000
    lenet = build(load_spec(SPECS / "lenet5.py").model, seed=1)
    conv1 = 2 * (1 * 5 * 5) * (20 * 24 * 24)  # input of the data: no input gradient
    conv2 = 2 * (20 * 5 * 5) * (50 * 8 * 8)
    dense = 2 * 800 * 500 + 2 * 500 * 10
    assert flops_per_sample(lenet) == 2 * conv1 + 3 * (conv2 + dense)
