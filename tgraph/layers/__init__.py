"""Layer specs: frozen attrs classes, one family per module."""

from tgraph.layers.base import ApplyContext, Layer, ParamSpec
from tgraph.layers.core import Activation, Dense, Flatten, Input, Reshape
from tgraph.layers.noise import Dropout

__all__ = [
    "Layer",
    "ParamSpec",
    "ApplyContext",
    "Input",
    "Dense",
    "Activation",
    "Dropout",
    "Flatten",
    "Reshape",
]
