"""Numba's disk cache for tgraph's jitted functions, and the one key of their sources.

Numba keys a cached function on the modification time and size of its own file only.
A function cached before an edit of a function it calls in another module keeps running
the old code; if the edit changed how calls are made (the calls through pointers of
:mod:`tgraph.backend.numba.runtime.opaque`), it crashes the process. Installed packages
rarely meet this (an upgrade rewrites every file), but a checkout does on every ``git pull``.

Every cache key of tgraph's compiled code that must follow edits of its sources is made
by :func:`source_key` (a hash of the files' names and contents):

* :func:`watch` registers a source tree (tgraph's Numba backend, ``tgraph/backend/numba``,
  is registered on import): for a function defined under it, the cache stamp is the
  file's stamp plus :func:`tree_key`, the key of every module of the tree that mentions
  Numba, so an edit of any of them recompiles them all, once. Functions elsewhere, and
  the generated functions PyTensor caches under its own keys, keep Numba's usual locators.
* The kernels called through pointers and the Numba code of the ops, which PyTensor
  caches under the keys they give, name the files they are made from in their keys.
* The functions PyTensor caches under its own keys (its ops' code, the graphs) are filed,
  in a process with this backend, in a directory of PyTensor's cache named after
  :func:`tree_key` of the backend: their code may contain tgraph's overrides (the error
  path of slice assignment, :mod:`tgraph.backend.numba.dispatch.cheap_errors`), which
  PyTensor's keys do not name. A function cached by an older tgraph, or by PyTensor
  alone, is never loaded in its place.

Import this module before any module that defines cached functions (the locator of a
function is chosen when it is decorated): :mod:`tgraph.backend.numba` imports it first.
"""

import hashlib
from pathlib import Path

import pytensor.link.numba.cache as _pytensor_cache  # registers PyTensor's locator first
from numba.core import caching

__all__ = ["source_key", "tree_key", "watch", "BACKEND_ROOT"]

_ROOTS = []  # resolved directories whose functions use these locators
_TREE_KEYS = {}  # root -> tree_key(root) (computed once a process)


def source_key(paths):
    """A short hash of the files ``paths``: the part of a cache key naming its sources.

    Args:
        paths: the files (``str`` or ``Path``) whose code a cached function runs; their
            order counts.

    Returns:
        16 hex digits; they change when a file is edited, renamed, added or removed.
    """
    digest = hashlib.sha256()
    for path in map(Path, paths):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def tree_key(root):
    """:func:`source_key` of every ``*.py`` file under ``root`` whose text mentions ``numba``.

    Args:
        root: a directory (``str`` or ``Path``).

    Returns:
        16 hex digits; they change when such a file is edited, added, removed or renamed.
    """
    root = Path(root).resolve()
    if root not in _TREE_KEYS:
        _TREE_KEYS[root] = source_key(path for path in sorted(root.rglob("*.py"))
                                      if b"numba" in path.read_bytes())
    return _TREE_KEYS[root]


def _root_of(py_file):
    path = Path(py_file).resolve()
    return next((root for root in _ROOTS if path.is_relative_to(root)), None)


class _TreeStamp:
    """Locator mixin: only functions under a watched root; stamp includes the tree key."""

    def get_source_stamp(self):
        return super().get_source_stamp(), tree_key(_root_of(self._py_file))

    @classmethod
    def from_function(cls, py_func, py_file):
        if py_func in _pytensor_cache.CACHED_SRC_FUNCTIONS or _root_of(py_file) is None:
            return None
        return super().from_function(py_func, py_file)


class _UserProvided(_TreeStamp, caching.UserProvidedCacheLocator):
    """``NUMBA_CACHE_DIR`` is set: cache there."""


class _InTree(_TreeStamp, caching.InTreeCacheLocator):
    """The module's ``__pycache__``."""


class _UserWide(_TreeStamp, caching.UserWideCacheLocator):
    """A read-only install: the user's cache directory."""


_LOCATORS = (_UserProvided, _InTree, _UserWide)


def watch(root):
    """Give the functions defined under ``root`` a cache stamp that covers the whole tree.

    Call it before the modules under ``root`` are imported (the locator of a function is
    chosen when it is decorated with ``cache=True``).

    Args:
        root: a directory of Python modules with jitted functions.
    """
    root = Path(root).resolve()
    if root not in _ROOTS:
        _ROOTS.append(root)
    classes = caching.CacheImpl._locator_classes
    if _LOCATORS[0] not in classes:
        ours = classes.index(_pytensor_cache.NumbaPyTensorCacheLocator) + 1
        classes[ours:ours] = _LOCATORS


class _PyTensorKeyed(_pytensor_cache.NumbaPyTensorCacheLocator):
    """PyTensor's locator (functions cached under PyTensor's keys), in tgraph's directory."""

    def get_cache_path(self):
        return _PYTENSOR_KEYED_PATH


BACKEND_ROOT = Path(__file__).resolve().parents[1]  # tgraph/backend/numba
watch(BACKEND_ROOT)
_PYTENSOR_KEYED_PATH = _pytensor_cache.NUMBA_CACHE_PATH / f"tgraph-{tree_key(BACKEND_ROOT)}"
_PYTENSOR_KEYED_PATH.mkdir(parents=True, exist_ok=True)
if _PyTensorKeyed not in caching.CacheImpl._locator_classes:
    caching.CacheImpl._locator_classes.insert(0, _PyTensorKeyed)
