"""Micro-benchmark of tgraph's convolution and pooling ops against PyTorch (CPU).

    python benchmarks/conv.py [--layers lenet.conv2,convnet.pool1] [--rounds 7] [--json FILE]
    python benchmarks/conv.py --profile lenet5     # per-node times of a training step

For each layer shape of the tutorial LeNet-5 (batch 500) and dropout convnet (batch 128),
float32: convolution forward, gradient wrt the input and gradient wrt the filters;
max-pooling forward and backward. tgraph runs each op alone in a compiled function
(tgraph's default Numba mode, ``trust_input``); PyTorch runs the ATen kernels its
autograd calls (``convolution_backward`` with one output mask, ``max_pool2d_with_indices``
and its backward), both on Numba's thread count (2 on the reference machine; set
``NUMBA_NUM_THREADS=1`` to compare single-thread kernels, less disturbed by a busy
machine). Candidates are timed alternately ``--rounds`` times in this one process;
each entry is the median milliseconds per call.
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numba
import numpy as np
import pytensor
import pytensor.tensor as pt

from tgraph.backend import get_mode
from tgraph.ops import conv, pool

# name: (kind, input shape, filters shape or pool size, stride, padding or ignore_border)
LAYERS = {
    "lenet.conv1": ("conv", (500, 1, 28, 28), (20, 1, 5, 5), (1, 1), (0, 0)),
    "lenet.pool1": ("pool", (500, 20, 24, 24), (2, 2), (2, 2), True),
    "lenet.conv2": ("conv", (500, 20, 12, 12), (50, 20, 5, 5), (1, 1), (0, 0)),
    "lenet.pool2": ("pool", (500, 50, 8, 8), (2, 2), (2, 2), True),
    "convnet.conv1": ("conv", (128, 1, 28, 28), (32, 1, 3, 3), (1, 1), (2, 2)),
    "convnet.pool1": ("pool", (128, 32, 30, 30), (2, 2), (2, 2), False),
    "convnet.conv2": ("conv", (128, 32, 15, 15), (64, 32, 3, 3), (1, 1), (0, 0)),
    "convnet.pool2": ("pool", (128, 64, 13, 13), (2, 2), (2, 2), False),
    "convnet.conv3": ("conv", (128, 64, 7, 7), (128, 64, 3, 3), (1, 1), (0, 0)),
    "convnet.pool3": ("pool", (128, 128, 5, 5), (2, 2), (2, 2), False),
}


def _compile(inputs, output):
    fn = pytensor.function(inputs, output, mode=get_mode("NUMBA"))
    fn.trust_input = True
    return fn


def tgraph_conv(x, w, stride, padding):
    """{op name: zero-argument callable} of the three convolution ops on arrays x, w."""
    xs, ws = pt.tensor4("x", shape=x.shape), pt.tensor4("w", shape=w.shape)
    y = conv.conv2d(xs, ws, stride, padding)
    gy = np.random.default_rng(1).normal(size=y.type.shape).astype(np.float32)
    gys = pt.tensor4("gy", shape=gy.shape)
    fwd = _compile([xs, ws], y)
    g_in = _compile([gys, ws], conv.Conv2DGradInput(stride, padding)(gys, ws, x.shape[2:]))
    g_w = _compile([xs, gys], conv.Conv2DGradFilters(stride, padding)(xs, gys, w.shape[2:]))
    return {"forward": lambda: fwd(x, w), "grad_input": lambda: g_in(gy, w),
            "grad_filters": lambda: g_w(x, gy)}


def tgraph_pool(x, size, stride, ignore_border):
    """{op name: callable} of max-pooling forward and backward."""
    xs = pt.tensor4("x", shape=x.shape)
    y = pool.max_pool2d(xs, size, stride, ignore_border)
    ys, gys = y.type("y"), y.type("gy")
    fwd = _compile([xs], y)
    out = fwd(x)
    gy = np.random.default_rng(1).normal(size=out.shape).astype(np.float32)
    bwd = _compile([xs, ys, gys], pool.MaxPool2DGrad(size, stride, ignore_border)(xs, ys, gys))
    return {"forward": lambda: fwd(x), "backward": lambda: bwd(x, out, gy)}


def torch_conv(x, w, stride, padding):
    import torch

    tx, tw = torch.from_numpy(x), torch.from_numpy(w)
    ty = torch.nn.functional.conv2d(tx, tw, stride=stride, padding=padding)
    gy = torch.from_numpy(np.random.default_rng(1).normal(size=ty.shape).astype(np.float32))

    def backward(mask):
        return lambda: torch.ops.aten.convolution_backward(
            gy, tx, tw, None, stride, padding, (1, 1), False, (0, 0), 1, mask)
    return {"forward": lambda: torch.nn.functional.conv2d(tx, tw, stride=stride, padding=padding),
            "grad_input": backward((True, False, False)),
            "grad_filters": backward((False, True, False))}


def torch_pool(x, size, stride, ignore_border):
    import torch

    tx = torch.from_numpy(x)
    args = (size, stride, (0, 0), (1, 1), not ignore_border)
    out, idx = torch.ops.aten.max_pool2d_with_indices(tx, *args)
    gy = torch.from_numpy(np.random.default_rng(1).normal(size=out.shape).astype(np.float32))
    return {"forward": lambda: torch.ops.aten.max_pool2d_with_indices(tx, *args),
            "backward": lambda: torch.ops.aten.max_pool2d_with_indices_backward(gy, tx, *args, idx)}


def _median_ms(fn, target_s=0.3):
    fn()
    t0 = time.perf_counter()
    fn()
    once = time.perf_counter() - t0
    reps = max(3, int(target_s / max(once, 1e-6)))
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def bench_layer(name, rounds):
    """Median ms of each op of layer ``name`` for tgraph and PyTorch, and their ratio."""
    kind, x_shape, second, stride, last = LAYERS[name]
    rng = np.random.default_rng(0)
    x = rng.normal(size=x_shape).astype(np.float32)
    if kind == "conv":
        w = (0.1 * rng.normal(size=second)).astype(np.float32)
        candidates = {"tgraph": tgraph_conv(x, w, stride, last)}
        make_torch = lambda: torch_conv(x, w, stride, last)  # noqa: E731
    else:
        candidates = {"tgraph": tgraph_pool(x, second, stride, last)}
        make_torch = lambda: torch_pool(x, second, stride, last)  # noqa: E731
    try:
        candidates["torch"] = make_torch()
    except ImportError:
        pass
    rows = []
    for op in candidates["tgraph"]:
        times = {k: [] for k in candidates}
        for _ in range(rounds):
            for k, ops in candidates.items():
                times[k].append(_median_ms(ops[op]))
        row = {"layer": name, "op": op}
        row.update({f"{k}_ms": statistics.median(v) for k, v in times.items()})
        if "torch" in times:
            ratios = [t / g for t, g in zip(times["torch"], times["tgraph"])]
            row["speedup"] = statistics.median(ratios)
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    return rows


def _node_arguments(node, values):
    """The node's input values, typed as a function compiled for the node alone takes them."""
    from pytensor.graph.basic import Constant
    from pytensor.scalar import ScalarType
    from pytensor.tensor.type import TensorType

    args = []
    for var in node.inputs:
        value = var.data if isinstance(var, Constant) else values[var]
        if isinstance(var.type, TensorType):
            value = np.asarray(value, dtype=var.type.dtype)
        elif isinstance(var.type, ScalarType):
            value = getattr(np, var.type.dtype)(value)
        args.append(value)
    return args


