"""How tgraph's compiled Numba code is cached and called.

* :mod:`.cache`: Numba's disk cache of tgraph's functions, and :func:`.cache.source_key`,
  the one key of the sources a cached function runs.
* :mod:`.opaque`: kernels compiled once and called through function pointers.
* :mod:`.background`: a helper process compiling those kernels while the graph compiles.
* :mod:`.steps`: several training steps in one call of compiled code.
"""
