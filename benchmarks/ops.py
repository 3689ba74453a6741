"""Micro-benchmark of tgraph's activation and loss ops against numpy and PyTorch.

    python benchmarks/ops.py [--functions tanh,softmax] [--rounds 7] [--json FILE]

For each function and float32 shape: the compiled tgraph op (tgraph's default Numba
mode, ``trust_input``), forward alone and forward + backward (the vector-Jacobian
product with a given output gradient), against numpy and, if importable, PyTorch on
2 threads, and PyTensor's own ops (the expressions tgraph used before its own ops).
Candidates are timed alternately ``--rounds`` times in this one process; each entry is
the median time per call. Also times a dropout mask of (128, 625) (uniform draw +
select, the graph of :func:`tgraph.ops.dropout.dropout`), with PyTensor's own uniform
draw from the shared generator as the ``pytensor`` reference (what tgraph drew before
:mod:`tgraph.ops.threefry`).

    python benchmarks/ops.py --products   # the dense layers' matrix products
    python benchmarks/ops.py --one-pool   # the cost of tgraph.threads.one_pool

``--products`` times the products of the specs' dense layers compiled in the Numba
mode (inside :data:`tgraph.threads.one_pool`, as a model runs them), against numpy (its
own OpenBLAS, its own threads) and PyTorch on 2 threads. ``--one-pool`` times entering
and leaving the threading scope, the per-call overhead it adds.
"""

import argparse
import json
import statistics
import time

import numpy as np
import pytensor
import pytensor.tensor as pt

from tgraph.backend import get_mode
from tgraph.ops import elementwise as ew
from tgraph.ops.dropout import dropout
from tgraph.random import RandomSource
from tgraph.threads import blas_threads, one_pool

SHAPES = ((128, 500), (20, 500), (500, 10), (128, 625))
FUNCTIONS = ("tanh", "sigmoid", "softplus", "elu", "softmax", "log_softmax", "softmax_nll")
DROPOUT_SHAPE, DROPOUT_RATE = (128, 625), 0.5


def _pytensor_reference(name, x, y):
    """The PyTensor-op expressions of the first version of tgraph.ops.elementwise."""
    exprs = {
        "tanh": lambda: pt.tanh(x),
        "sigmoid": lambda: pt.sigmoid(x),
        "softplus": lambda: pt.softplus(x),
        "elu": lambda: pt.switch(x > 0, x, pt.expm1(x)),
        "softmax": lambda: pt.special.softmax(x, axis=-1),
        "log_softmax": lambda: pt.special.log_softmax(x, axis=-1),
        "softmax_nll": lambda: -pt.special.log_softmax(x, axis=-1)[pt.arange(y.shape[0]), y],
    }
    return exprs[name]()


def _compile(inputs, outputs):
    f = pytensor.function(inputs, outputs, mode=get_mode("NUMBA"), on_unused_input="ignore")
    f.trust_input = True
    return f


def pytensor_runners(build):
    """(forward, forward + backward) callables ``(x, y, gy)`` of a PyTensor graph."""
    x, y = pt.matrix("x", dtype="float32"), pt.ivector("y")
    out = build(x, y)
    gy = out.type("gy")
    grad = pytensor.grad(None, x, known_grads={out: gy})
    fwd, both = _compile([x, y], out), _compile([x, y, gy], [out, grad])
    return (lambda a, b, g: fwd(a, b)), (lambda a, b, g: both(a, b, g))


def _np_softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _np_log_softmax(x):
    z = x - x.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def _np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _np_nll_backward(x, y, g):
    d = _np_softmax(x)
    d[np.arange(len(y)), y] -= 1
    return d * g[:, None]


NUMPY = {  # name: (forward(x, y), backward(x, y, out, gy))
    "tanh": (lambda x, y: np.tanh(x), lambda x, y, o, g: g * (1 - o * o)),
    "sigmoid": (lambda x, y: _np_sigmoid(x), lambda x, y, o, g: g * o * (1 - o)),
    "softplus": (lambda x, y: np.logaddexp(np.float32(0), x),
                 lambda x, y, o, g: g * _np_sigmoid(x)),
    "elu": (lambda x, y: np.where(x > 0, x, np.expm1(x)),
            lambda x, y, o, g: np.where(x > 0, g, g * (o + 1))),
    "softmax": (lambda x, y: _np_softmax(x),
                lambda x, y, o, g: o * (g - (g * o).sum(axis=-1, keepdims=True))),
    "log_softmax": (lambda x, y: _np_log_softmax(x),
                    lambda x, y, o, g: g - np.exp(o) * g.sum(axis=-1, keepdims=True)),
    "softmax_nll": (lambda x, y: -_np_log_softmax(x)[np.arange(len(y)), y],
                    lambda x, y, o, g: _np_nll_backward(x, y, g)),
}


def numpy_runners(name):
    forward, backward = NUMPY[name]

    def both(x, y, g):
        out = forward(x, y)
        return out, backward(x, y, out, g)

    return (lambda x, y, g: forward(x, y)), both


