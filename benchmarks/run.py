"""Training throughput of every spec against its peers, plus start-up and memory.

    python benchmarks/run.py [--specs logreg,mlp] [--peers torch,jax] [--json FILE]
                             [--rounds 5] [--seconds 1.5] [--no-startup] [--startup-only]
                             [--busy 1] [--busy-rounds 2] [--e2e-epochs N] [--no-e2e]

For each spec: the same network, initial weights, batch size, float32 data (the embedded
MNIST subset) and 2 threads in tgraph and in each peer (PyTorch eager, ``torch.compile``
of the same step, JAX with each epoch one jitted ``lax.scan`` and optax; see
:mod:`peers`); each peer first passes the identical-numerics check (its first 3 losses
equal tgraph's within 1e-4 relative, :mod:`peers.numerics`) or is skipped with a note;
warm-up and compilation excluded (compile seconds reported apart); training steps only
(no validation); the frameworks timed alternately ``--rounds`` times in one run, each in
a worker process of its own (:mod:`throughput`), medians reported. ``peak_share`` is
tgraph's training FLOP/s (:func:`flops.flops_per_sample`) over the machine's fp32 GEMM
peak (:func:`flops.gemm_peak`, measured once). Start-up (process start -> first
finished training step, with an empty and with a warm compile cache) and peak RSS are
measured in fresh subprocesses running tgraph alone. With ``--busy N``, N busy-loop
processes then compete for the cores while the same workers are timed alternately again
(``--busy-rounds``): ``busy_share`` is tgraph's busy / idle samples/s, ``peers_busy_share``
each peer's (:mod:`busy`). ``end_to_end_share`` is the share of a whole warm ``tgraph
train`` command's wall time (process start to exit) spent in training steps, and
``e2e_torch_ratio`` the wall time of a PyTorch script doing the same run over tgraph's
(:mod:`e2e`; ``--no-e2e`` skips both). Every peer is optional (``pip install -e '.[bench]'``); a missing
one is skipped with a note.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# The specs trained by supervised steps alone, each with peer twins (peers/); the
# pretraining specs (dbn, sda, rbm, da) train layer by layer and have none.
SUPERVISED_SPECS = ("convnet", "dropout_mlp", "lenet5", "logreg", "mlp")
sys.path.insert(0, str(ROOT / "benchmarks"))

from e2e import end_to_end, torch_end_to_end  # noqa: E402
from flops import flops_per_sample, gemm_peak  # noqa: E402
from peers import PEERS  # noqa: E402
from throughput import load, threads, throughput  # noqa: E402


PROBE = """
import time, resource, sys
sys.path.insert(0, {bench!r})
from throughput import load, tgraph_runner
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


def measure(spec_name, rounds, with_startup, *, with_throughput=True, peers=PEERS,
            target_s=1.5, peak=None, busy=0, busy_rounds=2, e2e=False, e2e_epochs=None):
    """One spec's results: throughput (:func:`throughput.throughput`, with ``busy``
    busy-loop processes in ``busy_rounds`` more rounds), its FLOPs per sample and
    ``peak_share`` (of ``peak`` FLOP/s, if given), start-up and RSS, and with ``e2e`` the
    end-to-end share of a whole run of ``e2e_epochs`` epochs (:func:`e2e.end_to_end`)."""
    result = {"spec": spec_name}
    if with_throughput:
        result = throughput(spec_name, rounds, peers=peers, target_s=target_s, busy=busy,
                            busy_rounds=busy_rounds)
        result["flops_per_sample"] = flops_per_sample(load(spec_name)[1].network)
        if peak:
            result["gemm_peak_flops"] = peak
            flops = result["tgraph_samples_per_s"] * result["flops_per_sample"]  # FLOP/s
            result["peak_share"] = flops / peak
    if with_startup:
        with tempfile.TemporaryDirectory() as cache:
            result["cold_start_s"], _ = startup(spec_name, cache)
            result["warm_start_s"], result["peak_rss_mb"] = startup(spec_name, cache)
    if e2e:
        result.update(end_to_end(spec_name, e2e_epochs))
        if "torch" in peers:
            try:
                result.update(torch_end_to_end(spec_name, e2e_epochs))
                result["e2e_torch_ratio"] = result["e2e_torch_wall_s"] / result["e2e_wall_s"]
            except RuntimeError as err:  # no torch, or its run failed: noted, not fatal
                result.setdefault("notes", []).append(f"torch end-to-end: {err}"[:500])
    return result


