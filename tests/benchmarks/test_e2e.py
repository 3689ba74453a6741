"""The benchmark's end-to-end share: the run's command is tgraph's own ``train``, one
throwaway epoch warms the compile cache first, and the share is the step time tgraph
writes into metrics.json over the wall time measured from outside."""

import json
import sys

import pytest
from support.paths import ROOT, SPECS

sys.path.insert(0, str(ROOT / "benchmarks"))

from e2e import E2E_EPOCHS, end_to_end, train_command  # noqa: E402

from tgraph.cli import build_parser  # noqa: E402

# Stands in for `tgraph train`: logs its epochs, writes metrics.json into --out.
FAKE_TRAIN = """
import json, pathlib, sys, time
log, epochs, out = sys.argv[1], int(sys.argv[2]), pathlib.Path(sys.argv[3])
with open(log, "a") as f:
    f.write(f"{epochs}\\n")
out.mkdir(parents=True)
time.sleep(0.2)
(out / "metrics.json").write_text(json.dumps(
    {"epochs_run": epochs - 1, "step_time_s": 0.125, "wall_time_s": 0.19}))
"""


def _fake(log):
    return lambda spec, epochs, out: [sys.executable, "-c", FAKE_TRAIN, str(log), str(epochs),
                                      str(out)]


def test_end_to_end_share_is_metrics_step_time_over_measured_wall(tmp_path):
    log = tmp_path / "calls.txt"
    result = end_to_end("mlp", 7, command=_fake(log))
    assert log.read_text().split() == ["1", "7"]  # the 1-epoch warm-up, then the timed run
    assert result["e2e_epochs"] == 7 and result["e2e_epochs_run"] == 6
    assert result["e2e_step_time_s"] == 0.125 and result["e2e_reported_wall_s"] == 0.19
    assert result["e2e_wall_s"] >= 0.2  # it includes the fake run's sleep
    assert result["end_to_end_share"] == 0.125 / result["e2e_wall_s"]


def test_end_to_end_defaults_to_the_spec_epochs_and_can_skip_the_warm_up(tmp_path):
    log = tmp_path / "calls.txt"
    result = end_to_end("lenet5", warm_up=False, command=_fake(log))
    assert log.read_text().split() == [str(E2E_EPOCHS["lenet5"])]
    assert result["e2e_epochs"] == E2E_EPOCHS["lenet5"]


def test_a_failing_run_names_the_spec_and_shows_its_output():
    failing = lambda spec, epochs, out: [sys.executable, "-c",  # noqa: E731
                                         "import sys; print('no such data'); sys.exit(3)"]
    with pytest.raises(RuntimeError, match=r"(?s)run of convnet failed \(exit code 3\).*"
                                           r"no such data"):
        end_to_end("convnet", 1, command=failing)


def test_the_command_is_tgraph_train_of_the_spec(tmp_path):
    argv = train_command("dropout_mlp", 20, tmp_path / "out")
    assert argv[:3] == [sys.executable, "-m", "tgraph.cli"]
    args = build_parser().parse_args(argv[3:])
    assert (args.command, args.spec, args.epochs, args.out, args.quiet) == (
        "train", str(SPECS / "dropout_mlp.py"), 20, str(tmp_path / "out"), True)
    assert set(E2E_EPOCHS) == {"convnet", "dropout_mlp", "lenet5", "logreg", "mlp"}


def test_the_pytorch_run_is_the_same_run_as_tgraph_train(tmp_path):
    """Same network, weights, data, schedule: the PyTorch script's log and final errors
    are tgraph's (losses within float32 tolerance, errors equal)."""
    pytest.importorskip("torch")
    import csv
    import subprocess

    from e2e import TORCH_RUN

    epochs = "3"
    subprocess.run([sys.executable, str(TORCH_RUN), "logreg", "--epochs", epochs, "--out",
                    str(tmp_path / "torch")], check=True, capture_output=True, timeout=600)
    subprocess.run(train_command("logreg", int(epochs), tmp_path / "tgraph"), check=True,
                   capture_output=True, timeout=600)
    torch_log = list(csv.DictReader(open(tmp_path / "torch" / "log.csv")))
    tgraph_log = list(csv.DictReader(open(tmp_path / "tgraph" / "log.csv")))
    assert [r["iteration"] for r in torch_log] == [r["iteration"] for r in tgraph_log]
    assert [float(r["loss"]) for r in torch_log] == pytest.approx(
        [float(r["loss"]) for r in tgraph_log], rel=1e-4)
    assert [r["valid_error"] for r in torch_log] == [r["valid_error"] for r in tgraph_log]
    assert [r["test_error"] for r in torch_log] == [r["test_error"] for r in tgraph_log]
    ours = json.loads((tmp_path / "tgraph" / "metrics.json").read_text())
    theirs = json.loads((tmp_path / "torch" / "metrics.json").read_text())
    assert theirs["test_error"] == ours["test_error"]
    assert theirs["best_valid_error"] == ours["best_valid_error"]
    assert (tmp_path / "torch" / "last.pt").exists() and (tmp_path / "torch" / "best.pt").exists()
