"""A network with its loss and optimizer, compiled into PyTensor functions.

The training data lives in shared variables and a training step receives only a
minibatch index (the deeplearning.net tutorials' ``givens``), so a step copies nothing
from host memory; :meth:`Model.train_steps` runs several steps in one call (see
:func:`tgraph.backend.compile_steps`). Evaluation and prediction take numpy arrays. The
compiled functions run with BLAS on one thread and Numba's threads doing the parallel work
(:data:`tgraph.backend.threads.one_pool`).
"""

import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.graph.traversal import graph_inputs
from pytensor.link.jax.linker import JAXLinker

from tgraph.backend import compile_steps, get_mode
from tgraph.backend.threads import one_pool
from tgraph.errors import ConfigError, DataError, ModelFileError, SpecError
from tgraph.network import build
from tgraph.objective import objective, takes_labels, target_variable
from tgraph.ops.losses import get_loss
from tgraph.ops.metrics import TOP_K, TOP_K_MIN_CLASSES, errors, top_k_errors
from tgraph.optim.base import get_optimizer, learning_rate_of, set_learning_rate
from tgraph.optim.constraints import apply_max_norm, total_norm_constraint
from tgraph.optim.regularizers import Regularization
from tgraph.random import generator_state, set_generator_state
from tgraph.summary import summary

__all__ = ["Model", "training_updates", "connected_params"]


def connected_params(cost, params):
    """The ``params`` that ``cost`` depends on, in order.

    A parameter only a layer's local objective uses (an RBM's visible bias) has no
    gradient in supervised training and is left out of its updates.
    """
    used = set(graph_inputs([cost]))
    return [p for p in params if p in used]


def training_updates(network, terms, optimizer):
    """All updates of one training step: parameters, optimizer state, pass updates.

    Gradients of ``terms.total`` with respect to the trainable parameters are clipped
    to the optimizer's ``clip_norm`` (if any), turned into updates by
    ``optimizer.updates``, and each layer's ``max_norm`` is applied to its weights' new
    values; the forward pass's own updates (random streams, the layers'
    ``ctx.add_update``: running averages, chains) follow. Non-trainable parameters get
    no gradient.

    Args:
        network: the :class:`tgraph.network.Network`.
        terms: the training :class:`tgraph.objective.Terms`.
        optimizer: any object with ``updates(params, grads)``.

    Returns:
        List of (shared variable, new value) pairs.

    Raises:
        SpecError: a layer updates a variable that the optimizer also updates.
    """
    params = connected_params(terms.total, [p.variable for p in network.params if p.trainable])
    grads = pytensor.grad(terms.total, params)
    clip = getattr(optimizer, "clip_norm", None)
    if clip:
        grads = total_norm_constraint(grads, clip)
    updates = optimizer.updates(params, grads)
    updates = list(updates.items()) if hasattr(updates, "items") else list(updates)
    _check_disjoint(updates, terms.updates)
    return apply_max_norm(updates, network.params) + list(terms.updates)


def _check_disjoint(optimizer_updates, pass_updates):
    optimized = {var for var, _ in optimizer_updates}
    for var, _ in pass_updates:
        if var in optimized:
            raise SpecError(
                f"{var.name!r} is a trainable parameter, updated by the optimizer, and a layer "
                "also updates it with ctx.add_update; give state that a layer updates "
                "itself tags=STATE_TAGS (not trainable) in its ParamSpec"
            )