def torch_runners(name):
    """PyTorch (forward, forward + backward) callables, or None without torch."""
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        return None
    torch.set_num_threads(2)
    fns = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "softplus": F.softplus, "elu": F.elu,
           "softmax": lambda t: torch.softmax(t, -1),
           "log_softmax": lambda t: torch.log_softmax(t, -1)}
    fn = fns.get(name)

    def forward(x, y, g):
        with torch.no_grad():
            if fn is None:
                return F.cross_entropy(torch.from_numpy(x), torch.from_numpy(y).long(),
                                       reduction="none")
            return fn(torch.from_numpy(x))

    def both(x, y, g):
        xt = torch.from_numpy(x).requires_grad_()
        if fn is None:
            out = F.cross_entropy(xt, torch.from_numpy(y).long(), reduction="none")
        else:
            out = fn(xt)
        return torch.autograd.grad(out, xt, torch.from_numpy(g))

    return forward, both


def time_alternately(candidates, args, rounds, budget=0.02):
    """Median seconds per call of each candidate, timed in turns over ``rounds``."""
    numbers = {}
    for name, fn in candidates.items():
        fn(*args)  # warm-up (and compile)
        start = time.perf_counter()
        fn(*args)
        numbers[name] = max(1, int(budget / max(time.perf_counter() - start, 1e-7)))
    samples = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, fn in candidates.items():
            start = time.perf_counter()
            for _ in range(numbers[name]):
                fn(*args)
            samples[name].append((time.perf_counter() - start) / numbers[name])
    return {name: statistics.median(s) for name, s in samples.items()}


def bench_function(name, shapes, rounds, with_pytensor):
    """Rows ``{function, shape, pass, <candidate>_us...}`` for one function."""
    runners = {"tgraph": pytensor_runners(lambda x, y: getattr(ew, name)(*(
        (x, y) if name == "softmax_nll" else (x,)))), "numpy": numpy_runners(name)}
    if (torch := torch_runners(name)) is not None:
        runners["torch"] = torch
    if with_pytensor:
        runners["pytensor"] = pytensor_runners(lambda x, y: _pytensor_reference(name, x, y))
    rng = np.random.default_rng(0)
    rows = []
    for shape in shapes:
        x = rng.normal(0, 2, shape).astype(np.float32)
        y = rng.integers(0, shape[1], shape[0]).astype(np.int32)
        g = rng.normal(size=shape[:1] if name == "softmax_nll" else shape).astype(np.float32)
        for index, label in enumerate(("forward", "forward+backward")):
            candidates = {k: pair[index] for k, pair in runners.items()}
            with np.errstate(over="ignore"):
                times = time_alternately(candidates, (x, y, g), rounds)
            rows.append({"function": name, "shape": list(shape), "pass": label,
                         **{f"{k}_us": v * 1e6 for k, v in times.items()}})
    return rows


def bench_dropout(rounds):
    """A (128, 625) float32 dropout mask in the Numba mode against numpy (and torch)."""
    from tgraph.random import RandomDraws

    x = pt.matrix("x", dtype="float32")
    draws = RandomDraws(RandomSource(0))
    f = pytensor.function([x], dropout(x, DROPOUT_RATE, draws, key=0), mode=get_mode("NUMBA"),
                          updates=draws.updates)
    f.trust_input = True
    gen = np.random.default_rng(0)
    scale = np.float32(1 / (1 - DROPOUT_RATE))

    def numpy_dropout(a):
        return np.where(gen.random(a.shape, dtype=np.float32) >= DROPOUT_RATE, a * scale, 0)

    candidates = {"tgraph": f, "numpy": numpy_dropout, "pytensor": _pytensor_dropout(x)}
    try:
        import torch
        import torch.nn.functional as F

        candidates["torch"] = lambda a: F.dropout(torch.from_numpy(a), DROPOUT_RATE)
    except ImportError:
        pass
    a = np.ones(DROPOUT_SHAPE, np.float32)
    times = time_alternately(candidates, (a,), rounds)
    return {"function": "dropout", "shape": list(DROPOUT_SHAPE), "pass": "forward",
            **{f"{k}_us": v * 1e6 for k, v in times.items()}}


def _pytensor_dropout(x):
    """The dropout graph with PyTensor's uniform draw (tgraph's before Threefry)."""
    from pytensor.tensor.random import basic as ptrb

    rng = pt.random.shared_rng(np.random.default_rng(0))
    next_rng, u = ptrb.uniform(0.0, 1.0, size=x.shape, rng=rng, dtype="float32",
                               return_next_rng=True)
    rate = np.float32(DROPOUT_RATE)
    out = pt.switch(u >= rate, x * np.float32(1 / (1 - DROPOUT_RATE)), np.float32(0))
    f = pytensor.function([x], out, updates=[(rng, next_rng)], mode=get_mode("NUMBA"))
    f.trust_input = True
    return f


