"""Inverted dropout: gradient by finite differences, drop rate, same masks in every mode."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.gradient import verify_grad

from tgraph.backend import get_mode
from tgraph.ops.dropout import dropout
from tgraph.random import RandomDraws, RandomSource

RNG = np.random.default_rng(0)


def test_gradient_matches_finite_differences():
    draws = RandomDraws(RandomSource(3))  # no updates applied: the same mask in every call
    verify_grad(lambda x: dropout(x, 0.5, draws, key=1), [RNG.normal(size=(6, 9))], rng=RNG,
                mode="FAST_COMPILE")


@pytest.fixture(scope="module")
def numba_dropout():
    x = pt.matrix("x", dtype="float32")
    draws = RandomDraws(RandomSource(11))
    return pytensor.function([x], dropout(x, 0.3, draws, key=2), updates=draws.updates,
                             mode=get_mode("NUMBA")), draws


def test_drops_the_rate_and_scales_the_rest(numba_dropout):
    f, _ = numba_dropout
    x = np.ones((400, 500), np.float32)
    y = f(x)
    assert y.dtype == np.float32
    assert abs(np.mean(y == 0) - 0.3) < 0.005
    np.testing.assert_allclose(y[y != 0], 1 / 0.7, rtol=1e-6)


def test_each_step_draws_a_new_mask(numba_dropout):
    f, _ = numba_dropout
    x = np.ones((50, 40), np.float32)
    assert not np.array_equal(f(x) == 0, f(x) == 0)


def test_numba_and_python_modes_draw_the_same_masks():
    x = pt.matrix("x", dtype="float32")
    masks = []
    for mode in ("NUMBA", "FAST_COMPILE"):
        draws = RandomDraws(RandomSource(5))
        f = pytensor.function([x], dropout(x, 0.5, draws, key=1), updates=draws.updates,
                              mode=get_mode(mode))
        masks.append([f(np.ones((7, 30), np.float32)) for _ in range(3)])
    for a, b in zip(*masks):
        np.testing.assert_array_equal(a, b)
