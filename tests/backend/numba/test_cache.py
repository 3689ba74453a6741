"""Numba's disk cache of tgraph's functions follows edits of the functions they call."""

import os
import subprocess
import sys
import textwrap

from tgraph.backend.numba.runtime import cache as _numba_cache
from tgraph.backend.numba.kernels.gemm import gemm_into

CALLEE = "import numba\n\n@numba.njit(cache=True)\ndef g():\n    return {}\n"
CALLER = "import numba\nfrom callee import g\n\n@numba.njit(cache=True)\ndef f():\n    return g()\n"
RUN = textwrap.dedent("""
    import sys
    if sys.argv[1] == "watch":
        from tgraph.backend.numba.runtime.cache import watch
        watch(sys.argv[2])
    sys.path.insert(0, sys.argv[2])
    import caller
    print(caller.f())
""")


def _run(package, cache, how):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
    out = subprocess.run([sys.executable, "-c", RUN, how, str(package)], env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return int(out.stdout.split()[-1])


def _package(path):
    path.mkdir()
    (path / "callee.py").write_text(CALLEE.format(1))
    (path / "caller.py").write_text(CALLER)
    return path


def test_a_cached_caller_runs_the_edited_callee_in_a_watched_tree(tmp_path):
    watched, plain = _package(tmp_path / "watched"), _package(tmp_path / "plain")
    assert _run(watched, tmp_path / "c1", "watch") == 1
    assert _run(plain, tmp_path / "c2", "plain") == 1
    for package in (watched, plain):
        (package / "callee.py").write_text(CALLEE.format(2) + "# edited\n")
    assert _run(watched, tmp_path / "c1", "watch") == 2
    # Numba's own stamp (the caller's file) keeps the stale caller: what watch() fixes
    assert _run(plain, tmp_path / "c2", "plain") == 1


def test_tgraph_kernels_use_the_tree_stamp():
    locator = gemm_into._cache._impl._locator
    assert isinstance(locator, _numba_cache._TreeStamp)
    tree = _numba_cache.tree_key(os.path.dirname(os.path.dirname(_numba_cache.__file__)))
    assert locator.get_source_stamp()[1] == tree


def test_tree_key_covers_only_files_that_mention_numba(tmp_path):
    (tmp_path / "k.py").write_text("import numba\n")
    (tmp_path / "plain.py").write_text("x = 1\n")
    before = _numba_cache.tree_key(tmp_path)
    _numba_cache._TREE_KEYS.clear()
    (tmp_path / "plain.py").write_text("x = 2\n")
    assert _numba_cache.tree_key(tmp_path) == before
    _numba_cache._TREE_KEYS.clear()
    (tmp_path / "k.py").write_text("import numba  # edited\n")
    assert _numba_cache.tree_key(tmp_path) != before
    _numba_cache._TREE_KEYS.clear()
