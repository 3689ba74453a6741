"""The shared attrs validators: one wording, the owner's error type."""

from typing import ClassVar

import attrs
import pytest

from tgraph import validate as v
from tgraph.errors import ConfigError, SpecError


@attrs.frozen
class Settings:
    count: int = attrs.field(default=1, validator=v.positive_int)
    epochs: int = attrs.field(default=0, validator=v.non_negative_int)
    every: int | None = attrs.field(default=None, validator=v.optional_positive_int)
    rate: float = attrs.field(default=0.1, validator=v.positive_float)
    decay: float = attrs.field(default=0.0, validator=v.non_negative_float)
    limit: float | None = attrs.field(default=None, validator=v.optional_positive_float)
    momentum: float = attrs.field(default=0.9, validator=v.unit_interval)
    share: float = attrs.field(default=0.2, validator=v.fraction.explained("e.g. 0.2"))
    flag: bool = attrs.field(default=True, validator=v.boolean)
    size: tuple = attrs.field(default=2, converter=v.int_tuple(2), validator=v.positive_pair)
    mode: str = attrs.field(default="min", validator=v.one_of("min", "max"))


@attrs.frozen
class LayerLike:
    field_error: ClassVar[type] = SpecError

    units: int = attrs.field(validator=v.positive_int)


@pytest.mark.parametrize("kwargs, message", [
    ({"count": 0}, "Settings: `count` (=0) must be a positive integer."),
    ({"count": True}, "Settings: `count` (=True) must be a positive integer."),
    ({"count": 2.0}, "Settings: `count` (=2.0) must be a positive integer."),
    ({"epochs": -1}, "Settings: `epochs` (=-1) must be an integer >= 0."),
    ({"every": 0}, "Settings: `every` (=0) must be None or a positive integer."),
    ({"rate": "fast"}, "Settings: `rate` (='fast') must be a number > 0."),
    ({"decay": float("nan")}, "Settings: `decay` (=nan) must be a number >= 0."),
    ({"limit": -2}, "Settings: `limit` (=-2) must be None or a number > 0."),
    ({"momentum": 1}, "Settings: `momentum` (=1) must be in [0, 1)."),
    ({"share": 1.0}, "Settings: `share` (=1.0) must be in (0, 1): e.g. 0.2."),
    ({"flag": "yes"}, "Settings: `flag` (='yes') must be True or False."),
    ({"size": (2, 0)}, "Settings: `size` (=(2, 0)) must be a positive integer or a pair of "
                       "them, e.g. 5 or (5, 3)."),
    ({"size": 2.5}, "Settings: `size` (=2.5) must be a positive integer or a pair of them, "
                    "e.g. 5 or (5, 3)."),
    ({"mode": "mni"}, "Settings: `mode` (='mni') must be one of ('min', 'max')."),
])
def test_messages_name_class_field_and_value(kwargs, message):
    with pytest.raises(ConfigError) as err:
        Settings(**kwargs)
    assert str(err.value) == message


def test_good_values_pass_and_convert():
    settings = Settings(count=3, every=None, limit=2, size=(3, 5), mode="max", momentum=0)
    assert settings.size == (3, 5) and Settings(size=4).size == (4, 4)


def test_a_class_chooses_its_error_type():
    with pytest.raises(SpecError, match=r"^LayerLike: `units` \(=-1\) must be a positive integer"):
        LayerLike(-1)
