"""An experiment: the model spec plus how to train it, as loaded from a spec file.

A spec file is a Python file that defines module-level names::

    model = [L.Input((784,)), L.Dense(500, activation="tanh"), L.Dense(10, activation="softmax")]
    optimizer = optim.SGD(learning_rate=0.01)
    training = Training(batch_size=20, max_epochs=1000)
    callbacks = [TutorialPatience(patience=10000)]

Only ``model`` is required; see :class:`Experiment` for the others.
"""

import attrs

from tgraph.config import (
    CHECKPOINT_SECONDS,
    ModelConfig,
    Training,
    boolean,
    build_model,
    float_dtype,
    follows_data,
    resolve_for_data,
)
from tgraph.data.folders import COLOR_MODES
from tgraph.data.layout import LAYOUTS
from tgraph.data.loading import FORMAT_NAMES
from tgraph.data.preprocessing import IMPUTE, KINDS
from tgraph.data.splits import VALID_SPLITS
from tgraph.errors import ConfigError
from tgraph.optim.base import get_optimizer
from tgraph.optim.optimizers import SGD
from tgraph.optim.regularizers import Regularization
from tgraph.pretraining import check_pretraining

__all__ = ["Training", "Experiment", "SPEC_NAMES", "DATA_OPTIONS"]

# ModelConfig field -> the spec file's (and Experiment's) name, where they differ.
_SPEC_NAME = {"layers": "model"}

# The Experiment fields that say how to load the data -> the load_dataset keyword they set
# (the one list: spec files, --set and the command-line options of `tgraph train` use it).
DATA_OPTIONS = {
    "data_format": "format", "test_data": "test_path", "valid_fraction": "valid_fraction",
    "valid_size": "valid_size", "valid_split": "valid_split", "preprocessing": "preprocessing",
    "impute": "impute", "layout": "layout", "target": "target", "header": "header",
    "delimiter": "delimiter", "image_size": "image_size", "color_mode": "color_mode",
    "cifar_labels": "cifar_labels",
}


def _fraction(instance, attribute, value):
    if not (isinstance(value, (int, float)) and 0 < value < 1):
        raise ConfigError(f"`{attribute.name}` (={value!r}) must be in (0, 1), e.g. 0.2")


def _one_of(*options):
    def check(instance, attribute, value):
        if value not in options:
            raise ConfigError(f"`{attribute.name}` (={value!r}) must be one of "
                              f"{', '.join(map(repr, options))}")
    return check


def _non_negative(instance, attribute, value):
    if not value >= 0:
        raise ConfigError(f"{attribute.name} must be >= 0, got {value!r}")


def _optional_count(instance, attribute, value):
    if value is not None and not (isinstance(value, int) and not isinstance(value, bool)
                                  and value > 0):
        raise ConfigError(f"`{attribute.name}` (={value!r}) must be None or a positive integer")


def _image_size(value):
    return tuple(value) if isinstance(value, list) else value


