"""Kernels called through pointers (tgraph.backend.numba.runtime.opaque) and the on-disk
compile caches.

The cross-process tests run small programs in fresh interpreters with their own empty
cache directories: the first compiles and caches, the second must load from the caches
(no recompilation) and still compute the same numbers.
"""

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numba
import numpy as np
import pytest
from numba import types
from numba.core.errors import TypingError

import tgraph
from tgraph.backend.numba.runtime import opaque as _opaque
from tgraph.backend.numba.runtime.cache import source_key

ROOT = Path(tgraph.__file__).resolve().parents[1]
F64_1D = types.Array(types.float64, 1, "C")


@numba.njit
def _scaled(x, k):
    if k < 0:
        raise ValueError("negative k")
    return x * k


_SCALED = _opaque.opaque_kernel(_scaled, (F64_1D, types.int64), "test-v1")


@numba.njit
def _call_scaled(x, k):
    return _SCALED(np.ascontiguousarray(x), k) + 1.0


def test_stand_in_computes_what_the_kernel_computes():
    x = np.arange(6.0)
    np.testing.assert_array_equal(_call_scaled(x, 3), x * 3 + 1)
    np.testing.assert_array_equal(_call_scaled(x[::2], np.int32(2)), x[::2] * 2 + 1)


def test_stand_in_passes_the_kernel_exception_on():
    with pytest.raises(ValueError, match="negative k"):
        _call_scaled(np.ones(3), -1)


def test_stand_in_rejects_arrays_of_another_layout_and_names_the_signature():
    @numba.njit
    def strided(x):
        return _SCALED(x[::2], 2)

    with pytest.raises(TypingError, match=r"no compiled signature takes .*array\(float64, 1d, A\)"):
        strided(np.ones(4))


def test_float_kernel_compiles_the_dtype_of_the_call():
    @numba.njit
    def double(x, out, n):
        for i in range(n):
            out[i] = 2 * x[i]

    stand_in = _opaque.float_kernel(double, (1, 1), 1, "test-float-v1")

    @numba.njit
    def call(x):
        out = np.empty_like(x)
        stand_in(x, out, x.size)
        return out

    x32 = np.arange(4, dtype=np.float32)
    assert call(x32).dtype == np.float32 and list(call(x32)) == [0, 2, 4, 6]
    assert [sig[0].dtype for sig in stand_in.kernel.signatures] == [types.float32]


FACTORY_KEY = "test-factory-" + source_key([_opaque.__file__])  # the entries change with opaque


def _factory(offset):
    @numba.njit
    def kernel(x):
        return x + offset

    return kernel


def test_kernels_of_one_factory_are_told_apart_by_their_names():
    one = _opaque.opaque_kernel(_factory(1.0), (F64_1D,), FACTORY_KEY, name="plus_one")
    two = _opaque.opaque_kernel(_factory(2.0), (F64_1D,), FACTORY_KEY, name="plus_two")

    @numba.njit
    def both(x):
        return one(x), two(x)

    a, b = both(np.zeros(2))
    assert list(a) == [1.0, 1.0] and list(b) == [2.0, 2.0]


def test_native_call_runs_a_function_at_an_address():
    args = (F64_1D, types.int64)
    address, restype, folded = _opaque.native_address(_scaled, args)
    call = _opaque.native_call(restype, args, folded)

    @numba.njit
    def via_pointer(address, x):
        return call(address, x, 5)

    np.testing.assert_array_equal(via_pointer(address, np.arange(3.0)), [0.0, 5.0, 10.0])


def test_source_key_changes_with_any_file(tmp_path):
    files = [tmp_path / "a.py", tmp_path / "b.py"]
    for f in files:
        f.write_text("x = 1\n")
    before = source_key(files)
    files[1].write_text("x = 2\n")
    assert source_key(files) != before


def _run(code, cache_dir, cwd=ROOT, pythonpath=None):
    env = dict(os.environ, PYTENSOR_FLAGS=f"base_compiledir={cache_dir}",
               NUMBA_CACHE_DIR=str(Path(cache_dir) / "numba-njit"))
    if pythonpath:
        env["PYTHONPATH"] = str(pythonpath)
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


CACHED_CALLER = """
    import numba, numpy as np
    from numba import types
    from tgraph.backend.numba.runtime import opaque as _opaque

    @numba.njit
    def kernel(x):
        return x * 3.0

    STAND_IN = _opaque.opaque_kernel(kernel, (types.Array(types.float64, 1, "C"),), KEY)

    @numba.njit(cache=True)
    def caller(x):
        return STAND_IN(x) + 1.0

    print(caller(np.arange(3.0)).sum(), sum(caller.stats.cache_hits.values()))
"""


def test_a_caller_loaded_from_the_disk_cache_finds_the_kernel(tmp_path):
    (tmp_path / "cached_caller.py").write_text(textwrap.dedent(CACHED_CALLER))
    code = "import builtins; builtins.KEY = 'xproc-v1'; import cached_caller"
    first = _run(code, tmp_path / "cache", cwd=tmp_path, pythonpath=ROOT)
    second = _run(code, tmp_path / "cache", cwd=tmp_path, pythonpath=ROOT)
    assert first == ["12.0", "0"]
    assert second == ["12.0", "1"]  # loaded, not compiled, and the kernel was found
    # the kernel's sources changed (another key): the cached caller calls the new kernel
    third = _run(code.replace("xproc-v1", "xproc-v2"), tmp_path / "cache", cwd=tmp_path,
                 pythonpath=ROOT)
    assert third == ["12.0", "1"]


