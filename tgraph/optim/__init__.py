"""Optimizers, their protocol and registry, constraints and regularizers."""

from tgraph.optim.base import (
    OPTIMIZERS,
    Optimizer,
    get_optimizer,
    learning_rate_of,
    optimizer_state,
    register_optimizer,
    set_learning_rate,
)
from tgraph.optim.constraints import apply_max_norm, norm_constraint, total_norm_constraint
from tgraph.optim.optimizers import (
    SGD,
    Adadelta,
    Adagrad,
    Adam,
    Adamax,
    Momentum,
    Nesterov,
    RMSprop,
)
from tgraph.optim.regularizers import Regularization, penalty

__all__ = [
    "Optimizer",
    "OPTIMIZERS",
    "register_optimizer",
    "get_optimizer",
    "optimizer_state",
    "learning_rate_of",
    "set_learning_rate",
    "SGD",
    "Momentum",
    "Nesterov",
    "RMSprop",
    "Adagrad",
    "Adadelta",
    "Adam",
    "Adamax",
    "total_norm_constraint",
    "norm_constraint",
    "apply_max_norm",
    "Regularization",
    "penalty",
]
