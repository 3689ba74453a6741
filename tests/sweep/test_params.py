"""--param KEY=DIST: parsing, and the checks against the spec before any trial runs."""

import pytest

from tgraph import layers as L
from tgraph.callbacks import EarlyStopping
from tgraph.errors import ConfigError
from tgraph.experiment import Experiment
from tgraph.sweep.params import SweepParam, check_params, parse_param, tunable_keys


@pytest.fixture
def experiment():
    return Experiment(model=[L.Input((784,)), L.Dense(500, activation="tanh"),
                             L.Dense(10, activation="softmax")],
                      callbacks=[EarlyStopping(patience=5)], source="specs/mlp.py")


@pytest.mark.parametrize("text, expected", [
    ("model.1.units=int(10,500)", SweepParam("model.1.units", "int", 10, 500)),
    ("optimizer.learning_rate=float(0.001, 0.1)",
     SweepParam("optimizer.learning_rate", "float", 0.001, 0.1)),
    ("optimizer.learning_rate=loguniform(1e-4,1e-1)",
     SweepParam("optimizer.learning_rate", "float", 1e-4, 0.1, log=True)),
    ("model.1.activation=choice(tanh,relu,'sigmoid')",
     SweepParam("model.1.activation", "choice", choices=("tanh", "relu", "sigmoid"))),
    ("training.batch_size=choice(20, 50, 100)",
     SweepParam("training.batch_size", "choice", choices=(20, 50, 100))),
])
def test_distributions(text, expected):
    assert attrs_equal(parse_param(text), expected)


def attrs_equal(a, b):
    import attrs

    return attrs.evolve(a, text="") == attrs.evolve(b, text="")


def test_tuple_choices_keep_their_commas():
    assert parse_param("model.1.kernel_size=choice((3,3),(5,5))").choices == ((3, 3), (5, 5))


@pytest.mark.parametrize("text, message", [
    ("model.1.units", "expected KEY=DIST with DIST one of int(lo,hi), float(lo,hi), "
                      "loguniform(lo,hi) or choice(a,b,...)"),
    ("model.1.units=normal(0,1)", "unknown distribution 'normal'; use int(lo,hi), float(lo,hi), "
                                  "loguniform(lo,hi) or choice(a,b,...)"),
    ("model.1.units=int(10)", "int() takes two bounds, lo and hi, got 1 arguments"),
    ("model.1.units=int(10,5.5)", "the bounds of int() must be integers, got 10 and 5.5"),
    ("model.1.units=int(500,10)", "lo (=500) must be below hi (=10)"),
    ("optimizer.learning_rate=loguniform(0,1)", "loguniform() needs lo > 0, got 0"),
    ("model.1.activation=choice(tanh)", "choice() needs at least two values"),
])
def test_bad_distributions_are_refused(text, message):
    with pytest.raises(ConfigError) as err:
        parse_param(text)
    assert str(err.value).startswith(f"--param {text!r}: ")
    assert message in str(err.value)


def test_keys_are_the_set_keys(experiment):
    keys = tunable_keys(experiment)
    assert keys["model.1.units"] == 500 and keys["optimizer.learning_rate"] == 0.01
    assert keys["training.batch_size"] == 128 and keys["callbacks.0.patience"] == 5
    assert keys["seed"] == 1234 and "source" not in keys and "description" not in keys


def test_a_bad_key_lists_the_valid_ones(experiment):
    with pytest.raises(ConfigError) as err:
        check_params([parse_param("model.1.unit=int(10,500)")], experiment, "specs/mlp.py")
    message = str(err.value)
    assert message.startswith("--param 'model.1.unit=int(10,500)': specs/mlp.py has no setting "
                              "'model.1.unit'; valid keys: model.0.name, model.0.shape, ")
    assert "model.1.units, " in message and "optimizer.learning_rate, " in message


def test_a_bound_the_spec_refuses(experiment):
    with pytest.raises(ConfigError, match=r"the value 0 is refused: --set model.1.units: "
                                          r"Dense: `units` \(=0\) must be a positive integer"):
        check_params([parse_param("model.1.units=int(0,500)")], experiment)
    with pytest.raises(ConfigError, match="the value 10.0 is refused"):
        check_params([parse_param("model.1.units=float(10,500)")], experiment)
    with pytest.raises(ConfigError, match="given twice"):
        check_params([parse_param("seed=int(1,5)"), parse_param("seed=int(1,9)")], experiment)


def test_loguniform_of_an_int_setting_draws_integers(experiment):
    units, lr = check_params([parse_param("model.1.units=loguniform(10,500)"),
                              parse_param("optimizer.learning_rate=loguniform(0.001,0.1)")],
                             experiment)
    assert (units.kind, units.log) == ("int", True) and (lr.kind, lr.log) == ("float", True)


def test_overrides_read_back_exactly():
    from tgraph.specfile import parse_override

    param = parse_param("optimizer.learning_rate=loguniform(1e-4,1e-1)")
    for value in (0.0012345678901234567, 3e-05):
        assert parse_override(param.override(value)) == (["optimizer", "learning_rate"], value)
    choice = parse_param("model.1.activation=choice(tanh,relu)")
    assert parse_override(choice.override("relu"))[1] == "relu"
