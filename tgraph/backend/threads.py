"""One thread pool at a time: Numba's threads do the parallel work of compiled code.

Two thread pools can run tgraph's compiled functions: Numba's (OpenMP or TBB; the
parallel kernels of convolution, pooling and the tiled matrix products of
:mod:`tgraph.backend.numba.kernels.gemm`) and the BLAS library's own (OpenBLAS as shipped
with SciPy, which Numba calls for the products the tiled kernel leaves to it). On a
machine with as many cores as threads in each pool, both pools' threads wait for work
by spinning, and the two take each other's cores: LeNet-5 trained slower on 2 threads
than on 1. The policy:

* While a compiled function of a :class:`tgraph.Model` runs (training steps,
  evaluation, prediction), BLAS is limited to one thread: it runs on whichever thread
  calls it, and only Numba's pool runs (:data:`one_pool`). The limit is scoped: the
  previous count is restored when the outermost call returns, so the user's own SciPy
  BLAS calls are unchanged (NumPy has its own copy of OpenBLAS, never touched).
* The products that need two threads (the dense layers' ``x @ W`` and weight updates)
  run on tgraph's tiled kernel, split over Numba's threads.
* Numba's threads are as many as the cores the other processes leave
  (:data:`adaptive`): a kernel split over 2 threads on 2 cores, one of which another
  process needs, waits at every barrier for the thread that lost its core. Measured
  every :data:`ADAPT_SECONDS` at most, from the kernel's CPU counters
  (:class:`tgraph.backend.cpuload.CpuLoad`); the kernels keep the split they were
  compiled with (its parts then run one after the other).

The limit is set through the BLAS library behind ``scipy.linalg.cython_blas`` (the
one Numba calls), found once: OpenBLAS's ``openblas_set_num_threads`` under any of
its symbol prefixes and suffixes. With another BLAS (or none found) nothing is
limited. A scope costs two calls into the library (~1 us, see
``benchmarks/ops.py threads``).
"""

import ctypes
import functools
import os
import sys
import threading

from tgraph.backend.cpuload import CpuLoad

__all__ = ["one_pool", "in_one_pool", "blas_threads", "set_blas_threads", "short_spins",
           "SPIN_COUNT", "adaptive", "threads_for", "ADAPT_SECONDS"]

# Busy-wait iterations of an idle OpenMP thread before it sleeps (libgomp's default,
# 300,000, is milliseconds of spinning).
SPIN_COUNT = "10000"


def short_spins(environ=None):
    """Let Numba's idle OpenMP threads sleep after a short spin instead of milliseconds.

    Between two parallel regions (two kernels of a training step, two calls of steps,
    validation) libgomp's workers spin, by default for 300,000 iterations. On a machine
    where another process needs the cores, that spinning takes them from it and from
    tgraph's own main thread: with three single-threaded jobs beside it, the MLP's
    steps on 2 threads ran at 4,800-4,950 samples/s; with 10,000 spins
    (:data:`SPIN_COUNT`) at 7,600-11,500, with 1,000 at 17,900-19,500 (as fast as one
    thread). On an idle machine 1,000 spins cost 10-15% (MLP 38-40k samples/s against
    47-48k, LeNet-5 5.6-5.7k against 6.2-6.3k) and 10,000 nothing measurable (45-49k,
    6.1-6.3k): the default is 10,000.

    Sets ``GOMP_SPINCOUNT`` unless the user set it or ``OMP_WAIT_POLICY``. libgomp reads
    it once, when it is loaded: this must run before Numba's first parallel launch
    (:mod:`tgraph.backend.numba` calls it on import).

    Args:
        environ: the environment to change (default ``os.environ``).
    """
    environ = os.environ if environ is None else environ
    if "OMP_WAIT_POLICY" not in environ:
        environ.setdefault("GOMP_SPINCOUNT", SPIN_COUNT)

_OPENBLAS_NAMES = [f"{prefix}openblas_{{}}_num_threads{suffix}"
                   for prefix in ("", "scipy_") for suffix in ("", "64_")]


@functools.cache
def _blas_library():
    """``(get, set)`` ctypes functions of the thread count of Numba's BLAS, or None."""
    try:
        import scipy.linalg.cython_blas as cython_blas
        library = ctypes.CDLL(cython_blas.__file__)  # already loaded: the same handle
    except (ImportError, OSError):
        return None
    for name in _OPENBLAS_NAMES:
        try:  # a handle's symbols include those of the libraries it depends on
            get, set_ = getattr(library, name.format("get")), getattr(library, name.format("set"))
        except AttributeError:
            continue
        get.restype, get.argtypes = ctypes.c_int, []
        set_.restype, set_.argtypes = None, [ctypes.c_int]
        return get, set_
    return None


