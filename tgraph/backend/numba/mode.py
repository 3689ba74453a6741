"""tgraph's ``"NUMBA"`` mode: PyTensor's Numba linker with the BLAS rewrites switched on.

PyTensor disables its BLAS rewrites for Numba because it has no Numba code for the ops
they create; :mod:`tgraph.backend.numba.dispatch.blas` provides it. This fuses an SGD
step with weight decay into one in-place GEMM, as Theano did. One refinement over
PyTensor's rewrites: ``Dot22Scalar`` only for a product nobody else reads
(:data:`DOT22SCALAR_REWRITE`). PyTensor turns ``lr * dot(x.T, delta)`` into
``Dot22Scalar`` even when the plain ``dot(x.T, delta)`` is also needed (RMSprop and Adam
use ``lr * g`` and ``g ** 2``), which computes the weight gradient twice; tgraph's mode
uses :func:`local_dot22_to_dot22scalar_single_client` instead. And one rewrite of its
own: two ``Gemm`` updates of one weight with one rate become one
(:func:`local_merge_nested_gemms`: an RBM's CD update reads and writes ``W`` once).
"""

import types

import pytensor.tensor as pt
from pytensor import config
from pytensor.compile.mode import Mode
from pytensor.graph.rewriting.basic import dfs_rewriter, node_rewriter
from pytensor.graph.rewriting.db import RewriteDatabaseQuery
from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS
from pytensor.link.numba.dispatch.basic import numba_funcify_and_cache_key, numba_njit
from pytensor.link.numba.linker import NumbaLinker
from pytensor.tensor.basic import get_underlying_scalar_constant_value
from pytensor.tensor.blas import _dot22, gemm_no_inplace
from pytensor.tensor.elemwise import DimShuffle
from pytensor.tensor.exceptions import NotScalarConstantError
from pytensor.tensor.math import mul, neg
from pytensor.tensor.rewriting.blas import blas_optdb, local_dot22_to_dot22scalar

__all__ = ["TGraphNumbaLinker", "numba_mode", "DOT22SCALAR_REWRITE", "TGRAPH_REWRITES_TAG",
           "local_merge_nested_gemms"]

DOT22SCALAR_REWRITE = "local_dot22_to_dot22scalar"  # PyTensor's, replaced in tgraph's mode
TGRAPH_REWRITES_TAG = "tgraph_blas"  # selects the rewrites below


@node_rewriter([mul])
def local_dot22_to_dot22scalar_single_client(fgraph, node):
    """PyTensor's ``mul(scalar, Dot22) -> Dot22Scalar``, unless the Dot22 has other clients."""
    for x in node.inputs:
        if x.owner is not None and x.owner.op == _dot22 and len(fgraph.clients[x]) > 1:
            return False
    return local_dot22_to_dot22scalar.transform(fgraph, node)


blas_optdb.register(
    "tgraph_dot22_to_dot22scalar",
    dfs_rewriter(local_dot22_to_dot22scalar_single_client),
    TGRAPH_REWRITES_TAG,
    position=12,
)


def _constant(x):
    """The value of a scalar that is a constant (maybe behind casts), else None."""
    try:
        return get_underlying_scalar_constant_value(x)
    except NotScalarConstantError:
        return None


def _same_scalar(a, b):
    """Whether two scalar variables are one variable or equal constants."""
    if a is b:
        return True
    value_a, value_b = _constant(a), _constant(b)
    return value_a is not None and value_b is not None and value_a == value_b


def _signed(x):
    """``(sign, y)`` with ``x = sign * y``, ``y`` not a ``neg`` (``neg(neg(lr))`` is ``lr``)."""
    sign = 1
    while x.owner is not None and x.owner.op == neg:
        sign, x = -sign, x.owner.inputs[0]
    return sign, x


def _relative_sign(a, b):
    """1 if ``b`` is ``a``, -1 if it is ``-a`` (up to ``neg`` ops), else 0."""
    (sign_a, base_a), (sign_b, base_b) = _signed(a), _signed(b)
    return sign_a * sign_b if _same_scalar(base_a, base_b) else 0


def _is_one(x):
    value = _constant(x)
    return value is not None and value == 1


