"""Model configuration: one list of the model's arguments, built by one function, saved in
model files; ``dtype`` settable from a spec file and ``--set``; training settings checked once."""

import attrs
import numpy as np
import pytest

import tgraph
from tgraph import layers as L
from tgraph import optim
from tgraph.config import ModelConfig, Training, build_model, config_of
from tgraph.errors import ConfigError, TGraphError
from tgraph.modelfile import config_from_spec, load_model, model_spec, save_model
from tgraph.optim.regularizers import Regularization
from tgraph.serialize import to_json
from tgraph.specfile import apply_overrides, load_spec

LAYERS = (L.Input((784,)), L.Dense(16, activation="tanh"), L.Dense(10, activation="softmax"))


def config(**changes):
    return attrs.evolve(ModelConfig(LAYERS, optimizer=optim.Momentum(learning_rate=0.05),
                                    regularization=Regularization(l2=1e-4), seed=5), **changes)


def test_build_model_passes_every_field_to_model():
    model = build_model(config(dtype="float64", legacy_init=True), mode="FAST_COMPILE")
    same = tgraph.Model(list(LAYERS), loss="nll", optimizer=optim.Momentum(learning_rate=0.05),
                        regularization=Regularization(l2=1e-4), seed=5, dtype="float64",
                        legacy_init=True, mode="FAST_COMPILE")
    assert model.dtype == "float64" and model.network.legacy_init
    for name, value in same.get_weights().items():
        np.testing.assert_array_equal(model.get_weights()[name], value, err_msg=name)
    assert to_json(config_of(model)) == to_json(config(dtype="float64", legacy_init=True))


def test_building_twice_shares_no_optimizer_state():
    cfg = config()
    first, second = build_model(cfg), build_model(cfg)
    assert first.optimizer is not second.optimizer is not cfg.optimizer
    assert to_json(first.optimizer) == to_json(cfg.optimizer)


def test_model_files_store_the_model_config(tmp_path):
    model = build_model(config(dtype="float64"), mode="FAST_COMPILE")
    assert list(model_spec(model)) == [f.name for f in attrs.fields(ModelConfig)]
    save_model(model, tmp_path / "m.tgraph")
    loaded = load_model(tmp_path / "m.tgraph", mode="FAST_COMPILE")
    assert to_json(config_of(loaded)) == to_json(config_of(model)) and loaded.dtype == "float64"
    assert to_json(config_from_spec(model_spec(model))) == to_json(config(dtype="float64"))


def test_dtype_from_a_spec_file_and_from_set(tmp_path):
    path = tmp_path / "spec.py"
    path.write_text("from tgraph import layers as L\n"
                    "model = [L.Input((784,)), L.Dense(10, activation='softmax')]\n"
                    "dtype = 'float64'\n")
    experiment = load_spec(path)
    assert experiment.dtype == "float64" and experiment.model_config.dtype == "float64"
    assert experiment.build_model(mode="FAST_COMPILE").dtype == "float64"
    assert apply_overrides(experiment, ["dtype=float32"]).build_model().dtype == "float32"
    with pytest.raises(ConfigError) as err:
        apply_overrides(experiment, ["dtype=float16"])
    assert str(err.value) == "--set dtype: `dtype` (='float16') must be one of 'float32', 'float64'"


def test_spec_files_without_dtype_stay_float32(tmp_path):
    path = tmp_path / "spec.py"
    path.write_text("from tgraph import layers as L\nmodel = [L.Input((784,)), L.Dense(10)]\n")
    experiment = load_spec(path)
    assert experiment.dtype == "float32"
    assert to_json(experiment.model_config) == to_json(ModelConfig(experiment.model))


def test_a_float64_run_from_the_command_line(tmp_path, small_npz):
    from tgraph.cli import main

    spec = tmp_path / "tiny.py"
    spec.write_text("from tgraph import layers as L\n"
                    "model = [L.Input((784,)), L.Dense(10, activation='softmax')]\n")
    out = tmp_path / "run"
    assert main(["train", str(spec), "--data", str(small_npz), "--epochs", "1", "--set",
                 "dtype=float64", "--out", str(out), "--quiet", "--mode", "FAST_COMPILE"]) == 0
    model = load_model(out / "model.tgraph", mode="FAST_COMPILE")
    assert model.dtype == "float64"
    assert all(w.dtype == np.float64 for w in model.get_weights().values())


@pytest.mark.parametrize("kwargs, message", [
    ({"batch_size": 0}, "Training: `batch_size` (=0) must be a positive integer."),
    ({"max_epochs": True}, "Training: `max_epochs` (=True) must be a positive integer."),
    ({"validation_frequency": -2}, "Training: `validation_frequency` (=-2) must be a positive "
                                   "integer."),
])
def test_training_settings_are_checked_in_one_place(kwargs, message):
    from tgraph.trainer import Trainer

    for make in (lambda: Training(**kwargs), lambda: Trainer(object(), **kwargs)):
        with pytest.raises(TGraphError) as err:
            make()
        assert str(err.value) == message


def test_bad_model_config_fields():
    with pytest.raises(ConfigError, match=r"^`legacy_init` \(=1\) must be True or False$"):
        config(legacy_init=1)
    with pytest.raises(ConfigError, match="unknown optimizer 'adamm'"):
        config(optimizer="adamm")
