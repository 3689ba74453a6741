"""Greedy layer-wise pretraining declared in a spec file (Hinton et al. 2006; Bengio et al. 2007).

A spec file says how to pretrain either every layer that has a local objective (RBMs,
denoising autoencoders) with one setting::

    pretraining = Pretraining(epochs=100, optimizer=optim.SGD(0.01), batch_size=10)

or each layer with its own (layers are spec-list indices, bottom-up)::

    pretraining = [Pretrain(layer=1, epochs=15, optimizer=optim.SGD(0.001), batch_size=1),
                   Pretrain(layer=2, epochs=15, optimizer=optim.SGD(0.001), batch_size=1)]

Phase ``k`` trains layer ``k``'s local objective on the deterministic outputs of layers
``< k`` (see :mod:`tgraph.layerwise` for how it runs); then ``training`` fine-tunes the
whole stack with labels, or, with ``training = None``, the run ends after pretraining.
"""

import attrs

from tgraph.errors import SpecError
from tgraph.layers.base import Layer
from tgraph.optim.base import get_optimizer
from tgraph.validate import boolean, positive_int

__all__ = ["Pretrain", "Pretraining", "RBMSamples", "phases_of", "has_local_objective",
           "check_pretraining", "phases_table", "objective_label"]


def has_local_objective(layer):
    """True if ``layer``'s class overrides :meth:`Layer.local_objective`."""
    return type(layer).local_objective is not Layer.local_objective


@attrs.frozen
class RBMSamples:
    """Gibbs chains drawn from a trained RBM and saved as ``samples.png`` (the rbm tutorial).

    The chains start at ``chains`` consecutive test images (visible state) and run
    ``rows`` times ``steps`` Gibbs steps ``v -> h -> v``; each row of the image shows the
    visible means after another ``steps`` steps.

    Attributes:
        chains: number of chains (image columns), 20 in the tutorial.
        rows: samples per chain (image rows), 10 in the tutorial.
        steps: Gibbs steps between two rows, 1000 in the tutorial.
    """

    chains: int = attrs.field(default=20, validator=positive_int)
    rows: int = attrs.field(default=10, validator=positive_int)
    steps: int = attrs.field(default=1000, validator=positive_int)


def _optional_samples(instance, attribute, value):
    if value is not None and not isinstance(value, RBMSamples):
        raise SpecError(f"{type(instance).__name__}: `samples` (={value!r}) must be None or "
                        "RBMSamples(chains=..., rows=..., steps=...)")


@attrs.frozen(kw_only=True)
class Pretrain:
    """One greedy phase: train layer ``layer``'s local objective.

    Attributes:
        layer: index of the layer in the spec's ``model`` list (1 is the first after Input).
        epochs: passes over the training set.
        optimizer: optimizer (object, class or registered name) of this phase; it gets a
            fresh copy, so phases never share optimizer state.
        batch_size: examples per minibatch (the last partial one is dropped).
        shuffle: reshuffle the training set every epoch (the tutorials did not).
        filters: write ``filters_layer<k>.png`` (the weights of each unit as a square
            image) at the end of the phase, when the layer's input is a square image.
        samples: an :class:`RBMSamples` to draw Gibbs chains from an RBM at the end of
            the phase (``samples.png``), or None.
    """

    layer: int = attrs.field(validator=positive_int)
    epochs: int = attrs.field(validator=positive_int)
    optimizer: object = attrs.field(converter=get_optimizer)
    batch_size: int = attrs.field(validator=positive_int)
    shuffle: bool = attrs.field(default=False, validator=boolean)
    filters: bool = attrs.field(default=True, validator=boolean)
    samples: RBMSamples | None = attrs.field(default=None, validator=_optional_samples)

    @property
    def name(self):
        """``"pretrain<layer>"``: the phase's tag in logs and metrics."""
        return f"pretrain{self.layer}"


