"""An experiment: the model spec plus how to train it, as loaded from a spec file.

A spec file is a Python file that defines module-level names::

    model = [L.Input((784,)), L.Dense(500, activation="tanh"), L.Dense(10, activation="softmax")]
    optimizer = optim.SGD(learning_rate=0.01)
    training = Training(batch_size=20, max_epochs=1000)
    callbacks = [TutorialPatience(patience=10000)]

Only ``model`` is required; see :class:`Experiment` for the others.
"""

import attrs

from tgraph.errors import ConfigError
from tgraph.layers.base import positive_int
from tgraph.model import Model
from tgraph.optim.base import get_optimizer
from tgraph.optim.optimizers import SGD
from tgraph.optim.regularizers import Regularization
from tgraph.pretraining import check_pretraining
from tgraph.trainer import Trainer

__all__ = ["Training", "Experiment", "SPEC_NAMES"]


def _optional_positive_int(instance, attribute, value):
    if value is not None:
        positive_int(instance, attribute, value)


def _fraction(instance, attribute, value):
    if not (isinstance(value, (int, float)) and 0 < value < 1):
        raise ConfigError(f"`{attribute.name}` (={value!r}) must be in (0, 1), e.g. 0.2")


def _bool(instance, attribute, value):
    if not isinstance(value, bool):
        raise ConfigError(f"`{attribute.name}` (={value!r}) must be True or False")


def _tuple_if_list(value):
    return tuple(value) if isinstance(value, list) else value


def _valid_pretraining(instance, attribute, value):
    if value is not None:
        check_pretraining(value, instance.model)
    if value is None and instance.training is None:
        raise ConfigError("`training` is None and there is no `pretraining`: nothing to "
                          "train; set training = Training(...) or pretraining = Pretraining(...)")


@attrs.frozen
class Training:
    """How to train: minibatches, epochs, shuffling, validation schedule.

    Attributes:
        batch_size: examples per minibatch.
        max_epochs: upper bound on epochs.
        shuffle: reshuffle the training set every epoch (the tutorials did not).
        validation_frequency: validate every N minibatches (None: once per epoch, or
            what ``TutorialPatience`` asks for).
    """

    batch_size: int = attrs.field(default=128, validator=positive_int)
    max_epochs: int = attrs.field(default=100, validator=positive_int)
    shuffle: bool = True
    validation_frequency: int | None = attrs.field(default=None, validator=_optional_positive_int)


@attrs.frozen
class Experiment:
    """Everything a spec file defines.

    Attributes:
        model: tuple of layer specs.
        loss: loss name (``"nll"`` for classifiers).
        optimizer: optimizer object, class or registered name (turned into an object).
        regularization: model-wide L1/L2.
        training: a :class:`Training` (supervised training of the whole network), or
            None for a run that only pretrains (e.g. a single RBM).
        pretraining: greedy layer-wise pretraining before ``training``: a
            :class:`tgraph.pretraining.Pretraining`, a list of
            :class:`tgraph.pretraining.Pretrain`, or None.
        callbacks: callbacks added to the run (early stopping, schedules, ...).
        seed: seed of the weights, dropout streams and shuffling.
        legacy_init: draw the initial weights, in layer order, from
            ``numpy.random.RandomState(seed)`` as the Theano tutorials did, to start a
            port from the tutorial's exact weights (default: a seeded ``Generator``).
        data: default data path (None: the embedded MNIST subset).
        valid_fraction: validation share of a training set without its own.
        source: the spec file path.
        description: the spec file's docstring.
    """

    model: tuple = attrs.field(converter=tuple)
    loss: str = "nll"
    optimizer: object = attrs.field(factory=SGD, converter=get_optimizer)
    regularization: Regularization = attrs.field(factory=Regularization)
    training: Training | None = attrs.field(factory=Training)
    callbacks: tuple = attrs.field(default=(), converter=tuple)
    seed: int = 1234
    legacy_init: bool = attrs.field(default=False, validator=_bool)
    data: str | None = None
    valid_fraction: float = attrs.field(default=0.2, validator=_fraction)
    source: str = "<python>"
    description: str = ""
    pretraining: object = attrs.field(default=None, converter=_tuple_if_list,
                                      validator=_valid_pretraining)

    def build_model(self, mode=None):
        """A freshly initialised :class:`tgraph.Model` for this experiment.

        The model gets its own copy of an attrs optimizer (fresh learning rate and
        state), so that building twice never shares optimizer state between models.
        """
        optimizer = self.optimizer
        if attrs.has(type(optimizer)):
            optimizer = attrs.evolve(optimizer)
        return Model(list(self.model), loss=self.loss, optimizer=optimizer,
                     regularization=self.regularization, seed=self.seed, mode=mode,
                     legacy_init=self.legacy_init)

    def trainer(self, model, extra_callbacks=()):
        """A :class:`tgraph.trainer.Trainer` for ``model`` with this experiment's settings."""
        t = self.training
        if t is None:
            raise ConfigError(f"{self.source}: `training` is None (pretraining only): there is "
                              "no supervised training to run")
        return Trainer(model, batch_size=t.batch_size, max_epochs=t.max_epochs,
                       callbacks=[*self.callbacks, *extra_callbacks], shuffle=t.shuffle,
                       seed=self.seed, validation_frequency=t.validation_frequency)


SPEC_NAMES = tuple(f.name for f in attrs.fields(Experiment) if f.name not in ("source",
                                                                             "description"))