def _check_image_size(instance, attribute, value):
    if value is not None and not (isinstance(value, tuple) and len(value) == 2 and all(
            isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)):
        raise ConfigError(f"`{attribute.name}` (={value!r}) must be None or (height, width) "
                          "in pixels, e.g. (32, 32)")


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
        valid_size: the number of validation examples instead (None: ``valid_fraction``).
        valid_split: ``"last"`` (the file's last part), ``"random"`` (seeded, stratified by
            class) or None (random for image folders, last for other formats).
        test_data: a separate test file of the same format as ``data``.
        preprocessing: ``"auto"`` (images scaled to [0, 1], tables standardized),
            ``"scale"``, ``"standardize"``, ``"normalize"`` or ``"none"``.
        data_format, impute, layout, target, header, delimiter, image_size, color_mode,
        cifar_labels: how to read ``data``: the :func:`tgraph.data.load_dataset` arguments
            ``format``, ``impute``, ... (see :data:`DATA_OPTIONS`).
        checkpoint_seconds: least time between two writes of the run's checkpoint
            ``last.tgraph`` (s; 0: after every epoch); see
            :class:`tgraph.callbacks.ModelCheckpoint`.
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
    valid_size: int | None = attrs.field(default=None, validator=_optional_count)
    valid_split: str | None = attrs.field(default=None, validator=_one_of(None, *VALID_SPLITS))
    test_data: str | None = None
    preprocessing: str = attrs.field(default="auto", validator=_one_of("auto", *KINDS))
    data_format: str | None = attrs.field(default=None, validator=_one_of(None, *FORMAT_NAMES))
    impute: str | None = attrs.field(default=None, validator=_one_of(*IMPUTE))
    layout: str | None = attrs.field(default=None, validator=_one_of(None, *LAYOUTS))
    target: str | int | None = None
    header: bool | None = attrs.field(default=None, validator=_one_of(None, True, False))
    delimiter: str | None = None
    image_size: tuple | None = attrs.field(default=None, converter=_image_size,
                                           validator=_check_image_size)
    color_mode: str | None = attrs.field(default=None, validator=_one_of(None, *COLOR_MODES))
    cifar_labels: str = attrs.field(default="fine", validator=_one_of("fine", "coarse"))
    checkpoint_seconds: float = attrs.field(default=CHECKPOINT_SECONDS, converter=float,
                                            validator=_non_negative)
    source: str = "<python>"
    description: str = ""
    pretraining: object = attrs.field(default=None, converter=_tuple_if_list,
                                      validator=_valid_pretraining)

    @property
    def model_config(self):
        """The :class:`tgraph.config.ModelConfig` of this experiment."""
        return ModelConfig(**{f.name: getattr(self, _SPEC_NAME.get(f.name, f.name))
                              for f in attrs.fields(ModelConfig)})

    def load_options(self):
        """The :func:`tgraph.data.load_dataset` keyword arguments of the data options."""
        return {keyword: getattr(self, name) for name, keyword in DATA_OPTIONS.items()}

    def load_data(self, data=None, *, valid_fraction=None, download=False):
        """The :class:`tgraph.data.Dataset` of ``data`` (a path; default: the experiment's
        ``data``), read with the experiment's data options (``valid_fraction`` overriding
        its own)."""
        from tgraph.data import load_dataset

        options = self.load_options()
        if valid_fraction:
            options["valid_fraction"] = valid_fraction
        return load_dataset(data or self.data, **options, download=download)

    def for_data(self, dataset=None, *, download=False):
        """``(experiment, note)``: this experiment with ``Input()`` and ``Dense("classes")``
        set from the data (see :func:`tgraph.config.resolve_for_data`).

        Args:
            dataset: the data; None: the experiment's own (:meth:`load_data`), read only
                if the model has such layers (with a random validation split if none is
                set: the split does not change the sizes, and a sorted file is then no
                error).
            download: download the full MNIST first (see :meth:`load_data`).

        Returns:
            The resolved experiment (this one if the model has no such layers), and a
            sentence saying where the sizes came from (empty if nothing was resolved).
        """
        if not follows_data(self.model):
            return self, ""
        if dataset is None:
            dataset = attrs.evolve(self, valid_split=self.valid_split or "random").load_data(
                download=download)
        config = resolve_for_data(self.model_config, dataset.input_shape, dataset.num_classes,
                                  dataset.source)
        note = (f"sizes from the data {dataset.source}: examples of shape "
                f"{tuple(dataset.input_shape)}, {dataset.num_classes} classes")
        return attrs.evolve(self, model=config.layers), note

    def build_model(self, mode=None):
        """A freshly initialised :class:`tgraph.Model` (see :func:`tgraph.config.build_model`);
        ``Input()`` and ``Dense("classes")`` are set from the experiment's data (see
        :meth:`for_data`)."""
        return build_model(self.for_data()[0].model_config, mode=mode)

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
