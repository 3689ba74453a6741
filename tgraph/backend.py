"""Which PyTensor mode compiles tgraph's functions.

The default is PyTensor's Numba backend; ``TGRAPH_MODE`` (``NUMBA``, ``FAST_RUN``,
``JAX``, ``FAST_COMPILE``) or the ``mode`` argument of the model chooses another.
"""

import os

from pytensor.compile.mode import get_mode as _pytensor_mode

from tgraph.errors import ConfigError

__all__ = ["get_mode", "MODES"]

MODES = ("NUMBA", "FAST_RUN", "JAX", "FAST_COMPILE", "C", "CVM")


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
    if name == "JAX":
        import tgraph.ops.jax_support  # noqa: F401  (registers tgraph's ops with JAX)
    return _pytensor_mode(name)
