"""Training throughput of tgraph and its peers, timed alternately in worker processes.

Each framework runs in a worker process of its own and only one runs at a time: in one
process, PyTorch's bundled OpenMP runtime and the system's (Numba's threading layer) slow
each other down (PyTorch's tanh 0.46 -> 2.9 ms after one Numba parallel call; tgraph's
mlp 129k -> 74k samples/s with PyTorch loaded). Before timing, every peer passes the
identical-numerics check (:mod:`peers.numerics`) against tgraph's first losses.
"""

import multiprocessing
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from busy import busy_loops, busy_summary
from peers import PEERS, make_peer
from peers.numerics import NumericsMismatch, check_peer, reference_losses

__all__ = ["threads", "load", "tgraph_runner", "throughput"]

SPECS = Path(__file__).resolve().parents[1] / "specs"


def threads():
    """2 threads for OpenMP and OpenBLAS unless the environment says otherwise."""
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")


def load(spec_name):
    """(experiment, tgraph model with training data set, x, y) for a spec name; ``x``
    (N, ...) float32, ``y`` (N,) int32: the training split of the embedded MNIST."""
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
    from the duration of the previous run. ``run(steps)`` returns ``steps``."""
    from tgraph.backend.numba.runtime import background
    from tgraph.trainer import steps_per_call

    model.train_function(batch_size)
    model.train_steps(0, 1, batch_size)  # compiles the step (its kernels perhaps in a helper)
    background.finish()  # a helper still compiling must not share the cores with timing
    state = {"batch": 0, "per_call": 1}

    def run(steps):
        left = steps
        while left > 0:
            count = min(state["per_call"], n_batches - state["batch"], left)
            t0 = time.perf_counter()
            model.train_steps(state["batch"], count, batch_size)
            state["per_call"] = steps_per_call((time.perf_counter() - t0) / count)
            state["batch"] = (state["batch"] + count) % n_batches
            left -= count
        return steps
    return run


def _time(run, steps):
    """(seconds, steps run, minor page faults of this process) of ``run(steps)``."""
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    t0 = time.perf_counter()
    done = run(steps)
    seconds = time.perf_counter() - t0
    return seconds, done, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults


def _steps_for(run, target_s):
    """Number of steps taking about ``target_s`` seconds (at least 5), after a warm-up.

    The warm-up (steps for ~``target_s / 3`` s) keeps first-call costs (loading the
    compiled step loop, growing the steps per call, allocating) out of the estimate and
    the rounds.
    """
    probe = 3
    while True:
        seconds, done, _ = _time(run, probe)
        if seconds >= target_s / 3:
            break
        probe = 4 * max(probe, done)
    seconds, done, _ = _time(run, probe)
    return max(5, int(target_s * done / max(seconds, 1e-6)))


def _start(framework, exp, model, x, y, conn):
    """The framework's ``run``; for tgraph after computing the reference losses (sent),
    for a peer after its numerics check against them (received). Sends what the parent
    reports: tgraph's reference losses; a peer's seconds of its numerics check (its first
    compilation in this process: building the twin and its first 3 steps) and of the
    timed twin's warm-up (its first steps, or first epoch for JAX; compiled again if the
    graph differs, e.g. with dropout)."""
    if framework == "tgraph":
        reference = reference_losses(exp, model, x, y)
        bs = exp.training.batch_size
        run = tgraph_runner(model, bs, len(x) // bs)
        conn.send(("ready", reference))
        return run
    if framework.startswith("torch"):
        import torch
        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    weights = model.get_weights()
    t0 = time.perf_counter()
    check_peer(framework, exp, model.network, weights, conn.recv(), x, y)
    first_s = time.perf_counter() - t0  # the first compilation of the step in this process
    peer = make_peer(framework, exp, model.network, weights, x, y)
    conn.send(("ready", {"compile_s": first_s, "warm_up_s": peer.warm_up()}))
    return peer.run


def _worker(conn, framework, spec_name, target_s):
    """One framework's training steps in a process of its own, run and timed on request.

    Protocol: tgraph sends ``("ready", reference losses)`` once built; a peer receives
    those losses, checks its own first steps against them (:func:`check_peer`) and sends
    ``("ready", {"compile_s": s, "warm_up_s": s})``; either sends an error text instead
    if it cannot run (not installed, no twin, numerics mismatch, any failure). Then it
    answers ``("size",)`` with a step count of ~``target_s`` seconds (after a
    warm-up) and ``("time", n)`` with :func:`_time` of ``n`` steps, until it receives None.
    """
    threads()
    np.seterr(all="ignore")
    try:
        exp, model, x, y = load(spec_name)
        run = _start(framework, exp, model, x, y, conn)
    except ImportError as exc:
        conn.send(f"{framework} is not installed ({exc})")
        return
    except (NumericsMismatch, NotImplementedError) as exc:
        conn.send(f"{framework} skipped: {exc}")
        return
    except Exception as exc:  # a peer failing to build or compile is reported, not fatal
        conn.send(f"{framework} failed: {type(exc).__name__}: {exc}")
        return
    for command in iter(conn.recv, None):
        conn.send(_steps_for(run, target_s) if command[0] == "size" else _time(run, command[1]))


def _open(context, framework, spec_name, target_s, reference):
    """Start a worker and wait until it is ready: ``(process, conn, payload)``, or
    ``(None, None, error text)``."""
    conn, child = context.Pipe()
    proc = context.Process(target=_worker, args=(child, framework, spec_name, target_s),
                           daemon=True)
    proc.start()
    if reference is not None:
        conn.send(reference)
    try:
        status = conn.recv()
    except EOFError:
        status = f"{framework}: its worker died (exit code {proc.join(30) or proc.exitcode})"
    if status[0] != "ready":
        proc.join(timeout=30)
        return None, None, status
    return proc, conn, status[1]


def _sizes(workers):
    """``{framework: step count of ~target_s seconds}``, measured by each worker alone."""
    steps = {}
    for name, (_, conn) in workers.items():
        conn.send(("size",))
        steps[name] = conn.recv()
    return steps


def _rounds(workers, rounds, steps):
    """``{framework: [(seconds, steps, minor faults) per round]}``, the workers timed one
    after the other in each round, each for its ``steps[framework]`` steps."""
    timings = {name: [] for name in workers}
    for _ in range(rounds):
        for name, (_, conn) in workers.items():
            conn.send(("time", steps[name]))
            timings[name].append(conn.recv())
    return timings


def _busy_rounds(workers, steps, busy, rounds):
    """:func:`_rounds` with ``busy`` busy-loop processes running (:func:`busy.busy_loops`),
    each block half the idle step count (~``target_s`` seconds at the 50% target)."""
    half = {name: max(5, n // 2) for name, n in steps.items()}
    with busy_loops(busy):
        return _rounds(workers, rounds, half)


def throughput(spec_name, rounds, *, peers=PEERS, target_s=1.5, busy=0, busy_rounds=2):
    """Median samples/s of tgraph and each peer, timed alternately ``rounds`` times.

    Workers are started one after the other (so compile times are measured alone): tgraph
    first (its reference losses), then each peer (its numerics check, then its warm-up).

    Args:
        spec_name: a spec of ``specs/``.
        rounds: alternations; medians are reported.
        peers: names of the peers to time (see :data:`peers.PEERS`).
        target_s: seconds of each timed block (the warm-up runs a third of it).
        busy: busy-loop processes competing for the cores in a second series of
            ``busy_rounds`` alternations after the idle one, in the same workers
            (0: none, no busy figures).
        busy_rounds: alternations on the busy machine.

    Returns:
        Dict with ``tgraph_samples_per_s``, ``peers`` ({name: samples/s}),
        ``peer_compile_s`` ({name: seconds of its numerics check: its first compilation,
        with whatever compile caches the library keeps on disk}), ``peer_warm_up_s``
        ({name: seconds of the timed twin's first calls}), ``skipped`` ({name: reason}),
        ``best_peer`` (highest median samples/s), ``ratio_best_peer`` (median over rounds
        of tgraph / best peer), ``page_faults_per_step`` (minor page faults of the tgraph
        worker, ``getrusage(RUSAGE_SELF)``, over the timed steps / their number), and ``torch_samples_per_s`` / ``ratio`` (vs PyTorch eager) as before; with ``busy``
        also the figures of :func:`busy.busy_summary` (``busy_share`` etc.).
    """
    from tgraph.specfile import load_spec

    bs = load_spec(SPECS / f"{spec_name}.py").training.batch_size
    context = multiprocessing.get_context("spawn")
    workers, first_calls, skipped = {}, {}, {}
    try:
        proc, conn, reference = _open(context, "tgraph", spec_name, target_s, None)
        if proc is None:
            raise RuntimeError(reference)
        workers["tgraph"] = (proc, conn)
        for name in peers:
            proc, conn, payload = _open(context, name, spec_name, target_s, reference)
            if proc is None:
                print(f"{spec_name}: {payload}", file=sys.stderr)
                skipped[name] = payload
            else:
                workers[name], first_calls[name] = (proc, conn), payload
        steps = _sizes(workers)
        timings = _rounds(workers, rounds, steps)
        busy_timings = _busy_rounds(workers, steps, busy, busy_rounds) if busy else None
    finally:
        for proc, conn in workers.values():
            if proc.is_alive():
                conn.send(None)
            proc.join(timeout=30)
    result = _summary(spec_name, bs, timings, first_calls, skipped)
    if busy_timings:
        result.update(busy_summary(timings, busy_timings, bs, busy))
    return result


def _summary(spec_name, bs, timings, first_calls, skipped):
    rates = {name: [steps * bs / seconds for seconds, steps, _ in ts]
             for name, ts in timings.items()}
    faults = statistics.median(f / steps for _, steps, f in timings["tgraph"])
    result = {"spec": spec_name, "batch_size": bs,
              "tgraph_samples_per_s": statistics.median(rates["tgraph"]),
              "page_faults_per_step": faults,
              "peers": {n: statistics.median(r) for n, r in rates.items() if n != "tgraph"},
              "peer_compile_s": {n: c["compile_s"] for n, c in first_calls.items()},
              "peer_warm_up_s": {n: c["warm_up_s"] for n, c in first_calls.items()},
              "skipped": skipped}
    if result["peers"]:
        best = max(result["peers"], key=result["peers"].get)
        result.update(best_peer=best, ratio_best_peer=statistics.median(
            a / b for a, b in zip(rates["tgraph"], rates[best])))
    if "torch" in rates:
        result.update(torch_samples_per_s=result["peers"]["torch"], ratio=statistics.median(
            a / b for a, b in zip(rates["tgraph"], rates["torch"])))
    return result
