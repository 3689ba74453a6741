"""The names of a run directory's files, its creation and its lock."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from tgraph.errors import ConfigError
from tgraph.runfiles import (
    LOCK,
    RunFiles,
    lock_run,
    make_run_directory,
    run_model_file,
)


def test_the_names_of_a_run_directory(tmp_path):
    files = RunFiles(tmp_path)
    names = {os.path.basename(p) for p in (files.model, files.best, files.last, files.csv_log,
                                           files.json_log, files.metrics, files.spec_json,
                                           files.lock)}
    assert names == {"model.tgraph", "best.tgraph", "last.tgraph", "log.csv", "log.jsonl",
                     "metrics.json", "spec.json", ".lock"}
    assert all(os.path.dirname(p) == str(tmp_path) for p in (files.model, files.lock))
    assert files.spec_copy("/somewhere/specs/mlp.py") == str(tmp_path / "spec_mlp.py")


def test_spec_copies_and_model_files_present(tmp_path):
    files = RunFiles(tmp_path)
    assert files.spec_copies() == [] and files.existing_models() == []
    for name in ("spec_b.py", "spec_a.py", "spec.json", "last.tgraph", "best.tgraph"):
        (tmp_path / name).write_text("")
    assert files.spec_copies() == [str(tmp_path / "spec_a.py"), str(tmp_path / "spec_b.py")]
    assert files.existing_models() == ["best.tgraph", "last.tgraph"]


def test_a_run_directory_means_its_best_model_file(tmp_path):
    assert run_model_file(str(tmp_path)) == str(tmp_path)  # nothing inside: left as given
    (tmp_path / "last.tgraph").write_text("")
    assert run_model_file(str(tmp_path)) == str(tmp_path / "last.tgraph")
    (tmp_path / "model.tgraph").write_text("")
    assert run_model_file(str(tmp_path)) == str(tmp_path / "model.tgraph")
    assert run_model_file("x.tgraph") == "x.tgraph"


def test_a_run_directory_below_a_regular_file_is_a_clear_error(tmp_path):
    (tmp_path / "notes.txt").write_text("")
    target = tmp_path / "notes.txt" / "run" / "deeper"
    with pytest.raises(ConfigError) as err:
        make_run_directory(str(target))
    assert str(err.value) == (f"--out {target}: {tmp_path / 'notes.txt'} is a file, not a "
                              "directory; choose another --out")
    with pytest.raises(ConfigError) as err:
        make_run_directory(str(tmp_path / "notes.txt"), "--resume")
    assert str(err.value) == (f"--resume {tmp_path / 'notes.txt'}: {tmp_path / 'notes.txt'} is "
                              "a file, not a directory; choose another --resume")


def test_a_second_lock_is_refused_with_the_holders_pid(tmp_path):
    with lock_run(tmp_path) as lock:
        assert lock.held
        assert (tmp_path / LOCK).read_text() == f"{os.getpid()}\n"
        with pytest.raises(ConfigError) as err:
            lock_run(tmp_path)  # a second open file: flock refuses it even in this process
        assert str(err.value) == (
            f"{tmp_path}: the run directory is in use by process {os.getpid()} (it holds "
            ".lock); wait for it to end or stop it, or choose another --out")
    assert not lock.held
    with lock_run(tmp_path):  # released: free again
        pass


HOLDER = textwrap.dedent("""
    import sys, time
    from tgraph.runfiles import lock_run
    lock = lock_run(sys.argv[1])
    print("locked", flush=True)
    time.sleep(600)
""")


def test_the_lock_dies_with_a_killed_process(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "locked\n"
        with pytest.raises(ConfigError, match=rf"in use by process {holder.pid} "):
            lock_run(tmp_path)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=60)
        holder.stdout.close()
    with lock_run(tmp_path) as lock:  # no stale lock: the OS released it with the process
        assert (tmp_path / LOCK).read_text() == f"{os.getpid()}\n" and lock.held
