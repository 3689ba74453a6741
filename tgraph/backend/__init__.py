"""How tgraph's graphs run: which PyTensor mode compiles them, and how steps are looped.

The default, ``"NUMBA"``, is PyTensor's Numba backend with its BLAS rewrites switched
back on and tgraph's Numba code for its ops and for some of PyTensor's
(:mod:`tgraph.backend.numba`; :mod:`tgraph.backend.numba.mode` says what changes).
``TGRAPH_MODE`` or the ``mode`` argument of the model chooses another mode:
``PYTENSOR_NUMBA`` (PyTensor's own Numba mode and rewrites), ``FAST_RUN`` (C backend),
``JAX`` (:mod:`tgraph.backend.jax`), ``FAST_COMPILE`` (Python).

Importing this package does not import Numba: a Numba mode imports
:mod:`tgraph.backend.numba` (which registers all of tgraph's Numba code) when it is
asked for.
"""

import os
import sys

import numpy as np
from pytensor.compile.mode import get_mode as _pytensor_mode

from tgraph.errors import ConfigError

__all__ = ["get_mode", "MODES", "compile_steps"]

MODES = ("NUMBA", "PYTENSOR_NUMBA", "FAST_RUN", "JAX", "FAST_COMPILE", "C", "CVM")


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
        from tgraph.backend.numba import numba_mode

        return numba_mode()
    if name == "PYTENSOR_NUMBA":
        import tgraph.backend.numba  # noqa: F401  (the Numba code of tgraph's ops)

        return _pytensor_mode("NUMBA")
    if name == "JAX":
        import tgraph.backend.jax  # noqa: F401  (registers tgraph's ops with JAX)
    return _pytensor_mode(name)


def compile_steps(fn):
    """``run(first, count) -> losses`` for a compiled step ``fn(batch_index) -> loss``.

    A function compiled by a Numba mode runs its steps in one Numba loop
    (:func:`tgraph.backend.numba.runtime.steps.compile_steps`); the others in a Python
    loop over ``fn``.

    Args:
        fn: a PyTensor ``Function`` of one minibatch-index input returning the loss,
            with its updates (as :meth:`tgraph.Model.train_function` compiles it).

    Returns:
        A callable running steps ``first, first + 1, ..., first + count - 1`` and
        returning their losses, a (count,) float64 array.
    """
    if _compiled_by_numba(fn):
        from tgraph.backend.numba.runtime.steps import compile_steps as numba_steps

        loop = numba_steps(fn)
        if loop is not None:
            return loop

    def run(first, count):
        return np.array([float(fn(i)) for i in range(first, first + count)])

    return run


def _compiled_by_numba(fn):
    """Whether PyTensor's Numba linker (or tgraph's) compiled ``fn``; Numba not imported."""
    linker = sys.modules.get("pytensor.link.numba.linker")  # not imported: no Numba mode ran
    return linker is not None and isinstance(getattr(fn.maker, "linker", None), linker.NumbaLinker)
