"""Callbacks: early stopping, checkpoints, logs, progress, schedules, NaN guard."""

from tgraph.callbacks.base import Callback, Monitor, default_callbacks
from tgraph.callbacks.checkpoint import ModelCheckpoint
from tgraph.callbacks.early_stopping import EarlyStopping, TutorialPatience
from tgraph.callbacks.logging import (
    CSVLogger,
    History,
    JSONLinesLogger,
    ProgressLogger,
    TerminateOnNaN,
)
from tgraph.callbacks.metrics import TrainError
from tgraph.callbacks.schedules import ExponentialDecay, ReduceLROnPlateau, StepDecay

__all__ = [
    "Callback",
    "Monitor",
    "History",
    "CSVLogger",
    "JSONLinesLogger",
    "ProgressLogger",
    "TerminateOnNaN",
    "TrainError",
    "EarlyStopping",
    "TutorialPatience",
    "ModelCheckpoint",
    "StepDecay",
    "ExponentialDecay",
    "ReduceLROnPlateau",
    "default_callbacks",
]

