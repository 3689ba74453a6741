"""Counter-based uniform numbers: Threefry-2x32-20 known answers, Numba = numpy = JAX."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from tgraph.backend import get_mode
from tgraph.ops.threefry import threefry2x32, threefry_uniform

# Random123's kat_vectors for threefry2x32_20: (key, counter) -> output.
KNOWN_ANSWERS = [
    ((0, 0), (0, 0), (0x6B200159, 0x99BA4EFE)),
    ((0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF), (0x1CB996FC, 0xBB002BE7)),
    ((0x13198A2E, 0x03707344), (0x243F6A88, 0x85A308D3), (0xC4923A9C, 0x483DF7A0)),
]


@pytest.mark.parametrize("key, counter, want", KNOWN_ANSWERS)
def test_threefry_known_answers(key, counter, want):
    c0, c1 = (np.array([c], np.uint32) for c in counter)
    got = threefry2x32(np.uint32(key[0]), np.uint32(key[1]), c0, c1)
    assert (int(got[0][0]), int(got[1][0])) == want


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


def test_the_draw_has_no_gradient():
    x = pt.matrix("x", dtype="float32")
    u = threefry_uniform(pt.as_tensor(np.array([1, 2])), x.shape)
    g = pytensor.grad((u * x).sum(), x)
    f = pytensor.function([x], [g, u], mode="FAST_COMPILE")
    gv, uv = f(np.ones((2, 3), np.float32))
    np.testing.assert_array_equal(gv, uv)


def test_bad_key_is_rejected():
    with pytest.raises(TypeError, match="`key` must be an integer"):
        threefry_uniform(pt.matrix("k", dtype="int64"), (2, 2))


@pytest.mark.jax
def test_jax_gives_the_same_numbers():
    pytest.importorskip("jax")
    import tgraph.backend.jax  # noqa: F401
    key = np.array([7, 9], np.int64)
    out = threefry_uniform(pt.as_tensor(key), (5, 3))
    got = pytensor.function([], out, mode="JAX")()
    want = pytensor.function([], out, mode="FAST_COMPILE")()
    np.testing.assert_array_equal(np.asarray(got), want)
