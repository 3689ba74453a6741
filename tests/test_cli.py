"""The tgraph command: train, eval, predict, summary; errors and exit codes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tgraph.cli import main

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs"


@pytest.fixture(scope="module")
def logreg_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "logreg"
    code = main(["train", str(SPECS / "logreg.py"), "--epochs", "3", "--out", str(out),
                 "--quiet"])
    assert code == 0
    return out


def test_train_writes_model_logs_and_metrics(logreg_run):
    names = set(os.listdir(logreg_run))
    assert {"model.tgraph", "best.tgraph", "last.tgraph", "log.csv", "log.jsonl", "metrics.json",
            "spec.json", "spec_logreg.py"} <= names
    metrics = json.loads((logreg_run / "metrics.json").read_text())
    for key in ("test_error", "best_valid_error", "best_epoch", "epochs_run", "iterations",
                "wall_time_s", "samples_per_s"):
        assert metrics[key] is not None, key
    assert metrics["epochs_run"] == 3 and metrics["iterations"] == 3 * (8000 // 600)
    assert 0.05 < metrics["test_error"] < 0.2
    rows = (logreg_run / "log.csv").read_text().splitlines()
    assert rows[0].startswith("epoch,iteration,loss,lr") and len(rows) == 4


def test_eval_reports_the_saved_test_error(logreg_run, capsys):
    assert main(["eval", str(logreg_run), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    metrics = json.loads((logreg_run / "metrics.json").read_text())
    assert result["test"]["error"] == pytest.approx(metrics["test_error"])


def test_predict_npz_to_csv(logreg_run, tmp_path, capsys, mnist):
    x = mnist["test"][0][:5].reshape(5, 28, 28)
    np.savez(tmp_path / "digits.npz", x=x)
    out = tmp_path / "pred.csv"
    assert main(["predict", str(logreg_run / "model.tgraph"), str(tmp_path / "digits.npz"),
                 "--out", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert lines[0].startswith("input,class,p0") and len(lines) == 6
    printed = capsys.readouterr().out
    assert "class" in printed


def test_summary_of_spec_and_model(logreg_run, capsys):
    assert main(["summary", str(SPECS / "mlp.py")]) == 0
    assert "total parameters: 397,510" in capsys.readouterr().out
    assert main(["summary", str(logreg_run / "model.tgraph")]) == 0
    assert "total parameters: 7,850" in capsys.readouterr().out


def test_existing_out_is_not_overwritten(logreg_run, capsys):
    before = (logreg_run / "model.tgraph").read_bytes()
    assert main(["train", str(SPECS / "logreg.py"), "--out", str(logreg_run)]) == 1
    assert "already holds a run" in capsys.readouterr().err
    assert (logreg_run / "model.tgraph").read_bytes() == before


def test_resume_continues_to_more_epochs(logreg_run, tmp_path):
    out = tmp_path / "more"
    assert main(["train", str(SPECS / "logreg.py"), "--resume", str(logreg_run), "--epochs", "5",
                 "--out", str(out), "--quiet"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs_run"] == 5 and metrics["iterations"] == 5 * 13


@pytest.mark.parametrize("args, message", [
    (["train", "nope.py"], "nope.py: no such spec file"),
    (["train", "SPECS/logreg.py", "--set", "training.batchsize=5"],
     "--set training.batchsize: Training has no field 'batchsize'; fields: batch_size"),
    (["train", "SPECS/logreg.py", "--set", "model.1.units=-3"],
     "--set model.1.units: Dense: `units` (=-3) must be a positive integer."),
    (["train", "SPECS/logreg.py", "--optimizer", "adamm"], "unknown optimizer 'adamm'"),
    (["train", "SPECS/logreg.py", "--data", "missing.npz"], "missing.npz"),
    (["eval", "missing.tgraph"], "missing.tgraph: no such model file"),
])
def test_errors_exit_1_with_a_message(args, message, capsys, tmp_path):
    args = [a.replace("SPECS", str(SPECS)) for a in args]
    if args[0] == "train":
        args += ["--out", str(tmp_path / "o")]
    assert main(args) == 1
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("args", [["train", "x.py", "--epochs", "0"],
                                  ["train", "x.py", "--lr", "abc"], ["frobnicate"], []])
def test_bad_usage_exits_2(args, capsys):
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2


@pytest.mark.parametrize("command", ["train", "eval", "predict", "summary"])
def test_help_of_every_command(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert "usage: tgraph " + command in capsys.readouterr().out


def test_console_script_is_installed():
    proc = subprocess.run([Path(sys.executable).parent / "tgraph", "--version"],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("tgraph ")
