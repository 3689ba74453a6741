"""Seeded random streams for stochastic layers, saved and restored with the model.

Each stochastic layer draws from its own PyTensor shared generator
(``pt.random.shared_rng``), seeded from the network seed and the layer's index, so
that adding a layer does not change the other layers' streams. The generators live in
the network's :class:`RandomSource`; the draws of one forward pass go through a
:class:`RandomDraws`, which chains successive draws from one generator and lists the
generator updates that the pass's training step applies (through the pass's
:class:`tgraph.layers.ApplyContext`, like every other update).

A uniform draw takes one 64-bit key from the generator and expands it with the
counter-based Threefry generator (:mod:`tgraph.ops.threefry`), which is ~6 times
faster in the Numba backend than drawing every number from the generator; the
generator's state remains the whole random state.
"""

import numpy as np
import pytensor.tensor as pt
from pytensor.tensor.random import basic as ptrb

from tgraph.ops.threefry import threefry_uniform

__all__ = ["RandomSource", "RandomDraws", "generator_state", "set_generator_state"]


class RandomSource:
    """The network's seeded shared generators, one per key (a stochastic layer's index).

    Args:
        seed: integer seed of the network.
    """

    def __init__(self, seed):
        self.seed = int(seed)
        self.generators = {}  # key -> shared generator variable

    def generator(self, key):
        """The shared generator for ``key`` (e.g. a layer index), created on first use."""
        if key not in self.generators:
            seq = np.random.SeedSequence([self.seed, *np.atleast_1d(key).tolist()])
            self.generators[key] = pt.random.shared_rng(
                np.random.default_rng(seq), name=f"rng/{key}"
            )
        return self.generators[key]


class RandomDraws:
    """The draws of one forward pass from a :class:`RandomSource`, and their updates.

    The first draw from a generator in the pass starts from the shared generator, each
    further one from the generator the previous draw returned; :attr:`updates` sets
    each shared generator to the last of its chain, so that a training step advances it
    past every number it drew.

    Args:
        source: the network's :class:`RandomSource`.
    """

    def __init__(self, source):
        self.source = source
        self._next = {}  # key -> symbolic generator after the pass's last draw from it

    def fork(self):
        """A copy whose further draws repeat this one's (same symbolic chains), separately."""
        copy = RandomDraws(self.source)
        copy._next = dict(self._next)
        return copy

    @property
    def generators(self):
        """The source's shared generators, ``{key: variable}``."""
        return self.source.generators

    @property
    def generators_drawn(self):
        """The shared generators this pass has drawn from."""
        return tuple(self.source.generator(key) for key in self._next)

    def uniform(self, key, shape, dtype):
        """Symbolic uniform [0, 1) draw of ``shape`` from the generator ``key``.

        Args:
            key: which generator (stable across builds, e.g. the layer index).
            shape: symbolic or constant shape of the draw.
            dtype: float dtype of the draw.

        Returns:
            The draw (24 random bits a number, see :mod:`tgraph.ops.threefry`).
        """
        rng = self._next[key] if key in self._next else self.source.generator(key)
        next_rng, words = ptrb.integers(0, 2**32, size=(2,), rng=rng, dtype="int64",
                                        return_next_rng=True)
        self._next[key] = next_rng
        return threefry_uniform(words, shape, dtype)

    @property
    def updates(self):
        """``(shared generator, its next state)`` for each generator drawn from."""
        return tuple((self.source.generator(key), rng) for key, rng in self._next.items())


def generator_state(shared_rng):
    """JSON-serialisable state of a shared generator (its bit generator's state dict)."""
    return shared_rng.get_value(borrow=True).bit_generator.state


def set_generator_state(shared_rng, state):
    """Restore a state saved by :func:`generator_state`."""
    gen = np.random.default_rng()
    gen.bit_generator.state = state
    shared_rng.set_value(gen, borrow=True)
