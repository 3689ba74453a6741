"""An experiment: the model spec plus how to train it, as loaded from a spec file.

A spec file is a Python file that defines module-level names::

    model = [L.Input((784,)), L.Dense(500, activation="tanh"), L.Dense(10, activation="softmax")]
    optimizer = optim.SGD(learning_rate=0.01)
    training = Training(batch_size=20, max_epochs=1000)
    callbacks = [TutorialPatience(patience=10000)]

Only ``model`` is required; see :class:`Experiment` for the others.
"""

import attrs

from tgraph.config import ModelConfig, Training, boolean, build_model, float_dtype
from tgraph.errors import ConfigError
from tgraph.optim.base import get_optimizer
from tgraph.optim.optimizers import SGD
from tgraph.optim.regularizers import Regularization
from tgraph.pretraining import check_pretraining

__all__ = ["Training", "Experiment", "SPEC_NAMES"]

# ModelConfig field -> the spec file's (and Experiment's) name, where they differ.
_SPEC_NAME = {"layers": "model"}


def _fraction(instance, attribute, value):
    if not (isinstance(value, (int, float)) and 0 < value < 1):
        raise ConfigError(f"`{attribute.name}` (={value!r}) must be in (0, 1), e.g. 0.2")


def _tuple_if_list(value):
    return tuple(value) if isinstance(value, list) else value


def _valid_pretraining(instance, attribute, value):
    if value is not None:
        check_pretraining(value, instance.model)
    if value is None and instance.training is None:
        raise ConfigError("`training` is None and there is no `pretraining`: nothing to "
                          "train; set training = Training(...) or pretraining = Pretraining(...)")


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
        dtype: ``"float32"`` (default) or ``"float64"``.
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
    dtype: str = attrs.field(default="float32", validator=float_dtype)
    legacy_init: bool = attrs.field(default=False, validator=boolean)
    data: str | None = None
    valid_fraction: float = attrs.field(default=0.2, validator=_fraction)
    source: str = "<python>"
    description: str = ""
    pretraining: object = attrs.field(default=None, converter=_tuple_if_list,
                                      validator=_valid_pretraining)

    @property
    def model_config(self):
        """The :class:`tgraph.config.ModelConfig` of this experiment."""
        return ModelConfig(**{f.name: getattr(self, _SPEC_NAME.get(f.name, f.name))
                              for f in attrs.fields(ModelConfig)})

    def build_model(self, mode=None):
        """A freshly initialised :class:`tgraph.Model` (see :func:`tgraph.config.build_model`)."""
        return build_model(self.model_config, mode=mode)

    def trainer(self, model, extra_callbacks=()):
        """A :class:`tgraph.trainer.Trainer` for ``model`` with this experiment's settings.

        Its callbacks: :func:`tgraph.callbacks.default_callbacks`, the experiment's, then
        ``extra_callbacks`` (the trainer orders them by their ``order``).
        """
        from tgraph.callbacks import default_callbacks
        from tgraph.trainer import Trainer

        t = self.training
        if t is None:
            raise ConfigError(f"{self.source}: `training` is None (pretraining only): there is "
                              "no supervised training to run")
        return Trainer(model, batch_size=t.batch_size, max_epochs=t.max_epochs,
                       callbacks=[*default_callbacks(), *self.callbacks, *extra_callbacks],
                       shuffle=t.shuffle, seed=self.seed,
                       validation_frequency=t.validation_frequency)


SPEC_NAMES = tuple(f.name for f in attrs.fields(Experiment) if f.name not in ("source",
                                                                             "description"))
