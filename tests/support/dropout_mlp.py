"""One compiled dropout MLP per optimizer and batch size for the whole test session.

Several test files train a small dropout MLP on MNIST to check something about training
(steps per call, checkpoints and resuming, the step's products); what they check does not
depend on the exact network. Each distinct graph costs a compile (seconds on a fresh
machine, where Numba compiles its kernels), so they share one: :class:`DropoutMLPs`
compiles it once per optimizer and batch size and hands the same :class:`tgraph.Model`
out again, reset to what ``tgraph.Model(dropout_mlp_layers(), optimizer=optimizer,
seed=seed)`` starts from: weights and random streams of ``seed``, fresh optimizer state
and learning rate.
tests/test_dropout_mlp.py checks that a handed-out model trains bit for bit like a new one.

The model handed out is the previous one, reset: a test that compares two training runs
keeps what it compares (``get_weights()``, ``get_state()``: copies) before asking for the
second model.
"""

import numpy as np

import tgraph
from tgraph import layers as L
from tgraph.init import Normal
from tgraph.random import RandomSource, generator_state

__all__ = ["dropout_mlp_layers", "DropoutMLPs"]


def dropout_mlp_layers():
    """Input 784, Dropout 0.2, Dense 40 relu, Dropout 0.5, Dense 30 relu, Dense 10 softmax.

    Layer names: ``1_dropout``, ``2_dense``, ``3_dropout``, ``4_dense``, ``5_dense``; the
    random streams are ``rng/1`` and ``rng/3``.
    """
    return [L.Input((784,)), L.Dropout(0.2),
            L.Dense(40, activation="relu", init=Normal(std=0.05)), L.Dropout(0.5),
            L.Dense(30, activation="relu"), L.Dense(10, activation="softmax")]


class _Compiled:
    """A model with its training step compiled, and what resetting it needs."""

    def __init__(self, optimizer, batch_size):
        self.model = tgraph.Model(dropout_mlp_layers(), optimizer=optimizer)
        # The data's values do not enter the graph; tests (and Trainer.fit) set their own.
        self.model.set_train_data(np.zeros((batch_size, 784), np.float32),
                                  np.zeros(batch_size, np.int32))
        self.model.train_function(batch_size)
        self.initial_state = self.model.get_state()  # optimizer state before any step
        self.attributes = set(vars(self.model))

    def reset(self, seed):
        model = self.model
        model.__class__ = tgraph.Model  # undo a test's subclassing or instance overrides
        for name in set(vars(model)) - self.attributes:
            delattr(model, name)
        model.set_weights(tgraph.Model(dropout_mlp_layers(), seed=seed).get_weights())
        # A new model's streams, created as its training step creates them.
        streams = RandomSource(seed)
        rng = {variable.name: generator_state(streams.generator(key))
               for key, variable in model.network.random.generators.items()}
        model.set_state({**self.initial_state, "rng": rng})
        model.network.seed = model.network.random.seed = int(seed)  # saved in model files
        model.meta = {}
        return model


class DropoutMLPs:
    """``dropout_mlps(optimizer, seed=..., batch_size=...)``: the shared compiled model.

    Args (of a call):
        optimizer: an optimizer object; each distinct one (by its repr) compiles its own step.
        seed: seed of the initial weights and of the random streams.
        batch_size: the batch size the training step is compiled for (others compile
            another step on first use, as for any model).

    Returns:
        The :class:`tgraph.Model`, reset as if new (see the module docstring).
    """

    def __init__(self):
        self._compiled = {}

    def __call__(self, optimizer, *, seed, batch_size):
        key = (repr(optimizer), int(batch_size))
        if key not in self._compiled:
            self._compiled[key] = _Compiled(optimizer, batch_size)
        return self._compiled[key].reset(seed)