def _untransposed(x):
    """``y`` if ``x`` is ``y.T`` of a matrix ``y``, else None."""
    op = x.owner.op if x.owner is not None else None
    if isinstance(op, DimShuffle) and op.new_order == (1, 0):
        return x.owner.inputs[0]
    return None


@node_rewriter([gemm_no_inplace])
def local_merge_nested_gemms(fgraph, node):
    """``Gemm(Gemm(z, a, x1, y1, b), a, x2, y2, 1) -> Gemm(z, a, [x1 x2], [y1; y2], b)``.

    A weight receiving two products with one learning rate (an RBM's CD update
    ``lr (v0.T @ h0 - v1.T @ h1)``, a tied autoencoder's two gradients) is then read and
    written once, as one product with the stacked operands: 2 x rank 10 -> rank 20 for an
    RBM of 1000 units at batch 10. The inner ``Gemm`` must have no other reader; the
    scales must be the same variable or equal constants up to ``neg`` ops (a negated
    scale negates ``y2``: exact); else the rewrite does nothing.
    ``[x1 x2]`` is built as ``[x1.T; x2.T].T`` when both are transposes (the gradients'
    ``x.T``), so the product reads a transposed view, as before.
    """
    z2, a2, x2, y2, b2 = node.inputs
    inner = z2.owner
    if inner is None or inner.op != gemm_no_inplace or len(fgraph.clients[z2]) != 1:
        return False
    z, a1, x1, y1, b1 = inner.inputs
    sign = _relative_sign(a1, a2)
    if not _is_one(b2) or sign == 0:
        return False
    if sign < 0:  # lr (x1 @ y1 - x2 @ y2): Gemm's scales are -lr and lr
        y2 = -y2
    u1, u2 = _untransposed(x1), _untransposed(x2)
    if u1 is not None and u2 is not None:
        x = pt.join(0, u1, u2).T
    else:
        x = pt.join(1, x1, x2)
    y = pt.join(0, y1, y2)
    if x.type.dtype != x1.type.dtype or y.type.dtype != y1.type.dtype:
        return False
    return [gemm_no_inplace(z, a1, x, y, b1)]


blas_optdb.register(
    "tgraph_merge_nested_gemms",
    dfs_rewriter(local_merge_nested_gemms),
    TGRAPH_REWRITES_TAG,
    position=10.5,  # after PyTensor's GemmOptimizer (10) makes the Gemms
)


class TGraphNumbaLinker(NumbaLinker):
    """PyTensor's Numba linker with the BLAS rewrites allowed, compiling the graph's
    function once.

    PyTensor's linker compiles the graph's function, then a cached wrapper calling it,
    which links the whole graph in and optimizes it again; here the graph's function
    itself is the compiled and disk-cached one (same cache key).
    """

    incompatible_rewrites = tuple(r for r in NumbaLinker.incompatible_rewrites if r != "BlasOpt")

    def fgraph_convert(self, fgraph, **kwargs):
        if not config.numba__cache:
            return super().fgraph_convert(fgraph, **kwargs)
        return numba_funcify_and_cache_key(fgraph, **kwargs)

    def jit_compile(self, fn_and_cache):
        fn, cache_key = fn_and_cache
        py_func = _with_filename(fn.py_func, "<tgraph fgraph>")  # not a random temporary file
        if cache_key is not None:
            key = f"{cache_key}_fastmath{int(config.numba__fastmath)}_tgraph"
            CACHED_SRC_FUNCTIONS[py_func] = key  # before the dispatcher: it picks the locator
        return numba_njit(py_func, final_function=True, cache=cache_key is not None)


def _with_filename(py_func, filename):
    """A copy of ``py_func`` whose code says it comes from ``filename`` (Numba names its
    disk-cache files after the source file)."""
    code = py_func.__code__.replace(co_filename=filename)
    return types.FunctionType(code, py_func.__globals__, py_func.__name__,
                              py_func.__defaults__, py_func.__closure__)


_NUMBA = None


def numba_mode():
    """tgraph's ``"NUMBA"`` mode (one ``Mode`` a process)."""
    global _NUMBA
    if _NUMBA is None:
        query = RewriteDatabaseQuery(include=["fast_run", "numba", TGRAPH_REWRITES_TAG],
                                     exclude=[DOT22SCALAR_REWRITE])
        _NUMBA = Mode(TGraphNumbaLinker(), query)
    return _NUMBA
