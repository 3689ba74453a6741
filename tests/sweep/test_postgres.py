"""Workers on one study in a real PostgreSQL server: shared, killed, resumed.

A throwaway cluster of Debian's PostgreSQL server runs on 127.0.0.1 for this module
(see ``support/postgres.py``); without the server binaries the tests are skipped.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from support.postgres import MISSING, server_binaries, throwaway_cluster
from support.research import tiny_npz, tiny_spec

optuna = pytest.importorskip("optuna")
pytest.importorskip("psycopg")

TRIALS = 6


@pytest.fixture(scope="module")
def postgres_url():
    bindir = server_binaries()
    if bindir is None and os.environ.get("CI") == "true":
        pytest.fail(f"{MISSING} (.ci/run installs it)")
    if bindir is None:
        pytest.skip(MISSING)
    with throwaway_cluster(bindir) as url:
        yield url


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("pgsweep")
    return tiny_spec(root / "tiny.py"), tiny_npz(root / "tiny.npz", n_train=400, n_test=100)


def worker(files, url, study, out):
    spec, npz = files
    cmd = [sys.executable, "-m", "tgraph.cli", "sweep", str(spec),
           "--param", "model.1.units=int(4,32)", "--trials", str(TRIALS), "--storage", url,
           "--study", study, "--out", str(out), "--data", str(npz), "--epochs", "2",
           "--heartbeat", "1", "--pruner", "none"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(process, timeout=240):
    output, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, output
    return output


def label(process):
    return f"{socket.gethostname()}:{process.pid}"


def trials_of(url, study):
    try:
        return optuna.load_study(study_name=study, storage=url).get_trials(deepcopy=False)
    except KeyError:  # the workers have not created the study yet
        return []


def check_finished(trials):
    """6 (at most 7) finished, each with its own run directory holding its result."""
    finished = [t for t in trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert TRIALS <= len(finished) <= TRIALS + 1
    run_dirs = [t.user_attrs["run_dir"] for t in finished]
    assert len(set(run_dirs)) == len(run_dirs)
    for trial in finished:
        with open(os.path.join(trial.user_attrs["run_dir"], "metrics.json")) as f:
            assert json.load(f)["best_valid_error"] == trial.value
    assert not [t for t in trials if t.state.name == "RUNNING"]
    return finished


def test_two_workers_share_one_study(files, postgres_url, tmp_path):
    a = worker(files, postgres_url, "shared", tmp_path / "a")
    b = worker(files, postgres_url, "shared", tmp_path / "b")
    out_a, out_b = finish(a), finish(b)
    finished = check_finished(trials_of(postgres_url, "shared"))
    workers = {t.user_attrs["worker"] for t in finished}
    assert workers == {label(a), label(b)}, (out_a, out_b)
    assert "study shared:" in out_a and "study shared:" in out_b


def wait_for(condition, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_a_killed_worker_trial_is_retried_and_counted_once(files, postgres_url, tmp_path):
    # A dies in its first trial while it is the only worker; the other workers start once
    # its heartbeat is stale (grace period 3 s with --heartbeat 1), so that the first of
    # them fails the dead trial and its retry is queued while the study still needs trials
    # (had they started at once, fast trials could finish the study before it went stale).
    a = worker(files, postgres_url, "killed", tmp_path / "a")

    def running_trial_of_a():
        # a trial that has its parameters: the worker label is set before they are drawn
        mine = [t for t in trials_of(postgres_url, "killed") if t.state.name == "RUNNING"
                and t.user_attrs.get("worker") == label(a) and t.params]
        return mine[0] if mine else None

    victim = wait_for(running_trial_of_a)
    a.send_signal(signal.SIGKILL)
    a.communicate()
    victim = trials_of(postgres_url, "killed")[victim.number]  # as it was when A died
    time.sleep(4)
    b = worker(files, postgres_url, "killed", tmp_path / "b")
    resumed = worker(files, postgres_url, "killed", tmp_path / "a")  # the same command again
    finish(b), finish(resumed)
    trials = trials_of(postgres_url, "killed")
    finished = check_finished(trials)
    assert trials[victim.number].state.name == "FAIL"
    retries = [t for t in trials if t.system_attrs.get("failed_trial") == victim.number]
    assert len(retries) == 1 and retries[0] in finished
    assert retries[0].params == victim.params
    assert victim.number not in [t.number for t in finished]
