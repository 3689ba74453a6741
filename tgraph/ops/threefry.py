"""Counter-based uniform random numbers (Threefry-2x32-20) for dropout masks.

PyTensor's uniform draw from a numpy ``Generator`` costs ~2.5 ns a number in the Numba
backend (one call through the bit generator per number): 640 us a step for the dropout
net's three masks. Here a shared generator draws only a 64-bit key per mask
(:func:`tgraph.random.RandomSource.uniform`), and :class:`ThreefryUniform` expands the
key into the whole mask with Threefry-2x32 (20 rounds; Salmon et al. 2011, "Parallel
random numbers: as easy as 1, 2, 3"; the generator of ``jax.random``): a pure function
of (key, counter), which LLVM vectorizes (~0.4 ns a number). The generator's state
still is all the random state, so saving and restoring it reproduces every mask.

Layout: block ``j`` (counter ``(j mod 2**32, j div 2**32)``) gives two 32-bit words;
the first fills entry ``j`` of the raveled output, the second entry ``j + ceil(n / 2)``.
A word ``w`` becomes ``(w >> 8) * 2**-24``: 24 random bits, exact in float32 and
float64, uniform on [0, 1).

The op's ``perform`` (numpy, :func:`uniform_array`) is the reference; the Numba code
(:mod:`tgraph.backend.numba.dispatch.threefry`) and the JAX code
(:mod:`tgraph.backend.jax.threefry`) give the same numbers.
"""

import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import disconnected_type
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.tensor.basic import infer_static_shape

__all__ = ["ThreefryUniform", "threefry_uniform", "threefry2x32", "uniform_array", "DTYPES",
           "ROTATIONS", "PARITY", "ROUNDS", "SCALE"]

_U32 = np.uint32
ROTATIONS = (13, 15, 26, 6, 17, 29, 16, 24)  # Threefry-2x32 rotation constants
PARITY = 0x1BD11BDA  # Threefish key-schedule parity
ROUNDS = 20
SCALE = 2.0 ** -24
DTYPES = ("float32", "float64")


def threefry2x32(k0, k1, c0, c1, xp=np):
    """Threefry-2x32-20 of counters ``(c0, c1)`` under key ``(k0, k1)``, elementwise.

    Works on numpy or ``jax.numpy`` (``xp``) uint32 arrays; additions wrap mod 2**32.

    Args:
        k0, k1: uint32 key words (scalars or arrays).
        c0, c1: uint32 counter words, arrays of one shape.

    Returns:
        The two uint32 output words, arrays of the counters' shape.
    """
    k0, k1 = xp.asarray(k0, dtype=xp.uint32), xp.asarray(k1, dtype=xp.uint32)
    keys = (k0, k1, k0 ^ k1 ^ xp.uint32(PARITY))
    x0, x1 = c0 + keys[0], c1 + keys[1]
    for block in range(ROUNDS // 4):
        for r in ROTATIONS[4 * (block % 2):4 * (block % 2) + 4]:
            x0 = x0 + x1
            x1 = ((x1 << xp.uint32(r)) | (x1 >> xp.uint32(32 - r))) ^ x0
        x0 = x0 + keys[(block + 1) % 3]
        x1 = x1 + keys[(block + 2) % 3] + xp.uint32(block + 1)
    return x0, x1


def uniform_array(key, shape, dtype, xp=np):
    """The numbers of :class:`ThreefryUniform` with array code (numpy or ``jax.numpy``)."""
    n = int(np.prod(shape))
    j = xp.arange((n + 1) // 2)
    c0, c1 = (j % 2**32).astype(xp.uint32), (j // 2**32).astype(xp.uint32)
    w0, w1 = threefry2x32(key[0].astype(xp.uint32), key[1].astype(xp.uint32), c0, c1, xp)
    words = xp.concatenate([w0, w1])[:n]
    return ((words >> xp.uint32(8)).astype(dtype) * xp.asarray(SCALE, dtype=dtype)).reshape(shape)


class ThreefryUniform(Op):
    """``(key, shape) -> uniform [0, 1) array``; see the module docstring for the layout."""

    __props__ = ("dtype",)

    def __init__(self, dtype="float32"):
        if dtype not in DTYPES:
            raise TypeError(f"ThreefryUniform: `dtype` (={dtype!r}) must be float32 or float64")
        self.dtype = dtype

    def make_node(self, key, shape):
        key = pt.as_tensor_variable(key)
        if key.ndim != 1 or key.dtype not in ("int64", "uint32", "int32"):
            raise TypeError(f"ThreefryUniform: `key` must be an integer (2,) vector, got ndim "
                            f"{key.ndim} {key.dtype}")
        shape, static = infer_static_shape(shape)
        out = pt.TensorType(self.dtype, shape=static)()
        return Apply(self, [key, pt.as_tensor_variable(shape)], [out])

    def perform(self, node, inputs, outputs):
        key, shape = inputs
        outputs[0][0] = uniform_array(np.asarray(key), tuple(int(s) for s in shape), self.dtype)

    def infer_shape(self, fgraph, node, shapes):
        shape = node.inputs[1]
        return [tuple(shape[i] for i in range(node.outputs[0].ndim))]

    def connection_pattern(self, node):
        return [[False], [False]]

    def pullback(self, inputs, outputs, cotangents):
        return [disconnected_type(), disconnected_type()]


def threefry_uniform(key, shape, dtype="float32"):
    """Uniform [0, 1) numbers of ``shape``, a pure function of the 64-bit ``key``.

    Args:
        key: integer (2,) tensor, the two 32-bit key words (values taken mod 2**32).
        shape: the output shape (ints or symbolic scalars).
        dtype: ``"float32"`` (default) or ``"float64"``; 24 random bits either way.

    Returns:
        Tensor of ``shape`` and ``dtype`` with values ``k / 2**24``, k in [0, 2**24).
    """
    return ThreefryUniform(dtype)(key, shape)
