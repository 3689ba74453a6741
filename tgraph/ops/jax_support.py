"""Registers tgraph's own ops with PyTensor's JAX backend (imported by ``mode="JAX"``).

Each op module that defines PyTensor ops has a ``register_jax(jax_funcify)`` function
giving their JAX implementations; importing this module calls all of them. It needs
``jax`` installed (``pip install tgraph[jax]``).

It also fixes one PyTensor 3.0.7 JAX dispatch: a ``Sum`` with a float64 accumulator
(PyTensor's default for float32 sums, e.g. every bias gradient) returned float64 instead
of its float32 output type, which turned float32 parameters into float64 after one
update and then broke ``conv_general_dilated`` (it needs equal dtypes).
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

OP_MODULES = ("tgraph.ops.elementwise", "tgraph.ops.conv", "tgraph.ops.pool",
              "tgraph.ops.threefry")

for _name in OP_MODULES:
    try:
        _module = importlib.import_module(_name)
    except ModuleNotFoundError:
        continue
    if hasattr(_module, "register_jax"):
        _module.register_jax(jax_funcify)


def _register_careduce_output_dtype():
    """Make PyTensor's JAX ``CAReduce`` return its node's output dtype, not the accumulator's."""
    from pytensor.tensor.elemwise import CAReduce

    pytensor_careduce = jax_funcify.dispatch(CAReduce)

    @jax_funcify.register(CAReduce)
    def _careduce(op, node=None, **kwargs):
        reduce = pytensor_careduce(op, node=node, **kwargs)
        if node is None:
            return reduce
        dtype = node.outputs[0].dtype
        return lambda *args: reduce(*args).astype(dtype)


_register_careduce_output_dtype()
