"""Callbacks: early stopping, checkpoints, logs, progress, schedules, NaN guard."""

from tgraph.callbacks.base import Callback, Monitor
from tgraph.callbacks.checkpoint import ModelCheckpoint
from tgraph.callbacks.early_stopping import EarlyStopping, TutorialPatience
from tgraph.callbacks.logging import (
    CSVLogger,
    History,
    JSONLinesLogger,
    ProgressLogger,
    TerminateOnNaN,
)
from tgraph.callbacks.schedules import ExponentialDecay, ReduceLROnPlateau, StepDecay

__all__ = [
    "Callback",
    "Monitor",
    "History",
    "CSVLogger",
    "JSONLinesLogger",
    "ProgressLogger",
    "TerminateOnNaN",
    "EarlyStopping",
    "TutorialPatience",
    "ModelCheckpoint",
    "StepDecay",
    "ExponentialDecay",
    "ReduceLROnPlateau",
    "default_callbacks",
]


def default_callbacks():
    """The callbacks every run should have: a :class:`History` and a :class:`TerminateOnNaN`.

    ``Trainer`` adds none itself: ``Trainer(model, callbacks=[*default_callbacks(), ...])``.
    """
    return [History(), TerminateOnNaN()]
