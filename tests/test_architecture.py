"""The package's import structure, read from the sources (``ast``), not from a list.

* Direction: ``layers -> ops -> PyTensor``; ``backend -> ops``; nothing under ``ops``
  imports the backend, the layers or the model. What a computation *is* (an op) lives
  apart from *how it runs* (the backend registers itself against the ops).
* Numba and llvmlite are imported by ``tgraph.backend.numba`` only when a Numba mode is
  asked for: importing the layers (as a spec file does) loads neither.
* The top-level imports of tgraph's modules have no cycle.
"""

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import tgraph

PACKAGE = Path(tgraph.__file__).resolve().parent
NATIVE = ("numba", "llvmlite")
# the Numba and JAX backends of PyTensor: importing them registers a backend (and Numba)
PYTENSOR_BACKENDS = ("pytensor.link.numba", "pytensor.link.jax")
MODEL_SIDE = ("tgraph.model", "tgraph.network", "tgraph.trainer", "tgraph.callbacks",
              "tgraph.experiment", "tgraph.run", "tgraph.cli", "tgraph.modelfile")
# package -> the modules it must not import (prefixes: a package and all its modules)
FORBIDDEN = {
    "tgraph.ops": ("tgraph.backend", "tgraph.layers", "tgraph.optim", *MODEL_SIDE,
                   *PYTENSOR_BACKENDS, *NATIVE),
    "tgraph.layers": ("tgraph.backend", "tgraph.optim", *MODEL_SIDE, *PYTENSOR_BACKENDS,
                      *NATIVE),
    "tgraph.optim": ("tgraph.backend", *MODEL_SIDE, *PYTENSOR_BACKENDS, *NATIVE),
    "tgraph.callbacks": ("tgraph.backend", *PYTENSOR_BACKENDS, *NATIVE),
    "tgraph.backend": ("tgraph.layers", "tgraph.optim", *MODEL_SIDE),
}
# what a spec file or a user imports: the package (alone), and every module of these
WITHOUT_NATIVE = ("tgraph", "tgraph.layers", "tgraph.ops", "tgraph.optim", "tgraph.callbacks")


def _module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _within(name, prefix):
    return name == prefix or name.startswith(prefix + ".")


def _statements(tree, top_level):
    """The import statements of a module; ``top_level``: only those run on import
    (not inside functions)."""
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif not (top_level and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                  ast.Lambda))):
            stack.extend(ast.iter_child_nodes(node))


def _imported(module, node):
    """The names of the modules an import statement of ``module`` imports."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:  # relative: from the module's package
        package = module.split(".")
        if MODULES[module].name != "__init__.py":
            package.pop()
        package = package[:len(package) - (node.level - 1)]
        base = ".".join(package + ([base] if base else []))
    return [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
            for alias in node.names]


def imports(module, top_level=False):
    """The modules ``module`` imports (its top-level imports only, if ``top_level``)."""
    tree = ast.parse(MODULES[module].read_text(), str(MODULES[module]))
    return sorted({name for node in _statements(tree, top_level)
                   for name in _imported(module, node)})


def find_cycle(graph):
    """A cycle ``[a, b, ..., a]`` of the directed ``graph`` (node -> successors), or None."""
    on_path, done, path = set(), set(), []

    def visit(node):
        on_path.add(node)
        path.append(node)
        for succ in graph.get(node, ()):
            if succ in on_path:
                return path[path.index(succ):] + [succ]
            if succ not in done and (cycle := visit(succ)):
                return cycle
        on_path.remove(node)
        path.pop()
        done.add(node)
        return None

    for node in sorted(graph):
        if node not in done and (cycle := visit(node)):
            return cycle
    return None


def test_the_package_is_walked():
    assert {"tgraph.ops.conv", "tgraph.layers.core", "tgraph.backend",
            "tgraph.backend.numba.runtime.opaque"} <= MODULES.keys()
    assert "tgraph.ops.conv" in imports("tgraph.layers.conv")  # from tgraph.ops.conv import ..
    assert "tgraph.backend.numba.runtime.opaque" in imports("tgraph.backend.numba.kernels.gemm")
    assert "tgraph.backend.numba" in imports("tgraph.backend")  # in get_mode
    assert "tgraph.backend.numba" not in imports("tgraph.backend", top_level=True)


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_import_direction(package):
    bad = [f"{module} imports {name}"
           for module in MODULES if _within(module, package)
           for name in imports(module)
           if name == "tgraph"  # the whole package, model and all
           or any(_within(name, forbidden) for forbidden in FORBIDDEN[package])]
    assert not bad, f"{package} must not import {FORBIDDEN[package]}:\n" + "\n".join(bad)


def test_no_import_cycle():
    graph = {module: [name for name in imports(module, top_level=True) if name in MODULES]
             for module in MODULES}
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_import_cycle_in_the_backend_even_inside_functions():
    """The lowest layer names no client: the compile helper is handed the kernels, the
    runtime does not import the modules that define them."""
    backend = {module: [name for name in imports(module) if _within(name, "tgraph.backend")
                        and name in MODULES]
               for module in MODULES if _within(module, "tgraph.backend")}
    cycle = find_cycle(backend)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_a_cycle_is_found_and_shown():
    assert find_cycle({"a": ["b"], "b": ["c"], "c": ["a"], "d": []}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": ["b", "c"], "b": ["c"], "c": []}) is None


NATIVE_LOADED = """
    import importlib, pkgutil, sys
    package = importlib.import_module(sys.argv[1])
    if package.__name__ != "tgraph":  # the root alone: its backend imports Numba, as it should
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            importlib.import_module(info.name)
    print(" ".join(sorted(m for m in sys.modules if m.split(".")[0] in ("numba", "llvmlite"))))
"""


@pytest.mark.parametrize("package", WITHOUT_NATIVE)
def test_importing_does_not_load_numba_or_llvmlite(package):
    """``package`` and its modules imported in a fresh interpreter: nothing of Numba."""
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(NATIVE_LOADED), package],
                            cwd=PACKAGE.parent, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [], f"importing {package} loads {result.stdout[:200]}"
