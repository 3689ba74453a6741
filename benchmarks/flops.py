"""How close to the machine: a network's training FLOPs per example and the fp32 GEMM
peak of this machine (OpenBLAS sgemm, as a user's machine runs it)."""

import os
import subprocess
import sys

from tgraph import layers as L

__all__ = ["flops_per_sample", "gemm_peak", "SLOWING_VARIABLES"]

# Set on these machines for older OpenBLAS builds; they halve sgemm's speed (issue 16),
# so the peak is measured without them, in its own subprocess only.
SLOWING_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def _forward_flops(layer, in_shape, out_shape):
    """Multiply-adds x 2 of one example through a Dense (``2 in out``) or Conv2D
    (``2 C kh kw`` per output value, ``F OH OW`` of them) layer; 0 for other layers."""
    if isinstance(layer, L.Dense):
        return 2 * in_shape[1] * out_shape[1]
    if isinstance(layer, L.Conv2D):
        kh, kw = layer.kernel_size
        _, f, oh, ow = out_shape
        return 2 * in_shape[1] * kh * kw * f * oh * ow
    return 0


def flops_per_sample(network):
    """Training FLOPs per example of the network's matrix products and convolutions.

    Each Dense/Conv2D layer costs its forward product, the weight gradient and the input
    gradient (3x forward), except the first one, whose input is the data and needs no
    gradient (2x). Elementwise work, pooling and the optimizer are not counted. E.g. the
    mlp (784 -> 500 -> 10): 2 * 2 * 784 * 500 + 3 * 2 * 500 * 10 = 1.598e6.

    Args:
        network: a built :class:`tgraph.network.Network`.

    Returns:
        FLOPs per training example (int).
    """
    total, first = 0, True
    for i, layer in enumerate(network.specs):
        fwd = _forward_flops(layer, network.shapes[i - 1] if i else None, network.shapes[i])
        if fwd:
            total += fwd * (2 if first else 3)
            first = False
    return total


PEAK = """
import time
import numpy as np
rng = np.random.default_rng(0)
a, b = (rng.standard_normal(({n}, {n}), dtype=np.float32) for _ in range(2))
a @ b
best = float("inf")
for _ in range({reps}):
    t0 = time.perf_counter()
    a @ b
    best = min(best, time.perf_counter() - t0)
print(2 * {n} ** 3 / best)
"""


def gemm_peak(threads=2, n=4096, reps=3):
    """The machine's fp32 GEMM peak in FLOP/s: the best of ``reps`` numpy (OpenBLAS)
    ``(n, n) @ (n, n)`` float32 products on ``threads`` threads, in a subprocess whose
    environment alone lacks :data:`SLOWING_VARIABLES`.

    Returns:
        FLOP/s (float), or None if the subprocess failed (its error on stderr).
    """
    env = {k: v for k, v in os.environ.items() if k not in SLOWING_VARIABLES}
    env.update(OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    proc = subprocess.run([sys.executable, "-c", PEAK.format(n=n, reps=reps)], env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"GEMM peak probe failed: {proc.stderr.strip()[-500:]}", file=sys.stderr)
        return None
    return float(proc.stdout.split()[-1])
