"""A whole PyTorch training run doing what ``tgraph train specs/NAME.py`` does, for its wall time.

    python benchmarks/peers/torch_run.py NAME --epochs E --out DIR

The network is the spec's PyTorch twin (:func:`peers.torch_twin.build_torch`, from
tgraph's initial weights) on the same split of the embedded MNIST, and the run follows
the spec's schedule as ``tgraph train`` does: the spec's epochs, batch size and
shuffling; the validation error after every epoch; with ``TutorialPatience`` its
patience in minibatches and the test error at each new best; the best-validation
weights kept in memory and put back at the end; ``best.pt`` and ``last.pt`` (weights and
optimizer state) written atomically at the first epoch, then at most every 30 s, and at
the end; one ``log.csv`` line per epoch; the final validation and test errors in
``metrics.json``. A hand-written script has its network inline: the seconds spent
importing tgraph and building the twin from the spec are reported apart
(``build_s``), for the caller to subtract from the process's wall time.
"""

import argparse
import copy
import csv
import json
import os
import sys
import time
from pathlib import Path

T_START = time.perf_counter()

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
CHECKPOINT_SECONDS = 30.0


def _build(spec_name):
    """(experiment, net, optimizer, dataset, input shape without the batch axis) of a
    spec, and the seconds it took."""
    t0 = time.perf_counter()
    from peers.torch_twin import build_torch
    from throughput import SPECS
    from tgraph.data import load_dataset
    from tgraph.specfile import load_spec

    dataset = load_dataset()
    exp, _ = load_spec(SPECS / f"{spec_name}.py").for_data(dataset)
    model = exp.build_model()
    net, optimizer = build_torch(exp, model.network, model.get_weights())
    shape = tuple(model.network.input_shape[1:])
    return exp, net, optimizer, dataset, shape, time.perf_counter() - t0


def _tensors(split, input_shape):
    x = torch.from_numpy(np.ascontiguousarray(split.x, dtype=np.float32).reshape(
        (len(split.x), *input_shape)))
    return x, torch.from_numpy(np.asarray(split.y, dtype=np.int64))


@torch.no_grad()
def _error(net, x, y, batch_size=1000):
    """Fraction misclassified of ``(x, y)``, in eval mode (dropout off)."""
    net.eval()
    wrong = sum(int((net(x[i:i + batch_size]).argmax(1) != y[i:i + batch_size]).sum())
                for i in range(0, len(x), batch_size))
    net.train()
    return wrong / len(x)


def _save(path, net, optimizer):
    """``torch.save`` to a temporary file renamed over ``path`` (no half-written file)."""
    tmp = path.with_suffix(".tmp")
    torch.save({"net": net.state_dict(), "optimizer": optimizer.state_dict()}, tmp)
    os.replace(tmp, path)


def train(spec_name, epochs, out):
    """Train the spec's twin for at most ``epochs`` epochs into ``out``; returns metrics."""
    from peers.torch_twin import torch_step
    from tgraph.callbacks import TutorialPatience

    exp, net, optimizer, dataset, shape, build_s = _build(spec_name)
    out.mkdir(parents=True, exist_ok=True)
    x, y = _tensors(dataset.train, shape)
    vx, vy = _tensors(dataset.valid, shape)
    tx, ty = _tensors(dataset.test, shape)
    bs, n_batches = exp.training.batch_size, len(x) // exp.training.batch_size
    patience = next((c for c in exp.callbacks if isinstance(c, TutorialPatience)), None)
    limit = patience.patience if patience else None
    best, best_state, test_at_best = np.inf, None, None
    iteration, last_write, step_s = 0, -np.inf, 0.0
    generator = torch.Generator().manual_seed(0)
    t_train = time.perf_counter()
    with open(out / "log.csv", "w", newline="") as log:
        writer = csv.writer(log)
        writer.writerow(["epoch", "iteration", "loss", "time_s", "valid_error", "test_error"])
        for epoch in range(1, epochs + 1):
            order = (torch.randperm(len(x), generator=generator) if exp.training.shuffle
                     else None)
            t0, losses = time.perf_counter(), []
            for j in range(n_batches):
                rows = order[j * bs:(j + 1) * bs] if order is not None else slice(j * bs, (j + 1) * bs)
                losses.append(torch_step(net, optimizer, x[rows], y[rows]).detach())
                iteration += 1
            loss = float(torch.stack(losses).mean())
            step_s += time.perf_counter() - t0
            valid, test = _error(net, vx, vy), None
            if valid < best:
                if limit is not None and valid < best * patience.improvement_threshold:
                    limit = max(limit, (iteration - 1) * patience.patience_increase)
                best, best_state = valid, copy.deepcopy(net.state_dict())
                if patience is not None and patience.test_at_best:
                    test = test_at_best = _error(net, tx, ty)
            writer.writerow([epoch, iteration, loss, time.perf_counter() - t0, valid, test])
            if time.perf_counter() - last_write >= CHECKPOINT_SECONDS:
                _save(out / "last.pt", net, optimizer)
                torch.save({"net": best_state}, out / "best.pt")
                last_write = time.perf_counter()
            if limit is not None and limit <= iteration - 1:
                break
    net.load_state_dict(best_state)
    _save(out / "last.pt", net, optimizer)
    metrics = {"epochs_run": epoch, "best_valid_error": _error(net, vx, vy),
               "test_error": _error(net, tx, ty), "test_error_at_best": test_at_best,
               "step_time_s": step_s, "train_time_s": time.perf_counter() - t_train,
               "build_s": build_s, "threads": torch.get_num_threads(),
               "wall_time_s": time.perf_counter() - T_START}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", help="a spec of specs/ (e.g. mlp)")
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", 2)))
    print(json.dumps(train(args.spec, args.epochs, args.out)))


if __name__ == "__main__":
    main()