@attrs.frozen(kw_only=True)
class Pretraining:
    """The same phase settings for every layer with a local objective, bottom-up.

    Attributes: as :class:`Pretrain`, without ``layer``.
    """

    epochs: int = attrs.field(validator=positive_int)
    optimizer: object = attrs.field(converter=get_optimizer)
    batch_size: int = attrs.field(validator=positive_int)
    shuffle: bool = attrs.field(default=False, validator=boolean)
    filters: bool = attrs.field(default=True, validator=boolean)
    samples: RBMSamples | None = attrs.field(default=None, validator=_optional_samples)

    def phases(self, layers):
        """One :class:`Pretrain` per layer of ``layers`` that has a local objective."""
        settings = attrs.asdict(self, recurse=False)
        return tuple(Pretrain(layer=i, **settings) for i, layer in enumerate(layers)
                     if has_local_objective(layer))


def _as_phases(pretraining, layers):
    if pretraining is None:
        return ()
    if isinstance(pretraining, Pretraining):
        return pretraining.phases(layers)
    if isinstance(pretraining, Pretrain):
        return (pretraining,)
    if isinstance(pretraining, (list, tuple)) and all(isinstance(p, Pretrain) for p in pretraining):
        return tuple(pretraining)
    raise SpecError(
        f"`pretraining` (={pretraining!r}) must be Pretraining(epochs=..., optimizer=..., "
        "batch_size=...) or a list of Pretrain(layer=..., epochs=..., optimizer=..., "
        "batch_size=...)"
    )


def check_pretraining(pretraining, layers):
    """Validate ``pretraining`` against the model's ``layers``; returns its phases.

    Raises:
        SpecError: a phase names a layer that does not exist or has no local objective,
            layers out of bottom-up order or repeated, or a ``Pretraining`` that finds
            no layer to train.
    """
    phases = _as_phases(pretraining, layers)
    if isinstance(pretraining, Pretraining) and not phases:
        raise SpecError("`pretraining`: no layer of the model has a local objective "
                        "(RBM, DenoisingAutoencoder); remove `pretraining` or add such layers")
    previous = 0
    for phase in phases:
        if phase.layer >= len(layers):
            raise SpecError(f"`pretraining`: Pretrain(layer={phase.layer}) but the model has "
                            f"layers 0..{len(layers) - 1}")
        layer = layers[phase.layer]
        if not has_local_objective(layer):
            raise SpecError(f"`pretraining`: layer {phase.layer} ({type(layer).__name__}) has no "
                            "local objective; pretrain RBM or DenoisingAutoencoder layers only")
        if phase.layer <= previous:
            raise SpecError(f"`pretraining`: Pretrain(layer={phase.layer}) comes after layer "
                            f"{previous}; list each layer once, bottom-up (greedy pretraining)")
        previous = phase.layer
    return phases


def phases_of(experiment):
    """The pretraining phases of an experiment (empty without ``pretraining``)."""
    return _as_phases(getattr(experiment, "pretraining", None), list(experiment.model))


def objective_label(layer):
    """A short label of a layer's local objective: ``CD-1``, ``PCD-15``, ``corruption 0.3``."""
    if hasattr(layer, "persistent") and hasattr(layer, "k"):
        return f"{'PCD' if layer.persistent else 'CD'}-{layer.k}"
    if hasattr(layer, "corruption"):
        return f"corruption {layer.corruption:g}"
    return "local objective"


def _lr(optimizer):
    lr = getattr(optimizer, "learning_rate", None)
    return f"{lr:g}" if isinstance(lr, (int, float)) else "-"


def phases_table(experiment):
    """A text table of the run's phases: each pretraining phase, then fine-tuning.

    Returns:
        A multi-line string, or ``""`` for an experiment without pretraining.
    """
    phases = phases_of(experiment)
    if not phases:
        return ""
    rows = [("phase", "trains", "epochs", "batch", "optimizer", "lr")]
    for p in phases:
        layer = experiment.model[p.layer]
        what = f"layer {p.layer} {type(layer).__name__} ({objective_label(layer)})"
        rows.append((p.name, what, str(p.epochs), str(p.batch_size),
                     type(p.optimizer).__name__, _lr(p.optimizer)))
    t = experiment.training
    if t is None:
        rows.append(("finetune", "none (training = None)", "-", "-", "-", "-"))
    else:
        rows.append(("finetune", f"all layers, loss {experiment.loss}", f"<= {t.max_epochs}",
                     str(t.batch_size), type(experiment.optimizer).__name__,
                     _lr(experiment.optimizer)))
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    lines = ["  ".join(r[c].ljust(widths[c]) for c in range(len(r))).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
