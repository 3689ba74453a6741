"""Model files: one zip archive holding the spec (JSON), the weights and metadata.

Layout of ``model.tgraph``::

    tgraph.json             format, versions, the spec (layers, loss, optimizer, ...), meta
                            (a trained model's meta["dataset"]: the data's class names, the
                            fitted preprocessing as JSON, source, splits; see dataset_record)
    weights/<param>.npy     one array per parameter, e.g. weights/1_dense/W.npy
    training.json           checkpoints only: counters, random streams, callback states
    arrays/<n>.npy          checkpoints only: arrays referenced from training.json

No pickle anywhere: arrays are read with ``allow_pickle=False`` and the spec is plain
JSON rebuilt into known classes, so opening a file received from someone else runs no
code. ``unzip -p model.tgraph tgraph.json`` shows the spec.
"""

import io
import json
import zipfile
import zlib

import attrs
import numpy as np

from tgraph.errors import ModelFileError, TGraphError
from tgraph.fileio import atomic_write
from tgraph.serialize import UnknownTypeError, from_json, to_json

__all__ = ["ModelFile", "save_model", "read_model_file", "load_model", "model_of", "model_spec",
           "model_from_spec", "config_from_spec", "layers_from_spec", "unknown_layer_types",
           "dataset_record",
           "FORMAT", "FORMAT_VERSION"]

FORMAT = "tgraph-model"
FORMAT_VERSION = 1
_ARRAY_KEY = "__array__"
_DAMAGED = "the file is damaged or was written by another tgraph version; save the model again"


@attrs.frozen
class ModelFile:
    """The content of a model file.

    Attributes:
        path: where it was read from.
        spec: the JSON spec dict (``layers``, ``loss``, ``dtype``, ``seed``, ...).
        meta: training metadata dict.
        weights: ``{param name: array}``.
        training: checkpoint state (arrays restored) or None for a plain model file.
    """

    path: str
    spec: dict
    meta: dict
    weights: dict
    training: dict | None


def model_spec(model):
    """The JSON spec of a :class:`tgraph.Model`: its :class:`tgraph.config.ModelConfig`."""
    from tgraph.config import ModelConfig, config_of

    config = config_of(model)
    return {f.name: to_json(getattr(config, f.name)) for f in attrs.fields(ModelConfig)}


def _versions():
    import pytensor

    import tgraph

    return {"tgraph": tgraph.__version__, "pytensor": pytensor.__version__,
            "numpy": np.__version__}


def _write_array(zf, name, array):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.asarray(array, order="C"), allow_pickle=False)
    zf.writestr(name, buffer.getvalue(), compress_type=zipfile.ZIP_STORED)


def _pack(obj, arrays):
    """Replace numpy arrays inside ``obj`` by references, collecting them in ``arrays``."""
    if isinstance(obj, np.ndarray):
        name = f"arrays/{len(arrays)}.npy"
        arrays[name] = obj
        return {_ARRAY_KEY: name}
    if isinstance(obj, dict):
        return {k: _pack(v, arrays) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_pack(v, arrays) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _unpack(obj, zf, path):
    if isinstance(obj, dict):
        if set(obj) == {_ARRAY_KEY}:
            return _read_array(zf, obj[_ARRAY_KEY], path)
        return {k: _unpack(v, zf, path) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_unpack(v, zf, path) for v in obj]
    return obj


def save_model(model, path, *, meta=None, training=None, weights=None):
    """Write ``model`` to ``path`` atomically.

    The JSON parts are deflated; the arrays are stored as they are (``.npy`` members
    of the zip): float weights barely compress, and deflating them cost 0.1 s for the
    MLP's 3 MB checkpoint, a quarter of one of its epochs.

    Args:
        model: a :class:`tgraph.Model`.
        path: destination file (conventionally ``*.tgraph``).
        meta: JSON-able training metadata (epochs, errors, data source, ...).
        training: checkpoint state (may contain numpy arrays), or None.
        weights: ``{name: array}`` to save instead of the model's current weights
            (e.g. a best model kept in memory), or None.
    """
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, "versions": _versions(),
              "spec": model_spec(model), "meta": meta or {}}
    with atomic_write(path) as f, zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("tgraph.json", json.dumps(header, indent=2, default=float))
        for name, value in (model.get_weights() if weights is None else weights).items():
            _write_array(zf, f"weights/{name}.npy", value)
        if training is not None:
            arrays = {}
            zf.writestr("training.json", json.dumps(_pack(training, arrays), default=float))
            for name, value in arrays.items():
                _write_array(zf, name, value)


