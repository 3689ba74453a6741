"""Calls to separately compiled Numba functions through function pointers.

Numba compiles a call from one jitted function to another by linking the callee's LLVM
module into the caller's and optimizing the result again, so a big kernel is optimized
and turned into machine code once for itself and once more for each function around it:
PyTensor's wrapper of an op, the compiled graph, its cache wrapper, the multi-step loop.
A call made here goes through a pointer instead: the callee is compiled (or loaded from
the disk cache) once, on its own, and callers contain only the call.

* :func:`opaque_kernel` makes an njit-callable stand-in for a kernel compiled for one
  explicit signature. The caller finds the kernel's address at its first call through a
  C callback into Python (the symbol ``tgraph_native_address``) and keeps it in a global
  of its own module, so a caller loaded from Numba's disk cache in another process still
  works: it asks again. The kernel is cached on disk under a key naming its sources, so
  an edit of any of them recompiles it.
* :func:`native_call` calls a function whose address is a runtime argument (the
  multi-step loop of :mod:`tgraph.steps` calls the compiled training step this way).

Both use Numba's own calling convention (results and exceptions come back exactly as
from a direct call); the arguments are converted to the callee's types first.
"""

import ctypes
import hashlib
import inspect
import traceback

import numba
import numpy as np
from llvmlite import binding as llvm_binding
from llvmlite import ir
from numba.core import cgutils, types
from numba.core.errors import TypingError
from numba.core.typing import signature
from numba.extending import intrinsic
from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS, compile_numba_function_src

__all__ = ["opaque_kernel", "opaque_kernels_by_dtype", "native_call", "native_address",
           "signature_key"]

_ADDRESS_SYMBOL = "tgraph_native_address"
_KERNELS = {}  # key id -> (dispatcher, argument types)
_DISPATCHERS = {}  # (python function, source key) -> its disk-cached dispatcher


def signature_key(argtypes):
    """A stable text for a tuple of Numba types (part of cache and lookup keys)."""
    return ",".join(str(t) for t in argtypes)


def native_address(dispatcher, argtypes):
    """Compile (or load from the disk cache) ``dispatcher`` for ``argtypes``.

    Args:
        dispatcher: a Numba ``CPUDispatcher``.
        argtypes: tuple of Numba types of the arguments of a call.

    Returns:
        (address of the native-ABI function as an int, its Numba return type, its
        argument types: ``argtypes`` with those of a ``*args`` parameter in a tuple).
    """
    folded = tuple(dispatcher.fold_argument_types(tuple(argtypes), {})[1])
    dispatcher.compile(folded)
    cres = dispatcher.overloads[folded]
    address = cres.library.get_pointer_to_function(cres.fndesc.mangled_name)
    return address, cres.signature.return_type, folded


def _kernel_id(name):
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little") >> 1


@ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_int64)
def _address_callback(kernel_id):
    try:
        dispatcher, argtypes = _KERNELS[kernel_id]
        return native_address(dispatcher, argtypes)[0]
    except Exception:  # a C callback cannot raise: print, and the caller raises
        traceback.print_exc()
        return 0


llvm_binding.add_symbol(_ADDRESS_SYMBOL, ctypes.cast(_address_callback, ctypes.c_void_p).value)


def _unpack_cast(context, builder, tuple_type, tuple_value, argtypes):
    """The values of a ``*args`` tuple, each converted to its type in ``argtypes``."""
    values = cgutils.unpack_tuple(builder, tuple_value, len(argtypes))
    return [context.cast(builder, v, a, b)
            for v, a, b in zip(values, tuple_type.types, argtypes)]


def _call_native(context, builder, pointer, restype, argtypes, values):
    """Emit a call of the native-ABI function at ``pointer``; exceptions propagate.

    ``argtypes`` are the callee's (folded) argument types; ``values`` those of the call.
    """
    if argtypes and isinstance(argtypes[-1], types.StarArgTuple):
        n = len(argtypes) - 1
        values = [*values[:n], context.make_tuple(builder, argtypes[-1], values[n:])]
    fnty = context.call_conv.get_function_type(restype, argtypes)
    callee = builder.bitcast(pointer, fnty.as_pointer())
    status, result = context.call_conv.call_function(builder, callee, restype, argtypes, values)
    with cgutils.if_unlikely(builder, status.is_error):
        context.call_conv.return_status_propagate(builder, status)
    return result


def _cached_address(context, builder, kernel_id, name):
    """The kernel's address, from a global of this module, asked for at the first call."""
    pointer_type = ir.IntType(8).as_pointer()
    slot = cgutils.add_global_variable(builder.module, pointer_type, f"tgraph_ptr_{kernel_id}")
    slot.linkage = "private"
    slot.initializer = pointer_type(None)
    current = builder.load(slot)
    address = cgutils.alloca_once_value(builder, current)
    with builder.if_then(cgutils.is_null(builder, current), likely=False):
        ask = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(pointer_type, [ir.IntType(64)]), _ADDRESS_SYMBOL)
        found = builder.call(ask, [ir.IntType(64)(kernel_id)])
        with builder.if_then(cgutils.is_null(builder, found), likely=False):
            context.call_conv.return_user_exc(
                builder, RuntimeError, (f"tgraph: cannot compile or load the kernel {name} "
                                        "(the error is printed above)",))
        builder.store(found, slot)
        builder.store(found, address)
    return builder.load(address)


