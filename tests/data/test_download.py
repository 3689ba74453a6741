"""``download=True`` against a local HTTP server on 127.0.0.1 serving real MNIST files.

The server serves four IDX files made from the shipped mnist_10k.npz (the t10k files, whose
content is the official one, and its first 2000 training images under the train names); the
tests point ``MIRRORS`` or ``base_url`` at it and replace ``MNIST_SHA256`` by these files'
hashes.
"""

import gzip
import hashlib
import http.server
import threading

import numpy as np
import pytest

import tgraph.data.download as download
from tgraph.data import load_dataset
from tgraph.errors import DataError

from support.idx import uint8_idx_bytes

N_TRAIN = 2000
NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
         "t10k-labels-idx1-ubyte")


@pytest.fixture(scope="module")
def served(mnist_arrays, t10k_dir):
    """``{file name (.gz): gzip bytes}`` and ``{IDX name: sha256 of the uncompressed bytes}``."""
    files = {f"{NAMES[0]}.gz": uint8_idx_bytes(mnist_arrays["x_train"][:N_TRAIN]),
             f"{NAMES[1]}.gz": uint8_idx_bytes(mnist_arrays["y_train"][:N_TRAIN])}
    files = {name: gzip.compress(data, compresslevel=1, mtime=0) for name, data in files.items()}
    files.update({f"{name}.gz": (t10k_dir / f"{name}.gz").read_bytes() for name in NAMES[2:]})
    hashes = {name: hashlib.sha256(gzip.decompress(files[f"{name}.gz"])).hexdigest()
              for name in NAMES}
    return files, hashes


class Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.files`` under /mnist/; ``server.faults[name]`` breaks one file."""

    def do_GET(self):
        self.server.requests.append(self.path)
        mirror, _, name = self.path.rpartition("/")
        fault = "500" if mirror == "/broken" else self.server.faults.get(name)
        body = self.server.files.get(name)
        if body is None or fault == "500":
            self.send_error(404 if body is None else 500)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if fault == "cut":
            body = body[: len(body) // 2]  # the connection closes half-way
        elif fault == "not gzip":
            body = b"<html>" + bytes(len(body) - 6)
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server(served):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.files, httpd.faults, httpd.requests = served[0], {}, []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def mirror(server, served, monkeypatch):
    """The local mirror's URL, with tgraph's checksums set to the served files'."""
    for variable in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    monkeypatch.setattr(download, "MNIST_SHA256", dict(served[1]))
    server.faults.clear()
    server.requests.clear()
    return f"http://127.0.0.1:{server.server_address[1]}/mnist/"


def listing(directory):
    return sorted(p.name for p in directory.iterdir())


def test_download_then_cache(mirror, server, served, tmp_path, monkeypatch, mnist_arrays):
    monkeypatch.setattr(download, "MIRRORS", (mirror,))
    cache = tmp_path / "cache"
    data = load_dataset(download=True, cache_dir=cache)
    assert listing(cache) == sorted(f"{n}.gz" for n in NAMES)
    assert sorted(server.requests) == sorted(f"/mnist/{n}.gz" for n in NAMES)
    assert data.sizes() == {"train": 1600, "valid": 400, "test": 10000}
    assert data.meta["format"] == "idx" and data.source == str(cache.resolve())
    assert data.train.x.dtype == np.float32 and data.train.y.dtype == np.int32
    np.testing.assert_array_equal(data.test.x, mnist_arrays["x_test"] / np.float32(255))
    np.testing.assert_array_equal(data.valid.y, mnist_arrays["y_train"][1600:N_TRAIN])
    for name in NAMES:
        assert (cache / f"{name}.gz").read_bytes() == served[0][f"{name}.gz"]

    server.requests.clear()
    again = load_dataset(download=True, cache_dir=cache)
    assert server.requests == []  # everything came from the cache
    np.testing.assert_array_equal(again.train.x, data.train.x)


def test_wrong_checksum_keeps_nothing(mirror, server, served, tmp_path, monkeypatch):
    wrong = "0" * 64
    monkeypatch.setitem(download.MNIST_SHA256, NAMES[1], wrong)
    cache = tmp_path / "cache"
    with pytest.raises(DataError) as err:
        load_dataset(download=True, cache_dir=cache, base_url=mirror)
    name = f"{NAMES[1]}.gz"
    assert str(err.value) == (
        f"could not download {name} into {cache}:\n"
        f"  {mirror}{name}: sha256 of the uncompressed content is {served[1][NAMES[1]]}, "
        f"expected {wrong}; the download was deleted\n"
        f"no file was kept; check the network connection and the base_url, or download {name} "
        f"by hand into {cache} and load that directory")
    assert listing(cache) == [f"{NAMES[0]}.gz"]  # the first file was fine; no temporary file


@pytest.mark.parametrize("fault, reason", [
    ("500", "HTTP 500 Internal Server Error"),
    ("cut", "the transfer was interrupted after "),
    ("not gzip", "not valid gzip data ("),
])
def test_broken_transfer_leaves_no_file(fault, reason, mirror, server, tmp_path):
    server.faults[f"{NAMES[2]}.gz"] = fault
    cache = tmp_path / "cache"
    with pytest.raises(DataError) as err:
        load_dataset(download=True, cache_dir=cache, base_url=mirror)
    lines = str(err.value).splitlines()
    assert lines[0] == f"could not download {NAMES[2]}.gz into {cache}:"
    assert lines[1].startswith(f"  {mirror}{NAMES[2]}.gz: {reason}")
    assert listing(cache) == [f"{n}.gz" for n in NAMES[:2]]


def test_next_mirror_after_a_failing_one(mirror, server, tmp_path, monkeypatch):
    broken = mirror.replace("/mnist/", "/broken/")
    monkeypatch.setattr(download, "MIRRORS", (broken, mirror))
    cache = download.download_mnist(tmp_path / "cache")
    assert listing(cache) == sorted(f"{n}.gz" for n in NAMES)
    assert server.requests[:2] == [f"/broken/{NAMES[0]}.gz", f"/mnist/{NAMES[0]}.gz"]


def test_a_damaged_cached_file_is_fetched_again(mirror, server, served, tmp_path):
    cache = tmp_path / "cache"
    download.download_mnist(cache, base_url=mirror)
    damaged = cache / f"{NAMES[3]}.gz"
    damaged.write_bytes(served[0][damaged.name][:100])
    server.requests.clear()
    load_dataset(cache, download=True, base_url=mirror)  # the path is the download directory
    assert server.requests == [f"/mnist/{damaged.name}"]
    assert damaged.read_bytes() == served[0][damaged.name]


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("TGRAPH_CACHE", str(tmp_path / "tg"))
    assert download.default_cache_dir() == tmp_path / "tg" / "mnist"
    monkeypatch.delenv("TGRAPH_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert download.default_cache_dir() == tmp_path / "xdg" / "tgraph" / "mnist"


def test_official_checksums_match_the_real_t10k_files(served):
    for name in NAMES[2:]:
        assert download.MNIST_SHA256[name] == served[1][name], name