def _read_array(zf, name, path):
    try:
        with zf.open(name) as f:
            return np.lib.format.read_array(io.BytesIO(f.read()), allow_pickle=False)
    except KeyError:
        raise ModelFileError(f"{path}: the archive lacks {name}; the file is incomplete") from None
    except ValueError as err:
        raise ModelFileError(f"{path}: {name} is not a plain numpy array ({err}); "
                             "tgraph never loads pickled objects") from None


def _read_header(zf, path):
    try:
        header = json.loads(zf.read("tgraph.json"))
    except KeyError:
        raise ModelFileError(f"{path}: not a tgraph model file (no tgraph.json inside)") from None
    except (ValueError, UnicodeDecodeError) as err:
        raise ModelFileError(f"{path}: tgraph.json is not valid JSON ({err})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        found = header.get("format") if isinstance(header, dict) else type(header).__name__
        raise ModelFileError(f"{path}: format is {found!r}, expected {FORMAT!r}")
    if header.get("format_version", 0) > FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: written by a newer tgraph (format version {header['format_version']}, "
            f"this one reads {FORMAT_VERSION}); upgrade tgraph"
        )
    if not isinstance(header.get("spec"), dict):
        raise ModelFileError(f"{path}: tgraph.json has no `spec` object; {_DAMAGED}")
    return header


def _read_training(zf, path):
    if "training.json" not in zf.namelist():
        return None
    try:
        state = json.loads(zf.read("training.json"))
    except (ValueError, UnicodeDecodeError) as err:
        raise ModelFileError(f"{path}: training.json is not valid JSON ({err}); {_DAMAGED}"
                             ) from None
    return _unpack(state, zf, path)


def read_model_file(path):
    """Read a model or checkpoint file.

    Raises:
        ModelFileError: missing, not a zip archive, truncated, or not a tgraph file;
            the message names the file.
    """
    path = str(path)
    try:
        with zipfile.ZipFile(path) as zf:
            header = _read_header(zf, path)
            weights = {n[len("weights/"):-len(".npy")]: _read_array(zf, n, path)
                       for n in zf.namelist() if n.startswith("weights/")}
            training = _read_training(zf, path)
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such model file") from None
    except IsADirectoryError:
        raise ModelFileError(f"{path}: is a directory; give the model file inside it "
                             "(e.g. model.tgraph)") from None
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile, zlib.error) as err:
        raise ModelFileError(f"{path}: not a readable tgraph model file ({err}); "
                             "it may be truncated or corrupt") from None
    return ModelFile(path, header["spec"], header.get("meta", {}), weights, training)


def load_model(path, *, mode=None):
    """Rebuild the model saved at ``path`` with its weights.

    Args:
        path: a file written by :func:`save_model`.
        mode: PyTensor mode for the rebuilt model.

    Returns:
        A :class:`tgraph.Model` that predicts exactly as the saved one.

    Raises:
        ModelFileError: the file is unreadable, or its spec or weights do not make a
            model; the message names the file.
    """
    return model_of(read_model_file(path), mode=mode)


def model_of(content, *, mode=None):
    """The model of a :class:`ModelFile` (see :func:`load_model`)."""
    model = model_from_spec(content.spec, mode=mode, path=content.path)
    try:
        model.set_weights(content.weights)
    except ModelFileError as err:
        raise ModelFileError(f"{content.path}: {err}") from None
    model.meta = content.meta
    return model


