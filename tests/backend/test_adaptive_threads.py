"""Numba's thread count follows the cores the other processes leave, inside the compiled
calls of a model only: decided from the measured load, restored after each outermost
scope, per Python thread, and never above the configured count."""

import threading

import numba
import pytest

from support.compiled_calls import seen_in_compiled_calls

from tgraph.backend import threads
from tgraph.backend.threads import adaptive, one_pool, threads_for

MAX = numba.config.NUMBA_NUM_THREADS
needs_two = pytest.mark.skipif(MAX < 2, reason="needs NUMBA_NUM_THREADS >= 2")


@pytest.mark.parametrize("others, cores, maximum, expected", [
    (0.0, 2, 2, 2), (0.05, 2, 2, 2), (0.4, 2, 2, 2),  # idle, daemons: all cores
    (0.67, 2, 2, 1),  # one busy loop beside our 2 threads on 2 cores
    (1.0, 2, 2, 1), (2.5, 2, 2, 1),  # at least one thread, always
    (1.0, 8, 4, 4), (5.2, 8, 8, 3),  # never above the configured count
])
def test_threads_for(others, cores, maximum, expected):
    assert threads_for(others, cores, maximum) == expected


class FakeLoad:
    cpus = frozenset(range(MAX))

    def __init__(self, others):
        self.value, self.calls = others, 0

    def elapsed(self):
        return float("inf")

    def others(self):
        self.calls += 1
        return self.value


@pytest.fixture
def load(monkeypatch):
    fake = FakeLoad(MAX - 1.0)  # every core but one in use by others
    monkeypatch.setattr(adaptive, "_load", fake)
    monkeypatch.setattr(adaptive, "count", None)
    monkeypatch.setattr(adaptive, "enabled", True)
    yield fake
    assert numba.get_num_threads() == MAX


@needs_two
def test_scope_runs_on_the_free_cores_and_restores(load):
    with one_pool:
        assert numba.get_num_threads() == 1
        with one_pool:  # an inner scope neither measures nor restores
            assert numba.get_num_threads() == 1
        assert numba.get_num_threads() == 1
    assert load.calls == 1
    assert numba.get_num_threads() == MAX
    load.value = 0.0
    with pytest.raises(ZeroDivisionError):
        with one_pool:
            assert numba.get_num_threads() == MAX
            1 / 0


@needs_two
def test_measured_at_most_every_adapt_seconds(load, monkeypatch):
    monkeypatch.setattr(load, "elapsed", lambda: threads.ADAPT_SECONDS / 2)
    adaptive.count = MAX
    with one_pool:  # too soon: the previous decision holds
        assert numba.get_num_threads() == MAX
    assert load.calls == 0


@needs_two
def test_off_leaves_numba_alone(load, monkeypatch):
    monkeypatch.setattr(adaptive, "enabled", False)
    with one_pool:
        assert numba.get_num_threads() == MAX
    assert load.calls == 0


@needs_two
def test_unknown_load_keeps_the_configured_count(load):
    load.value = None
    with one_pool:
        assert numba.get_num_threads() == MAX


@needs_two
def test_each_python_thread_restores_its_own_count(load):
    numba.set_num_threads(1)  # this thread's own setting, kept after the scope
    seen = []

    def worker():
        with one_pool:
            seen.append(numba.get_num_threads())
        seen.append(numba.get_num_threads())

    try:
        load.value = 0.0
        with one_pool:
            assert numba.get_num_threads() == MAX
            thread = threading.Thread(target=worker)
            thread.start()
            thread.join()
        assert numba.get_num_threads() == 1
    finally:
        numba.set_num_threads(MAX)
    assert seen == [MAX, MAX]


@needs_two
def test_every_compiled_call_of_a_model_runs_on_the_free_cores(load, mnist):
    import tgraph
    from tgraph import layers as L

    model = tgraph.Model([L.Input((784,)), L.Dense(10, activation="softmax")],
                         mode="FAST_COMPILE")
    model.set_train_data(*mnist["train"])
    assert seen_in_compiled_calls(model, mnist, numba.get_num_threads) == [1] * (1 + 1 + 3 + 3)
