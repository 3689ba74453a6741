"""Error paths replaced by ones cheap to compile
(tgraph.backend.numba.dispatch.cheap_errors) still raise."""

import numba
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

import tgraph.backend.numba.dispatch.cheap_errors  # noqa: F401
from tgraph.backend import get_mode


def test_slice_assignment_of_another_shape_raises_value_error():
    @numba.njit
    def assign(a, b):
        a[1:3] = b
        return a

    np.testing.assert_array_equal(assign(np.zeros(4), np.ones(2)), [0, 1, 1, 0])
    with pytest.raises(ValueError, match="shape differs from the slice"):
        assign(np.zeros(4), np.ones(3))


def test_specify_shape_names_the_declared_shape():
    x = pt.matrix("x")
    f = pytensor.function([x], pt.specify_shape(x, (None, 3)) * 2, mode=get_mode("NUMBA"))
    np.testing.assert_array_equal(f(np.ones((2, 3), x.dtype)), 2 * np.ones((2, 3)))
    with pytest.raises(AssertionError, match=r"declared \(\?, 3\)"):
        f(np.ones((2, 4), x.dtype))