def dataset_record(content):
    """The record of the data a model was trained on (``meta["dataset"]``, written by
    ``tgraph train``; see :meth:`tgraph.data.Dataset.record`), or {} for other files.

    Its ``class_names`` name the outputs, its ``preprocessing``
    (:meth:`tgraph.data.Preprocessing.from_dict`) transforms new inputs as in training,
    and ``source`` with ``load_options`` reads the data again
    (:func:`tgraph.data.reload_dataset`).
    """
    record = content.meta.get("dataset")
    return record if isinstance(record, dict) else {}


def unknown_layer_types(spec):
    """Class names in the spec's layers that :func:`tgraph.serialize.from_json` cannot rebuild."""
    from tgraph.serialize import known_types, type_names

    layers = spec.get("layers") if isinstance(spec, dict) else None
    return sorted(type_names(layers) - set(known_types()))


def layers_from_spec(spec, path="<spec>"):
    """The layer specs of a JSON spec dict (see :func:`model_spec`), rebuilt and validated.

    Args:
        spec: the ``spec`` dict of a model file.
        path: the file, named in messages.

    Returns:
        List of layer specs.

    Raises:
        ModelFileError: no layer list, or a layer that cannot be rebuilt; the message
            names the file and the layer (index and type).
    """
    layers = spec.get("layers") if isinstance(spec, dict) else None
    if not isinstance(layers, list) or not layers:
        raise ModelFileError(f"{path}: the spec has no list of layers (got {layers!r}); "
                             f"{_DAMAGED}")
    return [_layer_from_json(i, data, path) for i, data in enumerate(layers)]


def _layer_from_json(index, data, path):
    kind = data.get("type") if isinstance(data, dict) else type(data).__name__
    try:
        return from_json(data)
    except UnknownTypeError as err:
        raise UnknownTypeError(err.type_name, f"{path}: layer {index} ({kind}) of the spec: "
                               ) from None
    except TGraphError as err:
        raise ModelFileError(f"{path}: layer {index} ({kind}) of the spec: "
                             f"{str(err).rstrip('.')}; {_DAMAGED}") from None


def _optimizer_from_json(data):
    """The saved optimizer, or SGD for a hand-written one (its spec file has the code)."""
    try:
        return from_json(data) if data else "sgd"
    except TGraphError:
        return "sgd"


def config_from_spec(spec, path="<spec>"):
    """The :class:`tgraph.config.ModelConfig` of a JSON spec dict (see :func:`model_spec`).

    Raises:
        ModelFileError: a field is missing or rejected; the message names the file.
    """
    from tgraph.config import ModelConfig

    layers = layers_from_spec(spec, path)
    regularization = spec.get("regularization")
    try:
        return ModelConfig(
            layers=layers, loss=spec["loss"], optimizer=_optimizer_from_json(spec.get("optimizer")),
            regularization=from_json(regularization) if regularization else None,
            seed=spec["seed"], dtype=spec["dtype"],
            legacy_init=bool(spec.get("legacy_init", False)))
    except KeyError as err:
        raise ModelFileError(f"{path}: the spec lacks {err}; {_DAMAGED}") from None
    except TGraphError as err:
        raise ModelFileError(f"{path}: the spec does not build a model: "
                             f"{str(err).rstrip('.')}; {_DAMAGED}") from None


def model_from_spec(spec, *, mode=None, path="<spec>"):
    """A freshly initialised :class:`tgraph.Model` from a JSON spec dict.

    Raises:
        ModelFileError: the spec lacks a field, or does not build a model; the message
            names the file and, for a bad layer, its index and type.
    """
    from tgraph.config import build_model

    config = config_from_spec(spec, path)
    try:
        return build_model(config, mode=mode)
    except ModelFileError:
        raise
    except TGraphError as err:
        raise ModelFileError(f"{path}: the spec does not build a model: "
                             f"{str(err).rstrip('.')}; {_DAMAGED}") from None
