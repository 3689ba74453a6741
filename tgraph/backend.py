"""Which PyTensor mode compiles tgraph's functions.

The default, ``"NUMBA"``, is PyTensor's Numba backend with its BLAS rewrites switched
back on (PyTensor disables them for Numba because it has no Numba code for the ops
they create; :mod:`tgraph.ops.blas` provides it). This fuses an SGD step with weight
decay into one in-place GEMM, as Theano did; ``Dot22Scalar`` is formed only where it
does not compute a product twice (see :mod:`tgraph.ops.blas`). ``TGRAPH_MODE`` or the ``mode`` argument
of the model chooses another mode: ``PYTENSOR_NUMBA`` (PyTensor's own Numba mode),
``FAST_RUN`` (C backend), ``JAX``, ``FAST_COMPILE`` (Python).
"""

import os
import types

from pytensor import config
from pytensor.compile.mode import Mode
from pytensor.compile.mode import get_mode as _pytensor_mode
from pytensor.graph.rewriting.db import RewriteDatabaseQuery
from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS
from pytensor.link.numba.dispatch.basic import numba_funcify_and_cache_key, numba_njit
from pytensor.link.numba.linker import NumbaLinker

from tgraph.errors import ConfigError

__all__ = ["get_mode", "MODES", "TGraphNumbaLinker"]

MODES = ("NUMBA", "PYTENSOR_NUMBA", "FAST_RUN", "JAX", "FAST_COMPILE", "C", "CVM")


class TGraphNumbaLinker(NumbaLinker):
    """PyTensor's Numba linker with the BLAS rewrites allowed (see :mod:`tgraph.ops.blas`),
    compiling the graph's function once.

    PyTensor's linker compiles the graph's function, then a cached wrapper calling it,
    which links the whole graph in and optimizes it again; here the graph's function
    itself is the compiled and disk-cached one (same cache key).
    """

    incompatible_rewrites = tuple(r for r in NumbaLinker.incompatible_rewrites if r != "BlasOpt")

    def fgraph_convert(self, fgraph, **kwargs):
        import tgraph.ops._cheap_errors  # noqa: F401  (error paths cheap to compile)
        import tgraph.ops._reduce  # noqa: F401  (float sums cheap to compile)
        import tgraph.ops.blas  # noqa: F401  (registers the Numba BLAS ops)

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


def _numba_mode():
    global _NUMBA
    if _NUMBA is None:
        from tgraph.ops.blas import DOT22SCALAR_REWRITE, TGRAPH_REWRITES_TAG

        query = RewriteDatabaseQuery(include=["fast_run", "numba", TGRAPH_REWRITES_TAG],
                                     exclude=[DOT22SCALAR_REWRITE])
        _NUMBA = Mode(TGraphNumbaLinker(), query)
    return _NUMBA


def get_mode(name=None):
    """A PyTensor ``Mode`` for ``name`` (default: ``$TGRAPH_MODE`` or ``"NUMBA"``).

    Raises:
        ConfigError: an unknown mode name.
    """
    if name is not None and not isinstance(name, str):
        return name
    name = (name or os.environ.get("TGRAPH_MODE") or "NUMBA").upper()
    if name not in MODES:
        raise ConfigError(f"unknown mode {name!r}; expected one of: {', '.join(MODES)}")
    if name == "NUMBA":
        return _numba_mode()
    if name == "PYTENSOR_NUMBA":
        return _pytensor_mode("NUMBA")
    if name == "JAX":
        import tgraph.ops.jax_support  # noqa: F401  (registers tgraph's ops with JAX)
    return _pytensor_mode(name)
