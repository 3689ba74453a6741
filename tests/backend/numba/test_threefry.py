"""Threefry uniform numbers in tgraph's Numba mode: the numpy reference's numbers, uniform."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from tgraph.backend import get_mode
from tgraph.ops.threefry import threefry_uniform


@pytest.fixture(scope="module")
def uniform_functions():
    key, n, m = pt.lvector("key"), pt.lscalar("n"), pt.lscalar("m")
    outputs = [threefry_uniform(key, (n, m), "float32"), threefry_uniform(key, (n,), "float64")]
    return {mode: pytensor.function([key, n, m], outputs, mode=get_mode(mode))
            for mode in ("NUMBA", "FAST_COMPILE")}


@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (128, 625), (0, 5)])
def test_numba_and_numpy_give_the_same_numbers(uniform_functions, shape):
    key = np.array([123456789, 2**32 - 5], np.int64)
    fast, slow = (uniform_functions[m](key, *shape) for m in ("NUMBA", "FAST_COMPILE"))
    for a, b, dtype in zip(fast, slow, ("float32", "float64")):
        assert a.dtype == b.dtype == dtype
        np.testing.assert_array_equal(a, b)
    assert fast[0].shape == shape


def test_numbers_are_uniform_24_bit_and_depend_on_the_key(uniform_functions):
    f = uniform_functions["NUMBA"]
    a, a64 = f(np.array([1, 2]), 400, 500)
    b, _ = f(np.array([1, 3]), 400, 500)
    assert 0 <= a.min() and a.max() < 1
    np.testing.assert_array_equal(a * 2**24, np.round(a * 2**24))  # k / 2**24
    assert abs(a.mean() - 0.5) < 3e-3 and abs(a.var() - 1 / 12) < 2e-3
    assert np.mean(a == b) < 1e-3  # another key, other numbers
    np.testing.assert_array_equal(a64, f(np.array([1, 2]), 1, 400)[0][0])  # dtype: same words
    counts = np.histogram(a, bins=10, range=(0, 1))[0]
    assert counts.min() > 0.97 * a.size / 10
