"""The other processes' load, from the kernel's per-CPU counters: what is counted (busy
columns of the watched CPUs, less this process's own time) and what is not."""

import subprocess
import sys
import time

import pytest

from tgraph.backend.cpuload import CpuLoad, process_cpus

HEADER = "cpu  1 1 1 1 1 1 1 1 0 0\n"


def _stat(path, rows):
    """Write a /proc/stat with one line per CPU: (user, nice, system, idle, iowait, irq,
    softirq, steal) ticks."""
    lines = [HEADER] + [f"cpu{i} " + " ".join(str(round(t)) for t in r) + " 0 0\n" for i, r in enumerate(rows)]
    path.write_text("".join(lines) + "intr 1 2 3\nctxt 5\n")


class Fake:
    def __init__(self):
        self.now, self.own = 0.0, 0.0


@pytest.fixture
def fake(tmp_path):
    fake = Fake()
    fake.path = tmp_path / "stat"
    fake.load = lambda cpus, niced=True: CpuLoad(cpus, stat_path=fake.path,
                                                 clock=lambda: fake.now,
                                                 own_seconds=lambda: fake.own, niced=niced)
    return fake


def test_others_are_the_busy_ticks_less_our_own_time(fake):
    tick = CpuLoad()._tick
    _stat(fake.path, [(0, 0, 0, 0, 0, 0, 0, 0)] * 2)
    load = fake.load([0, 1])
    assert load.others() is None  # nothing to compare with yet
    # 2 s later: CPU 0 busy 2 s (user 1.5, system 0.4, softirq 0.1), CPU 1 busy 1 s
    # (nice 0.5, irq 0.5), iowait and steal not busy; this process ran 1.5 s of that
    fake.now, fake.own = 2.0, 1.5
    _stat(fake.path, [(1.5 * tick, 0, 0.4 * tick, 0, 0, 0, 0.1 * tick, 0),
                      (0, 0.5 * tick, 0, 0.5 * tick, 0.3 * tick, 0.5 * tick, 0, 0.7 * tick)])
    assert load.others() == pytest.approx((3.0 - 1.5) / 2.0)
    assert load.elapsed() == 0.0


def test_niced_processes_count_only_for_a_niced_process(fake):
    # a background job under `nice` gets a small share of a core that tgraph's thread
    # wants: a process at normal priority keeps its threads beside it
    tick = CpuLoad()._tick
    _stat(fake.path, [(0,) * 8] * 2)
    loads = {niced: fake.load([0, 1], niced=niced) for niced in (False, True)}
    for load in loads.values():
        load.others()
    fake.now = 1.0  # CPU 0: 0.25 s user, CPU 1: 1 s nice
    _stat(fake.path, [(0.25 * tick,) + (0,) * 7, (0, tick) + (0,) * 6])
    assert loads[False].others() == pytest.approx(0.25)
    assert loads[True].others() == pytest.approx(1.25)


def test_the_default_follows_this_process_priority():
    import os

    assert CpuLoad().niced == (os.getpriority(os.PRIO_PROCESS, 0) > 0)


def test_only_the_watched_cpus_count(fake):
    tick = CpuLoad()._tick
    _stat(fake.path, [(0,) * 8] * 3)
    load = fake.load([1])
    load.others()
    fake.now = 1.0
    _stat(fake.path, [(tick,) + (0,) * 7, (0.25 * tick,) + (0,) * 7, (tick,) + (0,) * 7])
    assert load.others() == pytest.approx(0.25)


def test_own_time_above_the_counters_is_no_negative_load(fake):
    _stat(fake.path, [(0,) * 8])
    load = fake.load([0])
    load.others()
    fake.now, fake.own = 1.0, 0.5  # the counters' ticks lag the process's own clock
    assert load.others() == 0.0


def test_unknown_without_the_counters(tmp_path):
    load = CpuLoad([0], stat_path=tmp_path / "missing")
    assert load.others() is None
    assert load.others() is None
    assert load.elapsed() < 1.0


def test_process_cpus_are_the_affinity_mask():
    cpus = process_cpus()
    assert cpus == sorted(set(cpus)) and len(cpus) >= 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads Linux's /proc/stat")
def test_a_busy_loop_is_seen():
    load = CpuLoad()
    loop = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)  # the interpreter started
        load.others()
        time.sleep(1.0)  # this process sleeps: the load is the loop's (and others')
        assert load.others() >= 0.5
    finally:
        loop.kill()
        loop.wait()
