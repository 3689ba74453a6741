"""Exceptions raised by tgraph, with the wording shared by their messages.

Every error a user can cause (a spec whose shapes do not fit, a bad name, a corrupt
file, a bad command-line argument) is a subclass of :class:`TGraphError`, so that
``except tgraph.TGraphError`` catches all of them and nothing else.
"""

__all__ = [
    "is_interrupt",
    "interrupt_of",
    "Terminated",
    "TGraphError",
    "SpecError",
    "ShapeError",
    "ConfigError",
    "DataError",
    "ModelFileError",
    "TrainingError",
    "layer_label",
    "unknown_name_message",
]


class TGraphError(Exception):
    """Base class of every error tgraph raises on bad input."""


class SpecError(TGraphError, ValueError):
    """A layer spec or model spec has a bad field value."""


class ShapeError(SpecError):
    """A layer does not accept the shape its input has."""


class ConfigError(TGraphError, ValueError):
    """A name (activation, optimizer, initializer, ...) or setting is not valid."""


class DataError(TGraphError, ValueError):
    """A data file is missing, truncated, corrupt or of an unexpected layout."""


class ModelFileError(TGraphError, ValueError):
    """A model or checkpoint file cannot be read or written."""


class TrainingError(TGraphError, RuntimeError):
    """Training cannot go on (for example the loss became NaN)."""


def layer_label(index, layer):
    """Name a layer in a message: ``"layer 2 (Dense 'hidden')"``.

    Args:
        index: position of the layer in the spec list (0-based).
        layer: the layer spec.

    Returns:
        A short label with the index, the type and, if set, the layer's name.
    """
    kind = type(layer).__name__
    name = getattr(layer, "name", None)
    return f"layer {index} ({kind} {name!r})" if name else f"layer {index} ({kind})"


def unknown_name_message(what, name, known):
    """Message for a name that is not in a registry.

    Args:
        what: what kind of thing was looked up, e.g. ``"activation"``.
        name: the name that was given.
        known: the valid names.

    Returns:
        ``"unknown activation 'tahn'; expected one of: 'elu', 'linear', ..."``.
    """
    options = ", ".join(repr(k) for k in sorted(known))
    return f"unknown {what} {name!r}; expected one of: {options}"


class Terminated(KeyboardInterrupt):
    """The process was asked to stop (SIGTERM: ``kill``, a batch scheduler's time limit,
    ``docker stop``): raised where the program runs, it takes the path of a Ctrl-C (the
    run's state written, the resume command printed), with exit code 143."""


def interrupt_of(error):
    """The ``KeyboardInterrupt`` (or :class:`Terminated`) that ``error`` is or comes from,
    or None. Numba reports a Ctrl-C during a compiled call as a ``SystemError``
    ("returned a result with an exception set") whose cause or context is the
    ``KeyboardInterrupt``."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, KeyboardInterrupt):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def is_interrupt(error):
    """True for a ``KeyboardInterrupt`` and for an error that comes from one
    (:func:`interrupt_of`)."""
    return interrupt_of(error) is not None
