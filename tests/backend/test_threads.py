"""The threading policy: BLAS on one thread while a model's compiled code runs, the
user's setting restored after, and every compiled call of a Model inside the scope."""

import os
import subprocess
import sys
import threading

import pytest
from support.compiled_calls import seen_in_compiled_calls

import tgraph
from tgraph import layers as L
from tgraph.backend.threads import (
    SPIN_COUNT,
    blas_threads,
    one_pool,
    set_blas_threads,
    short_spins,
)

pytestmark = pytest.mark.skipif(blas_threads() is None,
                                reason="Numba's BLAS is not OpenBLAS: nothing to limit")


@pytest.fixture
def two_blas_threads():
    before = blas_threads()
    set_blas_threads(2)
    yield
    set_blas_threads(before)


def test_scope_limits_blas_and_restores(two_blas_threads):
    with one_pool:
        assert blas_threads() == 1
        with one_pool:  # re-entrant
            assert blas_threads() == 1
        assert blas_threads() == 1
    assert blas_threads() == 2
    with pytest.raises(ZeroDivisionError):
        with one_pool:
            1 / 0
    assert blas_threads() == 2


def test_scopes_of_two_threads_restore_once_both_end(two_blas_threads):
    inside, release = threading.Event(), threading.Event()

    def worker():
        with one_pool:
            inside.set()
            release.wait(10)

    thread = threading.Thread(target=worker)
    thread.start()
    inside.wait(10)
    with one_pool:
        pass
    assert blas_threads() == 1  # the worker's scope is still open
    release.set()
    thread.join()
    assert blas_threads() == 2


@pytest.fixture(scope="module")
def model(mnist):
    model = tgraph.Model([L.Input((784,)), L.Dense(10, activation="softmax")],
                         mode="FAST_COMPILE")
    model.set_train_data(*mnist["train"])
    return model


def test_every_compiled_call_of_a_model_runs_in_the_scope(model, mnist, two_blas_threads):
    assert seen_in_compiled_calls(model, mnist, blas_threads) == [1] * (1 + 1 + 3 + 3)
    assert blas_threads() == 2


def test_short_spins_keeps_the_users_setting():
    env = {}
    short_spins(env)
    assert env == {"GOMP_SPINCOUNT": SPIN_COUNT}
    env = {"GOMP_SPINCOUNT": "50000"}
    short_spins(env)
    assert env == {"GOMP_SPINCOUNT": "50000"}
    env = {"OMP_WAIT_POLICY": "active"}  # the user's policy sets libgomp's spin count
    short_spins(env)
    assert env == {"OMP_WAIT_POLICY": "active"}


def test_the_backend_sets_the_spin_count_before_libgomp_loads():
    code = ("import os, tgraph.backend.numba, numba\n"
            "from numba import njit, prange\n"
            "@njit(parallel=True)\n"
            "def f(n):\n"
            "    s = 0\n"
            "    for i in prange(n):\n"
            "        s += i\n"
            "    return s\n"
            "f(10)\n"
            "print(os.environ.get('GOMP_SPINCOUNT'), numba.threading_layer())\n")
    env = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=300, check=True).stdout.split()
    assert out[0] == SPIN_COUNT
