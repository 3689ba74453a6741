"""Numba's disk cache of tgraph's functions follows edits of the functions they call."""

import os
import subprocess
import sys
import textwrap

from tgraph.backend.numba.kernels.gemm import gemm_into
from tgraph.backend.numba.runtime import cache as _numba_cache

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
    tree = _numba_cache.tree_key(_numba_cache.BACKEND_ROOT)  # tgraph/backend/numba
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


def test_functions_under_pytensor_keys_are_filed_apart_from_pytensor_alone():
    """Their code may contain tgraph's overrides, which PyTensor's keys do not name."""
    import numba
    from pytensor.link.numba.cache import NUMBA_CACHE_PATH, compile_numba_function_src

    fn = compile_numba_function_src("def f(x):\n    return x + 1\n", "f",
                                    cache_key="tgraph-test-pytensor-keyed")
    locator = numba.njit(cache=True)(fn)._cache._impl._locator
    tree = _numba_cache.tree_key(_numba_cache.BACKEND_ROOT)
    assert locator.get_cache_path() == NUMBA_CACHE_PATH / f"tgraph-{tree}"
