"""The Numba BLAS ops behind tgraph's default mode: values for every layout, fused updates."""

import warnings

import numba
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.tensor.blas import Gemm

from tgraph.backend import get_mode

MODE = get_mode("NUMBA")
RNG = np.random.default_rng(0)


def _compile(inputs, outputs, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # an object-mode fallback is a failure
        return pytensor.function(inputs, outputs, mode=MODE, **kwargs)


@pytest.mark.parametrize("dtype, size", [("float32", 7), ("float64", 7), ("float32", 70)],
                         ids=["float32-blas", "float64-blas", "float32-tiled"])
def test_dot_in_every_layout(dtype, size):
    a, b = pt.matrix("a", dtype=dtype), pt.matrix("b", dtype=dtype)
    f = _compile([a, b], [pt.dot(a, b), pt.dot(a.T, b), pt.dot(a, b.T), pt.dot(a.T, b.T)])
    av = RNG.normal(size=(size, size)).astype(dtype)
    bv = RNG.normal(size=(size, size)).astype(dtype)
    got = f(av, bv)
    want = [av @ bv, av.T @ bv, av @ bv.T, av.T @ bv.T]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5 if dtype == "float32" else 1e-12,
                                   atol=1e-5 * size if dtype == "float32" else 0)


def test_rectangular_and_strided_operands():
    a, b = pt.matrix("a"), pt.matrix("b")
    f = _compile([a, b], pt.dot(a[:, ::2], b))
    av, bv = RNG.normal(size=(5, 12)), RNG.normal(size=(6, 3))
    np.testing.assert_allclose(f(av, bv), av[:, ::2] @ bv, rtol=1e-12)


def test_sgd_step_with_weight_decay_becomes_one_inplace_gemm():
    w0 = RNG.normal(size=(30, 20)).astype(np.float32)
    w = pytensor.shared(w0.copy(), name="w")
    x, d = pt.matrix("x", dtype="float32"), pt.matrix("d", dtype="float32")
    lr = pytensor.shared(np.float32(0.1), name="lr")
    f = _compile([x, d], [], updates=[(w, w - lr * (pt.dot(x.T, d) + np.float32(0.01) * w))])
    gemms = [n for n in f.maker.fgraph.apply_nodes if isinstance(n.op, Gemm)]
    assert len(gemms) == 1 and gemms[0].op.inplace
    xv, dv = RNG.normal(size=(8, 30)).astype(np.float32), RNG.normal(size=(8, 20)).astype(np.float32)
    f(xv, dv)
    np.testing.assert_allclose(w.get_value(), w0 - 0.1 * (xv.T @ dv + 0.01 * w0), rtol=1e-5,
                               atol=1e-6)


def test_gemv_and_ger():
    m, v, u = pt.matrix("m"), pt.vector("v"), pt.vector("u")
    f = _compile([m, v, u], [pt.dot(m, v) * 2.0 + u, m + 0.5 * pt.outer(u, v)])
    mv, vv, uv = RNG.normal(size=(4, 3)), RNG.normal(size=3), RNG.normal(size=4)
    gv, ger = f(mv, vv, uv)
    np.testing.assert_allclose(gv, 2 * mv @ vv + uv, rtol=1e-12)
    np.testing.assert_allclose(ger, mv + 0.5 * np.outer(uv, vv), rtol=1e-12)


def test_empty_inner_dimension():
    a, b = pt.matrix("a"), pt.matrix("b")
    f = _compile([a, b], pt.dot(a, b))
    np.testing.assert_array_equal(f(np.zeros((3, 0)), np.zeros((0, 2))), np.zeros((3, 2)))


def _products(fn):
    from pytensor.tensor.blas import Dot22, Dot22Scalar

    return [n for n in fn.maker.fgraph.apply_nodes
            if isinstance(n.op, (Dot22, Dot22Scalar, Gemm))]


def test_product_read_twice_is_computed_once():
    # RMSprop reads the weight gradient as lr * g and as g ** 2: PyTensor's own rewrite
    # makes that a Dot22Scalar plus a Dot22 (the product twice); tgraph's mode must not.
    w = pytensor.shared(RNG.normal(size=(30, 20)).astype(np.float32), name="w")
    acc = pytensor.shared(np.zeros((30, 20), np.float32), name="acc")
    x, d = pt.matrix("x", dtype="float32"), pt.matrix("d", dtype="float32")
    g = pt.dot(x.T, d)
    acc_new = np.float32(0.9) * acc + np.float32(0.1) * pt.sqr(g)
    f = _compile([x, d], [], updates=[(acc, acc_new),
                                      (w, w - np.float32(0.01) * g / pt.sqrt(acc_new + np.float32(1e-6)))])
    assert len(_products(f)) == 1
    xv, dv = RNG.normal(size=(8, 30)).astype(np.float32), RNG.normal(size=(8, 20)).astype(np.float32)
    w0 = w.get_value()
    f(xv, dv)
    gv = xv.T @ dv
    np.testing.assert_allclose(acc.get_value(), 0.1 * gv ** 2, rtol=1e-5)
    np.testing.assert_allclose(w.get_value(), w0 - 0.01 * gv / np.sqrt(0.1 * gv ** 2 + 1e-6),
                               rtol=1e-4, atol=1e-6)


