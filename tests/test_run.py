"""A training run's files: the best model comes from the trainer's BestModel, in memory."""

import json
from pathlib import Path

import attrs
import numpy as np

import tgraph.run
from tgraph.callbacks import EarlyStopping
from tgraph.modelfile import read_model_file
from tgraph.specfile import apply_overrides, load_spec

SPECS = Path(__file__).resolve().parents[1] / "specs"


def test_the_saved_model_is_the_best_model_taken_from_memory(tmp_path, small_npz, monkeypatch):
    reads = []
    real = tgraph.run.read_model_file
    monkeypatch.setattr(tgraph.run, "read_model_file", lambda p: reads.append(p) or real(p))
    experiment = apply_overrides(load_spec(SPECS / "logreg.py"),
                                 ["training.max_epochs=6", "training.batch_size=100"])
    metrics = tgraph.run.train(experiment, out_dir=tmp_path, data=str(small_npz),
                               mode="FAST_COMPILE", verbose=False, fresh=True)
    assert reads == []  # best.tgraph is never read back
    best = read_model_file(tmp_path / "best.tgraph")
    final = read_model_file(tmp_path / "model.tgraph")
    for name, value in best.weights.items():
        np.testing.assert_array_equal(final.weights[name], value, err_msg=name)
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    errors = [e["valid_error"] for e in log]
    assert metrics["best_epoch"] == 1 + errors.index(min(errors))
    assert best.meta["best_epoch"] == metrics["best_epoch"]
    assert best.meta["best_iteration"] == metrics["best_iteration"] == 8 * metrics["best_epoch"]
    assert metrics["best_valid_error"] == min(errors)


def test_early_stopping_on_valid_loss_chooses_the_saved_model(tmp_path, small_npz):
    experiment = apply_overrides(load_spec(SPECS / "logreg.py"),
                                 ["training.max_epochs=5", "training.batch_size=100"])
    experiment = attrs.evolve(experiment, callbacks=[EarlyStopping(monitor="valid_loss",
                                                                   patience=10)])
    metrics = tgraph.run.train(experiment, out_dir=tmp_path, data=str(small_npz),
                               mode="FAST_COMPILE", verbose=False)
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    losses = [e["valid_loss"] for e in log]
    assert metrics["best_epoch"] == 1 + losses.index(min(losses))
    assert read_model_file(tmp_path / "best.tgraph").meta["valid_loss"] == min(losses)


def strip_best_model(path):
    """Rewrite the checkpoint at ``path`` as tgraph wrote it before BestModel existed."""
    import zipfile

    with zipfile.ZipFile(path) as zf:
        files = {name: zf.read(name) for name in zf.namelist()}
    state = json.loads(files["training.json"])
    del state["best_model"]
    files["training.json"] = json.dumps(state)
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)


def test_resume_of_a_checkpoint_without_best_model_takes_best_tgraph(tmp_path, small_npz):
    experiment = apply_overrides(load_spec(SPECS / "logreg.py"), ["training.batch_size=100",
                                                                  "optimizer.learning_rate=20.0"])

    def run(out, epochs, resume=None):
        return tgraph.run.train(apply_overrides(experiment, [f"training.max_epochs={epochs}"]),
                                out_dir=out, data=str(small_npz), mode="FAST_COMPILE",
                                verbose=False, resume=resume)

    straight = run(tmp_path / "a", 6)
    assert straight["best_epoch"] == 5  # the valid error rises in epoch 6
    run(tmp_path / "b", 5)
    strip_best_model(tmp_path / "b" / "last.tgraph")
    resumed = run(tmp_path / "b", 6, resume=tmp_path / "b")
    times = ("wall_time_s", "train_time_s", "step_time_s", "samples_per_s")
    assert {k: v for k, v in resumed.items() if k not in times} == \
        {k: v for k, v in straight.items() if k not in times}
