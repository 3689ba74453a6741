"""Numba's disk cache for tgraph's jitted functions, invalidated by an edit of any of them.

Numba keys a cached function on the modification time and size of its own file only.
A function cached before an edit of a function it calls in another module keeps running
the old code; if the edit changed how calls are made (the calls through pointers of
:mod:`tgraph.ops._opaque`), it crashes the process. Installed packages rarely meet this
(an upgrade rewrites every file), but a checkout does on every ``git pull``.

:func:`watch` registers a source tree (tgraph's own package is registered on import):
for a function defined under it, the cache stamp is the file's stamp plus a hash of
every module of the tree that mentions Numba, so an edit of any of them recompiles
them all, once. Functions elsewhere, and the generated functions PyTensor caches under
its own keys, keep Numba's usual locators.
"""

import hashlib
from pathlib import Path

import pytensor.link.numba.cache as _pytensor_cache  # registers PyTensor's locator first
from numba.core import caching

__all__ = ["watch", "sources_hash"]

_ROOTS = []  # resolved directories whose functions use these locators
_HASHES = {}  # root -> hash of its Numba sources (computed once a process)


def sources_hash(root):
    """A short hash of every ``*.py`` file under ``root`` whose text mentions ``numba``.

    Args:
        root: a directory (``str`` or ``Path``).

    Returns:
        16 hex digits; it changes when such a file is edited, added, removed or renamed.
    """
    root = Path(root).resolve()
    if root not in _HASHES:
        digest = hashlib.sha256()
        for path in sorted(root.rglob("*.py")):
            text = path.read_bytes()
            if b"numba" in text:
                digest.update(str(path.relative_to(root)).encode() + b"\0" + text + b"\0")
        _HASHES[root] = digest.hexdigest()[:16]
    return _HASHES[root]


def _root_of(py_file):
    path = Path(py_file).resolve()
    return next((root for root in _ROOTS if path.is_relative_to(root)), None)


class _TreeStamp:
    """Locator mixin: only functions under a watched root; stamp includes the tree hash."""

    def get_source_stamp(self):
        return super().get_source_stamp(), sources_hash(_root_of(self._py_file))

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


watch(Path(__file__).parent)
