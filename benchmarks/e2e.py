"""Whole runs as a user meets them: the share of ``tgraph train``'s wall time in training steps.

:func:`end_to_end` runs ``tgraph train specs/NAME.py --epochs E --out DIR --quiet`` in a
subprocess, after one throwaway 1-epoch run that fills the compile cache (so the timed run
starts warm, as every run but a user's first does), and relates the training steps' time
tgraph reports in ``metrics.json`` to the subprocess's wall time measured from outside
(process start to exit: interpreter start, imports, data, loading the compiled functions,
validation, test evaluation, checkpoints, logging). Issue 16's target: >= 0.85.
:func:`torch_end_to_end` times the same run as a PyTorch script
(:mod:`peers.torch_run`: the twin network, the spec's epochs and validation schedule,
checkpoints and log), for ``e2e_torch_ratio``: its wall time over tgraph's.
"""

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["E2E_EPOCHS", "train_command", "end_to_end", "torch_end_to_end"]

SPECS = Path(__file__).resolve().parents[1] / "specs"
TORCH_RUN = Path(__file__).resolve().parent / "peers" / "torch_run.py"

# Epochs of the timed run per spec: a whole run of roughly 20-60 s on an idle 2-core
# machine, from the README's Results (wall time / epochs of the full runs on the embedded
# MNIST: logreg ~16 ms, mlp ~0.19 s, dropout_mlp ~0.38 s, lenet5 ~1.5 s, convnet ~2.2 s
# per epoch, validation and checkpoints included). Early stopping may end a run sooner.
E2E_EPOCHS = {"logreg": 1000, "mlp": 150, "dropout_mlp": 80, "lenet5": 20, "convnet": 12}


def train_command(spec_name, epochs, out):
    """The argv of ``tgraph train specs/NAME.py --epochs E --out OUT --quiet`` run by this
    Python (``python -m tgraph.cli``, the console script's ``main``)."""
    return [sys.executable, "-m", "tgraph.cli", "train", str(SPECS / f"{spec_name}.py"),
            "--epochs", str(epochs), "--out", str(out), "--quiet"]


def _run(argv, spec_name):
    """Seconds from starting ``argv`` to its exit (its output discarded); raises
    RuntimeError naming the spec and showing the output's end if it fails."""
    t0 = time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"end-to-end run of {spec_name} failed (exit code "
                           f"{proc.returncode}): {' '.join(argv)}\n{proc.stdout[-2000:]}")
    return wall


def end_to_end(spec_name, epochs=None, *, warm_up=True, command=train_command):
    """Wall time of a whole ``tgraph train`` run and the share of it in training steps.

    Args:
        spec_name: a spec of ``specs/``.
        epochs: epochs of the timed run (default :data:`E2E_EPOCHS`, else 10).
        warm_up: first run 1 epoch, untimed, so that the timed run finds its compiled
            functions in the compile cache.
        command: ``command(spec_name, epochs, out_dir)`` -> argv of the run; it must write
            ``metrics.json`` (with ``step_time_s`` and ``wall_time_s``) into ``out_dir``.

    Returns:
        Dict with ``e2e_epochs``, ``e2e_epochs_run`` (fewer if early stopping ended the
        run), ``e2e_wall_s`` (seconds from process start to exit, measured here),
        ``e2e_reported_wall_s`` (the ``wall_time_s`` tgraph reports: its training and
        evaluation, without interpreter start and imports), ``e2e_step_time_s`` (seconds
        in training steps) and ``end_to_end_share`` (step time / ``e2e_wall_s``).
    """
    epochs = epochs or E2E_EPOCHS.get(spec_name, 10)
    with tempfile.TemporaryDirectory(prefix=f"tgraph-e2e-{spec_name}-") as tmp:
        if warm_up:
            _run(command(spec_name, 1, Path(tmp) / "warm-up"), spec_name)
        out = Path(tmp) / "run"
        wall = _run(command(spec_name, epochs, out), spec_name)
        metrics = json.loads((out / "metrics.json").read_text())
    return {"e2e_epochs": epochs, "e2e_epochs_run": metrics.get("epochs_run"),
            "e2e_wall_s": wall, "e2e_reported_wall_s": metrics["wall_time_s"],
            "e2e_step_time_s": metrics["step_time_s"],
            "end_to_end_share": metrics["step_time_s"] / wall}


def torch_end_to_end(spec_name, epochs=None):
    """Wall time of the same whole run as a PyTorch script (:mod:`peers.torch_run`).

    Args:
        spec_name: a spec of ``specs/``.
        epochs: epochs of the run (default :data:`E2E_EPOCHS`, else 10).

    Returns:
        Dict with ``e2e_torch_wall_s`` (seconds from process start to exit, less the
        seconds the script spent importing tgraph and building the twin from the spec,
        which a hand-written script does not spend), ``e2e_torch_step_time_s`` and
        ``e2e_torch_epochs_run``.
    """
    epochs = epochs or E2E_EPOCHS.get(spec_name, 10)
    with tempfile.TemporaryDirectory(prefix=f"torch-e2e-{spec_name}-") as tmp:
        out = Path(tmp) / "run"
        wall = _run([sys.executable, str(TORCH_RUN), spec_name, "--epochs", str(epochs),
                     "--out", str(out)], spec_name)
        metrics = json.loads((out / "metrics.json").read_text())
    return {"e2e_torch_wall_s": wall - metrics["build_s"],
            "e2e_torch_step_time_s": metrics["step_time_s"],
            "e2e_torch_epochs_run": metrics["epochs_run"]}
