"""The tiled float32 product kernel: values for every layout and edge, in-place
accumulation, and bit-identical results whatever the number of threads."""

import numpy as np
import pytest

from tgraph.backend.numba.kernels.gemm import (
    LANES,
    PACK_MIN_ROWS,
    PARALLEL_MIN_FMAS,
    ROWS,
    fits,
    gemm_into,
)

from support.matrices import matrix  # noqa: E402

RNG = np.random.default_rng(0)


def _matrix(rows, cols, layout):
    return matrix(RNG, rows, cols, layout)


SHAPES = [(ROWS, 1, LANES), (7, 33, LANES + 2), (23, 50, 3 * LANES - 5), (64, 17, 70)]


@pytest.mark.parametrize("m, k, n", SHAPES)
@pytest.mark.parametrize("a_layout, b_layout", [("C", "C"), ("T", "C"), ("C", "T"),
                                                ("S", "S"), ("T", "T")])
def test_product_in_every_layout_and_edge(m, k, n, a_layout, b_layout):
    if b_layout == "T":  # rows of B not contiguous: packed panels, for enough rows
        m += PACK_MIN_ROWS
    a, b = _matrix(m, k, a_layout), _matrix(k, n, b_layout)
    c = np.full((m, n), np.nan, np.float32)  # overwritten, NaN must not leak
    assert fits(a, b, c)
    gemm_into(1.0, a, b, False, c, 1)
    want = a.astype(np.float64) @ b.astype(np.float64)
    np.testing.assert_allclose(c, want, rtol=1e-5, atol=1e-5 * np.sqrt(k))


@pytest.mark.parametrize("m, k, n", SHAPES)
def test_accumulate_scales_the_product(m, k, n):
    a, b = _matrix(m, k, "T"), _matrix(k, n, "C")
    c0 = _matrix(m, n, "C")
    c = c0.copy()
    gemm_into(-0.25, a, b, True, c, 1)
    want = c0 - 0.25 * (a.astype(np.float64) @ b.astype(np.float64))
    np.testing.assert_allclose(c, want, rtol=1e-5, atol=1e-5 * np.sqrt(k))


def test_small_or_odd_operands_are_left_to_blas():
    a, b = _matrix(ROWS, 3, "C"), _matrix(3, LANES, "C")
    assert fits(a, b, np.empty((ROWS, LANES), np.float32))
    assert not fits(a[:-1], b, np.empty((ROWS - 1, LANES), np.float32))
    assert not fits(a, b[:, 1:], np.empty((ROWS, LANES - 1), np.float32))
    assert not fits(a, b[::-1], np.empty((ROWS, LANES), np.float32))  # negative stride
    b_t = _matrix(3, LANES, "T")  # rows of B not contiguous: panels are copied
    assert not fits(a, b_t, np.empty((ROWS, LANES), np.float32))
    assert fits(_matrix(PACK_MIN_ROWS, 3, "C"), b_t, np.empty((PACK_MIN_ROWS, LANES), np.float32))
    assert not fits(a, b, np.empty((LANES, ROWS), np.float32).T)  # columns of c strided


@pytest.mark.parametrize("accumulate", [False, True])
def test_threads_give_bit_identical_results(accumulate):
    # the mlp's shapes: x @ W and the update W += alpha x.T @ delta
    x, w, delta = _matrix(20, 784, "C"), _matrix(784, 500, "C"), _matrix(20, 500, "C")
    assert 20 * 784 * 500 >= PARALLEL_MIN_FMAS
    for a, b, shape in [(x, w, (20, 500)), (x.T, delta, (784, 500))]:
        results = []
        for n_threads in (1, 2, 3, 1):
            c = np.ones(shape, np.float32)
            gemm_into(0.5, a, b, accumulate, c, n_threads)
            results.append(c)
        for c in results[1:]:
            np.testing.assert_array_equal(c, results[0])
        want = accumulate + 0.5 * (a.astype(np.float64) @ b.astype(np.float64))
        np.testing.assert_allclose(results[0], want, rtol=1e-4, atol=1e-4)