GRAPH = """
    import numpy as np, pytensor, pytensor.tensor as pt
    from tgraph.backend import get_mode
    x = pt.vector("x", dtype="float64")
    f = pytensor.function([x], pt.exp(x).sum(), mode=get_mode("NUMBA"))
    print(float(f(np.arange(3.0))), sum(f.vm.jit_fn.stats.cache_hits.values()))
"""


def test_a_compiled_graph_is_loaded_from_the_cache_in_another_process(tmp_path):
    first = _run(GRAPH, tmp_path)
    second = _run(GRAPH, tmp_path)
    assert first[0] == second[0]
    assert first[1] == "0" and second[1] == "1"


KEYS = """
    from tgraph.backend.numba.dispatch import conv, pool
    from tgraph.backend.numba.kernels import conv_tiles, pool as pool_kernels
    print(conv_tiles.SOURCE_KEY, conv.SOURCE_KEY, pool_kernels.SOURCE_KEY, pool.SOURCE_KEY)
"""


@pytest.mark.parametrize("edited", ["kernels/conv_tiles.py", "kernels/conv.py",
                                    "kernels/conv_grad.py", "kernels/pool.py",
                                    "runtime/opaque.py"])
def test_cache_keys_change_when_a_kernel_source_changes(tmp_path, edited):
    copy = tmp_path / "src"
    shutil.copytree(ROOT / "tgraph", copy / "tgraph")
    before = _run(KEYS, tmp_path / "cache", cwd=copy)
    with open(copy / "tgraph" / "backend" / "numba" / edited, "a") as f:
        f.write("# edited\n")
    after = _run(KEYS, tmp_path / "cache", cwd=copy)
    conv_changed = edited.startswith("kernels/conv") or edited == "runtime/opaque.py"
    pool_changed = edited.startswith("kernels/pool") or edited == "runtime/opaque.py"
    assert [a != b for a, b in zip(before, after)] == [conv_changed] * 2 + [pool_changed] * 2


def test_a_wrong_declared_return_type_is_an_error_naming_the_kernel(capfd):
    @numba.njit
    def halve(x):
        return x / 2

    stand_in = _opaque.opaque_kernel(halve, (F64_1D,), "test-restype-v1", name="test.halve",
                                     restype=types.none)

    @numba.njit
    def call(x):
        stand_in(x)

    with pytest.raises(RuntimeError, match="cannot compile or load the kernel test.halve"):
        call(np.ones(2))
    assert "returns array(float64, 1d, C), but declares none" in capfd.readouterr().err


HELPER = """
    import numpy as np
    from numba import types
    from tgraph.backend.numba.kernels import gemm as _gemm_kernels
    from tgraph.backend.numba.runtime import background as _background, opaque as _opaque
    stand_in = _gemm_kernels._GEMM_FLAT
    (kernel_id,) = [k for k, v in _opaque._KERNELS.items() if v[0] is stand_in.kernel]
    if BACKGROUND:
        _background.request(kernel_id)
        assert _background.finish(timeout=300)
    _opaque.compile_kernel(kernel_id)
    stats = stand_in.kernel.stats
    a, b = np.ones((8, 16), np.float32), np.full((16, 64), 2, np.float32)
    c = np.zeros((8, 64), np.float32)
    _gemm_kernels.gemm_into(1.0, a, b, False, c, 1)
    print(sum(stats.cache_hits.values()), sum(stats.cache_misses.values()), c.min(), c.max())
"""


@pytest.mark.parametrize("background", [True, False])
def test_the_helper_process_compiles_a_kernel_into_the_disk_cache(tmp_path, background):
    """Asked to, the helper compiles the kernel: this process loads it (a cache hit)."""
    out = _run(HELPER.replace("BACKGROUND", str(background)), tmp_path)
    assert out == (["1", "0", "32.0", "32.0"] if background else ["0", "1", "32.0", "32.0"])


WARM = """
    import numba, numpy as np
    from tgraph.backend.numba.kernels import gemm as _gemm_kernels
    from tgraph.backend.numba.runtime import background as _background

    @numba.njit  # not cached: typed in each process, so it meets the stand-in each time
    def caller(a, b, c):
        _gemm_kernels._GEMM_FLAT(np.float32(1), a.ravel(), 16, 1, b.ravel(), 64, 1, c.ravel(),
                                 64, 8, 64, 16, False, 1)

    a, b = np.ones((8, 16), np.float32), np.full((16, 64), 2, np.float32)
    c = np.zeros((8, 64), np.float32)
    caller(a, b, c)
    print(_background._state["proc"] is not None, c.max())
"""


def test_no_helper_is_started_when_the_kernels_are_on_disk(tmp_path):
    assert _run(WARM, tmp_path)[0] == "True"  # cold: the helper compiles the kernel
    assert _run(WARM, tmp_path) == ["False", "32.0"]  # warm: loaded by this process


def test_the_helper_reads_every_id_written_so_far_and_the_end_of_its_input():
    from tgraph.backend.numba.runtime.background import drain

    read, write = os.pipe()
    try:
        os.write(write, b"11\n22\n3")
        assert drain(read, b"", block=True) == ([11, 22], b"3", False)
        assert drain(read, b"3", block=False) == ([], b"3", False)  # nothing new: no wait
        os.write(write, b"3\n44\n")
        os.close(write)
        write = None
        assert drain(read, b"3", block=False) == ([33, 44], b"", True)
    finally:
        os.close(read)
        if write is not None:
            os.close(write)