PRODUCTS = {  # name: (a shape, b shape, a transposed, b transposed, as an SGD update)
    "mlp x @ W": ((20, 784), (784, 500), False, False, False),
    "mlp W -= x.T @ d": ((784, 20), (20, 500), True, False, True),
    "dropout x @ W": ((128, 784), (784, 625), False, False, False),
    "dropout W -= x.T @ d": ((625, 128), (128, 625), True, False, True),
    "dropout d @ W.T": ((128, 625), (625, 625), False, True, False),
    "lenet x @ W": ((500, 800), (800, 500), False, False, False),
    "logreg x @ W": ((600, 784), (784, 10), False, False, False),
}


def _operand(shape, transposed, rng):
    value = rng.normal(size=shape[::-1] if transposed else shape).astype(np.float32)
    return value.T if transposed else value


def _product_candidates(a, b, update):
    """tgraph (compiled, in the scope), numpy and torch callables of ``a @ b``."""
    x, y = pt.matrix("a", dtype="float32"), pt.matrix("b", dtype="float32")
    if update:  # W <- W - 0.01 a @ b in place: the fused Gemm of an SGD step
        w = pytensor.shared(np.zeros((a.shape[0], b.shape[1]), np.float32))
        fn = pytensor.function([x, y], [], updates=[(w, w - np.float32(0.01) * pt.dot(x, y))],
                               mode=get_mode("NUMBA"))
    else:
        fn = pytensor.function([x, y], pt.dot(x, y), mode=get_mode("NUMBA"))
    fn.trust_input = True

    def tgraph_product(a, b):
        with one_pool:
            return fn(a, b)

    candidates = {"tgraph": tgraph_product, "numpy": lambda a, b: a @ b}
    try:
        import torch

        torch.set_num_threads(2)
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        candidates["torch"] = lambda a, b: ta @ tb
    except ImportError:
        pass
    return candidates


def bench_products(rounds):
    """Rows ``{function, shape, pass, <candidate>_us...}`` of :data:`PRODUCTS`."""
    rng = np.random.default_rng(0)
    rows = []
    for name, (a_shape, b_shape, a_t, b_t, update) in PRODUCTS.items():
        a, b = _operand(a_shape, a_t, rng), _operand(b_shape, b_t, rng)
        times = time_alternately(_product_candidates(a, b, update), (a, b), rounds)
        rows.append({"function": name, "shape": [a_shape[0], a_shape[1], b_shape[1]],
                     "pass": "update" if update else "product",
                     **{f"{k}_us": v * 1e6 for k, v in times.items()}})
    return rows


def bench_one_pool(rounds):
    """Microseconds to enter and leave :data:`tgraph.threads.one_pool` (outermost scope)."""
    def scope():
        with one_pool:
            pass

    times = time_alternately({"tgraph": scope, "numpy": lambda: None}, (), rounds, 0.05)
    return {"function": f"one_pool (BLAS threads {blas_threads()})", "shape": [1],
            "pass": "enter+exit", **{f"{k}_us": v * 1e6 for k, v in times.items()}}


def format_table(rows):
    others = [k for k in ("numpy_us", "torch_us", "pytensor_us") if any(k in r for r in rows)]
    width = max(12, *(len(r["function"]) for r in rows))
    head = f"{'function':<{width}} {'shape':<10} {'pass':<17} {'tgraph':>9}"
    head += "".join(f" {k[:-3]:>9}" for k in others)
    head += "".join(f" {'tg/' + k[:-3]:>10}" for k in others)
    lines = [head + "   (us per call; tg/x < 1: tgraph faster)", "-" * len(head)]
    for r in rows:
        line = f"{r['function']:<{width}} {'x'.join(map(str, r['shape'])):<10} {r['pass']:<17}"
        line += f" {r['tgraph_us']:9.1f}"
        line += "".join(f" {r[k]:9.1f}" if k in r else f" {'-':>9}" for k in others)
        line += "".join(f" {r['tgraph_us'] / r[k]:10.2f}" if k in r else f" {'-':>10}"
                        for k in others)
        lines.append(line)
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--functions", default=",".join(FUNCTIONS))
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--no-pytensor", action="store_true",
                        help="skip PyTensor's own ops (their first Numba compile is slow)")
    parser.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    parser.add_argument("--products", action="store_true", help="only the matrix products")
    parser.add_argument("--one-pool", action="store_true", help="only the threading scope")
    args = parser.parse_args(argv)
    if args.products or args.one_pool:
        rows = bench_products(args.rounds) if args.products else []
        rows += [bench_one_pool(args.rounds)] if args.one_pool else []
        print(format_table(rows))
        return
    rows = []
    for name in args.functions.split(","):
        rows += bench_function(name, SHAPES, args.rounds, not args.no_pytensor)
        print(format_table(rows[-2 * len(SHAPES):]), flush=True)
    rows.append(bench_dropout(args.rounds))
    print("\n" + format_table(rows))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
