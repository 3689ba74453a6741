"""Layer specs: frozen attrs classes, one family per module."""

from tgraph.layers.autoencoder import DenoisingAutoencoder
from tgraph.layers.base import (
    ApplyContext,
    Layer,
    LocalObjective,
    ParamSpec,
    weight_and_bias,
)
from tgraph.layers.conv import Conv2D
from tgraph.layers.core import Activation, Dense, Flatten, Input, Reshape
from tgraph.layers.noise import Dropout
from tgraph.layers.norm import BatchNorm
from tgraph.layers.pool import AvgPool2D, MaxPool2D
from tgraph.layers.rbm import RBM

__all__ = [
    "Layer",
    "ParamSpec",
    "ApplyContext",
    "LocalObjective",
    "weight_and_bias",
    "Input",
    "Dense",
    "Activation",
    "Dropout",
    "Flatten",
    "Reshape",
    "Conv2D",
    "MaxPool2D",
    "AvgPool2D",
    "BatchNorm",
    "RBM",
    "DenoisingAutoencoder",
]
