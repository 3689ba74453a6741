"""Compiling kernels in a helper process while the graph compiles.

On a cold start (nothing in the compile cache) Numba compiles each kernel that a graph
calls through a pointer (:mod:`tgraph.backend.numba.runtime.opaque`) and the graph's own
code, one after the other, on one core: ~20 s of kernels and ~20 s of graph for LeNet-5.
The kernels do not depend on the graph, so they can be compiled elsewhere at the same time:

* When the typing of a caller meets a kernel that is neither compiled in this process
  nor in Numba's disk cache, and the kernel declares its return type (so the caller
  can be typed without it), :func:`request` hands it to a helper process (started at
  the first request; it lives until this process closes its input). The helper
  compiles the kernels, newest request first, each into the disk cache.
* At the first call of a kernel (its address is looked up then), :func:`claimed`
  waits until the helper is done with it, then the kernel is loaded from the disk
  cache. While the helper compiles one kernel, this process compiles others the helper
  has not started. A lock file per kernel says who compiles it.

Nothing is left half-done: a helper that fails or dies leaves the kernel to this
process, which compiles it as it would have anyway. ``TGRAPH_BACKGROUND_COMPILE=0``
switches the helper off.
"""

import contextlib
import os
import select
import signal
import subprocess
import sys
from pathlib import Path

__all__ = ["enabled", "request", "claimed", "finish", "drain", "serve"]

try:
    import fcntl
except ImportError:  # no flock (Windows): no helper
    fcntl = None

_ENV = "TGRAPH_BACKGROUND_COMPILE"
_HELPER_ENV = "TGRAPH_COMPILE_HELPER"
_state = {"proc": None, "pending": []}  # pending: kernel ids handed to the helper
# The helper's program: the package's one registration point, then :func:`serve`.
_SERVE = "import tgraph.backend.numba as backend; backend.serve_compile_helper()"


def enabled():
    """Whether kernels may be compiled by a helper process (see the module doc)."""
    if fcntl is None or os.environ.get(_ENV, "1") == "0" or os.environ.get(_HELPER_ENV):
        return False
    from pytensor import config

    return bool(config.numba__cache)


def _lock_path(kernel_id):
    from pytensor import config

    folder = Path(config.base_compiledir) / "tgraph_kernel_locks"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{kernel_id}.lock"


def _helper():
    proc = _state["proc"]
    if proc is not None and proc.poll() is None:
        return proc
    root = str(Path(__file__).resolve().parents[4])  # the directory holding tgraph/
    env = dict(os.environ, **{_HELPER_ENV: "1"})
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    _state["proc"] = subprocess.Popen(
        [sys.executable, "-c", _SERVE],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=env, text=True, start_new_session=True)
    return _state["proc"]


def request(kernel_id):
    """Ask the helper to compile the kernel ``kernel_id`` (an id of :mod:`.opaque`)."""
    if kernel_id in _state["pending"]:
        return
    try:
        proc = _helper()
        proc.stdin.write(f"{kernel_id}\n")
        proc.stdin.flush()
    except OSError:  # the helper is gone: this process compiles the kernel itself
        return
    _state["pending"].append(kernel_id)


def finish(timeout=None):
    """Close the helper's input and wait (at most ``timeout`` s) until it has compiled
    what it was asked to; True if it has (or there is no helper)."""
    proc, _state["proc"] = _state["proc"], None
    if proc is None:
        return True
    with contextlib.suppress(OSError):
        proc.stdin.close()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        return False
    return True


def _try_lock(kernel_id):
    """An open file holding ``kernel_id``'s lock, or None if someone else holds it."""
    handle = open(_lock_path(kernel_id), "a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    return handle


@contextlib.contextmanager
def claimed(kernel_id, compile_other):
    """Hold ``kernel_id``'s lock (the helper is not compiling it) inside the block.

    While the helper compiles it, ``compile_other(other_id)`` is called for kernels
    handed to the helper that it has not started, so both processes work.
    """
    if kernel_id not in _state["pending"]:
        yield
        return
    handle = _try_lock(kernel_id)
    while handle is None:
        for other in list(_state["pending"]):
            if other == kernel_id:
                continue
            other_handle = _try_lock(other)
            if other_handle is not None:
                try:
                    compile_other(other)
                finally:
                    _state["pending"].remove(other)
                    other_handle.close()
                break
        else:  # nothing else to do: wait for the helper
            handle = open(_lock_path(kernel_id), "a")
            fcntl.flock(handle, fcntl.LOCK_EX)
            break
        handle = _try_lock(kernel_id)
    try:
        _state["pending"].remove(kernel_id)
        yield
    finally:
        handle.close()


def drain(fd, buffer, block):
    """Read the kernel ids written to the pipe ``fd`` so far.

    Args:
        fd: the read end of a pipe of newline-terminated ids.
        buffer: bytes of an unfinished line from the previous call.
        block: wait for at least one complete id (or the end of the input).

    Returns:
        (list of the ids read, in order; the unfinished line's bytes; True at the end of
        the input).
    """
    ids, timeout = [], None if block else 0
    while select.select([fd], [], [], timeout)[0]:
        chunk = os.read(fd, 4096)
        if not chunk:
            return ids, buffer, True
        *lines, buffer = (buffer + chunk).split(b"\n")
        ids += [int(line) for line in lines if line.strip()]
        if ids:
            timeout = 0  # take what else has arrived, without waiting
    return ids, buffer, False


def serve(known, compile_kernel):
    """The helper's main loop: compile the kernels whose ids are read from stdin.

    The newest request first: the main process needs its kernels in the order it asked
    for them (forward before gradient), so when it finishes compiling the graph and
    starts on the kernels the helper has not, it finds the first ones left. The helper
    runs ``tgraph.backend.numba.serve_compile_helper()``: importing that package
    registers every kernel, and it passes its registry here.

    Args:
        known: ``known()`` -> the ids of the kernels registered in this process.
        compile_kernel: ``compile_kernel(kernel_id)`` compiles a kernel into the disk
            cache.
    """
    os.environ[_HELPER_ENV] = "1"
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()
    fd, buffer, queue, ended = sys.stdin.fileno(), b"", [], False
    while queue or not ended:
        if not ended:
            ids, buffer, ended = drain(fd, buffer, block=not queue)
            queue += ids
        if os.getppid() != parent:  # the parent is gone: its kernels are not needed now
            return
        if not queue:
            continue
        kernel_id = queue.pop()
        if kernel_id not in known():
            continue
        handle = _try_lock(kernel_id)
        if handle is None:  # the parent compiles it
            continue
        try:
            compile_kernel(kernel_id)
        except Exception:  # the parent compiles it again and reports the error
            pass
        finally:
            handle.close()
