"""The tgraph command: train, eval, predict, summary; errors and exit codes."""

import csv
import json
import re
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tgraph.cli import main
from tgraph.data import FORMATS

from support.paths import SPECS


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
    assert lines[0] == "input,class,class_name,probability," + ",".join(f"p_{k}" for k in range(10))
    assert len(lines) == 6
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


# --- predict on images -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits(mnist):
    """Five real test digits as uint8 (5, 28, 28) and their labels."""
    x, y = mnist["test"]
    return np.rint(x[:5] * 255).astype(np.uint8).reshape(5, 28, 28), y[:5]


@pytest.fixture(scope="module")
def logreg_model(logreg_run):
    from tgraph.modelfile import load_model

    return load_model(logreg_run / "model.tgraph")


def write_pngs(directory, images, invert=False):
    from PIL import Image

    directory.mkdir(exist_ok=True)
    for i, image in enumerate(images):
        Image.fromarray(255 - image if invert else image, mode="L").save(directory / f"d{i}.png")
    return directory


def test_predict_a_png(logreg_run, logreg_model, digits, tmp_path, capsys):
    png = write_pngs(tmp_path / "pngs", digits[0][:1]) / "d0.png"
    assert main(["predict", str(logreg_run), str(png)]) == 0
    lines = capsys.readouterr().out.splitlines()
    probs = logreg_model.predict(digits[0][:1] / 255.0)[0]
    assert lines[0].split() == ["input", "class", "class_name", "probability"]
    assert lines[1].split() == ["d0.png", str(probs.argmax()), str(probs.argmax()),
                                f"{probs.max():.4f}"]


def test_predict_a_directory_of_pngs_to_json(logreg_run, logreg_model, digits, tmp_path):
    directory = write_pngs(tmp_path / "pngs", digits[0])
    (directory / "notes.txt").write_text("not an image")
    out = tmp_path / "pred.json"
    assert main(["predict", str(logreg_run / "model.tgraph"), str(directory), "--out",
                 str(out)]) == 0
    rows = json.loads(out.read_text())
    probs = logreg_model.predict(digits[0] / 255.0)
    assert [r["input"] for r in rows] == [f"d{i}.png" for i in range(5)]
    assert [r["class"] for r in rows] == probs.argmax(axis=1).tolist()
    np.testing.assert_allclose([r["probabilities"] for r in rows], probs, rtol=1e-6)
    assert (probs.argmax(axis=1) == digits[1]).mean() >= 0.8  # a trained model: mostly right


def test_predict_inverted_pngs_to_npz(logreg_run, logreg_model, digits, tmp_path):
    directory = write_pngs(tmp_path / "dark_on_light", digits[0], invert=True)
    out = tmp_path / "pred.npz"
    assert main(["predict", str(logreg_run), str(directory), "--invert", "--out", str(out)]) == 0
    with np.load(out, allow_pickle=False) as saved:
        np.testing.assert_allclose(saved["probabilities"], logreg_model.predict(digits[0] / 255.0),
                                   rtol=1e-6)
        assert saved["classes"].tolist() == saved["probabilities"].argmax(axis=1).tolist()
        assert saved["names"].tolist() == [f"d{i}.png" for i in range(5)]


# --- options and data --------------------------------------------------------------------------


