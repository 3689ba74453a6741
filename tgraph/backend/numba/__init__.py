"""tgraph's Numba backend: importing this package registers all of it.

* :mod:`.runtime`: how compiled code is cached and called (the disk-cache locators and
  the one source key, kernels called through pointers, the compile helper process,
  several training steps in one call).
* :mod:`.kernels`: the Numba kernels (GEMM, BLAS rows, convolution tiles and passes,
  pooling, elementwise activations and losses, Threefry).
* :mod:`.dispatch`: the Numba code of tgraph's ops and of the PyTensor ops tgraph
  overrides (BLAS, float sums, cheap error paths), registered with PyTensor's
  ``numba_funcify``.
* :mod:`.mode`: tgraph's ``"NUMBA"`` mode (:func:`tgraph.backend.get_mode`).

The compile helper process (:mod:`.runtime.background`) runs :func:`serve_compile_helper`:
importing this package is how it knows every kernel.

The disk-cache module is imported first: the cache locator of a jitted function is
chosen when it is defined. Before it, :func:`tgraph.backend.threads.short_spins` sets how
long idle OpenMP threads spin (libgomp reads it when it is loaded).
"""

from tgraph.backend.threads import short_spins

short_spins()  # before libgomp is loaded (Numba's first parallel launch)

from tgraph.backend.numba.runtime import cache  # noqa: E402, F401, I001  (before any cached function)
from tgraph.backend.numba import dispatch  # noqa: E402, F401, I001  (registers the ops' Numba code)
from tgraph.backend.numba.mode import TGraphNumbaLinker, numba_mode  # noqa: E402
from tgraph.backend.numba.runtime import background, opaque  # noqa: E402

__all__ = ["numba_mode", "TGraphNumbaLinker", "serve_compile_helper"]


def serve_compile_helper():
    """The compile helper process's main loop (:func:`.runtime.background.serve`): it
    compiles, by id, the kernels this package registered on import."""
    background.serve(opaque.known_kernels, opaque.compile_kernel)
