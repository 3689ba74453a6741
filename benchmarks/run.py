"""Training throughput of every spec against its PyTorch twin, plus start-up and memory.

    python benchmarks/run.py [--specs logreg,mlp] [--json FILE] [--rounds 5] [--startup-only]

For each spec: the same network, batch size, float32 data (the embedded MNIST subset)
and 2 threads in both frameworks; warm-up steps excluded; training steps only (no
validation); tgraph and PyTorch timed alternately ``--rounds`` times in one run (each
in a worker process of its own, see :func:`throughput`) and the median ratio reported. Start-up (process start -> first finished
training step, with an empty and with a warm compile cache) and peak RSS are measured
in fresh subprocesses running tgraph alone. PyTorch is optional
(``pip install torch==2.13.0``); without it only tgraph is measured.
"""

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs"
# The specs trained by supervised steps alone, each with a PyTorch twin (torch_twin.py);
# the pretraining specs (dbn, sda, rbm, da) train layer by layer and have none.
SUPERVISED_SPECS = ("convnet", "dropout_mlp", "lenet5", "logreg", "mlp")
sys.path.insert(0, str(ROOT / "benchmarks"))


def _threads():
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")


def load(spec_name):
    """(experiment, tgraph model with training data set, x, y) for a spec name."""
    from tgraph.data import load_dataset
    from tgraph.specfile import load_spec

    exp = load_spec(SPECS / f"{spec_name}.py")
    data = load_dataset()
    exp, _ = exp.for_data(data)  # Input() / Dense("classes") sized from the data read once
    model = exp.build_model()
    model.set_train_data(data.train.x, data.train.y)
    return exp, model, data.train.x, data.train.y


def tgraph_runner(model, batch_size, n_batches):
    """Steps as :class:`tgraph.trainer.Trainer` runs them without validation: runs of
    ``Model.train_steps`` ending at the epoch's end, as long as ``steps_per_call`` says
    from the duration of the previous run."""
    from tgraph.backend.numba.runtime import background
    from tgraph.trainer import steps_per_call

    model.train_function(batch_size)
    model.train_steps(0, 1, batch_size)  # compiles the step (its kernels perhaps in a helper)
    background.finish()  # a helper still compiling must not share the cores with timing
    state = {"batch": 0, "per_call": 1}

    def run(steps):
        while steps > 0:
            count = min(state["per_call"], n_batches - state["batch"], steps)
            t0 = time.perf_counter()
            model.train_steps(state["batch"], count, batch_size)
            state["per_call"] = steps_per_call((time.perf_counter() - t0) / count)
            state["batch"] = (state["batch"] + count) % n_batches
            steps -= count
    return run


def torch_runner(exp, model, x, y):
    import torch
    from torch_twin import as_torch, build_torch, torch_step

    torch.set_num_threads(2)
    net, optimizer = build_torch(exp, model.network)
    net.train()
    tx, ty = as_torch(x, y, model.network.input_shape)
    bs = exp.training.batch_size
    n_batches = len(tx) // bs

    def run(steps):
        for i in range(steps):
            j = i % n_batches
            torch_step(net, optimizer, tx[j * bs:(j + 1) * bs], ty[j * bs:(j + 1) * bs])
    return run


def _time(run, steps):
    t0 = time.perf_counter()
    run(steps)
    return time.perf_counter() - t0


def _steps_for(run, target_s=1.5):
    """Number of steps taking about ``target_s`` seconds (at least 5), after a warm-up.

    The warm-up (steps for ~0.5 s) keeps first-call costs (loading the compiled step
    loop, growing the steps per call, allocating) out of the estimate and the rounds.
    """
    probe = 3
    while _time(run, probe) < 0.5:
        probe *= 4
    dt = _time(run, probe) / probe
    return max(5, int(target_s / max(dt, 1e-6)))


