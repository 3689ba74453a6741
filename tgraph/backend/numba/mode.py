"""tgraph's ``"NUMBA"`` mode: PyTensor's Numba linker with the BLAS rewrites switched on.

PyTensor disables its BLAS rewrites for Numba because it has no Numba code for the ops
they create; :mod:`tgraph.backend.numba.dispatch.blas` provides it. This fuses an SGD
step with weight decay into one in-place GEMM, as Theano did. One refinement over
PyTensor's rewrites: ``Dot22Scalar`` only for a product nobody else reads
(:data:`DOT22SCALAR_REWRITE`). PyTensor turns ``lr * dot(x.T, delta)`` into
``Dot22Scalar`` even when the plain ``dot(x.T, delta)`` is also needed (RMSprop and Adam
use ``lr * g`` and ``g ** 2``), which computes the weight gradient twice; tgraph's mode
uses :func:`local_dot22_to_dot22scalar_single_client` instead.
"""

import types

from pytensor import config
from pytensor.compile.mode import Mode
from pytensor.graph.rewriting.basic import dfs_rewriter, node_rewriter
from pytensor.graph.rewriting.db import RewriteDatabaseQuery
from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS
from pytensor.link.numba.dispatch.basic import numba_funcify_and_cache_key, numba_njit
from pytensor.link.numba.linker import NumbaLinker
from pytensor.tensor.blas import _dot22
from pytensor.tensor.math import mul
from pytensor.tensor.rewriting.blas import blas_optdb, local_dot22_to_dot22scalar

__all__ = ["TGraphNumbaLinker", "numba_mode", "DOT22SCALAR_REWRITE", "TGRAPH_REWRITES_TAG"]

DOT22SCALAR_REWRITE = "local_dot22_to_dot22scalar"  # PyTensor's, replaced in tgraph's mode
TGRAPH_REWRITES_TAG = "tgraph_blas"  # selects the rewrites below


@node_rewriter([mul])
def local_dot22_to_dot22scalar_single_client(fgraph, node):
    """PyTensor's ``mul(scalar, Dot22) -> Dot22Scalar``, unless the Dot22 has other clients."""
    for x in node.inputs:
        if x.owner is not None and x.owner.op == _dot22 and len(fgraph.clients[x]) > 1:
            return False
    return local_dot22_to_dot22scalar.transform(fgraph, node)


blas_optdb.register(
    "tgraph_dot22_to_dot22scalar",
    dfs_rewriter(local_dot22_to_dot22scalar_single_client),
    TGRAPH_REWRITES_TAG,
    position=12,
)


class TGraphNumbaLinker(NumbaLinker):
    """PyTensor's Numba linker with the BLAS rewrites allowed, compiling the graph's
    function once.

    PyTensor's linker compiles the graph's function, then a cached wrapper calling it,
    which links the whole graph in and optimizes it again; here the graph's function
    itself is the compiled and disk-cached one (same cache key).
    """

    incompatible_rewrites = tuple(r for r in NumbaLinker.incompatible_rewrites if r != "BlasOpt")

    def fgraph_convert(self, fgraph, **kwargs):
        if not config.numba__cache:
            return super().fgraph_convert(fgraph, **kwargs)
        return numba_funcify_and_cache_key(fgraph, **kwargs)

    def jit_compile(self, fn_and_cache):
        fn, cache_key = fn_and_cache
        py_func = _with_filename(fn.py_func, "<tgraph fgraph>")  # not a random temporary file
        if cache_key is not None:
            key = f"{cache_key}_fastmath{int(config.numba__fastmath)}_tgraph"
            CACHED_SRC_FUNCTIONS[py_func] = key  # before the dispatcher: it picks the locator
        return numba_njit(py_func, final_function=True, cache=cache_key is not None)


def _with_filename(py_func, filename):
    """A copy of ``py_func`` whose code says it comes from ``filename`` (Numba names its
    disk-cache files after the source file)."""
    code = py_func.__code__.replace(co_filename=filename)
    return types.FunctionType(code, py_func.__globals__, py_func.__name__,
                              py_func.__defaults__, py_func.__closure__)


_NUMBA = None


def numba_mode():
    """tgraph's ``"NUMBA"`` mode (one ``Mode`` a process)."""
    global _NUMBA
    if _NUMBA is None:
        query = RewriteDatabaseQuery(include=["fast_run", "numba", TGRAPH_REWRITES_TAG],
                                     exclude=[DOT22SCALAR_REWRITE])
        _NUMBA = Mode(TGraphNumbaLinker(), query)
    return _NUMBA
