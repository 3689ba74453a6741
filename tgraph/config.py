"""Configuration: how to train (:class:`Training`) and what model to build (:class:`ModelConfig`).

:class:`ModelConfig` is the one list of a model's arguments: :func:`build_model` makes a
:class:`tgraph.Model` from it, :func:`config_of` reads it back from a model, and model
files store it (:mod:`tgraph.modelfile`). A spec file sets the same names at module
level (``model``, ``loss``, ``optimizer``, ``regularization``, ``seed``, ``dtype``,
``legacy_init``; see :class:`tgraph.experiment.Experiment`).
"""

import attrs
import numpy as np

from tgraph.errors import ConfigError
from tgraph.layers.base import positive_int
from tgraph.optim.base import get_optimizer
from tgraph.optim.optimizers import SGD
from tgraph.optim.regularizers import Regularization

__all__ = ["CHECKPOINT_SECONDS", "Training", "ModelConfig", "build_model", "config_of", "resolve_for_data",
           "follows_data", "DTYPES"]

DTYPES = ("float32", "float64")


def optional_positive_int(instance, attribute, value):
    """attrs validator: None or an int > 0."""
    if value is not None:
        positive_int(instance, attribute, value)


def boolean(instance, attribute, value):
    """attrs validator: True or False."""
    if not isinstance(value, bool):
        raise ConfigError(f"`{attribute.name}` (={value!r}) must be True or False")


def float_dtype(instance, attribute, value):
    """attrs validator: a float dtype name tgraph computes in."""
    if value not in DTYPES:
        raise ConfigError(f"`{attribute.name}` (={value!r}) must be one of "
                          f"{', '.join(map(repr, DTYPES))}")


def _regularization(value):
    return Regularization() if value is None else value


CHECKPOINT_SECONDS = 30.0  # default least time between two writes of a run's checkpoint (s)


@attrs.frozen
class Training:
    """How to train: minibatches, epochs, shuffling, validation schedule.

    The one place these settings are checked: :class:`tgraph.trainer.Trainer` builds
    one from its arguments.

    Attributes:
        batch_size: examples per minibatch.
        max_epochs: upper bound on epochs.
        shuffle: reshuffle the training set every epoch (the tutorials did not).
        validation_frequency: validate every N minibatches (None: once per epoch, or
            what a callback such as ``TutorialPatience`` asks for).
    """

    batch_size: int = attrs.field(default=128, validator=positive_int)
    max_epochs: int = attrs.field(default=100, validator=positive_int)
    shuffle: bool = True
    validation_frequency: int | None = attrs.field(default=None,
                                                   validator=optional_positive_int)


@attrs.frozen
class ModelConfig:
    """Everything :class:`tgraph.Model` is built from.

    Attributes:
        layers: tuple of layer specs starting with ``Input``.
        loss: loss name (``"nll"`` for classifiers) or a loss object.
        optimizer: optimizer object, class or registered name (turned into an object).
        regularization: model-wide L1/L2.
        seed: seed of the weights and dropout streams.
        dtype: ``"float32"`` or ``"float64"``.
        legacy_init: draw the initial weights from ``numpy.random.RandomState(seed)``
            as the Theano tutorials did (see :func:`tgraph.network.build`).
    """

    layers: tuple = attrs.field(converter=tuple)
    loss: object = "nll"
    optimizer: object = attrs.field(factory=SGD, converter=get_optimizer)
    regularization: Regularization = attrs.field(factory=Regularization,
                                                 converter=_regularization)
    seed: int = 1234
    dtype: str = attrs.field(default="float32", validator=float_dtype)
    legacy_init: bool = attrs.field(default=False, validator=boolean)


def build_model(config, mode=None):
    """A freshly initialised :class:`tgraph.Model` from a :class:`ModelConfig`.

    The model gets its own copy of an attrs optimizer (fresh learning rate and state),
    so that building twice never shares optimizer state between models.

    Args:
        config: the :class:`ModelConfig`.
        mode: PyTensor mode name (see :mod:`tgraph.backend`).
    """
    from tgraph.model import Model

    kwargs = {f.name: getattr(config, f.name) for f in attrs.fields(ModelConfig)}
    if attrs.has(type(kwargs["optimizer"])):
        kwargs["optimizer"] = attrs.evolve(kwargs["optimizer"])
    kwargs["layers"] = list(kwargs["layers"])
    return Model(**kwargs, mode=mode)


def follows_data(layers):
    """True if ``layers`` take a size from the data: ``Input()``, ``Dense("classes")``."""
    from tgraph.layers.core import CLASSES, Input

    return any((isinstance(layer, Input) and layer.shape is None)
               or getattr(layer, "units", None) == CLASSES for layer in layers)


def resolve_for_data(config, input_shape, num_classes, where="the data"):
    """``config`` with the sizes that follow the data set: the one place they are resolved.

    ``Input()`` gets the shape of one example, ``input_shape``, or the first of these
    that fits the layers after it: ``(1, H, W)`` for (H, W) grayscale images (a
    convolution's one channel), or the product (an MLP, whose ``Dense`` layers take
    (batch, features), on (28, 28) images gets (784,), the tutorials' flat MNIST); ``Dense("classes")`` gets
    ``num_classes`` units. A config without placeholders comes back unchanged.

    Args:
        config: a :class:`ModelConfig`.
        input_shape: the shape of one example, e.g. ``(30,)`` or ``(3, 32, 32)``.
        num_classes: the number of classes, or None (unknown).
        where: the data, named in messages.

    Returns:
        The resolved :class:`ModelConfig`.

    Raises:
        ConfigError: ``Dense("classes")`` for data without classes.
    """
    from tgraph.layers.core import CLASSES, Input

    layers = list(config.layers)
    for i, layer in enumerate(layers):
        if getattr(layer, "units", None) == CLASSES:
            if not num_classes:
                raise ConfigError(f"layer {i} ({type(layer).__name__}): units=\"classes\" needs "
                                  f"data with classes, and {where} has none; give a number of units")
            layers[i] = attrs.evolve(layer, units=int(num_classes))
    if layers and isinstance(layers[0], Input) and layers[0].shape is None:
        layers[0] = Input(_input_shape(layers[1:], tuple(int(d) for d in input_shape)))
    return attrs.evolve(config, layers=tuple(layers))


def _input_shape(rest, shape):
    """The first of ``shape``, ``(1, *shape)`` (2-D only) and the flat shape that fits the
    layers after ``Input``; ``shape`` if none does (building the model then says why)."""
    from tgraph.errors import ShapeError, TGraphError
    from tgraph.layers.core import Input
    from tgraph.network import infer_shapes

    if len(shape) == 1:
        return shape
    candidates = [shape, (int(np.prod(shape)),)]
    if len(shape) == 2:
        candidates.insert(1, (1, *shape))  # grayscale (H, W) images for a convolution
    for candidate in candidates:
        try:
            infer_shapes([Input(candidate), *rest])
            return candidate
        except ShapeError:
            continue
        except TGraphError:
            return shape
    return shape  # building the model reports why it does not fit


def config_of(model):
    """The :class:`ModelConfig` a :class:`tgraph.Model` was built from."""
    return ModelConfig(layers=model.layers, loss=model.loss.name, optimizer=model.optimizer,
                       regularization=model.regularization, seed=model.network.seed,
                       dtype=model.dtype, legacy_init=model.network.legacy_init)
