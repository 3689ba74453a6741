"""Specs <-> JSON, kept out of the spec classes (STYLE habit 11).

Every attrs spec (layers, initializers, optimizers, regularization, training settings)
becomes ``{"type": "<ClassName>", <init fields>...}``; tuples become lists and are
turned back by the classes' converters. Loading looks the type name up among the
classes tgraph knows plus every :class:`tgraph.layers.Layer` subclass and registered
optimizer, so a model file names classes and never holds code.
"""

import attrs

from tgraph.errors import ModelFileError

__all__ = ["to_json", "from_json", "known_types", "register_type"]

_EXTRA_TYPES = {}


def register_type(cls):
    """Make ``cls`` (an attrs class) loadable from JSON by its class name; returns it."""
    _EXTRA_TYPES[cls.__name__] = cls
    return cls


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def known_types():
    """``{class name: class}`` of everything :func:`from_json` can rebuild."""
    from tgraph import layers as layer_module
    from tgraph.layers.base import Layer
    from tgraph import init
    from tgraph.optim import OPTIMIZERS
    from tgraph.optim.base import Optimizer
    from tgraph.optim.regularizers import Regularization

    types = {Regularization.__name__: Regularization}
    types.update({name: getattr(init, name) for name in init.__all__
                  if isinstance(getattr(init, name), type)})
    for base in (Layer, Optimizer, init.Initializer):
        types.update({c.__name__: c for c in _subclasses(base) if attrs.has(c)})
    types.update({n: getattr(layer_module, n) for n in layer_module.__all__})
    types.update({c.__name__: c for c in map(OPTIMIZERS.get, OPTIMIZERS.names())
                  if isinstance(c, type)})
    types.update(_EXTRA_TYPES)
    return types


def to_json(obj):
    """JSON-able form of specs, lists, dicts and scalars.

    Objects that are not attrs classes (e.g. a hand-written optimizer) are recorded as
    ``{"type": name, "repr": ...}``: readable, but not rebuildable.
    """
    if attrs.has(type(obj)):
        fields = {f.name: to_json(getattr(obj, f.name))
                  for f in attrs.fields(type(obj)) if f.init and not f.name.startswith("_")}
        return {"type": type(obj).__name__, **fields}
    if isinstance(obj, (list, tuple)):
        return [to_json(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): to_json(v) for k, v in obj.items()}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if hasattr(obj, "item") and getattr(obj, "ndim", None) == 0:
        return obj.item()
    return {"type": type(obj).__name__, "repr": repr(obj)}


def from_json(data, types=None):
    """Rebuild what :func:`to_json` produced.

    Args:
        data: the JSON value.
        types: ``{name: class}``; defaults to :func:`known_types`.

    Raises:
        ModelFileError: an unknown type name, or fields the class does not accept.
    """
    types = known_types() if types is None else types
    if isinstance(data, list):
        return [from_json(v, types) for v in data]
    if not isinstance(data, dict):
        return data
    if "type" not in data:
        return {k: from_json(v, types) for k, v in data.items()}
    name = data["type"]
    if "repr" in data or name not in types:
        raise ModelFileError(
            f"cannot rebuild a {name!r} from the file: it is not a class tgraph knows; "
            "import the module that defines it (or register it with "
            "tgraph.serialize.register_type) before loading"
        )
    kwargs = {k: from_json(v, types) for k, v in data.items() if k != "type"}
    try:
        return types[name](**kwargs)
    except TypeError as err:
        raise ModelFileError(f"the file's {name} has fields this version does not accept: {err}"
                             ) from None