def blas_threads():
    """The thread count of the BLAS that Numba calls (None if it is not OpenBLAS)."""
    library = _blas_library()
    return None if library is None else library[0]()


def set_blas_threads(count):
    """Set the thread count of the BLAS that Numba calls (no-op if it is not OpenBLAS).

    Args:
        count: number of threads, >= 1.
    """
    library = _blas_library()
    if library is not None:
        library[1](int(count))


ADAPT_SECONDS = 0.5  # least time between two measurements of the other processes' load


def threads_for(others, cores, maximum):
    """Threads to run on: the cores the other processes leave, rounded, in [1, maximum].

    Args:
        others: cores the other processes used lately (e.g. 0.67 for one busy loop
            sharing 2 cores with 2 of ours: the scheduler splits 3 threads over 2 cores).
        cores: cores this process may run on.
        maximum: the configured thread count (``NUMBA_NUM_THREADS``).
    """
    return max(1, min(int(maximum), int(cores - others + 0.5)))


class _AdaptiveThreads:
    """Numba's thread count inside :data:`one_pool`: :func:`threads_for` the measured load.

    Numba's count is per Python thread: the outermost scope of each thread sets it and
    restores the thread's previous count at its end, so code compiled outside the scope
    (kernels split for ``numba.get_num_threads()`` parts) sees the configured count.
    Turned off by ``TGRAPH_ADAPTIVE_THREADS=0`` or ``adaptive.enabled = False``; it
    does nothing until Numba is imported (the JAX backend sizes its own pool).
    """

    def __init__(self):
        self.enabled = os.environ.get("TGRAPH_ADAPTIVE_THREADS", "1") != "0"
        self.count = None  # the last decision (None: not measured yet)
        self._load = None  # CpuLoad, made at the first scope
        self._lock = threading.Lock()
        self._local = threading.local()

    def _decide(self, numba):
        maximum = numba.config.NUMBA_NUM_THREADS
        with self._lock:
            if self._load is None:
                self._load = CpuLoad()
            if self._load.elapsed() >= ADAPT_SECONDS:
                others = self._load.others()
                if others is not None:
                    self.count = threads_for(others, len(self._load.cpus), maximum)
            return maximum if self.count is None else min(self.count, maximum)

    def enter(self):
        local = self._local
        local.depth = getattr(local, "depth", 0) + 1
        numba = sys.modules.get("numba")
        if local.depth > 1 or not self.enabled or numba is None:
            return
        local.saved = numba.get_num_threads()
        count = self._decide(numba)
        if count != local.saved:
            numba.set_num_threads(count)

    def exit(self):
        local = self._local
        local.depth -= 1
        if local.depth > 0:
            return
        saved, local.saved = getattr(local, "saved", None), None
        if saved is not None:
            numba = sys.modules["numba"]
            if numba.get_num_threads() != saved:
                numba.set_num_threads(saved)


adaptive = _AdaptiveThreads()


class _OnePool:
    """Context manager: BLAS on one thread inside, the previous count restored after;
    Numba's threads as many as :data:`adaptive` says.

    Re-entrant and thread-safe: the outermost scope (of any thread) saves and restores.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._depth = 0
        self._saved = 1
        self._library = None  # (get, set), looked up at the first scope

    def __enter__(self):
        adaptive.enter()
        if self._library is None:  # looked up once; () if Numba's BLAS is not OpenBLAS
            self._library = _blas_library() or ()
        library = self._library
        if library:
            with self._lock:
                if self._depth == 0:
                    self._saved = library[0]()
                    if self._saved != 1:
                        library[1](1)
                self._depth += 1
        return self

    def __exit__(self, *exc):
        library = self._library
        if library:
            with self._lock:
                self._depth -= 1
                if self._depth == 0 and self._saved != 1:
                    library[1](self._saved)
        adaptive.exit()
        return False


one_pool = _OnePool()


def in_one_pool(fn):
    """``fn`` wrapped to run inside :data:`one_pool`."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with one_pool:
            return fn(*args, **kwargs)

    return wrapper
