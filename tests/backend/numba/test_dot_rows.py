"""The dot-of-rows float32 kernel ``C (+)= alpha A @ W.T``: values against numpy for every
edge and layout it accepts, in-place accumulation, and the same bits whatever the tile."""

import numpy as np
import pytest

from tgraph.backend.numba.kernels.dot_rows import (
    COLS,
    LANES,
    MAX_ROWS,
    MIN_K,
    ROWS,
    dot_rows_into,
    fits_rows,
)

RNG = np.random.default_rng(0)


def _rows(rows, cols, strided):
    """A float32 (rows, cols) array with contiguous rows, C-contiguous or a view with a
    longer row stride."""
    if not strided:
        return RNG.normal(size=(rows, cols)).astype(np.float32)
    return RNG.normal(size=(rows, cols + 5)).astype(np.float32)[:, 2:cols + 2]


# the kernel computes any product of ROWS x COLS or more; fits_rows() picks where it is used
SHAPES = [(ROWS, 1, COLS), (10, 1000, 784), (7, LANES - 1, COLS + 1), (13, 3 * LANES + 5, 37),
          (MAX_ROWS, MIN_K + 3, 9), (10, 784, 1000), (6, 2 * LANES, COLS)]


@pytest.mark.parametrize("m, k, n", SHAPES)
@pytest.mark.parametrize("strided", [False, True])
def test_product_with_a_transpose_equals_numpy(m, k, n, strided):
    a, w = _rows(m, k, strided), _rows(n, k, strided)
    c = np.full((m, n), np.nan, np.float32)  # overwritten, NaN must not leak
    dot_rows_into(1.0, a, w.T, False, c)
    want = a.astype(np.float64) @ w.T.astype(np.float64)
    np.testing.assert_allclose(c, want, rtol=1e-5, atol=1e-5 * np.sqrt(k))


@pytest.mark.parametrize("m, k, n", SHAPES)
def test_accumulate_scales_the_product(m, k, n):
    a, w = _rows(m, k, False), _rows(n, k, False)
    c0 = RNG.normal(size=(m, n)).astype(np.float32)
    c = c0.copy()
    dot_rows_into(-0.25, a, w.T, True, c)
    want = c0 - 0.25 * (a.astype(np.float64) @ w.T.astype(np.float64))
    np.testing.assert_allclose(c, want, rtol=1e-5, atol=1e-5 * np.sqrt(k))


def test_a_value_has_the_same_bits_in_every_tile():
    # the edge tiles overlap the previous ones: a row or column computed in two tiles,
    # or in a larger product, gives the same bits
    a, w = _rows(MAX_ROWS, 301, False), _rows(23, 301, False)
    whole = np.empty((MAX_ROWS, 23), np.float32)
    dot_rows_into(1.0, a, w.T, False, whole)
    for m, n in [(ROWS, COLS), (ROWS + 1, COLS + 3), (MAX_ROWS - 3, 11)]:
        part = np.empty((m, n), np.float32)
        dot_rows_into(1.0, a[-m:], w[-n:].T, False, part)
        np.testing.assert_array_equal(part, whole[-m:, -n:])


def test_only_few_rows_times_a_long_transpose_fit():
    w = _rows(40, MIN_K, False)
    c = np.empty((10, 40), np.float32)
    assert fits_rows(_rows(10, MIN_K, False), w.T, c)
    assert fits_rows(_rows(10, MIN_K + 7, True)[:, :MIN_K], w.T, c)  # strided rows of A
    assert not fits_rows(_rows(10, MIN_K - 1, False), w[:, :MIN_K - 1].T, c)  # short K
    assert not fits_rows(np.asfortranarray(_rows(10, MIN_K, False)), w.T, c)  # A by columns
    assert not fits_rows(_rows(10, 40, False), _rows(40, 40, False), c)  # W, not W.T
    assert not fits_rows(_rows(ROWS - 1, MIN_K, False), w.T, np.empty((ROWS - 1, 40), np.float32))
    assert not fits_rows(_rows(MAX_ROWS + 1, MIN_K, False), w.T,
                         np.empty((MAX_ROWS + 1, 40), np.float32))
    assert not fits_rows(_rows(10, MIN_K, False), w[:COLS - 1].T, c[:, :COLS - 1])
    assert not fits_rows(_rows(10, MIN_K, False), w.T, np.empty((40, 10), np.float32).T)


def test_the_gemm_of_the_blas_ops_runs_it_for_few_rows_times_a_transpose():
    import numba

    from tgraph.backend.numba.kernels.blas import gemm_kernel

    gemm, _ = gemm_kernel("float32")

    @numba.njit
    def run(alpha, a, b, beta, c):
        gemm(alpha, a, b, beta, c, 1)

    a, w = _rows(10, 1000, False), _rows(784, 1000, False)
    c0 = RNG.normal(size=(10, 784)).astype(np.float32)
    assert fits_rows(a, w.T, c0)
    for beta in (0.0, 1.0, 0.5):
        got, want = c0.copy(), c0.copy()
        run(np.float32(0.1), a, w.T, np.float32(beta), got)
        if beta not in (0.0, 1.0):
            want *= np.float32(beta)
        dot_rows_into(0.1, a, w.T, beta != 0, want)
        np.testing.assert_array_equal(got, want)