def test_eval_with_another_dataset_and_valid_fraction(logreg_run, capsys, small_npz):
    assert main(["eval", str(logreg_run), "--data", str(small_npz), "--valid-fraction",
                 "0.5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert re.match(r"valid  n=   500  loss \d\.\d{4}  error \d+\.\d\d%$", lines[0])
    assert re.match(r"test   n=   500  loss \d\.\d{4}  error \d+\.\d\d%$", lines[1])
    # then, per split, the errors of each class and the confusion matrix
    assert lines[3:5] == ["valid: errors per class", "class        n   errors    error"]
    assert lines.count("test: confusion matrix (rows: true class, columns: predicted)") == 1


def test_train_options_reach_the_run(tmp_path, small_npz):
    out = tmp_path / "run"
    assert main(["train", str(SPECS / "logreg.py"), "--data", str(small_npz), "--epochs", "2",
                 "--batch-size", "200", "--optimizer", "momentum", "--lr", "0.05", "--seed", "7",
                 "--set", "optimizer.momentum=0.5", "--out", str(out), "--quiet",
                 "--mode", "FAST_COMPILE"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["epochs_run"], metrics["iterations"], metrics["batch_size"]) == (2, 8, 200)
    spec = json.loads((out / "spec.json").read_text())
    assert spec["optimizer"] == {"type": "Momentum", "learning_rate": 0.05, "clip_norm": None,
                                 "momentum": 0.5}
    assert spec["seed"] == 7 and spec["training"]["max_epochs"] == 2
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [e["epoch"] for e in log] == [1, 2] and log[0]["lr"] == pytest.approx(0.05)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_diverging_run_stops_with_the_epoch_and_batch(tmp_path, small_npz, capsys):
    out = tmp_path / "run"
    assert main(["train", str(SPECS / "logreg.py"), "--data", str(small_npz), "--lr", "1e37",
                 "--out", str(out), "--quiet", "--mode", "FAST_COMPILE"]) == 1
    err = capsys.readouterr().err
    assert re.fullmatch(r"tgraph train: error: training loss became (nan|inf) at epoch \d+, "
                        r"batch \d+ \(iteration \d+\); lower the learning rate \(now 1e\+37\), add "
                        r"gradient clipping \(clip_norm=\.\.\.\), or check the data for NaN/inf "
                        r"values\n", err)
    assert not (out / "metrics.json").exists() and not (out / "model.tgraph").exists()


# --- errors ------------------------------------------------------------------------------------


def test_spec_that_does_not_build_names_the_file_and_writes_nothing(tmp_path, capsys):
    spec = tmp_path / "conv.py"
    spec.write_text("from tgraph import layers as L\n"
                    "model = [L.Input((1, 28, 28)), L.Dense(10, activation='softmax')]\n")
    message = (f"{spec}: layer 1 (Dense): expects a 2-D input (batch, features); insert "
               "Flatten() before it, got shape (None, 1, 28, 28)\n")
    assert main(["train", str(spec), "--out", str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err == "tgraph train: error: " + message
    assert not (tmp_path / "out").exists()
    assert main(["summary", str(spec)]) == 1
    assert capsys.readouterr().err == "tgraph summary: error: " + message


@pytest.mark.parametrize("command", ["eval", "predict", "summary"])
def test_corrupt_model_file(command, logreg_run, tmp_path, capsys):
    bad = tmp_path / "model.tgraph"
    bad.write_bytes((logreg_run / "model.tgraph").read_bytes()[:300])
    args = [command, str(bad)] + (["digits.npz"] if command == "predict" else [])
    assert main(args) == 1
    assert capsys.readouterr().err.startswith(
        f"tgraph {command}: error: {bad}: not a readable tgraph model file (")


def test_model_file_with_a_bad_layer_names_file_and_layer(logreg_run, tmp_path, capsys):
    import zipfile

    bad = tmp_path / "edited.tgraph"
    with zipfile.ZipFile(logreg_run / "model.tgraph") as src, zipfile.ZipFile(bad, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name == "tgraph.json":
                header = json.loads(data)
                header["spec"]["layers"][1]["units"] = -10
                data = json.dumps(header)
            dst.writestr(name, data)
    assert main(["eval", str(bad)]) == 1
    assert capsys.readouterr().err == (
        f"tgraph eval: error: {bad}: layer 1 (Dense) of the spec: Dense: `units` (=-10) must be "
        "a positive integer; the file is damaged or was written by another tgraph version; "
        "save the model again\n")


def test_predict_resizes_an_image_of_another_size(logreg_run, logreg_model, digits, tmp_path,
                                                  capsys):
    """A 14x14 PNG is resized to the model's 28x28 (bilinear), not refused."""
    from PIL import Image

    Image.fromarray(digits[0][0]).resize((14, 14), Image.BILINEAR).save(tmp_path / "small.png")
    assert main(["predict", str(logreg_run), str(tmp_path / "small.png")]) == 0
    assert capsys.readouterr().out.splitlines()[1].split()[0] == "small.png"


@pytest.mark.parametrize("args, message", [
    (["predict", "RUN", "nothing.png"], "nothing.png: no such file or directory; expected a .npz "
                                        "or .npy array of images, a PNG, or a directory of PNGs"),
    (["predict", "RUN", "DIGITS", "--out", "pred.txt"], "--out 'pred.txt': use a .csv, .json or "
                                                        ".npz file name"),
    (["eval", "RUN", "--data", "nope.npz"], f"nope.npz: no such file or directory; expected "
                                            f"{FORMATS}"),
])
def test_input_errors_exit_1(args, message, logreg_run, tmp_path, capsys, monkeypatch):
    from PIL import Image

    monkeypatch.chdir(tmp_path)
    Image.new("L", (14, 14)).save("small.png")
    np.savez("digits.npz", x=np.zeros((2, 28, 28), np.uint8))
    replace = {"RUN": str(logreg_run), "SMALL_PNG": "small.png", "DIGITS": "digits.npz"}
    assert main([replace.get(a, a) for a in args]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"tgraph {args[0]}: error: ") and err.rstrip().endswith(message)
    assert not (tmp_path / "pred.txt").exists()


@pytest.mark.parametrize("args, message", [
    (["train", "x.py", "--epochs", "0"], "argument --epochs: expected a positive integer, got '0'"),
    (["train", "x.py", "--lr", "-1"], "argument --lr: expected a number > 0, got '-1'"),
    (["train", "x.py", "--batch-size", "ten"],
     "argument --batch-size: expected a positive integer, got 'ten'"),
    (["eval", "m.tgraph", "--valid-fraction", "1.5"],
     "argument --valid-fraction: expected a fraction in (0, 1), got '1.5'"),
    (["predict", "m.tgraph"], "the following arguments are required: input"),
])
def test_bad_arguments_say_what_is_wrong(args, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    assert capsys.readouterr().err.rstrip().endswith(f"error: {message}")


# --- run directories ---------------------------------------------------------------------------


def quick_train(spec, out, small_npz, *extra):
    return main(["train", str(spec), "--data", str(small_npz), "--out", str(out), "--quiet",
                 "--mode", "FAST_COMPILE", *extra])


def test_out_below_a_regular_file_is_a_clear_error(tmp_path, small_npz, capsys):
    (tmp_path / "notes.txt").write_text("")
    out = tmp_path / "notes.txt" / "run"
    assert quick_train(SPECS / "logreg.py", out, small_npz, "--epochs", "1") == 1
    assert capsys.readouterr().err == (f"tgraph train: error: --out {out}: "
                                       f"{tmp_path / 'notes.txt'} is a file, not a directory; "
                                       "choose another --out\n")


def run_files(directory):
    return {name: (directory / name).read_bytes() for name in sorted(os.listdir(directory))
            if name != ".lock"}


def test_resume_of_a_run_that_reached_max_epochs_says_so(logreg_run, capsys):
    before = run_files(logreg_run)
    assert main(["train", str(SPECS / "logreg.py"), "--resume", str(logreg_run), "--epochs", "3",
                 "--quiet"]) == 0
    assert capsys.readouterr() == ("", (
        f"tgraph train: --resume {logreg_run}: the run already finished: it reached max_epochs "
        "(3 epochs); nothing to train. To train further, resume with a larger --epochs, e.g. "
        "--epochs 6\n"))
    assert run_files(logreg_run) == before


def test_resume_of_a_run_that_stopped_early_says_why(tmp_path, small_npz, capsys):
    out = tmp_path / "run"
    patience = ["--batch-size", "100", "--set", "callbacks.0.patience=10",
                "--set", "callbacks.0.patience_increase=1"]  # stops after about 10 minibatches
    assert quick_train(SPECS / "logreg.py", out, small_npz, *patience) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs_run"] < 1000 and metrics["stop_reason"].startswith("patience 10 <=")
    capsys.readouterr()
    before = run_files(out)
    assert main(["train", str(SPECS / "logreg.py"), "--data", str(small_npz), "--resume", str(out),
                 "--quiet", *patience]) == 0
    assert capsys.readouterr().err == (
        f"tgraph train: --resume {out}: the run already finished: it stopped early at epoch "
        f"{metrics['epochs_run']} ({metrics['stop_reason']}); nothing to train. To train more, "
        "start a new run with another --out (e.g. with a larger patience)\n")
    assert run_files(out) == before


LOCK_HOLDER = """
import sys, time
from tgraph.runfiles import lock_run
lock = lock_run(sys.argv[1])
print("locked", flush=True)
time.sleep(600)
"""


def test_a_run_directory_in_use_is_refused(tmp_path, small_npz, capsys):
    import signal

    out = tmp_path / "run"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(out)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "locked\n"
        assert quick_train(SPECS / "logreg.py", out, small_npz, "--epochs", "1") == 1
        assert capsys.readouterr().err == (
            f"tgraph train: error: {out}: the run directory is in use by process {holder.pid} "
            "(it holds .lock); wait for it to end or stop it, or choose another --out\n")
        assert os.listdir(out) == [".lock"]  # nothing written
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=60)
        holder.stdout.close()
    assert quick_train(SPECS / "logreg.py", out, small_npz, "--epochs", "1") == 0  # lock died


LOCK_PROBE = """
from tgraph.callbacks import Callback


class LockProbe(Callback):
    \"\"\"Tries to lock the run directory while training runs in it.\"\"\"

    def on_train_begin(self, logs=None):
        from tgraph.errors import ConfigError
        from tgraph.runfiles import lock_run

        try:
            lock_run({out!r}).release()
        except ConfigError as err:
            print("refused:", err)


callbacks = [*callbacks, LockProbe()]
"""


def test_training_holds_the_lock_of_its_run_directory(tmp_path, small_npz, capsys):
    spec, out = tmp_path / "probe.py", tmp_path / "run"
    spec.write_text((SPECS / "logreg.py").read_text() + LOCK_PROBE.format(out=str(out)))
    assert quick_train(spec, out, small_npz, "--epochs", "1") == 0
    assert f"refused: {out}: the run directory is in use by process {os.getpid()} " in \
        capsys.readouterr().out


# --- custom layers -----------------------------------------------------------------------------


CUSTOM_LAYER = '''
import attrs

from tgraph.layers.base import Layer


@attrs.frozen(kw_only=True)
class Scale(Layer):
    """Multiplies its input by ``factor``: a layer tgraph does not know."""

    factor: float = 1.0

    def apply(self, x, params, ctx):
        return x * self.factor
'''

CUSTOM_SPEC = '''
from tgraph import layers as L
from tgraph import optim
from {module} import Scale

model = [L.Input(shape=(784,)), Scale(factor=0.5), L.Dense(10, activation="softmax")]
optimizer = optim.SGD(learning_rate=0.1)
'''


def tgraph_subprocess(*args, cwd):
    env = {**os.environ, "TGRAPH_MODE": "FAST_COMPILE"}
    return subprocess.run([sys.executable, "-m", "tgraph.cli", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, env=env, timeout=600)


@pytest.fixture(scope="module")
def custom_run(tmp_path_factory, small_npz):
    """A run of a spec whose layer class lives in the user's module ``mylayers.py``."""
    root = tmp_path_factory.mktemp("custom")
    (root / "mylayers.py").write_text(CUSTOM_LAYER)
    (root / "custom.py").write_text(CUSTOM_SPEC.format(module="mylayers"))
    assert quick_train(root / "custom.py", root / "run", small_npz, "--epochs", "2") == 0
    return root


def test_unknown_layer_class_says_to_import_its_module(custom_run):
    proc = tgraph_subprocess("eval", custom_run / "run", cwd=custom_run / "run")
    model = custom_run / "run" / "model.tgraph"
    assert proc.returncode == 1
    assert proc.stderr == (
        f"tgraph eval: error: {model}: the class 'Scale' is not known to tgraph; import the "
        "module that defines it before loading (tgraph eval, predict and summary: --import "
        "MODULE, a module name or a .py file); importing the spec copy failed: "
        f"{custom_run / 'run' / 'spec_custom.py'}, line 4: ModuleNotFoundError: No module "
        "named 'mylayers'\n")


def test_custom_layer_model_evaluates_and_predicts_with_import(custom_run, small_npz, mnist):
    metrics = json.loads((custom_run / "run" / "metrics.json").read_text())
    proc = tgraph_subprocess("eval", "run", "--import", custom_run / "mylayers.py", "--data",
                             small_npz, "--json", cwd=custom_run)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["test"]["error"] == pytest.approx(metrics["test_error"])

    np.savez(custom_run / "digits.npz", x=mnist["test"][0][:3].reshape(3, 28, 28))
    proc = tgraph_subprocess("predict", "run", "digits.npz", "--import", "mylayers", "--out",
                             "pred.json", cwd=custom_run)  # a module name, found from here
    assert proc.returncode == 0, proc.stderr
    rows = json.loads((custom_run / "pred.json").read_text())
    assert [r["input"] for r in rows] == ["0", "1", "2"]

    proc = tgraph_subprocess("summary", "run/model.tgraph", "--import", "mylayers.py",
                             cwd=custom_run)
    assert proc.returncode == 0, proc.stderr
    assert "Scale" in proc.stdout and "total parameters: 7,850" in proc.stdout


def test_layer_class_defined_in_the_spec_loads_from_the_spec_copy(tmp_path, small_npz):
    spec = tmp_path / "inline.py"
    spec.write_text(CUSTOM_LAYER + CUSTOM_SPEC.replace("from {module} import Scale\n", ""))
    assert quick_train(spec, tmp_path / "run", small_npz, "--epochs", "1") == 0
    proc = tgraph_subprocess("eval", "run", "--data", small_npz, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("valid  n=   200  loss ")


# --- exact resume after SIGKILL ----------------------------------------------------------------


KILLER = """
import os
import signal

from tgraph.callbacks import Callback


class Killer(Callback):
    \"\"\"SIGKILLs this process where $KILL_AT says: "batch:EPOCH:BATCH" or "logged:EPOCH"
    (after the logs of the epoch are written, before its checkpoint).\"\"\"

    order = 50  # after the loggers (0), before ModelCheckpoint (100)

    def __init__(self):
        self.at = os.environ.get("KILL_AT", "").split(":")

    def next_batch_action(self, iteration):
        return None if self.at[0] != "batch" else iteration

    def on_batch_end(self, iteration, logs=None):
        where = [logs["epoch"], logs["batch"]]
        if self.at[0] == "batch" and where == [int(v) for v in self.at[1:]]:
            os.kill(os.getpid(), signal.SIGKILL)

    def on_epoch_end(self, epoch, logs=None):
        if self.at[0] == "logged" and epoch == int(self.at[1]):
            os.kill(os.getpid(), signal.SIGKILL)


callbacks = [*callbacks, Killer()]
"""

TIMES = ("wall_time_s", "train_time_s", "step_time_s", "samples_per_s", "time_s")


def run_record(out):
    from tgraph.modelfile import read_model_file

    metrics = {k: v for k, v in json.loads((out / "metrics.json").read_text()).items()
               if k not in TIMES}
    with open(out / "log.csv", newline="") as f:
        import csv

        rows = [{k: v for k, v in r.items() if k not in TIMES} for r in csv.DictReader(f)]
    return metrics, rows, read_model_file(out / "model.tgraph").weights


def test_resume_after_sigkill_ends_as_an_uninterrupted_run(tmp_path, small_npz):
    spec = tmp_path / "killable.py"
    spec.write_text((SPECS / "mlp.py").read_text() + KILLER)
    args = ["train", spec, "--data", small_npz, "--epochs", "5", "--batch-size", "50", "--quiet"]
    assert main([str(a) for a in args] + ["--out", str(tmp_path / "straight")]) == 0

    out = tmp_path / "killed"
    for kill_at, resume in [("batch:2:7", False), ("logged:3", True), ("batch:5:0", True),
                            ("", True)]:
        env = {**os.environ, "KILL_AT": kill_at}
        where = ["--resume", out] if resume else ["--out", out]
        proc = subprocess.run([sys.executable, "-m", "tgraph.cli", *map(str, args + where)],
                              env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == (0 if not kill_at else -9), proc.stderr
    straight, killed = run_record(tmp_path / "straight"), run_record(out)
    assert killed[0] == straight[0] and killed[1] == straight[1]
    assert [r["epoch"] for r in killed[1]] == ["1", "2", "3", "4", "5"]
    for name, value in straight[2].items():
        np.testing.assert_array_equal(killed[2][name], value, err_msg=name)


def test_train_error_flag_logs_the_training_split_error(tmp_path, small_npz):
    out = tmp_path / "run"
    assert main(["train", str(SPECS / "logreg.py"), "--data", str(small_npz), "--epochs", "2",
                 "--out", str(out), "--quiet", "--train-error"]) == 0
    with open(out / "log.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and all(0 <= float(r["train_error"]) <= 1 for r in rows)


def test_is_interrupt_sees_numbas_systemerror():
    from tgraph.errors import is_interrupt

    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as inner:
            raise SystemError("returned a result with an exception set") from inner
    except SystemError as err:
        assert is_interrupt(err)
    assert is_interrupt(KeyboardInterrupt())
    assert not is_interrupt(SystemError("other"))
    assert not is_interrupt(ValueError())


def test_the_interrupt_behind_numbas_systemerror_keeps_its_type():
    from tgraph.errors import Terminated, interrupt_of

    try:
        try:
            raise Terminated
        except Terminated as inner:
            raise SystemError("returned a result with an exception set") from inner
    except SystemError as err:
        assert type(interrupt_of(err)) is Terminated
    assert interrupt_of(ValueError()) is None


def test_main_leaves_no_sigterm_handler_behind(tmp_path, small_npz):
    import signal

    assert main(["summary", str(SPECS / "logreg.py")]) == 0
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


@pytest.mark.parametrize("signame, code, word", [("SIGINT", 130, "interrupted"),
                                                  ("SIGTERM", 143, "terminated")])
def test_ctrl_c_or_sigterm_during_training_exits_with_the_resume_command(
        tmp_path, small_npz, signame, code, word):
    import signal

    from support.signals import default_sigint

    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tgraph.cli", "train", str(SPECS / "mlp.py"), "--data",
         str(small_npz), "--out", str(out), "--epochs", "100000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=default_sigint)
    try:
        for line in proc.stdout:  # the steps are running once an epoch has ended
            if line.startswith("epoch    2"):
                break
        proc.send_signal(getattr(signal, signame))
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
        proc.wait(timeout=60)
    assert proc.returncode == code, err
    assert "Traceback" not in err
    assert err.endswith(f"tgraph train: {word}; continue with: tgraph train "
                        f"{SPECS / 'mlp.py'} --data {small_npz} --epochs 100000 "
                        f"--resume {out}\n")  # the run's own options: its data above all
    from tgraph.modelfile import read_model_file

    saved = read_model_file(out / "last.tgraph").training
    assert saved["epoch"] >= 1  # a finished epoch (the state kept in memory, written at the end)


def test_resume_on_other_data_than_the_run_is_refused(tmp_path, small_npz):
    """``--resume`` without the run's ``--data`` would train on the embedded MNIST: refused,
    naming the run's data, and nothing in the run directory changes."""
    out = tmp_path / "run"
    assert main(["train", str(SPECS / "logreg.py"), "--data", str(small_npz), "--epochs", "2",
                 "--out", str(out), "--quiet"]) == 0
    files = lambda: {p.name: p.read_bytes() for p in out.iterdir()  # noqa: E731
                     if p.is_file() and p.name != ".lock"}  # the lock names its last holder
    before = files()
    proc = subprocess.run([sys.executable, "-m", "tgraph.cli", "train", str(SPECS / "logreg.py"),
                           "--resume", str(out), "--epochs", "4", "--quiet"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stderr
    assert f"the run trained on {small_npz}" in proc.stderr
    assert f"--data {small_npz}" in proc.stderr
    assert files() == before
    assert main(["train", str(SPECS / "logreg.py"), "--data", str(small_npz), "--resume",
                 str(out), "--epochs", "4", "--quiet"]) == 0
