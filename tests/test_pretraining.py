"""Greedy layer-wise pretraining: spec validation, phases in summaries, logs and metrics,
and exact resume after a SIGKILL in the middle of any phase."""

import csv
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tgraph import layers as L
from tgraph import optim
from tgraph.cli import main
from tgraph.data import embedded_path
from tgraph.errors import SpecError
from tgraph.experiment import Experiment, Training
from tgraph.modelfile import read_model_file
from tgraph.pretraining import Pretrain, Pretraining

STACK = [L.Input((784,)), L.RBM(16, persistent=True), L.DenoisingAutoencoder(8, corruption=0.2),
         L.Dense(10, activation="softmax", init="zeros")]

SPEC = textwrap.dedent('''\
    """A tiny DBN-like stack: PCD RBM, denoising autoencoder, softmax."""
    from tgraph import layers as L
    from tgraph import optim
    from tgraph.experiment import Training
    from tgraph.pretraining import Pretrain

    model = [L.Input((784,)), L.RBM(16, persistent=True), L.DenoisingAutoencoder(8, corruption=0.2),
             L.Dense(10, activation="softmax", init="zeros")]
    pretraining = [
        Pretrain(layer=1, epochs=4, optimizer=optim.SGD(0.05), batch_size=20, shuffle=True),
        Pretrain(layer=2, epochs=4, optimizer=optim.Momentum(0.1), batch_size=25),
    ]
    optimizer = optim.SGD(0.1)
    training = Training(batch_size=20, max_epochs=3)
    seed = 7
''')

