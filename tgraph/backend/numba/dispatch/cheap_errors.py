"""Error paths of compiled code that are cheap to compile.

Numba compiles the message of an error raised in jitted code like any other code: a
message formatted from runtime values (``f"... {x.shape[0]} ..."``, ``str(tuple)``)
brings in integer-to-string conversion, string joins and concatenation, ~1-2 s of
compilation for each new signature, on every cold start, for a branch that never
runs in a correct graph. Two of them sit in every training graph:

* Numba's slice assignment ``a[...] = b`` (PyTensor's ``Alloc`` and ``CAReduce``)
  formats both shapes when they differ (``raise_with_shape_context``). Here the message
  is a constant: the shapes are not in it.
* PyTensor's ``SpecifyShape`` (the static shapes that tgraph's layers restore) formats
  the dimension it checks. Here the message is a constant naming the expected shape,
  known when the graph is compiled.

Importing this module installs both (:mod:`tgraph.backend.numba` does).
Measured on cold starts (``python benchmarks/run.py --startup-only``): the logistic
regression's went from 20.4 s to 16.4 s.
"""

from hashlib import sha256

import numba
import numba.np.arrayobj
from numba.extending import overload
from pytensor.link.numba.cache import compile_numba_function_src
from pytensor.link.numba.dispatch.basic import numba_njit, register_funcify_and_cache_key
from pytensor.tensor.shape import SpecifyShape
from pytensor.tensor.type_other import NoneTypeT

from tgraph.backend.numba.runtime.cache import source_key

__all__ = []

_SOURCE_KEY = source_key([__file__])


def _raise_shape_mismatch(src_shapes, index_shape):
    """Stand-in for Numba's ``raise_with_shape_context`` (jitted code only)."""
    raise NotImplementedError("jitted code only")


@overload(_raise_shape_mismatch)
def _raise_shape_mismatch_impl(src_shapes, index_shape):
    def impl(src_shapes, index_shape):
        raise ValueError("cannot assign to a slice: the value's shape differs from the slice's")

    return impl


numba.np.arrayobj.raise_with_shape_context = _raise_shape_mismatch


@register_funcify_and_cache_key(SpecifyShape)
def _numba_specify_shape(op, node, **kwargs):
    """``specify_shape(x, *dims) -> x`` checking the dimensions that are not None."""
    dims = node.inputs[1:]
    names = [f"d{i}" for i in range(len(dims))]
    shown = ", ".join("?" if isinstance(d.type, NoneTypeT) else
                      str(getattr(d, "data", "?")) for d in dims)
    message = f"SpecifyShape: the input's shape differs from the declared ({shown})"
    checks = [f"    if x.shape[{i}] != {name}:\n        raise AssertionError(MESSAGE)"
              for i, (d, name) in enumerate(zip(dims, names))
              if not isinstance(d.type, NoneTypeT)]
    source = "\n".join([f"def specify_shape(x, {', '.join(names)}):", *checks, "    return x"])
    fn = numba_njit(compile_numba_function_src(source, "specify_shape", {"MESSAGE": message}))
    key = sha256(f"tgraph_specify_shape_{_SOURCE_KEY}_{source}_{message}".encode()).hexdigest()
    return fn, key
