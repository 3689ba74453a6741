"""The Numba code of tgraph's ops and of the PyTensor ops tgraph overrides.

Importing this package registers every module below with PyTensor's ``numba_funcify``
(each function returns the op's jitted code and its disk-cache key):

* tgraph's ops: :mod:`.elementwise`, :mod:`.conv`, :mod:`.pool`, :mod:`.threefry`.
* PyTensor's ops: :mod:`.blas` (``Dot22``, ``Dot22Scalar``, ``Gemm``, ``Gemv``, ``Ger``,
  which PyTensor has no Numba code for), :mod:`.reduce` (float sums cheap to compile),
  :mod:`.cheap_errors` (``SpecifyShape`` and slice assignment with constant messages).
"""

from tgraph.backend.numba.dispatch import (  # noqa: F401
    blas,
    cheap_errors,
    conv,
    elementwise,
    pool,
    reduce,
    threefry,
)
