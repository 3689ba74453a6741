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

from pytensor.compile.mode import Mode
from pytensor.compile.mode import get_mode as _pytensor_mode
from pytensor.graph.rewriting.db import RewriteDatabaseQuery
from pytensor.link.numba.linker import NumbaLinker

from tgraph.errors import ConfigError

__all__ = ["get_mode", "MODES", "TGraphNumbaLinker"]

MODES = ("NUMBA", "PYTENSOR_NUMBA", "FAST_RUN", "JAX", "FAST_COMPILE", "C", "CVM")


class TGraphNumbaLinker(NumbaLinker):
    """PyTensor's Numba linker with the BLAS rewrites allowed (see :mod:`tgraph.ops.blas`)."""

    incompatible_rewrites = tuple(r for r in NumbaLinker.incompatible_rewrites if r != "BlasOpt")

    def fgraph_convert(self, fgraph, **kwargs):
        import tgraph.ops.blas  # noqa: F401  (registers the Numba BLAS ops)

        return super().fgraph_convert(fgraph, **kwargs)


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
