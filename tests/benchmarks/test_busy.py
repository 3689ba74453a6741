"""The benchmark's busy machine: the busy-loop processes run while the body runs and are
gone after it, also when it raises or when the benchmark itself is killed; the busy share
is busy / idle samples/s."""

import os
import signal
import subprocess
import sys
import time

import pytest
from support.paths import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))

from busy import busy_loops, busy_summary  # noqa: E402


def _gone(pid):
    """True once ``pid`` has exited (no process, or only its zombie is left)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def _wait_gone(pid, limit_s=30):
    deadline = time.monotonic() + limit_s
    while not _gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return _gone(pid)


def test_busy_loops_run_in_the_body_and_are_killed_when_it_raises():
    with pytest.raises(RuntimeError, match="the body failed"):
        with busy_loops(2) as procs:
            pids = [p.pid for p in procs]
            assert len(set(pids)) == 2
            assert all(p.poll() is None for p in procs)  # running while the body runs
            assert all(not _gone(pid) for pid in pids)
            raise RuntimeError("the body failed")
    assert all(p.returncode == -signal.SIGKILL for p in procs)
    assert all(_gone(pid) for pid in pids)


def test_busy_loops_are_killed_after_a_normal_exit_and_zero_starts_none():
    with busy_loops(1) as procs:
        pid = procs[0].pid
    assert procs[0].returncode is not None and _gone(pid)
    with busy_loops(0) as none:
        assert none == []
    with pytest.raises(ValueError, match=r"`count` \(=-1\) must be >= 0"):
        with busy_loops(-1):
            pass


def test_a_busy_loop_ends_itself_when_the_benchmark_is_killed():
    """SIGKILL runs no ``finally``: the loop notices that its parent is gone."""
    code = ("import os, signal, sys; sys.path.insert(0, sys.argv[1]); "
            "from busy import busy_loops; procs = busy_loops(1).__enter__(); "
            "print(procs[0].pid, flush=True); os.kill(os.getpid(), signal.SIGKILL)")
    out = subprocess.run([sys.executable, "-c", code, str(ROOT / "benchmarks")],
                         stdout=subprocess.PIPE, text=True)
    assert out.returncode == -signal.SIGKILL
    pid = int(out.stdout)
    if not _wait_gone(pid):
        os.kill(pid, signal.SIGKILL)
        pytest.fail(f"the orphaned busy loop {pid} was still running after 30 s")


def test_busy_share_is_busy_over_idle_median_samples_per_s():
    # (seconds, steps, minor page faults) per round; batch size 10
    idle = {"tgraph": [(1.0, 100, 0), (2.0, 100, 0), (1.0, 120, 0)],  # 1000, 500, 1200 /s
            "torch": [(1.0, 40, 0)]}  # 400 /s
    busy = {"tgraph": [(1.0, 50, 0), (1.0, 40, 0)],  # 500, 400 /s: median 450
            "torch": [(2.0, 30, 0)]}  # 150 /s
    result = busy_summary(idle, busy, 10, 1)
    assert result == {"busy_processes": 1, "busy_samples_per_s": 450.0,
                      "busy_share": 450.0 / 1000.0,
                      "peers_busy_samples_per_s": {"torch": 150.0},
                      "peers_busy_share": {"torch": 150.0 / 400.0}}