def test_product_read_once_still_becomes_dot22scalar():
    from pytensor.tensor.blas import Dot22Scalar

    x, d = pt.matrix("x", dtype="float32"), pt.matrix("d", dtype="float32")
    f = _compile([x, d], np.float32(3.0) * pt.dot(x, d))
    assert [type(n.op) for n in _products(f)] == [Dot22Scalar]
    xv, dv = RNG.normal(size=(4, 5)).astype(np.float32), RNG.normal(size=(5, 6)).astype(np.float32)
    np.testing.assert_allclose(f(xv, dv), 3 * xv @ dv, rtol=1e-5)


@pytest.mark.parametrize("beta", [0.0, 1.0, 0.75])
def test_gemm_beta_matches_blas_beta(beta):
    # tgraph scales z itself for beta not in (0, 1); the result must equal BLAS's own beta
    # (exactly for 0 and 1; for other betas to a few float32 ulps, since whether BLAS fuses
    # beta * z into the product's multiply-adds depends on its CPU kernel).
    from pytensor.tensor.blas import gemm_no_inplace
    from scipy.linalg.blas import sgemm

    z0 = RNG.normal(size=(9, 7)).astype(np.float32)
    z0[0, 0] = np.nan if beta == 0 else z0[0, 0]  # beta 0 ignores z, NaN included
    xv, yv = RNG.normal(size=(9, 4)).astype(np.float32), RNG.normal(size=(4, 7)).astype(np.float32)
    z, x, y = (pt.matrix(n, dtype="float32") for n in "zxy")
    a, b = pt.scalar("a", dtype="float32"), pt.scalar("b", dtype="float32")
    f = _compile([z, a, x, y, b], gemm_no_inplace(z, a, x, y, b))
    assert any(isinstance(n.op, Gemm) for n in f.maker.fgraph.apply_nodes)
    want = sgemm(0.5, xv, yv, beta=beta, c=z0.copy()) if beta else 0.5 * (xv @ yv)
    got = f(z0.copy(), np.float32(0.5), xv, yv, np.float32(beta))
    if beta in (0.0, 1.0):
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_array_max_ulp(got, want, maxulp=4)


@pytest.mark.parametrize("beta", [0.0, 1.0, 0.75])
def test_gemm_beta_on_the_tiled_kernel(beta):
    # (23, 70) @ (70, 130): at least 5 x 64 and K > SHORT_K, so tgraph's kernel
    # computes it, not BLAS
    from pytensor.tensor.blas import gemm_no_inplace

    from tgraph.backend.numba.kernels.blas import SHORT_K

    assert 70 > SHORT_K
    z0 = RNG.normal(size=(23, 130)).astype(np.float32)
    z0[0, 0] = np.nan if beta == 0 else z0[0, 0]  # beta 0 ignores z, NaN included
    xv = RNG.normal(size=(70, 23)).astype(np.float32).T  # a transposed view, as x.T
    yv = RNG.normal(size=(70, 130)).astype(np.float32)
    z, x, y = (pt.matrix(n, dtype="float32") for n in "zxy")
    a, b = pt.scalar("a", dtype="float32"), pt.scalar("b", dtype="float32")
    f = _compile([z, a, x, y, b], gemm_no_inplace(z, a, x, y, b))
    got = f(z0.copy(), np.float32(-0.5), xv, yv, np.float32(beta))
    want = -0.5 * (xv.astype(np.float64) @ yv) + (beta * z0 if beta else 0)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_large_blas_products_split_by_rows(dtype):
    # (600, 784) @ (784, 10): too few columns for the tiled kernel; BLAS in row blocks,
    # the same bits from run to run (OpenBLAS rounds rows starting a block differently)
    from tgraph.backend.numba.kernels.blas import make_blas_gemm
    from tgraph.backend.numba.kernels.blas_rows import split_blas_gemm

    x = RNG.normal(size=(600, 784)).astype(dtype)
    w = RNG.normal(size=(784, 10)).astype(dtype)
    for a, b in [(x, w), (x.T, RNG.normal(size=(600, 10)).astype(dtype))]:
        whole = np.zeros((a.shape[0], b.shape[1]), dtype)
        make_blas_gemm(dtype)(1.0, a, b, 0.0, whole)
        for parts in (2, 3):
            runs = [np.full_like(whole, np.nan) for _ in range(2)]
            for c in runs:
                assert split_blas_gemm[dtype](1.0, a, b, 0.0, c, parts)
            np.testing.assert_array_equal(runs[0], runs[1])
            np.testing.assert_allclose(runs[0], whole, rtol=1e-5 if dtype == "float32" else 1e-12,
                                       atol=1e-4 if dtype == "float32" else 1e-10)
    assert not split_blas_gemm[dtype](1.0, x[:20, :20], w[:20], 0.0, whole[:20], 2)  # small