def table(results, peers=PEERS):
    """The results as an aligned text table (one row per spec, one column per peer)."""
    cols = ["spec", "batch_size", "tgraph_samples_per_s", *peers, "best_peer",
            "ratio_best_peer", "peak_share", "busy_share", "end_to_end_share", "e2e_torch_ratio",
            "page_faults_per_step", "warm_start_s",
            "cold_start_s", "peak_rss_mb"]
    fmt = lambda v: f"{v:,.0f}" if isinstance(v, float) and v > 100 else (  # noqa: E731
        f"{v:.2f}" if isinstance(v, float) else str(v))
    rows = [cols] + [[fmt({**r, **r.get("peers", {})}.get(c, "-")) for c in cols] for r in results]
    widths = [max(len(r[i]) for r in rows) for i in range(len(cols))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in rows]
    return "\n".join([lines[0], "-" * len(lines[0]), *lines[1:]])


def markdown(results, peers=PEERS):
    """The results as the README's Markdown table: samples/s of tgraph and each peer, the
    ratio to the best peer, the shares (peak, busy with the best peer's in brackets, end
    to end), the PyTorch whole run's wall time over tgraph's, start-up and RSS."""
    head = ["spec", "batch", "tgraph", *peers, "vs best peer", "peak share",
            "busy share (best peer's)", "end-to-end share", "PyTorch run / tgraph run",
            "warm start (s)", "cold start (s)", "peak RSS (MB)"]

    def num(value, digits=2):
        if value is None:
            return "-"
        return f"{value:,.0f}" if value >= 100 else f"{value:.{digits}f}"

    rows = []
    for r in results:
        best = r.get("best_peer")
        busy = num(r.get("busy_share"))
        if best and best in r.get("peers_busy_share", {}):
            busy += f" ({num(r['peers_busy_share'][best])})"
        ratio = f"{r['ratio_best_peer']:.2f}x ({best})" if best else "-"
        rows.append([r["spec"], str(r.get("batch_size", "-")), num(r.get("tgraph_samples_per_s")),
                     *[num(r.get("peers", {}).get(p)) for p in peers], ratio,
                     num(r.get("peak_share")), busy, num(r.get("end_to_end_share")),
                     num(r.get("e2e_torch_ratio")), num(r.get("warm_start_s"), 1),
                     num(r.get("cold_start_s"), 1), num(r.get("peak_rss_mb"))])
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specs", default=",".join(SUPERVISED_SPECS),
                        help="comma-separated spec names (default: the supervised specs with "
                             "peer twins: " + ", ".join(SUPERVISED_SPECS) + ")")
    parser.add_argument("--peers", default=",".join(PEERS),
                        help="comma-separated peers to time (default: " + ",".join(PEERS) + ")")
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON")
    parser.add_argument("--markdown", metavar="FILE",
                        help="write the results as the README's Markdown table")
    parser.add_argument("--rounds", type=int, default=5, help="alternations (median reported)")
    parser.add_argument("--seconds", type=float, default=1.5,
                        help="seconds of each timed block per framework (default 1.5)")
    parser.add_argument("--no-startup", action="store_true", help="skip start-up probes")
    parser.add_argument("--startup-only", action="store_true",
                        help="only the start-up probes (no throughput comparison)")
    parser.add_argument("--busy", type=int, default=0, metavar="N",
                        help="after the idle rounds, time again with N busy-loop processes "
                             "competing for the cores (default 0: not)")
    parser.add_argument("--busy-rounds", type=int, default=2, metavar="R",
                        help="alternations with the busy loops (default 2)")
    parser.add_argument("--e2e-epochs", type=int, metavar="E",
                        help="epochs of the end-to-end run of every spec (default: per spec, "
                             "a run of ~20-60 s, see benchmarks/e2e.py)")
    parser.add_argument("--no-e2e", action="store_true",
                        help="skip the end-to-end runs (whole `tgraph train` commands)")
    args = parser.parse_args(argv)
    if args.busy < 0 or args.busy_rounds < 1:
        parser.error(f"--busy (={args.busy}) must be >= 0 and --busy-rounds "
                     f"(={args.busy_rounds}) >= 1")
    threads()
    peers = tuple(p.strip() for p in args.peers.split(",") if p.strip())
    unknown = set(peers) - set(PEERS)
    if unknown:
        parser.error(f"--peers: unknown {sorted(unknown)}; choose from {', '.join(PEERS)}")
    peak = None if args.startup_only else gemm_peak()
    if peak:
        print(f"fp32 GEMM peak: {peak / 1e9:.0f} GFLOP/s", file=sys.stderr, flush=True)
    results = []
    for name in args.specs.split(","):
        results.append(measure(name.strip(), args.rounds, not args.no_startup,
                               with_throughput=not args.startup_only, peers=peers,
                               target_s=args.seconds, peak=peak, busy=args.busy,
                               busy_rounds=args.busy_rounds,
                               e2e=not (args.no_e2e or args.startup_only),
                               e2e_epochs=args.e2e_epochs))
        print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    print(table(results, peers))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    if args.markdown:
        Path(args.markdown).write_text(markdown(results, peers) + "\n")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
