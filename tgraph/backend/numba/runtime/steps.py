"""Several training steps in one call of compiled code.

A training step compiled by PyTensor's Numba backend is one Numba function of the
minibatch index and the shared variables that returns the loss and the updated
values. Calling it through PyTensor's ``Function`` costs ~50 us of Python a step (the
tanh MLP's step is ~500 us). :func:`compile_steps` wraps that Numba function in a
Numba loop over consecutive minibatch indices, feeding each step's updated values to
the next, so Python runs once per ``count`` steps; the steps compute exactly what
``count`` calls of the ``Function`` compute, and every step's loss is returned.
The loop calls the compiled step through its address (:mod:`.opaque`), so the step is
not linked into the loop and optimized a second time, and the loop is cached on disk
beside PyTensor's cache of the step. Functions of the other backends get a Python loop
over the ``Function`` instead (:func:`tgraph.backend.compile_steps`).
"""

import hashlib

import numba
import numpy as np
from numba.core import types
from numba.extending import overload
from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS, compile_numba_function_src

from tgraph.backend.numba.runtime import opaque
from tgraph.backend.numba.runtime.cache import source_key
from tgraph.backend.numba.runtime.opaque import native_address, native_call
from tgraph.errors import interrupt_of

__all__ = ["compile_steps"]

SOURCE_KEY = source_key([__file__, opaque.__file__])


def _contiguous(a):
    """``a`` itself if C-contiguous, else a C-contiguous copy (jitted code only)."""
    raise NotImplementedError("_contiguous runs in jitted code only")


@overload(_contiguous)
def _contiguous_impl(a):
    if isinstance(a, types.Array) and a.layout != "C":
        return lambda a: np.ascontiguousarray(a)
    return lambda a: a


def _loop_source(n_inputs, update_mapping):
    """Source of ``steps(first, count, address, a0..an)`` calling the step at ``address``
    ``count`` times."""
    args = [f"a{i}" for i in range(n_inputs)]
    carried = [f"a{i}" for i in sorted(update_mapping.values())]
    lines = [
        f"def steps(first, count, address, {', '.join(args)}):",
        "    losses = np.empty(count, np.float64)",
        "    index = np.empty((), a0.dtype)",
        "    for j in range(count):",
        "        index[()] = first + j",
        f"        out = step(address, index, {', '.join(args[1:])})",
        "        losses[j] = out[0][()]",
        *[f"        a{i} = contiguous(out[{o}])" for o, i in sorted(update_mapping.items())],
        f"    return losses, ({', '.join(carried)},)",
    ]
    return "\n".join(lines)


def _compile_loop(source, jit_fn, argtypes):
    """The loop compiled by Numba, cached on disk beside PyTensor's cache of ``jit_fn``,
    and the address of ``jit_fn`` compiled for ``argtypes`` (the loop calls it there,
    so the step is not linked into the loop and optimized again)."""
    graph_key = CACHED_SRC_FUNCTIONS.get(getattr(jit_fn, "py_func", None))
    key = None
    if graph_key is not None:  # PyTensor caches the step: the loop can be cached too
        digest = hashlib.sha256((source + graph_key).encode()).hexdigest()
        key = f"tgraph_steps_{SOURCE_KEY}_{digest}"
    address, restype, folded = native_address(jit_fn, argtypes)
    env = {"__name__": __name__, "np": np, "contiguous": _contiguous,
           "step": native_call(restype, argtypes, folded)}
    steps = compile_numba_function_src(source, "steps", env, cache_key=key)
    return numba.njit(steps, cache=key is not None), address


def compile_steps(fn):
    """``run(first, count) -> losses`` for a compiled step ``fn(batch_index) -> loss``, as
    one Numba loop, or None if ``fn`` is not one Numba function of the minibatch index.

    Args:
        fn: a PyTensor ``Function`` of one minibatch-index input returning the loss,
            with its updates (as :meth:`tgraph.Model.train_function` compiles it).

    Returns:
        A callable running steps ``first, first + 1, ..., first + count - 1`` and
        returning their losses, a (count,) float64 array; or None.
    """
    jit_fn = getattr(fn.vm, "jit_fn", None)
    fgraph = fn.maker.fgraph
    mapping = dict(getattr(fgraph, "update_mapping", None) or {})
    inputs = [i for i in fn.maker.inputs if not i.shared]
    if not isinstance(jit_fn, numba.core.registry.CPUDispatcher) or len(inputs) != 1 \
            or fgraph.inputs[0] is not inputs[0].variable or 0 in mapping.values():
        return None
    source = _loop_source(len(fgraph.inputs), mapping)
    storage = [container.storage for container in fn.input_storage]
    targets = [storage[i] for i in sorted(mapping.values())]
    index_dtype = np.dtype(fgraph.inputs[0].type.dtype)
    loops = {}  # argument types -> (loop, address of the step)

    def run(first, count):
        storage[0][0] = np.asarray(first, dtype=index_dtype)
        args = [cell[0] for cell in storage]
        argtypes = tuple(numba.typeof(a) for a in args)
        if argtypes not in loops:
            loops[argtypes] = _compile_loop(source, jit_fn, argtypes)
        loop, address = loops[argtypes]
        try:
            losses, values = loop(first, count, address, *args)
        except SystemError as err:  # Ctrl-C while compiled code ran, as Numba reports it
            interrupt = interrupt_of(err)
            if interrupt is not None:  # a Ctrl-C's KeyboardInterrupt, SIGTERM's Terminated
                raise type(interrupt) from None
            raise
        for cell, value in zip(targets, values):
            cell[0] = value
        return losses

    return run