def _gemm_reference(z0, alpha, x, y, beta):
    want = alpha * (x.astype(np.float64) @ y.astype(np.float64))
    return want + beta * z0 if beta else want


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("m, k, n", [(1, 37, 53), (5, 300, 200), (10, 1000, 784), (31, 64, 65),
                                     (7, 401, 130)])
@pytest.mark.parametrize("beta", [0.0, 1.0, 0.75])
def test_few_rows_times_a_transpose_runs_transposed(dtype, m, k, n, beta):
    # h @ W.T (the RBM's visible step) runs as (W @ h.T).T; contiguous and strided h
    # (float32 with 5 to 10 rows and K >= 400: the op runs tests/.../test_dot_rows.py's
    # kernel, BLAS's transposed call is checked directly)
    from pytensor.tensor.blas import gemm_no_inplace

    from tgraph.backend.numba.kernels.blas import _transposed, make_blas_gemm

    w = RNG.normal(size=(n, k)).astype(dtype)
    z, x, y = (pt.matrix(name, dtype=dtype) for name in "zxy")
    a, b = pt.scalar("a", dtype=dtype), pt.scalar("b", dtype=dtype)
    f = _compile([z, a, x, y, b], gemm_no_inplace(z, a, x, y, b))
    tol = ({"rtol": 1e-5, "atol": 1e-5 * np.sqrt(k)} if dtype == "float32"
           else {"rtol": 1e-12, "atol": 1e-13 * k})
    for h in (RNG.normal(size=(m, k)).astype(dtype),
              RNG.normal(size=(m, 2 * k)).astype(dtype)[:, ::2]):
        assert _transposed(h, w.T)
        z0 = RNG.normal(size=(m, n)).astype(dtype)
        z0[0, 0] = np.nan if beta == 0 else z0[0, 0]  # beta 0 ignores z, NaN included
        got = f(z0.copy(), np.dtype(dtype).type(-0.5), h, w.T, np.dtype(dtype).type(beta))
        np.testing.assert_allclose(got, _gemm_reference(z0, -0.5, h, w.T, beta), **tol)
        direct = z0.copy()  # BLAS's own beta, as Dot22 passes it (0)
        make_blas_gemm(dtype)(-0.5, h, w.T, beta, direct)
        np.testing.assert_allclose(direct, _gemm_reference(z0, -0.5, h, w.T, beta), **tol)


def test_only_few_rows_times_a_transpose_run_transposed():
    from tgraph.backend.numba.kernels.blas import (
        TRANSPOSED_MAX_ROWS,
        TRANSPOSED_MIN_K,
        _transposed,
    )

    w = np.zeros((50, 40))
    assert TRANSPOSED_MIN_K <= 40
    assert _transposed(np.zeros((TRANSPOSED_MAX_ROWS, 40)), w.T)
    assert not _transposed(np.zeros((TRANSPOSED_MAX_ROWS + 1, 40)), w.T)
    assert not _transposed(np.zeros((10, 40)), w.T[:, :9])  # more rows than columns
    assert not _transposed(np.zeros((10, 50)), w)  # rows of B contiguous: BLAS as it is
    short = TRANSPOSED_MIN_K - 1  # the copy back costs more than it saves
    assert not _transposed(np.zeros((10, short)), w[:, :short].T)


@pytest.mark.parametrize("k", [1, 10, 64])
def test_short_inner_dimension_runs_on_blas(k):
    # a weight update W += alpha x.T @ delta of a small minibatch: OpenBLAS beats the
    # tiled kernel there, so the product must be BLAS's, to the bit
    from tgraph.backend.numba.kernels.blas import SHORT_K, gemm_kernel, make_blas_gemm
    from tgraph.backend.numba.kernels.gemm import fits

    assert k <= SHORT_K
    x = RNG.normal(size=(k, 97)).astype(np.float32)
    delta = RNG.normal(size=(k, 130)).astype(np.float32)
    w0 = RNG.normal(size=(97, 130)).astype(np.float32)
    assert fits(x.T, delta, w0)  # the tiled kernel could, but does not
    gemm, _ = gemm_kernel("float32")
    got, blas = w0.copy(), w0.copy()

    @numba.njit
    def run(c):
        gemm(np.float32(-0.1), x.T, delta, np.float32(1), c, 1)

    run(got)
    make_blas_gemm("float32")(np.float32(-0.1), x.T, delta, np.float32(1), blas)
    np.testing.assert_array_equal(got, blas)
    np.testing.assert_allclose(got, w0 - 0.1 * (x.T.astype(np.float64) @ delta), rtol=1e-5,
                               atol=1e-5)