def profile_step(spec_name, top=25):
    """Median ms of each node of a spec's compiled training step, each compiled alone.

    The Numba linker runs a whole step as one function, so PyTensor's profiler sees no
    nodes; here every node is recompiled on its own and run on the step's own values.
    """
    sys.path.insert(0, str(Path(__file__).parent))
    from run import load

    exp, model, _, _ = load(spec_name)
    step = model.train_function(exp.training.batch_size)
    step(0)
    fgraph = step.maker.fgraph
    values = {var: storage.data for var, storage in zip(fgraph.inputs, step.input_storage)}
    values[fgraph.inputs[0]] = np.int32(0)
    rows = []
    for node in fgraph.toposort():
        args = _node_arguments(node, values)
        fresh = [var.type() for var in node.inputs]
        fn = _compile_node(fresh, node.op.make_node(*fresh).outputs)
        copies = lambda: [a.copy() if isinstance(a, np.ndarray) else a for a in args]  # noqa: E731
        values.update(zip(node.outputs, fn(*copies())))
        rows.append((_median_ms(lambda: fn(*copies())), str(node.op)[:60],
                     [getattr(a, "shape", ()) for a in args]))
    print(f"{spec_name}: sum of node times {sum(r[0] for r in rows):.1f} ms (including copies)")
    for ms, op, shapes in sorted(rows, key=lambda r: -r[0])[:top]:
        print(f"{ms:8.2f}  {op:60s} {shapes}")


def _compile_node(inputs, outputs):
    fn = pytensor.function(inputs, outputs, mode=get_mode("NUMBA"), accept_inplace=True,
                           on_unused_input="ignore")
    fn.trust_input = True
    return fn


def table(rows):
    cols = ["layer", "op", "tgraph_ms", "torch_ms", "speedup"]
    fmt = lambda v: f"{v:.2f}" if isinstance(v, float) else str(v)  # noqa: E731
    cells = [cols] + [[fmt(r.get(c, "-")) for c in cols] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(cols))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in cells]
    return "\n".join([lines[0], "-" * len(lines[0]), *lines[1:]])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", default=",".join(LAYERS), help="comma-separated layer names")
    parser.add_argument("--rounds", type=int, default=5, help="alternations (median reported)")
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON")
    parser.add_argument("--profile", metavar="SPEC", help="per-node times of SPEC's training step")
    args = parser.parse_args(argv)
    if args.profile:
        return profile_step(args.profile)
    try:
        import torch
        torch.set_num_threads(numba.get_num_threads())
    except ImportError:
        pass
    names = [name.strip() for name in args.layers.split(",")]
    rows = [row for name in names for row in bench_layer(name, args.rounds)]
    print(table(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
