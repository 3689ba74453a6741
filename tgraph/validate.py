"""The attrs validators and converters of every configuration class in tgraph.

Layer specs, initializers, optimizers and training settings check their fields with
these, so that a bad value gets the same message everywhere::

    Dense: `units` (=-5) must be a positive integer.

A validator is a :class:`Check`: a requirement (the words after "must be") and a
predicate. The error is the class's ``field_error`` when it declares one (layer specs:
:class:`tgraph.errors.SpecError`), else :class:`tgraph.errors.ConfigError`.

>>> @attrs.frozen
... class Pool:
...     size: tuple = attrs.field(converter=int_tuple(2), validator=positive_pair)
...     stride: tuple | None = attrs.field(default=None, validator=optional(positive_pair))
"""

from collections.abc import Callable

import attrs

from tgraph.errors import ConfigError

__all__ = [
    "Check",
    "invalid",
    "optional",
    "one_of",
    "positive_int",
    "non_negative_int",
    "optional_positive_int",
    "positive_float",
    "non_negative_float",
    "optional_positive_float",
    "unit_interval",
    "fraction",
    "boolean",
    "positive_pair",
    "int_tuple",
]


def _error_type(instance):
    return getattr(type(instance), "field_error", ConfigError)


def invalid(instance, field, value, requirement):
    """The error for a bad field value, worded like every other one.

    Args:
        instance: the object being validated (its class names the message).
        field: the field name.
        value: the bad value (shown with ``repr``).
        requirement: what the value must be, e.g. ``"a positive integer"``.

    Returns:
        A ``SpecError`` (layer specs) or ``ConfigError`` (everything else) reading
        ``"<Class>: `<field>` (=<value>) must be <requirement>."``, for the caller to raise.
    """
    return _error_type(instance)(
        f"{type(instance).__name__}: `{field}` (={value!r}) must be {requirement}."
    )


@attrs.frozen
class Check:
    """An attrs validator: a predicate and the requirement it stands for.

    Attributes:
        requirement: the words after "must be", e.g. ``"a number > 0"``.
        accepts: ``value -> bool``.
        hint: what the field means or how to fix it, appended after a colon, e.g.
            ``"the fraction of units dropped"``.
    """

    requirement: str
    accepts: Callable
    hint: str = ""

    def __call__(self, instance, attribute, value):
        if not self.accepts(value):
            text = f"{self.requirement}: {self.hint}" if self.hint else self.requirement
            raise invalid(instance, attribute.name, value, text)

    def explained(self, hint):
        """The same check with ``hint`` appended to its message."""
        return attrs.evolve(self, hint=hint)


def optional(check):
    """``check``, or ``None``: "must be None or <requirement>"."""
    return Check(f"None or {check.requirement}",
                 lambda value: value is None or check.accepts(value), check.hint)


def one_of(*options):
    """One of the given values (compared with ``==``): "must be one of ('min', 'max')"."""
    return Check(f"one of {options!r}", lambda value: value in options)


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_positive_pair(value):
    return (isinstance(value, tuple) and len(value) == 2
            and all(_is_int(v) and v > 0 for v in value))


positive_int = Check("a positive integer", lambda v: _is_int(v) and v > 0)
non_negative_int = Check("an integer >= 0", lambda v: _is_int(v) and v >= 0)
optional_positive_int = optional(positive_int)
positive_float = Check("a number > 0", lambda v: _is_number(v) and v > 0)
non_negative_float = Check("a number >= 0", lambda v: _is_number(v) and v >= 0)
optional_positive_float = optional(positive_float)
unit_interval = Check("in [0, 1)", lambda v: _is_number(v) and 0 <= v < 1)
fraction = Check("in (0, 1)", lambda v: _is_number(v) and 0 < v < 1)
boolean = Check("True or False", lambda v: isinstance(v, bool))
# a pair of positive ints after int_tuple(2) conversion: kernel sizes, strides, pool sizes
positive_pair = Check("a positive integer or a pair of them, e.g. 5 or (5, 3)",
                      _is_positive_pair)


def int_tuple(n=None):
    """attrs converter: an int or a sequence -> tuple (an int repeated ``n`` times).

    A value that is not iterable is returned unchanged for the validator to report.
    """

    def convert(value):
        if _is_int(value) and n is not None:
            return (value,) * n
        try:
            return tuple(value)
        except TypeError:
            return value

    return convert