def _gemms(fn):
    return [n for n in fn.maker.fgraph.apply_nodes if isinstance(n.op, Gemm)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_two_products_with_one_rate_update_the_weights_in_one_gemm(dtype):
    # the RBM's CD update lr * (v0.T @ h0 - v1.T @ h1): one pass over W, rank 2 x batch
    w0 = RNG.normal(size=(31, 67)).astype(dtype)
    w = pytensor.shared(w0.copy(), name="w")
    v0, v1 = pt.matrix("v0", dtype=dtype), pt.matrix("v1", dtype=dtype)
    h0, h1 = pt.matrix("h0", dtype=dtype), pt.matrix("h1", dtype=dtype)
    lr = pytensor.shared(np.dtype(dtype).type(0.1), name="lr")
    f = _compile([v0, h0, v1, h1], [],
                 updates=[(w, w - lr * (pt.dot(v0.T, h0) - pt.dot(v1.T, h1)))])
    assert len(_gemms(f)) == 1
    vals = [RNG.normal(size=shape).astype(dtype) for shape in [(7, 31), (7, 67)] * 2]
    f(*vals)
    v0v, h0v, v1v, h1v = (x.astype(np.float64) for x in vals)
    np.testing.assert_allclose(w.get_value(), w0 - 0.1 * (v0v.T @ h0v - v1v.T @ h1v),
                               rtol=1e-5 if dtype == "float32" else 1e-12, atol=1e-5)


def test_products_of_any_layout_merge():
    # x1 a strided transpose, x2 not a transpose: [x1 x2] joined along columns
    w0 = RNG.normal(size=(20, 70)).astype(np.float32)
    w = pytensor.shared(w0.copy(), name="w")
    x1, x2, y1, y2 = (pt.matrix(n, dtype="float32") for n in ("x1", "x2", "y1", "y2"))
    lr = pytensor.shared(np.float32(0.5), name="lr")
    f = _compile([x1, x2, y1, y2], [],
                 updates=[(w, w - lr * (pt.dot(x1[:, ::2].T, y1) - pt.dot(x2, y2)))])
    assert len(_gemms(f)) == 1
    x1v, x2v = RNG.normal(size=(3, 40)).astype(np.float32), RNG.normal(size=(20, 5)).astype(np.float32)
    y1v, y2v = RNG.normal(size=(3, 70)).astype(np.float32), RNG.normal(size=(5, 70)).astype(np.float32)
    f(x1v, x2v, y1v, y2v)
    want = w0 - 0.5 * (x1v[:, ::2].T.astype(np.float64) @ y1v - x2v.astype(np.float64) @ y2v)
    np.testing.assert_allclose(w.get_value(), want, rtol=1e-5, atol=1e-5)


def test_products_with_different_rates_or_a_reader_between_stay_apart():
    from pytensor.tensor.basic import Join

    w0 = RNG.normal(size=(30, 20)).astype(np.float32)
    x, d = pt.matrix("x", dtype="float32"), pt.matrix("d", dtype="float32")
    lr1, lr2 = (pytensor.shared(np.float32(v), name=f"lr{i}") for i, v in enumerate([0.1, 0.2]))
    w = pytensor.shared(w0.copy(), name="w")
    f = _compile([x, d], [], updates=[(w, w - lr1 * pt.dot(x.T, d) - lr2 * pt.dot(x.T, d ** 2))])
    assert len(_gemms(f)) == 2
    xv, dv = RNG.normal(size=(8, 30)).astype(np.float32), RNG.normal(size=(8, 20)).astype(np.float32)
    f(xv, dv)
    np.testing.assert_allclose(w.get_value(), w0 - 0.1 * xv.T @ dv - 0.2 * xv.T @ dv ** 2,
                               rtol=1e-5, atol=1e-5)
    w2 = pytensor.shared(w0.copy(), name="w2")
    half = w2 - np.float32(0.1) * pt.dot(x.T, d)  # read by the output too
    f2 = _compile([x, d], half.sum(), updates=[(w2, half - np.float32(0.1) * pt.dot(x.T, d * 2))])
    assert not any(isinstance(n.op, Join) for n in f2.maker.fgraph.apply_nodes)
    total = f2(xv, dv)
    np.testing.assert_allclose(total, (w0 - 0.1 * xv.T @ dv).sum(), rtol=1e-4)
    np.testing.assert_allclose(w2.get_value(), w0 - 0.1 * xv.T @ dv - 0.2 * xv.T @ dv,
                               rtol=1e-5, atol=1e-5)