def _worker(conn, framework, spec_name):
    """One framework's training steps in a process of its own, run and timed on request.

    Protocol: sends "ready" (or an error text) once built, then answers ``("size",)``
    with a step count of ~1.5 s (after a warm-up) and ``("time", n)`` with the seconds
    ``n`` steps took, until it receives None.
    """
    _threads()
    np.seterr(all="ignore")
    try:
        exp, model, x, y = load(spec_name)
        bs = exp.training.batch_size
        run = (tgraph_runner(model, bs, len(x) // bs) if framework == "tgraph"
               else torch_runner(exp, model, x, y))
    except ImportError as exc:
        conn.send(f"{framework} is not installed ({exc})")
        return
    conn.send("ready")
    for command in iter(conn.recv, None):
        conn.send(_steps_for(run) if command[0] == "size" else _time(run, command[1]))


def throughput(spec_name, rounds):
    """Median samples/s of tgraph and PyTorch, timed alternately.

    Each framework runs in a worker process of its own, and only one runs at a time: in
    one process, PyTorch's bundled OpenMP runtime and the system's (Numba's threading
    layer) slow each other down (PyTorch's tanh 0.46 -> 2.9 ms after one Numba parallel
    call; tgraph's mlp 129k -> 74k samples/s with PyTorch loaded).
    """
    from tgraph.specfile import load_spec

    bs = load_spec(SPECS / f"{spec_name}.py").training.batch_size
    context = multiprocessing.get_context("spawn")
    workers = {}
    try:
        for name in ("tgraph", "torch"):
            conn, child = context.Pipe()
            proc = context.Process(target=_worker, args=(child, name, spec_name), daemon=True)
            proc.start()
            workers[name] = (proc, conn)
        for name, (proc, conn) in list(workers.items()):
            status = conn.recv()
            if status != "ready":
                if name == "tgraph":
                    raise RuntimeError(status)
                print(f"{spec_name}: {status}; tgraph only", file=sys.stderr)
                del workers[name]
        steps = {}
        for name, (_, conn) in workers.items():
            conn.send(("size",))
            steps[name] = conn.recv()
        rates = {name: [] for name in workers}
        for _ in range(rounds):
            for name, (_, conn) in workers.items():
                conn.send(("time", steps[name]))
                rates[name].append(steps[name] * bs / conn.recv())
    finally:
        for proc, conn in workers.values():
            if proc.is_alive():
                conn.send(None)
            proc.join(timeout=30)
    result = {"spec": spec_name, "batch_size": bs,
              "tgraph_samples_per_s": statistics.median(rates["tgraph"])}
    if "torch" in rates:
        ratios = [a / b for a, b in zip(rates["tgraph"], rates["torch"])]
        result.update(torch_samples_per_s=statistics.median(rates["torch"]),
                      ratio=statistics.median(ratios))
    return result


PROBE = """
import time, resource, sys
sys.path.insert(0, {bench!r})
from run import load, tgraph_runner
exp, model, x, y = load({spec!r})
bs = exp.training.batch_size
run = tgraph_runner(model, bs, len(x) // bs)
run(1)
print("FIRST_STEP", flush=True)
run(50)
print("PEAK_RSS_MB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, flush=True)
"""


def startup(spec_name, cache_dir):
    """Seconds from process start to the first finished step, and the peak RSS in MB."""
    env = dict(os.environ, PYTENSOR_FLAGS=f"base_compiledir={cache_dir}",
               NUMBA_CACHE_DIR=os.path.join(cache_dir, "numba-njit"))
    code = PROBE.format(bench=str(ROOT / "benchmarks"), spec=spec_name)
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            env=env, cwd=str(ROOT))
    first, rss = None, None
    for line in proc.stdout:
        if line.startswith("FIRST_STEP"):
            first = time.perf_counter() - t0
        elif line.startswith("PEAK_RSS_MB"):
            rss = float(line.split()[1])
    if proc.wait() != 0:
        raise RuntimeError(f"start-up probe of {spec_name} failed")
    return first, rss


def measure(spec_name, rounds, with_startup, with_throughput=True):
    result = throughput(spec_name, rounds) if with_throughput else {"spec": spec_name}
    if with_startup:
        with tempfile.TemporaryDirectory() as cache:
            result["cold_start_s"], _ = startup(spec_name, cache)
            result["warm_start_s"], result["peak_rss_mb"] = startup(spec_name, cache)
    return result


def table(results):
    cols = ["spec", "batch_size", "tgraph_samples_per_s", "torch_samples_per_s", "ratio",
            "warm_start_s", "cold_start_s", "peak_rss_mb"]
    fmt = lambda v: f"{v:,.0f}" if isinstance(v, float) and v > 100 else (  # noqa: E731
        f"{v:.2f}" if isinstance(v, float) else str(v))
    rows = [cols] + [[fmt(r.get(c, "-")) for c in cols] for r in results]
    widths = [max(len(r[i]) for r in rows) for i in range(len(cols))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in rows]
    return "\n".join([lines[0], "-" * len(lines[0]), *lines[1:]])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specs", default=",".join(SUPERVISED_SPECS),
                        help="comma-separated spec names (default: the supervised specs with "
                             "a PyTorch twin: " + ", ".join(SUPERVISED_SPECS) + ")")
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON")
    parser.add_argument("--rounds", type=int, default=5, help="alternations (median reported)")
    parser.add_argument("--no-startup", action="store_true", help="skip start-up probes")
    parser.add_argument("--startup-only", action="store_true",
                        help="only the start-up probes (no throughput comparison)")
    args = parser.parse_args(argv)
    _threads()
    results = []
    for name in args.specs.split(","):
        results.append(measure(name.strip(), args.rounds, not args.no_startup,
                               not args.startup_only))
        print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    print(table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
