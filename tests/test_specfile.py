"""Spec files, ``--set`` overrides and how the train options combine (no training here)."""

import textwrap

import pytest

from tgraph import optim
from tgraph.cli import build_parser
from tgraph.errors import ConfigError, SpecError
from tgraph.run import experiment_from_args
from tgraph.serialize import to_json
from tgraph.specfile import apply_overrides, load_spec, parse_override

HEADER = "from tgraph import layers as L\nfrom tgraph import optim\n"


def write_spec(tmp_path, body, name="spec.py"):
    path = tmp_path / name
    path.write_text(HEADER + textwrap.dedent(body))
    return path


def test_a_bad_field_names_the_file_and_line(tmp_path):
    path = write_spec(tmp_path, """\
        model = [L.Input(shape=(784,)),
                 L.Dropout(1.5),
                 L.Dense(10, activation="softmax")]
    """)
    with pytest.raises(SpecError) as err:
        load_spec(path)
    assert str(err.value) == (f"{path}, line 4: Dropout: `rate` (=1.5) must be in [0, 1): the "
                              "fraction of units dropped.")


def test_unknown_activation_names_the_file_and_line(tmp_path):
    path = write_spec(tmp_path, 'model = [L.Input((784,)), L.Dense(10, activation="softmx")]\n')
    with pytest.raises(ConfigError, match=rf"^{path}, line 3: Dense: `activation`: unknown "
                                          r"activation 'softmx'; expected one of: 'elu'"):
        load_spec(path)


def test_optimizer_by_name_becomes_an_object_and_takes_overrides(tmp_path):
    path = write_spec(tmp_path, 'model = [L.Input((784,)), L.Dense(10)]\noptimizer = "adam"\n')
    experiment = load_spec(path)
    assert to_json(experiment.optimizer) == to_json(optim.Adam())
    tuned = apply_overrides(experiment, ["optimizer.learning_rate=0.01", "optimizer.beta1=0.5"])
    assert (tuned.optimizer.learning_rate, tuned.optimizer.beta1) == (0.01, 0.5)


def test_unknown_optimizer_name_in_a_spec(tmp_path):
    path = write_spec(tmp_path, 'model = [L.Input((784,)), L.Dense(10)]\noptimizer = "adamw"\n')
    with pytest.raises(ConfigError, match=rf"^{path}: unknown optimizer 'adamw'; expected one of"):
        load_spec(path)


def test_missing_model_and_syntax_error(tmp_path):
    path = write_spec(tmp_path, "layers = []\n")
    with pytest.raises(SpecError, match=rf"^{path}: defines no `model`; a spec file needs a list"):
        load_spec(path)
    path = write_spec(tmp_path, "model = [L.Input((784,)\n", name="broken.py")
    with pytest.raises(SpecError, match=rf"^{path}, line 3: syntax error"):
        load_spec(path)


@pytest.mark.parametrize("override, message", [
    ("model.5.units=3", "--set model.5: index '5' out of range; there are 2 entries (0..1)"),
    ("training.epochs=3", "--set training.epochs: Training has no field 'epochs'; fields: "
                          "batch_size, max_epochs, shuffle, validation_frequency"),
    ("optimizer.learning_rate=-2", "--set optimizer.learning_rate: SGD: `learning_rate` (=-2) "
                                   "must be a number > 0."),
    ("training.batch_size", "--set 'training.batch_size': expected KEY=VALUE, e.g. "
                            "--set training.batch_size=50"),
])
def test_bad_overrides(tmp_path, override, message):
    experiment = load_spec(write_spec(tmp_path, "model = [L.Input((784,)), L.Dense(10)]\n"))
    with pytest.raises(ConfigError) as err:
        apply_overrides(experiment, [override])
    assert str(err.value) == message


def test_override_values_are_python_literals():
    assert parse_override("model.1.activation=tanh") == (["model", "1", "activation"], "tanh")
    assert parse_override("training.shuffle=False") == (["training", "shuffle"], False)
    assert parse_override("model.0.shape=(1, 28, 28)") == (["model", "0", "shape"], (1, 28, 28))


