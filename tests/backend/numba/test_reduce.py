"""Float sums in tgraph's Numba mode (tgraph.backend.numba.dispatch.reduce) equal
numpy's."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from tgraph.backend import get_mode
from tgraph.backend.numba.dispatch.reduce import sum_source


@pytest.mark.parametrize("shape,axis", [((5, 7), 0), ((5, 7), 1), ((5, 7), None),
                                        ((3, 4, 5, 6), (0, 2, 3)), ((3, 4, 5), (-1,)),
                                        ((4,), 0)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sum_equals_numpy_also_on_strided_input(shape, axis, dtype):
    x = pt.tensor("x", dtype=dtype, shape=(None,) * len(shape))
    f = pytensor.function([x], [x.sum(axis=axis), x[..., ::-1].sum(axis=axis)],
                          mode=get_mode("NUMBA"))
    a = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    got, got_strided = f(a)
    want = a.astype(np.float64).sum(axis=axis)
    assert got.dtype == dtype and got.shape == np.shape(want)
    np.testing.assert_allclose(got, want, rtol=1e-6 if dtype == "float32" else 1e-12)
    np.testing.assert_allclose(got_strided, a[..., ::-1].astype(np.float64).sum(axis=axis),
                               rtol=1e-6 if dtype == "float32" else 1e-12)


def test_sum_source_loops_in_c_order_into_the_kept_axes():
    source = sum_source(3, (0, 2), "float64", "float32")
    assert "acc[i1] += x[i0, i1, i2]" in source and "np.float64" in source


def test_float32_sums_accumulate_in_float64():
    x = pt.vector("x", dtype="float32")
    f = pytensor.function([x], x.sum(), mode=get_mode("NUMBA"))
    a = np.full(2**25, 1.0, np.float32)  # a float32 accumulator stops at 2**24
    assert float(f(np.concatenate([a, a[:3]]))) == float(np.float32(2**25 + 3))  # not 2**24


def test_other_reductions_still_work():
    x = pt.matrix("x", dtype="float32")
    f = pytensor.function([x], [x.max(axis=0), x.prod(axis=1), pt.cast(x, "int32").sum()],
                          mode=get_mode("NUMBA"))
    a = np.arange(6, dtype=np.float32).reshape(2, 3) + 1
    mx, pr, s = f(a)
    np.testing.assert_array_equal(mx, [4, 5, 6])
    np.testing.assert_array_equal(pr, [6, 120])
    assert int(s) == 21
