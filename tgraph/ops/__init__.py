"""Symbolic building blocks: activations, losses, metrics, initializers, dropout, and
tgraph's PyTensor ops (elementwise, conv, pool, threefry), each with its shape rules,
gradient and numpy ``perform`` (the reference).

How the ops run on a backend (Numba, JAX) is in :mod:`tgraph.backend`; nothing here
imports Numba.
"""
