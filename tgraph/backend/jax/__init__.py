"""Registers tgraph's ops with PyTensor's JAX backend (imported by ``mode="JAX"``).

Each module here gives PyTensor's ``jax_funcify`` the JAX implementations of one family
of tgraph's ops (:mod:`.elementwise`, :mod:`.conv`, :mod:`.pool`, :mod:`.threefry`);
importing this package registers all of them. It needs ``jax`` installed
(``pip install tgraph[jax]``).

It also fixes one PyTensor 3.0.7 JAX dispatch (:mod:`.reduce`): a ``Sum`` with a float64
accumulator (PyTensor's default for float32 sums, e.g. every bias gradient) returned
float64 instead of its float32 output type, which turned float32 parameters into float64
after one update and then broke ``conv_general_dilated`` (it needs equal dtypes).
"""

from tgraph.errors import ConfigError

try:
    import jax  # noqa: F401
    from pytensor.link.jax.dispatch import jax_funcify  # noqa: F401
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ConfigError(
        f"mode 'JAX' needs jax: pip install jax ({err})"
    ) from None

from tgraph.backend.jax import conv, elementwise, pool, reduce, threefry  # noqa: E402, F401