def _cached_dispatcher(kernel, name, source_key):
    """A disk-cached dispatcher of ``kernel``'s function, filed under ``name`` and
    ``source_key`` in PyTensor's cache directory."""
    if (name, source_key) not in _DISPATCHERS:
        options = {k: v for k, v in kernel.targetoptions.items() if k != "nopython"}
        py_func = kernel.py_func
        if py_func.__closure__:  # Numba's cache key would pickle the cells: not stable
            py_func = _closure_free_entry(kernel, options)
        # PyTensor's cache locator files the functions registered here under their key
        CACHED_SRC_FUNCTIONS[py_func] = f"tgraph_kernel_{name}_{source_key}"
        _DISPATCHERS[name, source_key] = numba.njit(**options, cache=True)(py_func)
    return _DISPATCHERS[name, source_key]


def _closure_free_entry(kernel, options):
    """A function without closure calling ``kernel``, which is inlined into it."""
    params = list(inspect.signature(kernel.py_func).parameters)
    source = f"def entry({', '.join(params)}):\n    return kernel({', '.join(params)})"
    inlined = numba.njit(**options, inline="always")(kernel.py_func)
    return compile_numba_function_src(source, "entry", {"kernel": inlined})


def _check_args(typingctx, name, args, argtypes):
    """Raise a TypingError unless ``args`` convert to ``argtypes`` (arrays: are them)."""
    if len(args) != len(argtypes):
        raise TypingError(f"{name} takes {len(argtypes)} arguments "
                          f"({signature_key(argtypes)}), got {len(args)}")
    for i, (got, wanted) in enumerate(zip(args, argtypes)):
        arrays = isinstance(got, types.Array) or isinstance(wanted, types.Array)
        if (got != wanted) if arrays else typingctx.can_convert(got, wanted) is None:
            raise TypingError(f"{name}: argument {i} is {got}, expected {wanted} "
                              "(np.ascontiguousarray makes an array C-contiguous)")


def opaque_kernel(kernel, argtypes, source_key, name=None):
    """An njit-callable stand-in for ``kernel`` compiled once for ``argtypes``.

    Calling the stand-in from jitted code calls ``kernel`` through a function pointer
    (see the module doc). Arguments are converted to ``argtypes`` as Numba converts
    them for a call (integers widen); arrays must match exactly (dtype, ndim, layout).

    Args:
        kernel: a Numba dispatcher (its options are kept; it is cached on disk).
        argtypes: tuple of Numba types, the one signature compiled.
        source_key: text that changes whenever the kernel's code does (e.g. a hash of
            the sources of every module it calls), part of the disk-cache key.
        name: a name unique among kernels (default: the function's module and
            qualified name; kernels made by one factory need their own).

    Returns:
        An ``@intrinsic`` to call from jitted code with ``len(argtypes)`` arguments.
    """
    argtypes = tuple(argtypes)
    name = name or f"{kernel.py_func.__module__}.{kernel.py_func.__qualname__}"
    kernel_id = _kernel_id(f"{name}({signature_key(argtypes)})-{source_key}")
    cached = _cached_dispatcher(kernel, name, source_key)
    _KERNELS[kernel_id] = (cached, argtypes)

    @intrinsic
    def call(typingctx, *args):
        _check_args(typingctx, name, args, argtypes)
        _, restype, folded = native_address(cached, argtypes)

        def codegen(context, builder, sig, values):
            values = _unpack_cast(context, builder, sig.args[0], values[0], argtypes)
            pointer = _cached_address(context, builder, kernel_id, name)
            return _call_native(context, builder, pointer, restype, folded, values)

        return signature(restype, types.StarArgTuple.from_types(args)), codegen

    call.kernel = cached
    return call


def opaque_kernels_by_dtype(kernel, n_arrays, n_ints, source_key, ndim=4):
    """``{dtype: stand-in}`` of ``kernel(*arrays, *ints)`` for float32 and float64.

    Args:
        kernel: a Numba dispatcher taking ``n_arrays`` C-contiguous ``ndim``-D arrays of
            one float dtype, then ``n_ints`` int64 values.
        n_arrays, n_ints: the number of each.
        source_key: see :func:`opaque_kernel`.
        ndim: the arrays' number of dimensions.

    Returns:
        dict from dtype name to the :func:`opaque_kernel` stand-in for it; a dtype is
        compiled only when a caller of its stand-in is.
    """
    table = {}
    for dtype in ("float32", "float64"):
        array = types.Array(numba.from_dtype(np.dtype(dtype)), ndim, "C")
        table[dtype] = opaque_kernel(kernel, (array,) * n_arrays + (types.int64,) * n_ints,
                                     source_key)
    return table


def native_call(restype, argtypes, folded=None):
    """An njit-callable ``call(address, *args)`` of a native-ABI function.

    Args:
        restype: the callee's Numba return type.
        argtypes: tuple of the Numba types of ``args``.
        folded: the callee's argument types if not ``argtypes`` (see :func:`native_address`).

    Returns:
        An ``@intrinsic``; ``address`` is an integer from :func:`native_address`.
    """
    argtypes = tuple(argtypes)
    folded = argtypes if folded is None else tuple(folded)

    @intrinsic
    def call(typingctx, address, *args):
        _check_args(typingctx, "native_call", args, argtypes)

        def codegen(context, builder, sig, values):
            pointer = builder.inttoptr(values[0], ir.IntType(8).as_pointer())
            values = _unpack_cast(context, builder, sig.args[1], values[1], argtypes)
            return _call_native(context, builder, pointer, restype, folded, values)

        return signature(restype, types.intp, types.StarArgTuple.from_types(args)), codegen

    return call
