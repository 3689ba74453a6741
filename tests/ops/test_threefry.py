"""Counter-based uniform numbers: Threefry-2x32-20 known answers, the op's gradient and
errors (Numba = numpy: tests/backend/numba/test_threefry.py; JAX = numpy:
tests/backend/test_jax_mode.py)."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

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