def cli_experiment(spec, *options):
    args = build_parser().parse_args(["train", str(spec), *options])
    return experiment_from_args(spec, args)


def test_optimizer_option_comes_before_set_and_lr_wins(tmp_path):
    spec = write_spec(tmp_path, "model = [L.Input((784,)), L.Dense(10)]\n")
    experiment = cli_experiment(spec, "--optimizer", "momentum", "--set", "optimizer.momentum=0.5",
                                "--set", "optimizer.learning_rate=0.2", "--lr", "0.05")
    assert to_json(experiment.optimizer) == to_json(optim.Momentum(learning_rate=0.05,
                                                                   momentum=0.5))


def test_epochs_batch_size_and_seed_options(tmp_path):
    spec = write_spec(tmp_path, "model = [L.Input((784,)), L.Dense(10)]\n")
    experiment = cli_experiment(spec, "--epochs", "7", "--batch-size", "33", "--seed", "5",
                                "--set", "training.shuffle=False")
    assert (experiment.training.max_epochs, experiment.training.batch_size) == (7, 33)
    assert experiment.seed == 5 and experiment.training.shuffle is False


def test_legacy_init_from_a_spec_and_from_set(tmp_path):
    spec = write_spec(tmp_path, "model = [L.Input((784,)), L.Dense(10)]\nlegacy_init = True\n")
    assert load_spec(spec).legacy_init is True
    plain = write_spec(tmp_path, "model = [L.Input((784,)), L.Dense(10)]\n", name="plain.py")
    assert cli_experiment(plain, "--set", "legacy_init=True").legacy_init is True
    with pytest.raises(ConfigError, match=r"^--set legacy_init: `legacy_init` \(='yes'\) must be "
                                          r"True or False$"):
        cli_experiment(plain, "--set", "legacy_init=yes")


def test_building_twice_shares_no_optimizer_state(tmp_path):
    spec = write_spec(tmp_path, "model = [L.Input((4,)), L.Dense(2, activation='softmax')]\n"
                                "optimizer = optim.Adam(learning_rate=0.1)\n")
    experiment = load_spec(spec)
    first, second = experiment.build_model(mode="FAST_COMPILE"), experiment.build_model()
    optim.set_learning_rate(first.optimizer, 0.001)  # e.g. ReduceLROnPlateau in a first run
    assert optim.learning_rate_of(second.optimizer) == pytest.approx(0.1)
    assert first.optimizer is not experiment.optimizer
    assert to_json(second.optimizer) == to_json(experiment.optimizer)  # same settings


def test_import_user_module_by_path_and_name(tmp_path, monkeypatch):
    from tgraph.specfile import import_user_module

    (tmp_path / "helpers_for_import.py").write_text("VALUE = 42\n")
    assert import_user_module(str(tmp_path / "helpers_for_import.py"))["VALUE"] == 42
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(__import__("sys").modules, "helpers_for_import", raising=False)
    assert import_user_module("helpers_for_import")["VALUE"] == 42


@pytest.mark.parametrize("target, message", [
    ("no_such_module_here", "--import no_such_module_here: cannot import the module (No module "
                            "named 'no_such_module_here'); give a module name importable from "
                            "here or the path of a .py file"),
    ("missing.py", "MISSING: no such Python file (--import)"),
])
def test_import_user_module_errors(target, message, tmp_path, monkeypatch):
    from tgraph.specfile import import_user_module

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SpecError) as err:
        import_user_module(target)
    assert str(err.value) == message.replace("MISSING", str(tmp_path / "missing.py"))


def test_a_spec_imports_modules_beside_it(tmp_path):
    (tmp_path / "my_sizes.py").write_text("UNITS = 7\n")
    path = write_spec(tmp_path, "from my_sizes import UNITS\n"
                                "model = [L.Input((784,)), L.Dense(UNITS)]\n")
    assert load_spec(path).model[1].units == 7
    assert str(tmp_path) not in __import__("sys").path  # only while the spec runs
