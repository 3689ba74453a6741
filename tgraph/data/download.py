"""Downloading the full MNIST IDX files into a cache, sha256-checked, written atomically.

Each file is fetched as ``<name>.gz`` from the first mirror that serves it correctly,
streamed into a temporary file next to its destination while the sha256 of its
*uncompressed* content is computed, and renamed into place only if that hash is the
expected one. Hashing the uncompressed IDX bytes (not the .gz) accepts any mirror that
recompressed the files, and identifies the data itself.

Only the standard library is used (``urllib.request``).
"""

import http.client
import logging
import os
import urllib.error
import urllib.request
import zlib
from hashlib import sha256
from pathlib import Path

from tgraph.data._files import GZIP_MAGIC
from tgraph.errors import DataError
from tgraph.fileio import atomic_write

__all__ = ["MIRRORS", "MNIST_SHA256", "CACHE_ENV", "default_cache_dir", "download_mnist",
           "content_sha256"]

MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

# sha256 of the uncompressed official IDX files (LeCun, Cortes, Burges). The t10k values
# equal those of the files in the shared MNIST data; for reference, the sha256 of the
# original .gz archives are 440fcabf..., 3552534a..., 8d422c7b..., f7ae60f9... (in order).
MNIST_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

CACHE_ENV = "TGRAPH_CACHE"
_CHUNK = 1 << 16
_log = logging.getLogger(__name__)


def default_cache_dir():
    """Where :func:`download_mnist` puts the files by default.

    Returns:
        ``$TGRAPH_CACHE/mnist`` if the environment variable is set, else
        ``$XDG_CACHE_HOME/tgraph/mnist``, else ``~/.cache/tgraph/mnist``.
    """
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser() / "mnist"
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root).expanduser() / "tgraph" / "mnist"


def download_mnist(cache_dir=None, *, base_url=None, files=None, timeout=60.0):
    """Make sure the MNIST IDX files are in ``cache_dir``, downloading what is missing.

    A file already there whose uncompressed content has the expected sha256 is kept;
    a missing or different one is downloaded again.

    Args:
        cache_dir: destination directory (created); default :func:`default_cache_dir`.
        base_url: the one mirror to use (``"https://host/mnist/"``); default: try
            :data:`MIRRORS` in order.
        files: ``{IDX file name: sha256 of its uncompressed content}``; default
            :data:`MNIST_SHA256`. Each name is fetched as ``<name>.gz``.
        timeout: seconds to wait for a server before giving up on it.

    Returns:
        The directory (a :class:`Path`) holding ``<name>.gz`` for every file.

    Raises:
        DataError: a file could not be fetched from any mirror, or its content does not
            have the expected hash; no partial or wrong file is left behind.
    """
    directory = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    _make_directory(directory)
    mirrors = (base_url,) if base_url else MIRRORS
    for name, expected in (MNIST_SHA256 if files is None else files).items():
        _ensure_file(directory / f"{name}.gz", expected, mirrors, timeout)
    return directory


def _make_directory(directory):
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"{directory}: cannot create the download directory ({exc}); choose "
                        f"another with cache_dir= or the {CACHE_ENV} environment variable") from exc


def _ensure_file(target, expected, mirrors, timeout):
    if target.is_file() and content_sha256(target) == expected:
        _log.info("%s: already downloaded", target)
        return
    failures = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + target.name
        try:
            _fetch(url, target, expected, timeout)
            return
        except _FetchError as exc:
            failures.append(f"  {url}: {exc}")
    raise DataError(_failure_message(target, failures))


def _failure_message(target, failures):
    return (f"could not download {target.name} into {target.parent}:\n" + "\n".join(failures)
            + "\nno file was kept; check the network connection and the base_url, or download "
            f"{target.name} by hand into {target.parent} and load that directory")


class _FetchError(Exception):
    """One mirror failed to deliver one file correctly."""


def _fetch(url, target, expected, timeout):
    _log.info("downloading %s", url)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, atomic_write(target) as f:
            actual = _copy_hashing(response, f)
            if actual != expected:
                raise _FetchError(f"sha256 of the uncompressed content is {actual}, expected "
                                  f"{expected}; the download was deleted")
    except urllib.error.HTTPError as exc:
        raise _FetchError(f"HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        raise _FetchError(f"cannot connect ({exc.reason})") from exc
    except (OSError, http.client.HTTPException) as exc:
        raise _FetchError(f"transfer failed ({type(exc).__name__}: {exc})") from exc


def _copy_hashing(source, destination):
    """Copy gzip data from ``source`` to ``destination``; sha256 of the uncompressed bytes."""
    digest, received = _GunzipDigest(), 0
    for chunk in iter(lambda: source.read(_CHUNK), b""):
        destination.write(chunk)
        digest.update(chunk)
        received += len(chunk)
    _check_complete(source, received)
    return digest.hexdigest()


def _check_complete(response, received):
    """A connection closed early ends the reads quietly: compare with Content-Length."""
    announced = getattr(response, "headers", {}).get("Content-Length", "")
    if announced.isdigit() and received < int(announced):
        raise _FetchError(f"the transfer was interrupted after {received} of {announced} bytes")


def content_sha256(path):
    """sha256 of the uncompressed content of a file.

    Args:
        path: a gzip-compressed or plain file.

    Returns:
        The hex digest, or None if the file cannot be read or is broken gzip data.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(2)
            digest = _GunzipDigest() if head == GZIP_MAGIC else sha256()
            digest.update(head)
            for chunk in iter(lambda: f.read(_CHUNK), b""):
                digest.update(chunk)
            return digest.hexdigest()
    except (OSError, _FetchError):
        return None


class _GunzipDigest:
    """sha256 of the decompressed bytes of a gzip stream fed in chunks (multi-member too)."""

    def __init__(self):
        self._sha = sha256()
        self._inflate = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)

    def update(self, chunk):
        while chunk:
            try:
                self._sha.update(self._inflate.decompress(chunk))
            except zlib.error as exc:
                raise _FetchError(f"not valid gzip data ({exc})") from exc
            chunk = self._inflate.unused_data if self._inflate.eof else b""
            if chunk:
                self._inflate = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)

    def hexdigest(self):
        if not self._inflate.eof:
            raise _FetchError("the gzip data ends early (truncated)")
        return self._sha.hexdigest()
