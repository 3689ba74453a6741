"""Calls to separately compiled Numba functions through function pointers.

Numba compiles a call from one jitted function to another by linking the callee's LLVM
module into the caller's and optimizing the result again, so a big kernel is optimized
and turned into machine code once for itself and once more for each function around it:
PyTensor's wrapper of an op, the compiled graph, its cache wrapper, the multi-step loop.
A call made here goes through a pointer instead: the callee is compiled (or loaded from
the disk cache) once, on its own, and callers contain only the call.

* :func:`opaque_kernel` makes an njit-callable stand-in for a kernel compiled for an
  explicit signature (:func:`float_kernel`: float32 or float64 arrays). The caller
  finds the kernel's address at its first call through a C callback into Python (the
  symbol ``tgraph_native_address``) and keeps it in a global of its own module, so a
  caller loaded from Numba's disk cache in another process still works: it asks again,
  by kernel name and signature. The kernel is cached on disk under a key naming its
  sources (:func:`tgraph.backend.numba.runtime.cache.source_key`, which must include
  this module: the callers contain its code), so an edit of any of them recompiles it,
  and callers cached before the edit call the new code.
* :func:`native_call` calls a function whose address is a runtime argument (the
  multi-step loop of :mod:`tgraph.backend.numba.runtime.steps` calls the compiled
  training step this way).

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
from numba.core.compiler_lock import global_compiler_lock
from numba.core.errors import TypingError
from numba.core.typing import signature
from numba.extending import intrinsic
from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS, compile_numba_function_src

from tgraph.backend.numba.runtime import background

__all__ = ["opaque_kernel", "prefetch", "opaque_kernel_signatures", "float_kernel", "native_call",
           "native_address", "signature_key", "known_kernels", "compile_kernel"]

_ADDRESS_SYMBOL = "tgraph_native_address"
_KERNELS = {}  # key id -> (dispatcher, argument types, declared return type or None, name)
_DISPATCHERS = {}  # (kernel name, source key) -> its disk-cached dispatcher


def signature_key(argtypes):
    """A stable text for a tuple of Numba types (part of cache and lookup keys)."""
    return ",".join(str(t) for t in argtypes)


def _start_thread_pool():
    """A parallel kernel loaded from the disk cache links against the symbols of Numba's
    thread pool, which exist once the pool is started (else LLVM aborts the process)."""
    numba.get_num_threads()


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
    _start_thread_pool()
    dispatcher.compile(folded)
    cres = dispatcher.overloads[folded]
    address = cres.library.get_pointer_to_function(cres.fndesc.mangled_name)
    return address, cres.signature.return_type, folded


def _kernel_id(name):
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little") >> 1


def known_kernels():
    """The ids of the kernels registered in this process (see :func:`compile_kernel`)."""
    return _KERNELS.keys()


def compile_kernel(kernel_id):
    """Compile (or load from the disk cache) the kernel registered as ``kernel_id``.

    Returns:
        The address of its native-ABI function.

    Raises:
        TypeError: the compiled kernel does not return the type it declared.
    """
    dispatcher, argtypes, declared, name = _KERNELS[kernel_id]
    address, restype, _ = native_address(dispatcher, argtypes)
    if declared is not None and restype != declared:
        raise TypeError(f"the kernel {name}({signature_key(argtypes)}) returns {restype}, "
                        f"but declares {declared}: correct its restype")
    return address


def _on_disk(dispatcher, argtypes):
    """Whether ``dispatcher`` is compiled for ``argtypes`` here or in Numba's disk cache
    (then it is loaded, as ``dispatcher.compile`` would)."""
    folded = tuple(dispatcher.fold_argument_types(tuple(argtypes), {})[1])
    if folded in dispatcher.overloads:
        return True
    _start_thread_pool()
    with global_compiler_lock:
        # the key of ``dispatcher.compile(folded)``'s entry (as native_address saves it)
        cres = dispatcher._cache.load_overload(folded, dispatcher.targetctx)
        if cres is None:
            return False
        dispatcher.targetctx.insert_user_function(cres.entry_point, cres.fndesc, [cres.library])
        dispatcher.add_overload(cres)
    return True


@ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_int64)
def _address_callback(kernel_id):
    try:
        with background.claimed(kernel_id, compile_kernel):
            return compile_kernel(kernel_id)
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
    # a module name: Numba's disk cache rebuilds the function's environment from it
    return compile_numba_function_src(source, "entry", {"kernel": inlined, "__name__": __name__})


def _converts(typingctx, args, argtypes):
    """Whether a call with ``args`` can pass them as ``argtypes`` (arrays: exactly)."""
    if len(args) != len(argtypes):
        return False
    for got, wanted in zip(args, argtypes):
        if isinstance(got, types.Array) or isinstance(wanted, types.Array):
            if got != wanted and not (  # any layout passes as "A" (a cast of the type only)
                    isinstance(got, types.Array) and wanted.layout == "A"
                    and got.copy(layout="A", readonly=False) == wanted):
                return False
        elif typingctx.can_convert(got, wanted) is None:
            return False
    return True


def _pick_signature(typingctx, name, args, signatures):
    """The index of the first of ``signatures`` that ``args`` convert to."""
    for index, argtypes in enumerate(signatures):
        if _converts(typingctx, args, argtypes):
            return index
    compiled = "; ".join(f"({signature_key(s)})" for s in signatures)
    raise TypingError(f"{name}: no compiled signature takes ({signature_key(args)}); it has "
                      f"{compiled} (np.ascontiguousarray makes an array C-contiguous)")


def opaque_kernel(kernel, argtypes, source_key, name=None, restype=None):
    """An njit-callable stand-in for ``kernel`` compiled once for ``argtypes``.

    Calling the stand-in from jitted code calls ``kernel`` through a function pointer
    (see the module doc). Arguments are converted to ``argtypes`` as Numba converts
    them for a call (integers widen); arrays must match exactly (dtype, ndim, layout).

    Args:
        kernel: a Numba dispatcher (its options are kept; it is cached on disk).
        argtypes: tuple of Numba types, the signature compiled.
        source_key: text that changes whenever the kernel's code does (the
            :func:`tgraph.backend.numba.runtime.cache.source_key` of every module it
            calls and of this one), part of the disk-cache key.
        name: a name unique among kernels (default: the function's module and
            qualified name; kernels made by one factory need their own).
        restype: the Numba type the kernel returns, if known: then a caller is typed
            without compiling the kernel, which a helper process compiles meanwhile
            (:mod:`tgraph.backend.numba.runtime.background`); checked when the kernel
            is compiled.

    Returns:
        An ``@intrinsic`` to call from jitted code; it is compiled when a caller is.
    """
    return opaque_kernel_signatures(kernel, [argtypes], source_key, name,
                                    None if restype is None else [restype])


def opaque_kernel_signatures(kernel, signatures, source_key, name=None, restypes=None):
    """:func:`opaque_kernel` for several signatures (tuples of Numba argument types).

    A call uses the first signature its arguments convert to; only signatures that
    calls use are compiled. ``restypes``: the return type of each signature, or None.
    """
    signatures = [tuple(argtypes) for argtypes in signatures]
    restypes = list(restypes) if restypes is not None else [None] * len(signatures)
    name = name or f"{kernel.py_func.__module__}.{kernel.py_func.__qualname__}"
    cached = _cached_dispatcher(kernel, name, source_key)
    # ids name the kernel and signature, not its source: a caller loaded from Numba's
    # disk cache (whose key knows only the caller's own file) gets the current kernel
    ids = [_kernel_id(f"{name}({signature_key(s)})") for s in signatures]
    for kernel_id, argtypes, restype in zip(ids, signatures, restypes):
        _KERNELS[kernel_id] = (cached, argtypes, restype, name)

    @intrinsic
    def call(typingctx, *args):
        index = _pick_signature(typingctx, name, args, signatures)
        argtypes, kernel_id, restype = signatures[index], ids[index], restypes[index]
        if _handed_to_helper(cached, argtypes, kernel_id, restype):
            folded = tuple(cached.fold_argument_types(argtypes, {})[1])
        else:
            _, restype, folded = native_address(cached, argtypes)

        def codegen(context, builder, sig, values):
            values = _unpack_cast(context, builder, sig.args[0], values[0], argtypes)
            pointer = _cached_address(context, builder, kernel_id, name)
            return _call_native(context, builder, pointer, restype, folded, values)

        return signature(restype, types.StarArgTuple.from_types(args)), codegen

    def prefetch(dtype):
        """Hand the signature for ``dtype`` (its first argument's) to the helper process
        now, if it is not compiled yet (see :func:`prefetch`)."""
        wanted = numba.from_dtype(np.dtype(dtype))
        for argtypes, kernel_id, restype in zip(signatures, ids, restypes):
            if getattr(argtypes[0], "dtype", argtypes[0]) == wanted:
                _handed_to_helper(cached, argtypes, kernel_id, restype)
                return

    call.kernel = cached
    call.prefetch = prefetch
    return call


def prefetch(dtype, *stand_ins):
    """Start compiling the kernels behind ``stand_ins`` for ``dtype`` in the helper process.

    An op's Numba code calls this when it is generated, before Numba types the graph:
    the helper then compiles the kernels while this process compiles the graph (see
    :mod:`tgraph.backend.numba.runtime.background`). Does nothing for a kernel compiled
    or on disk.

    Args:
        dtype: the dtype of the kernels' first argument (e.g. ``"float32"``), or None
            (an op funcified without its node: nothing is known, nothing is done).
        stand_ins: stand-ins made by :func:`opaque_kernel` or :func:`float_kernel`.
    """
    for stand_in in stand_ins if dtype else ():
        stand_in.prefetch(dtype)


def _handed_to_helper(dispatcher, argtypes, kernel_id, restype):
    """Whether the kernel is left to the helper process: its return type is declared
    (callers can be typed without it) and it is neither compiled nor on disk."""
    if restype is None or not background.enabled() or _on_disk(dispatcher, argtypes):
        return False
    background.request(kernel_id)  # compiled meanwhile, loaded at the first call
    return True


def float_kernel(kernel, array_ndims, n_ints, source_key, returns=None):
    """:func:`opaque_kernel` of ``kernel(*arrays, *ints)`` for float32 and float64 arrays.

    Args:
        kernel: a Numba dispatcher taking C-contiguous arrays of one float dtype (of
            ``array_ndims`` dimensions), then ``n_ints`` int64 values.
        array_ndims: the number of dimensions of each array argument.
        n_ints: the number of integer arguments.
        source_key: see :func:`opaque_kernel`.
        returns: the number of dimensions of the C-contiguous array of the arrays'
            dtype that the kernel returns, 0 for nothing (None), or None if not declared
            (see ``restype`` of :func:`opaque_kernel`).

    Returns:
        The stand-in; the dtype of the arrays in a call selects the compiled kernel.
    """
    signatures, restypes = [], []
    for dtype in (types.float32, types.float64):
        arrays = tuple(types.Array(dtype, ndim, "C") for ndim in array_ndims)
        signatures.append(arrays + (types.int64,) * n_ints)
        restypes.append(None if returns is None else
                        types.Array(dtype, returns, "C") if returns else types.none)
    return opaque_kernel_signatures(kernel, signatures, source_key, restypes=restypes)


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
        _pick_signature(typingctx, "native_call", args, [argtypes])

        def codegen(context, builder, sig, values):
            pointer = builder.inttoptr(values[0], ir.IntType(8).as_pointer())
            values = _unpack_cast(context, builder, sig.args[1], values[1], argtypes)
            return _call_native(context, builder, pointer, restype, folded, values)

        return signature(restype, types.intp, types.StarArgTuple.from_types(args)), codegen

    return call
