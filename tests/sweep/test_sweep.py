"""tgraph sweep on SQLite: trials are train runs, the study resumes, pruning stops runs."""

import csv
import json
import os

import pytest
from support.fake_model import ScriptedModel, data
from support.research import png_size, tiny_npz, tiny_spec

from tgraph.cli import main
from tgraph.trainer import Trainer

optuna = pytest.importorskip("optuna")

from tgraph.sweep import OptunaPruning  # noqa: E402


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    return tiny_spec(root / "tiny.py"), tiny_npz(root / "tiny.npz")


def sweep_args(files, out, trials, *extra):
    spec, npz = files
    return ["sweep", str(spec), "--param", "model.1.units=int(4,32)",
            "--param", "optimizer.learning_rate=loguniform(0.01,0.3)", "--trials", str(trials),
            "--data", str(npz), "--epochs", "2", "--out", str(out), *extra]


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_sqlite_sweep_runs_resumes_and_reports(files, tmp_path, capsys):
    out = tmp_path / "study"
    assert main(sweep_args(files, out, 2)) == 0
    printed = capsys.readouterr().out
    rows = read_csv(out / "sweep.csv")
    assert [r["state"] for r in rows] == ["complete"] * 2
    for row in rows:
        metrics = json.loads((out / f"trial-{int(row['number']):04d}" / "metrics.json").read_text())
        # the objective is the run's best validation error, never its test error
        assert float(row["value"]) == metrics["best_valid_error"]
        assert float(row["test_error"]) == metrics["test_error"]
        assert 4 <= int(row["model.1.units"]) <= 32
        assert 0.01 <= float(row["optimizer.learning_rate"]) <= 0.3
        assert metrics["epochs_run"] == 2 == int(row["epochs_run"])
    assert "study tiny: 2 complete; best 2 by validation error:" in printed
    assert "model.1.units  optimizer.learning_rate  best valid  test error" in printed
    assert png_size(out / "sweep_history.png") == (900, 500)
    assert png_size(out / "sweep_params.png") == (900, 450)
    assert os.path.exists(out / "study.db")

    assert main(sweep_args(files, out, 2)) == 0  # the study has its trials: nothing runs
    assert len(read_csv(out / "sweep.csv")) == 2
    assert main(sweep_args(files, out, 3)) == 0  # one more
    assert [r["number"] for r in read_csv(out / "sweep.csv")] == ["0", "1", "2"]

    capsys.readouterr()
    assert main(sweep_args(files, out, 4, "--set", "training.batch_size=50")) == 1
    err = capsys.readouterr().err
    assert "study 'tiny' in sqlite:///" in err and "was started with other settings" in err
    assert "or name a new study with --study" in err
    assert len(read_csv(out / "sweep.csv")) == 3


def test_a_bad_key_is_refused_before_any_trial(files, tmp_path, capsys):
    spec, npz = files
    code = main(["sweep", str(spec), "--param", "model.1.unit=int(4,32)", "--trials", "2",
                 "--out", str(tmp_path / "s")])
    assert code == 1
    assert "has no setting 'model.1.unit'; valid keys: model.0.name" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


def test_an_unreachable_storage_says_so(files, tmp_path, capsys):
    code = main(sweep_args(files, tmp_path / "s", 2, "--storage",
                           "postgresql://me:secret@127.0.0.1:1/none"))
    assert code == 1
    err = capsys.readouterr().err
    assert "--storage postgresql://me:***@127.0.0.1:1/none: cannot reach the database" in err
    assert "secret" not in err


class FakeTrial:
    """Prunes at ``prune_at``; records what was reported."""

    number = 0

    def __init__(self, prune_at):
        self.prune_at, self.reported = prune_at, []

    def report(self, value, step):
        self.reported.append((step, value))

    def should_prune(self):
        return self.reported[-1][0] >= self.prune_at


def test_pruning_reports_every_epoch_and_stops_training():
    trial = FakeTrial(prune_at=3)
    pruning = OptunaPruning(trial)
    trainer = Trainer(ScriptedModel([0.5, 0.4, 0.3, 0.2, 0.1, 0.05]), batch_size=1, max_epochs=6,
                      callbacks=[pruning])
    trainer.fit(data(1))
    assert trial.reported == [(1, 0.5), (2, 0.4), (3, 0.3)]
    assert trainer.epoch == 3 and pruning.pruned_at == 3
    assert trainer.stop_reason.startswith("pruned by the sweep at epoch 3")


def test_hopeless_trials_are_pruned(files, tmp_path):
    """Five good trials (learning rate 0.3), then a hopeless one (0.01): the default
    median pruner stops it at epoch 2 of 3; its run ends early and is saved."""
    out = tmp_path / "study"
    out.mkdir()
    study = optuna.create_study(study_name="tiny", storage=f"sqlite:///{out / 'study.db'}")
    for lr in [0.3] * 5 + [0.01]:
        study.enqueue_trial({"model.1.units": 16, "optimizer.learning_rate": lr})
    assert main(sweep_args(files, out, 6, "--epochs", "3")) == 0
    rows = read_csv(out / "sweep.csv")
    assert [r["state"] for r in rows] == ["complete"] * 5 + ["pruned"]
    assert [int(r["epochs_run"]) for r in rows] == [3] * 5 + [2]
    for row in rows[5:]:
        assert row["stop_reason"].startswith("pruned by the sweep at epoch 2")
        metrics = json.loads((out / f"trial-{int(row['number']):04d}" / "metrics.json").read_text())
        assert metrics["epochs_run"] == 2


def test_an_interrupted_sweep_requeues_its_trial(files, tmp_path):
    """Ctrl-C in a trial: exit 130, the trial failed and its parameters queued; the same
    command again runs them first and finishes the study."""
    import signal
    import subprocess
    import sys
    import time

    from support.signals import default_sigint

    out = tmp_path / "study"
    args = sweep_args(files, out, 2, "--epochs", "30")
    cmd = [sys.executable, "-m", "tgraph.cli", *args]
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               preexec_fn=default_sigint)
    deadline = time.monotonic() + 120
    while not (out / "trial-0000" / "log.csv").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 130, output
    assert "resume the sweep by running the same command again" in output
    study = optuna.load_study(study_name="tiny", storage=f"sqlite:///{out / 'study.db'}")
    first, queued = study.get_trials(deepcopy=False)
    assert first.state.name == "FAIL" and queued.state.name == "WAITING"

    assert main(args) == 0
    rows = read_csv(out / "sweep.csv")
    assert [r["state"] for r in rows] == ["fail", "complete", "complete"]
    assert rows[1]["retry_of"] == "0"
    for key in ("model.1.units", "optimizer.learning_rate"):
        assert rows[1][key] == rows[0][key]


def test_jobs_start_more_workers_on_the_study(files, tmp_path):
    out = tmp_path / "study"
    assert main(sweep_args(files, out, 3, "--jobs", "2")) == 0
    rows = read_csv(out / "sweep.csv")
    finished = [r for r in rows if r["state"] == "complete"]
    assert 3 <= len(finished) <= 4 and len(rows) == len(finished)
    assert len({r["run_dir"] for r in finished}) == len(finished)


def test_without_optuna_the_command_says_how_to_install_it(files, tmp_path, monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "optuna", None)
    assert main(sweep_args(files, tmp_path / "s", 2)) == 1
    assert ("sweeps need optuna, which is not installed; install it with "
            "`pip install -e '.[sweep]'`") in capsys.readouterr().err
