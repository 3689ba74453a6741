"""The float32 kernel of products with few columns: values against numpy for both
layouts of ``A``, every edge of its tiles, in-place accumulation, and bit-identical
results whatever the number of threads."""

import numpy as np
import pytest

from tgraph.backend.numba.kernels import blas
from tgraph.backend.numba.kernels.gemm import LANES
from tgraph.backend.numba.kernels.skinny import (
    COLS,
    DOT_ROWS,
    MAX_COLS,
    PARALLEL_MIN_FMAS,
    VEC,
    faster_than_blas,
    fits,
    skinny_into,
)

from support.matrices import matrix  # noqa: E402

RNG = np.random.default_rng(0)


def _matrix(rows, cols, layout):
    return matrix(RNG, rows, cols, layout)


def _reference(a, b):
    return a.astype(np.float64) @ b.astype(np.float64)


def _close(got, want, k):
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.sqrt(k))


# (m, k, n): one column to MAX_COLS, m below / at / above a row tile, k below, at and
# above the VEC lanes (the vector loop and its remainder), odd sizes, k = 1.
DOT_SHAPES = [(1, 1, 1), (DOT_ROWS - 1, 7, 3), (DOT_ROWS, VEC, COLS), (7, 33, COLS + 1),
              (23, 50, 10), (64, 1, 17), (101, 785, 10), (5, 2 * VEC + 1, MAX_COLS),
              (30, 3, 2 * COLS - 1)]
# A's columns contiguous (x.T @ g): at least LANES rows.
OUTER_SHAPES = [(LANES, 1, 1), (LANES + 1, 7, 3), (2 * LANES - 5, 33, COLS), (784, 600, 10),
                (97, 20, MAX_COLS), (LANES, 13, COLS + 2)]


@pytest.mark.parametrize("m, k, n", DOT_SHAPES)
@pytest.mark.parametrize("a_layout, b_layout", [("C", "C"), ("C", "T"), ("S", "S")])
def test_rows_of_a_contiguous(m, k, n, a_layout, b_layout):
    a, b = _matrix(m, k, a_layout), _matrix(k, n, b_layout)
    c = np.full((m, n), np.nan, np.float32)  # overwritten, NaN must not leak
    assert fits(a, b, c)
    skinny_into(1.0, a, b, False, c, 1)
    _close(c, _reference(a, b), k)


@pytest.mark.parametrize("m, k, n", OUTER_SHAPES)
@pytest.mark.parametrize("b_layout", ["C", "T", "S"])
def test_columns_of_a_contiguous(m, k, n, b_layout):
    a, b = _matrix(m, k, "T"), _matrix(k, n, b_layout)
    c = np.full((m, n), np.nan, np.float32)
    assert fits(a, b, c)
    skinny_into(1.0, a, b, False, c, 1)
    _close(c, _reference(a, b), k)


@pytest.mark.parametrize("layout, shape", [("C", (23, 50, 10)), ("T", (97, 20, 13))])
def test_accumulate_scales_the_product(layout, shape):
    m, k, n = shape
    a, b = _matrix(m, k, layout), _matrix(k, n, "C")
    c0 = _matrix(m, n, "C")
    c = c0.copy()
    skinny_into(-0.25, a, b, True, c, 1)
    _close(c, c0 - 0.25 * _reference(a, b), k)


def test_other_operands_are_left_to_other_kernels():
    a, b = _matrix(20, 30, "C"), _matrix(30, MAX_COLS, "C")
    assert fits(a, b, np.empty((20, MAX_COLS), np.float32))
    assert not fits(a, _matrix(30, MAX_COLS + 1, "C"), np.empty((20, MAX_COLS + 1), np.float32))
    both_strided = _matrix(20, 60, "C")[:, ::2]
    assert not fits(both_strided, b, np.empty((20, MAX_COLS), np.float32))
    assert not fits(_matrix(LANES - 1, 30, "T"), b, np.empty((LANES - 1, MAX_COLS), np.float32))
    assert fits(_matrix(LANES, 30, "T"), b, np.empty((LANES, MAX_COLS), np.float32))
    assert not fits(a, b[::-1], np.empty((20, MAX_COLS), np.float32))  # negative stride
    assert not fits(a, b, np.empty((MAX_COLS, 20), np.float32).T)  # columns of c strided
    assert not fits(a[:, :0], b[:0], np.empty((20, MAX_COLS), np.float32))  # k = 0


@pytest.mark.parametrize("accumulate", [False, True])
def test_threads_give_bit_identical_results(accumulate):
    # logistic regression's shapes: x @ W and the update W += alpha x.T @ g
    x, w, g = _matrix(600, 784, "C"), _matrix(784, 10, "C"), _matrix(600, 10, "C")
    assert 600 * 784 * 10 >= PARALLEL_MIN_FMAS
    for a, b, shape in [(x, w, (600, 10)), (x.T, g, (784, 10))]:
        results = []
        for n_threads in (1, 2, 3, 1):
            c = np.ones(shape, np.float32)
            skinny_into(0.5, a, b, accumulate, c, n_threads)
            results.append(c)
        for c in results[1:]:
            np.testing.assert_array_equal(c, results[0])
        _close(results[0], accumulate + 0.5 * _reference(a, b), 784)


def test_chosen_for_the_shapes_where_it_beats_blas():
    def chosen(m, k, n, layout):
        return faster_than_blas(_matrix(m, k, layout), _matrix(k, n, "C"),
                                np.empty((m, n), np.float32))

    assert chosen(600, 784, 10, "C") and chosen(784, 600, 10, "T")  # logistic regression
    assert chosen(500, 20, 10, "T") and not chosen(20, 500, 10, "C")  # the mlp's output layer
    assert not chosen(600, 784, 1, "C") and not chosen(784, 600, 1, "T")  # a vector: BLAS
    assert not chosen(600, 784, 20, "C") and chosen(784, 600, 20, "T")
    assert not chosen(784, 20, 20, "T") and not chosen(784, 600, MAX_COLS + 1, "T")


@pytest.mark.parametrize("layout, shape", [("C", (130, 700, 10)), ("T", (130, 70, 10))])
@pytest.mark.parametrize("alpha, beta", [(1.0, 0.0), (1.0, 1.0), (-0.13, 1.0), (2.0, 0.5),
                                         (0.5, -3.0)])
def test_make_gemm_routes_few_columns_here(layout, shape, alpha, beta):
    m, k, n = shape
    a, b = _matrix(m, k, layout), _matrix(k, n, "C")
    assert faster_than_blas(a, b, np.empty((m, n), np.float32))
    gemm = blas.make_gemm("float32")
    c0 = _matrix(m, n, "C")
    c = c0.copy() if beta != 0 else np.full((m, n), np.nan, np.float32)
    gemm(np.float32(alpha), a, b, np.float32(beta), c, 2)
    _close(c, beta * c0.astype(np.float64) + alpha * _reference(a, b), k)