# Runs `tgraph train` and kills itself (SIGKILL) right after the N-th epoch's checkpoint
# (train_args passes --checkpoint-every 0: one checkpoint per epoch).
KILLER = textwrap.dedent('''\
    import os, signal, sys
    from tgraph.callbacks import ModelCheckpoint
    from tgraph.cli import main

    after, written, original = int(sys.argv[1]), [0], ModelCheckpoint.on_epoch_end

    def on_epoch_end(self, epoch, logs=None):
        original(self, epoch, logs)
        written[0] += 1
        if written[0] == after:
            os.kill(os.getpid(), signal.SIGKILL)

    ModelCheckpoint.on_epoch_end = on_epoch_end
    sys.exit(main(sys.argv[2:]))
''')


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The spec, the killer script and ~500 images of the embedded MNIST subset."""
    root = tmp_path_factory.mktemp("pretraining")
    with np.load(embedded_path()) as d:
        np.savez(root / "mnist_500.npz", x_train=d["x_train"][:600], y_train=d["y_train"][:600],
                 x_test=d["x_test"][:100], y_test=d["y_test"][:100])
    (root / "stack.py").write_text(SPEC)
    (root / "killer.py").write_text(KILLER)
    return root


def train_args(files, out, *extra):
    return ["train", str(files / "stack.py"), "--data", str(files / "mnist_500.npz"),
            "--out", str(out), "--quiet", "--checkpoint-every", "0", *extra]


@pytest.fixture(scope="module")
def straight(files):
    out = files / "straight"
    assert main(train_args(files, out)) == 0
    return out


def killed(files, after, args):
    proc = subprocess.run([sys.executable, str(files / "killer.py"), str(after), *args],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == -9, proc.stderr


def timeless(metrics):
    """Metrics without wall-clock figures (they differ between runs)."""
    if isinstance(metrics, dict):
        return {k: timeless(v) for k, v in metrics.items()
                if not (k.endswith("_s") or k == "samples_per_s")}
    if isinstance(metrics, list):
        return [timeless(v) for v in metrics]
    return metrics


def log_rows(path):
    with open(path, newline="") as f:
        return [{k: v for k, v in row.items() if k not in ("time_s", "samples_per_s")}
                for row in csv.DictReader(f)]


def test_resume_after_sigkill_in_each_phase_matches_an_uninterrupted_run(files, straight):
    out = files / "resumed"
    killed(files, 2, train_args(files, out))                    # pretrain1, epoch 2 of 4
    assert read_model_file(out / "last.tgraph").meta["phase"] == "pretrain1"
    killed(files, 4, train_args(files, out, "--resume", str(out)))  # pretrain2, epoch 2
    assert read_model_file(out / "last.tgraph").meta["phase"] == "pretrain2"
    killed(files, 3, train_args(files, out, "--resume", str(out)))  # finetune, epoch 1
    assert read_model_file(out / "last.tgraph").meta["phase"] == "finetune"
    assert main(train_args(files, out, "--resume", str(out))) == 0

    a, b = (json.loads((d / "metrics.json").read_text()) for d in (straight, out))
    assert timeless(b) == timeless(a)
    wa, wb = (read_model_file(d / "model.tgraph").weights for d in (straight, out))
    assert sorted(wa) == sorted(wb)
    for name in wa:
        np.testing.assert_array_equal(wb[name], wa[name], err_msg=name)
    assert log_rows(out / "log.csv") == log_rows(straight / "log.csv")


def test_metrics_and_logs_report_each_phase(straight):
    metrics = json.loads((straight / "metrics.json").read_text())
    phases = metrics["phases"]
    assert [(p["phase"], p["layer"], p["type"], p["epochs"]) for p in phases] == [
        ("pretrain1", 1, "RBM", 4), ("pretrain2", 2, "DenoisingAutoencoder", 4)]
    assert list(phases[0]["monitors"]) == ["pseudo_likelihood_cost"]
    assert list(phases[1]["monitors"]) == ["reconstruction_cost"]
    assert all(p["train_time_s"] > 0 and np.isfinite(p["loss"]) for p in phases)
    assert phases[0]["iterations"] == 4 * (480 // 20) and phases[1]["iterations"] == 4 * (480 // 25)
    assert phases[0]["images"] == ["filters_layer1.png"]  # layer 2 does not see the pixels
    assert metrics["epochs_run"] == 3 and metrics["test_error"] is not None
    rows = log_rows(straight / "log.csv")
    assert [r["phase"] for r in rows] == ["pretrain1"] * 4 + ["pretrain2"] * 4 + ["finetune"] * 3
    assert [r["epoch"] for r in rows] == ["1", "2", "3", "4"] * 2 + ["1", "2", "3"]
    assert rows[-1]["valid_error"] and not rows[0]["valid_error"]


def test_pretraining_only_run_writes_images_and_monitors(files, tmp_path):
    spec = tmp_path / "rbm_only.py"
    spec.write_text(textwrap.dedent('''\
        from tgraph import layers as L
        from tgraph import optim
        from tgraph.pretraining import Pretraining, RBMSamples
        model = [L.Input((784,)), L.RBM(9, k=2)]
        pretraining = Pretraining(epochs=1, optimizer=optim.SGD(0.1), batch_size=50,
                                  samples=RBMSamples(chains=3, rows=2, steps=5))
        training = None
    '''))
    out = tmp_path / "run"
    assert main(["train", str(spec), "--data", str(files / "mnist_500.npz"), "--out", str(out),
                 "--quiet"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert "test_error" not in metrics
    assert list(metrics["phases"][0]["monitors"]) == ["reconstruction_cross_entropy"]
    from PIL import Image

    with Image.open(out / "filters_layer1.png") as filters, Image.open(out / "samples.png") as s:
        assert filters.size == (3 * 29 - 1, 3 * 29 - 1)  # 9 filters: a 3 x 3 grid
        assert s.size == (3 * 29 - 1, 2 * 29 - 1)  # 3 chains, 2 samples each
    assert os.path.exists(out / "model.tgraph")


def test_summary_shows_the_phases(files, capsys):
    assert main(["summary", str(files / "stack.py")]) == 0
    text = capsys.readouterr().out
    lines = text[text.index("training phases:"):].splitlines()
    assert lines[3].split()[:4] == ["pretrain1", "layer", "1", "RBM"]
    assert lines[4].split()[:4] == ["pretrain2", "layer", "2", "DenoisingAutoencoder"]
    assert lines[5].startswith("finetune")


def test_pretraining_applies_to_every_layer_with_a_local_objective():
    experiment = Experiment(model=STACK, pretraining=Pretraining(
        epochs=2, optimizer="sgd", batch_size=10))
    phases = experiment.pretraining.phases(experiment.model)
    assert [p.layer for p in phases] == [1, 2]
    assert all(p.epochs == 2 and p.batch_size == 10 for p in phases)


@pytest.mark.parametrize("pretraining, message", [
    ([Pretrain(layer=3, epochs=1, optimizer="sgd", batch_size=1)],
     r"layer 3 \(Dense\) has no local objective"),
    ([Pretrain(layer=4, epochs=1, optimizer="sgd", batch_size=1)],
     r"Pretrain\(layer=4\) but the model has layers 0..3"),
    ([Pretrain(layer=2, epochs=1, optimizer="sgd", batch_size=1),
      Pretrain(layer=1, epochs=1, optimizer="sgd", batch_size=1)],
     r"Pretrain\(layer=1\) comes after layer 2; list each layer once, bottom-up"),
    ("rbm", r"`pretraining` \(='rbm'\) must be Pretraining"),
])
def test_bad_pretraining_is_named(pretraining, message):
    with pytest.raises(SpecError, match=message):
        Experiment(model=STACK, pretraining=pretraining)


def test_a_model_without_local_objectives_cannot_be_pretrained():
    with pytest.raises(SpecError, match="no layer of the model has a local objective"):
        Experiment(model=[L.Input((4,)), L.Dense(2)],
                   pretraining=Pretraining(epochs=1, optimizer=optim.SGD(0.1), batch_size=1))


def test_nothing_to_train_is_an_error():
    with pytest.raises(Exception, match="nothing to train"):
        Experiment(model=STACK, training=None)
    assert Experiment(model=STACK, training=Training()).pretraining is None


def test_epochs_option_of_a_pretraining_only_spec_says_what_to_set(tmp_path, capsys):
    spec = tmp_path / "da_only.py"
    spec.write_text("from tgraph import layers as L\nfrom tgraph.pretraining import Pretraining\n"
                    "model = [L.Input((4,)), L.DenoisingAutoencoder(2)]\n"
                    "pretraining = Pretraining(epochs=1, optimizer='sgd', batch_size=1)\n"
                    "training = None\n")
    assert main(["train", str(spec), "--epochs", "3", "--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert "has training = None (pretraining only)" in err
    assert "--set pretraining.epochs=N" in err


def test_the_minibatch_sda_differs_from_the_tutorials_only_in_its_minibatches_and_rates():
    from support.paths import SPECS

    from tgraph.specfile import load_spec

    tutorial, minibatch = load_spec(SPECS / "sda.py"), load_spec(SPECS / "sda_minibatch.py")
    assert minibatch.model == tutorial.model and minibatch.seed == tutorial.seed
    assert type(minibatch.optimizer) is type(tutorial.optimizer)  # fine-tuning SGD
    assert tutorial.optimizer.learning_rate == 0.1  # per example; x10 on a mean over 10
    assert minibatch.optimizer.learning_rate == pytest.approx(10 * tutorial.optimizer.learning_rate)
    assert (tutorial.pretraining.batch_size, minibatch.pretraining.batch_size) == (1, 10)
    assert minibatch.pretraining.epochs == tutorial.pretraining.epochs == 15
    assert (tutorial.pretraining.optimizer.learning_rate * 10
            == pytest.approx(minibatch.pretraining.optimizer.learning_rate))
    assert (tutorial.training.batch_size, minibatch.training.batch_size) == (1, 10)
    (patience,), (patience10,) = tutorial.callbacks, minibatch.callbacks
    assert patience10.patience * 10 == patience.patience  # 10 epochs of minibatches