class Model:
    """A compiled model: build once, train with minibatch indices, predict on arrays.

    Args:
        layers: list of layer specs starting with ``Input``.
        loss: loss name or :class:`tgraph.ops.losses.Loss` (default ``"nll"``).
        optimizer: optimizer name or object (default ``"sgd"``).
        regularization: model-wide :class:`tgraph.optim.Regularization`.
        seed: seed of initial weights and of the random streams.
        dtype: ``"float32"`` (default) or ``"float64"``.
        mode: PyTensor mode name (see :mod:`tgraph.backend`).
        legacy_init: draw initial weights from ``numpy.random.RandomState(seed)``, as
            Theano-era scripts did (see :func:`tgraph.network.build`).
    """

    def __init__(self, layers, *, loss="nll", optimizer="sgd", regularization=None,
                 seed=1234, dtype="float32", mode=None, legacy_init=False):
        self.network = build(layers, seed=seed, dtype=dtype, legacy_init=legacy_init)
        self.loss = get_loss(loss)
        self.optimizer = get_optimizer(optimizer)
        self.regularization = regularization or Regularization()
        self.mode = get_mode(mode)
        self._functions = {}
        self._data = None
        self.state_variables = []  # every shared variable a training step updates
        self.meta = {}  # training metadata, filled by the trainer or a loaded file

    @property
    def dtype(self):
        return self.network.dtype

    @property
    def layers(self):
        return self.network.specs

    @property
    def takes_labels(self):
        """True if targets are (N,) class labels, with an error rate (see
        :func:`tgraph.objective.takes_labels`)."""
        return takes_labels(self.network, self.loss)

    @property
    def num_classes(self):
        """Number of classes of a classifier (2 for one sigmoid unit), else None."""
        if not self.takes_labels:
            return None
        units = self.network.output_shape[-1]
        return 2 if units == 1 else units

    @property
    def top_k(self):
        """The k of the top-k error :meth:`evaluate` reports (``TOP_K`` for classifiers
        of ``TOP_K_MIN_CLASSES`` classes or more), or None."""
        n = self.num_classes
        return TOP_K if n is not None and n >= TOP_K_MIN_CLASSES else None

    def summary(self):
        """The layer table (see :func:`tgraph.summary.summary`)."""
        return summary(self.network)

    # -- data ---------------------------------------------------------------------

    def set_train_data(self, x, y):
        """Put the training set into the shared variables the training step reads.

        Args:
            x: (N, ...) inputs matching the ``Input`` shape; cast to the model dtype.
            y: (N,) integer labels, or targets shaped like the output.

        Raises:
            DataError: shapes do not match the model.
        """
        x, y = self.check_data(x, y)
        if self._data is None:
            self._data = (
                pytensor.shared(x, name="train_x", borrow=True, shape=(None, *x.shape[1:])),
                pytensor.shared(y, name="train_y", borrow=True, shape=(None, *y.shape[1:])),
            )
        else:
            self._data[0].set_value(x, borrow=True)
            self._data[1].set_value(y, borrow=True)

    @property
    def train_size(self):
        """Number of training examples in the shared variables (0 before any data)."""
        return 0 if self._data is None else self._data[0].get_value(borrow=True).shape[0]

    def check_data(self, x, y):
        """Inputs and targets as the model needs them, or a :class:`DataError`.

        Args:
            x: (N, ...) inputs; reshaped to the ``Input`` shape when only the layout
                differs (e.g. (N, 28, 28) images for ``Input((784,))``), cast to the dtype.
            y: (N,) labels (cast to int32 and range-checked), targets, or None.

        Returns:
            ``(x, y)`` as contiguous arrays.

        Raises:
            DataError: shapes that do not fit the model, labels out of range, or NaN or
                infinite values (the message counts them and names the first bad example).
        """
        x = np.ascontiguousarray(x, dtype=self.dtype)
        want = self.network.input_shape[1:]
        if x.shape[1:] != want and x.ndim >= 1 and np.prod(x.shape[1:]) == np.prod(want):
            x = x.reshape((x.shape[0], *want))  # e.g. (N, 28, 28) images for Input((784,))
        if x.shape[1:] != want:
            raise DataError(
                f"inputs have shape {x.shape}, the model's Input expects (N, {', '.join(map(str, want))}); "
                "reshape the data or change Input(shape=...)"
            )
        _check_finite(x, "inputs")
        if y is None:
            return x, None
        if self.takes_labels:
            y = np.ascontiguousarray(y, dtype=np.int32)
            if y.shape != (x.shape[0],):
                raise DataError(f"labels have shape {y.shape}, expected ({x.shape[0]},)")
            n_classes = self.num_classes
            if y.size and (y.min() < 0 or y.max() >= n_classes):
                units = self.network.output_shape[-1]
                what = ("one sigmoid unit (a binary classifier)" if units == 1
                        else f"{units} units")
                raise DataError(
                    f"labels range over [{y.min()}, {y.max()}], but the output layer has "
                    f"{what}; labels must lie in [0, {n_classes - 1}] (give the output layer "
                    'one unit per class, e.g. Dense("classes", activation="softmax"))'
                )
        else:
            y = np.ascontiguousarray(y, dtype=self.dtype)
            _check_finite(y, "targets")
        return x, y

    # -- compiled functions ---------------------------------------------------------

    def _compile(self, inputs, outputs, **kwargs):
        with pytensor.config.change_flags(floatX=self.dtype):
            fn = pytensor.function(inputs, outputs, mode=self.mode, **kwargs)
        return fn

    def train_function(self, batch_size):
        """The compiled step ``f(batch_index) -> mean training loss`` for ``batch_size``.

        Reads examples ``[i * batch_size, (i + 1) * batch_size)`` of the shared training
        set and applies one optimizer update. Compiled once per batch size. Called
        directly it runs outside :data:`tgraph.backend.threads.one_pool` (BLAS may start
        its own threads); :meth:`train_step` and :meth:`train_steps` run it inside.
        """
        key = ("train", int(batch_size))
        if key not in self._functions:
            if self._data is None:
                raise ConfigError("call set_train_data(x, y) before training")
            self._functions[key] = self._build_train(int(batch_size))
        return self._functions[key]

    def _build_train(self, batch_size):
        static = isinstance(self.mode.linker, JAXLinker)  # JAX's jit needs static shapes
        x, y = _batch_variables(self.network, self.loss, batch_size if static else None)
        with pytensor.config.change_flags(floatX=self.dtype):
            terms = objective(self.network, self.loss, x, y, deterministic=False,
                              regularization=self.regularization)
            updates = training_updates(self.network, terms, self.optimizer)
        index = pt.iscalar("batch_index")
        sx, sy = self._data
        givens = {x: _minibatch(sx, index, batch_size, static),
                  y: _minibatch(sy, index, batch_size, static)}
        fn = self._compile([index], terms.loss, updates=updates, givens=givens)
        self._record_state(updates)
        return fn

    def _record_state(self, updates):
        known = {id(v) for v in self.state_variables}
        for var, _ in updates:
            if id(var) not in known:
                self.state_variables.append(var)
                known.add(id(var))

    def train_step(self, batch_index, batch_size):
        """Run one training step on minibatch ``batch_index``; returns its mean loss."""
        step = self.train_function(batch_size)
        with one_pool:
            return float(step(batch_index))

    def train_steps(self, first, count, batch_size):
        """Run the steps on minibatches ``first, ..., first + count - 1`` in one call.

        Computes exactly what ``count`` calls of :meth:`train_step` compute, with one
        Python call for all of them (see :func:`tgraph.backend.compile_steps`).

        Args:
            first: index of the first minibatch.
            count: number of steps (>= 1).
            batch_size: examples per minibatch.

        Returns:
            (count,) float64 array: the mean training loss of each step.
        """
        key = ("steps", int(batch_size))
        if key not in self._functions:
            self._functions[key] = compile_steps(self.train_function(batch_size))
        with one_pool:
            return self._functions[key](int(first), int(count))

    def _inference_function(self, with_targets):
        key = ("eval",) if with_targets else ("predict",)
        if key not in self._functions:
            x = self.network.input_variable()
            if with_targets:
                y = target_variable(self.network, self.loss)
                with pytensor.config.change_flags(floatX=self.dtype):
                    terms = objective(self.network, self.loss, x, y, deterministic=True)
                    outputs = [terms.per_example.sum()]
                    if self.takes_labels:
                        outputs.append(errors(terms.output, y).sum())
                    if self.top_k:
                        outputs.append(top_k_errors(terms.output, y, self.top_k).sum())
                self._functions[key] = self._compile([x, y], outputs)
            else:
                with pytensor.config.change_flags(floatX=self.dtype):
                    out = self.network.forward(x, deterministic=True).output
                self._functions[key] = self._compile([x], out)
        return self._functions[key]

    def predict(self, x, batch_size=1000):
        """Network output for inputs ``x`` (dropout off).

        Args:
            x: (N, ...) array matching the ``Input`` shape.
            batch_size: examples per call of the compiled function.

        Returns:
            (N, ...) array of outputs (class probabilities for a softmax output).
        """
        x, _ = self.check_data(x, None)
        fn = self._inference_function(with_targets=False)
        with one_pool:
            parts = [fn(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]
        return np.concatenate(parts) if parts else np.empty((0, *self.network.output_shape[1:]))

    def evaluate(self, x, y, batch_size=1000):
        """Mean loss and, for classification, error rate on ``(x, y)`` (dropout off).

        Returns:
            Dict with ``loss`` (mean data loss, no penalty) and, for label targets,
            ``error`` (fraction misclassified, in [0, 1]; a binary classifier's class is
            1 where its output exceeds 0.5) and, for 20 classes or more, ``top5_error``
            (fraction whose label is not among the 5 highest outputs).
        """
        return self.evaluate_checked(*self.check_data(x, y), batch_size=batch_size)

    def evaluate_checked(self, x, y, batch_size=1000):
        """:meth:`evaluate` of data :meth:`check_data` returned, without checking it again.

        The trainer checks its validation and test splits once and evaluates them every
        epoch with this: the NaN scan of the full MNIST's 10,000 validation images costs
        ~5 ms, a tenth of a logistic-regression epoch.

        Args:
            x: (N, ...) inputs as :meth:`check_data` returns them.
            y: (N,) labels or targets as :meth:`check_data` returns them.
            batch_size: examples per call of the compiled function.
        """
        if len(x) == 0:
            raise DataError("cannot evaluate on an empty set")
        fn = self._inference_function(with_targets=True)
        sums = np.zeros(3)
        with one_pool:
            for i in range(0, len(x), batch_size):
                out = fn(x[i:i + batch_size], y[i:i + batch_size])
                sums[: len(out)] += [float(v) for v in out]
        result = {"loss": sums[0] / len(x)}
        if self.takes_labels:
            result["error"] = sums[1] / len(x)
        if self.top_k:
            result[f"top{self.top_k}_error"] = sums[2] / len(x)
        return result

    # -- weights and training state -------------------------------------------------

    def get_weights(self):
        """Copies of the parameter values: ``{name: numpy array}`` in layer order."""
        return {p.name: _copy(p.variable) for p in self.network.params}

    def set_weights(self, weights):
        """Set parameter values from ``{name: array}`` (e.g. from :meth:`get_weights`).

        Raises:
            ModelFileError: a parameter is missing or has another shape.
        """
        _assign([p.variable for p in self.network.params], weights, what="parameter")

    def get_state(self):
        """Everything a training step changes besides the weights.

        Returns:
            Dict with ``arrays`` (optimizer state, ``{name: array}``), ``rng``
            (``{name: bit-generator state}``) and ``lr`` (float or None).
        """
        params = {id(p.variable) for p in self.network.params}
        arrays = {v.name: _copy(v) for v in self.state_variables
                  if id(v) not in params and not _is_rng(v)}
        rng = {name: generator_state(v) for name, v in self._generators().items()}
        return {"arrays": arrays, "rng": rng, "lr": learning_rate_of(self.optimizer)}

    def set_state(self, state):
        """Restore a :meth:`get_state` result; call after :meth:`train_function`.

        Raises:
            ModelFileError: the state does not fit this model and optimizer.
        """
        params = {id(p.variable) for p in self.network.params}
        targets = [v for v in self.state_variables if id(v) not in params and not _is_rng(v)]
        _assign(targets, state["arrays"], what="optimizer state")
        generators = self._generators()
        for name, value in state["rng"].items():
            if name not in generators:
                raise ModelFileError(f"random stream {name!r} of the checkpoint is not in this model")
            set_generator_state(generators[name], value)
        if state.get("lr") is not None:
            set_learning_rate(self.optimizer, state["lr"])

    def _generators(self):
        return {v.name: v for v in self.network.random.generators.values()}


def _batch_variables(network, loss, batch_size):
    """Symbolic inputs and targets of a training step; ``batch_size`` None: any batch."""
    x, y = network.input_variable(), target_variable(network, loss)
    if batch_size is None:
        return x, y
    return (pt.tensor(x.name, dtype=x.dtype, shape=(batch_size, *x.type.shape[1:])),
            pt.tensor(y.name, dtype=y.dtype, shape=(batch_size, *y.type.shape[1:])))


def _minibatch(data, index, batch_size, static):
    """Rows ``[index * batch_size, (index + 1) * batch_size)`` of a shared array.

    A slice (a view: nothing is copied), or with ``static`` (for JAX, whose ``jit``
    needs slices of static length) a gather of the rows ``index * batch_size +
    arange(batch_size)``, whose shape is static (JAX clamps indices out of range).
    """
    if static:
        return pt.take(data, index * batch_size + pt.arange(batch_size), axis=0)
    return data[index * batch_size:(index + 1) * batch_size]


def _check_finite(values, what):
    """Raise a :class:`DataError` if ``values`` (N, ...) holds NaN or infinity."""
    if np.isfinite(values).all():
        return
    bad = ~np.isfinite(values.reshape(len(values), -1))
    first = int(np.flatnonzero(bad.any(axis=1))[0])
    raise DataError(
        f"{what} contain {int(bad.sum())} non-finite values (NaN or inf), the first in "
        f"example {first}; remove or replace those examples (e.g. np.nan_to_num)"
    )


def _copy(variable):
    """A numpy copy of a shared variable's value (JAX mode leaves JAX arrays there)."""
    return np.array(variable.get_value(borrow=True))


def _is_rng(variable):
    return not hasattr(variable.type, "dtype")


def _assign(variables, values, what):
    variables = {v.name: v for v in variables or []}
    missing = sorted(set(variables) - set(values))
    unknown = sorted(set(values) - set(variables))
    if missing or unknown:
        raise ModelFileError(
            f"{what} names do not match the model: missing {missing}, unexpected {unknown}; "
            "was the file saved from another spec?"
        )
    for name, var in variables.items():
        value = np.asarray(values[name])
        current = var.get_value(borrow=True)
        if value.shape != current.shape:
            raise ModelFileError(
                f"{what} {name!r} has shape {value.shape} in the file but {current.shape} "
                "in the model; was the file saved from another spec?"
            )
        var.set_value(value.astype(current.dtype, copy=True), borrow=True)
