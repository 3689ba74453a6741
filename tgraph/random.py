"""Seeded random streams for stochastic layers, saved and restored with the model.

Each stochastic layer draws from its own PyTensor shared generator
(``pt.random.shared_rng``), seeded from the network seed and the layer's index, so
that adding a layer does not change the other layers' streams. A draw returns the
value and records the generator update that the training function applies.

A uniform draw takes one 64-bit key from the generator and expands it with the
counter-based Threefry generator (:mod:`tgraph.ops.threefry`), which is ~6 times
faster in the Numba backend than drawing every number from the generator; the
generator's state remains the whole random state.
"""

import numpy as np
import pytensor.tensor as pt
from pytensor.tensor.random import basic as ptrb

from tgraph.ops.threefry import threefry_uniform

__all__ = ["RandomSource", "generator_state", "set_generator_state"]


class RandomSource:
    """Hands out seeded shared generators and collects their updates.

    Args:
        seed: integer seed of the network.
    """

    def __init__(self, seed):
        self.seed = int(seed)
        self.generators = {}  # key -> shared generator variable
        self.updates = []  # (shared generator, next generator) of the last graph built

    def generator(self, key):
        """The shared generator for ``key`` (e.g. a layer index), created on first use."""
        if key not in self.generators:
            seq = np.random.SeedSequence([self.seed, *np.atleast_1d(key).tolist()])
            self.generators[key] = pt.random.shared_rng(
                np.random.default_rng(seq), name=f"rng/{key}"
            )
        return self.generators[key]

    def uniform(self, key, shape, dtype):
        """Symbolic uniform [0, 1) draw of ``shape`` from the generator ``key``.

        Args:
            key: which generator (stable across builds, e.g. the layer index).
            shape: symbolic or constant shape of the draw.
            dtype: float dtype of the draw.

        Returns:
            The draw (24 random bits a number, see :mod:`tgraph.ops.threefry`); the
            generator update is appended to :attr:`updates`.
        """
        rng = self.generator(key)
        next_rng, words = ptrb.integers(0, 2**32, size=(2,), rng=rng, dtype="int64",
                                        return_next_rng=True)
        self.updates.append((rng, next_rng))
        return threefry_uniform(words, shape, dtype)


def generator_state(shared_rng):
    """JSON-serialisable state of a shared generator (its bit generator's state dict)."""
    return shared_rng.get_value(borrow=True).bit_generator.state


def set_generator_state(shared_rng, state):
    """Restore a state saved by :func:`generator_state`."""
    gen = np.random.default_rng()
    gen.bit_generator.state = state
    shared_rng.set_value(gen, borrow=True)
