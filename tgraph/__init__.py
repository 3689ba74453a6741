"""tgraph: declarative layer specs compiled into one PyTensor graph.

>>> from tgraph import layers as L, optim
>>> model = Model([L.Input(shape=(784,)), L.Dense(10, activation="softmax")],
...               optimizer=optim.SGD(learning_rate=0.13))
"""

from tgraph import layers, optim
from tgraph.errors import (
    ConfigError,
    DataError,
    ModelFileError,
    ShapeError,
    SpecError,
    TGraphError,
    TrainingError,
)
from tgraph.model import Model
from tgraph.network import Network, build
from tgraph.optim.regularizers import Regularization
from tgraph.summary import summary
from tgraph.trainer import Trainer

__version__ = "0.1.0"

__all__ = [
    "layers",
    "optim",
    "Model",
    "Trainer",
    "Network",
    "build",
    "summary",
    "Regularization",
    "TGraphError",
    "SpecError",
    "ShapeError",
    "ConfigError",
    "DataError",
    "ModelFileError",
    "TrainingError",
]
