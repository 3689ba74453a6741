"""Registers tgraph's own ops with PyTensor's JAX backend (imported by ``mode="JAX"``).

Each op module that defines PyTensor ops has a ``register_jax(jax_funcify)`` function
giving their JAX implementations; importing this module calls all of them. It needs
``jax`` installed (``pip install tgraph[jax]``).
"""

import importlib

from tgraph.errors import ConfigError

try:
    from pytensor.link.jax.dispatch import jax_funcify
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ConfigError(
        f"mode 'JAX' needs jax: pip install jax ({err})"
    ) from None

__all__ = ["OP_MODULES"]

OP_MODULES = ("tgraph.ops.elementwise", "tgraph.ops.conv", "tgraph.ops.pool")

for _name in OP_MODULES:
    try:
        _module = importlib.import_module(_name)
    except ModuleNotFoundError:
        continue
    if hasattr(_module, "register_jax"):
        _module.register_jax(jax_funcify)
