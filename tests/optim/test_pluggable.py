"""Pluggable optimizers: defined in a spec file, registered by name, shipped as entry points."""

import importlib.metadata
import json
import textwrap
import warnings

import numpy as np
import pytest
from support.paths import SPECS
from support.plugin_optimizer import SignSGD

import tgraph.registry
from tgraph import optim
from tgraph.cli import main
from tgraph.modelfile import read_model_file
from tgraph.optim.base import OPTIMIZERS

LOGREG = SPECS / "logreg.py"
SPEC = textwrap.dedent('''
    """Logistic regression trained by an optimizer defined right here."""
    import attrs
    import pytensor.tensor as pt

    from tgraph import layers as L
    from tgraph import optim
    from tgraph.experiment import Training


    @attrs.define(eq=False)
    class HalfSignSGD(optim.Optimizer):
        """p <- p - lr * sign(g) / 2."""

        def updates(self, params, grads):
            return [(p, p - pt.cast(self.lr / 2, p.dtype) * pt.sign(g))
                    for p, g in zip(params, grads)]


    model = [L.Input(shape=(784,)), L.Dense(10, activation="softmax", init="zeros")]
    optimizer = HalfSignSGD(learning_rate=0.002)
    training = Training(batch_size=160, max_epochs=1, shuffle=False)
''')


@pytest.fixture
def registry(monkeypatch):
    """The optimizer registry, restored after the test (and its entry points unread)."""
    monkeypatch.setattr(OPTIMIZERS, "_entries", dict(OPTIMIZERS._entries))
    monkeypatch.setattr(OPTIMIZERS, "_entry_points_loaded", False)
    return OPTIMIZERS


def steps_of(weights, step):
    """Every weight as a multiple of ``step`` (sign updates from zero move by exactly step)."""
    ratio = weights / step
    return np.allclose(ratio, np.round(ratio), atol=1e-3) and np.abs(ratio).max() >= 1


def train(tmp_path, small_npz, spec, *options):
    out = tmp_path / "run"
    code = main(["train", str(spec), "--data", str(small_npz), "--out", str(out), "--quiet",
                 "--mode", "FAST_COMPILE", *options])
    assert code == 0
    return out


def test_optimizer_defined_in_a_spec_file_trains(tmp_path, small_npz, registry):
    spec = tmp_path / "signs.py"
    spec.write_text(SPEC)
    out = train(tmp_path, small_npz, spec)
    saved = read_model_file(out / "model.tgraph")
    assert saved.spec["optimizer"] == {"type": "HalfSignSGD", "learning_rate": 0.002,
                                       "clip_norm": None}
    assert steps_of(saved.weights["1_dense/W"], 0.001)
    # 5 steps of exactly +-0.001 (lr / 2) on biases whose gradient is never 0: odd multiples
    odd = np.round(saved.weights["1_dense/b"] / 0.001)
    np.testing.assert_allclose(saved.weights["1_dense/b"], odd * 0.001, atol=1e-6)
    assert np.all(odd % 2 == 1)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["iterations"] == 800 // 160 and metrics["test_error"] < 0.5


def test_registered_optimizer_by_name_on_the_command_line(tmp_path, small_npz, registry):
    optim.register_optimizer("signsgd")(SignSGD)
    out = train(tmp_path, small_npz, LOGREG, "--optimizer", "signsgd", "--lr", "0.003",
                "--epochs", "1", "--batch-size", "100")
    saved = read_model_file(out / "model.tgraph")
    assert saved.spec["optimizer"]["type"] == "SignSGD"
    assert saved.spec["optimizer"]["learning_rate"] == 0.003
    assert steps_of(saved.weights["1_dense/W"], 0.003)


class FakeEntryPoints:
    """Stands in for ``importlib.metadata.entry_points`` and records the groups asked for."""

    def __init__(self, *entries):
        self.entries, self.groups = entries, []

    def __call__(self, *, group):
        self.groups.append(group)
        return [e for e in self.entries if e.group == group]


def entry_point(name, value, group="tgraph.optimizers"):
    return importlib.metadata.EntryPoint(name=name, value=value, group=group)


def test_entry_point_optimizer_is_found_by_name(registry, monkeypatch):
    fake = FakeEntryPoints(entry_point("signsgd_plugin", "support.plugin_optimizer:SignSGD"),
                           entry_point("other", "support.plugin_optimizer:SignSGD",
                                       group="someone.else"))
    monkeypatch.setattr(tgraph.registry, "entry_points", fake)
    assert optim.get_optimizer("sgd") is not None and fake.groups == []  # loaded lazily
    opt = optim.get_optimizer("SignSGD_Plugin", learning_rate=0.5)
    assert isinstance(opt, SignSGD) and opt.learning_rate == 0.5
    assert fake.groups == ["tgraph.optimizers"]
    assert "signsgd_plugin" in OPTIMIZERS.names() and "other" not in OPTIMIZERS.names()


def test_entry_point_cannot_replace_a_builtin(registry, monkeypatch):
    fake = FakeEntryPoints(entry_point("adam", "support.plugin_optimizer:SignSGD"))
    monkeypatch.setattr(tgraph.registry, "entry_points", fake)
    assert "adam" in OPTIMIZERS.names()
    assert isinstance(optim.get_optimizer("adam"), optim.Adam)


def test_broken_entry_point_warns_and_the_others_still_work(registry, monkeypatch):
    fake = FakeEntryPoints(entry_point("broken", "support.no_such_module:Optimizer"),
                           entry_point("signsgd_plugin", "support.plugin_optimizer:SignSGD"))
    monkeypatch.setattr(tgraph.registry, "entry_points", fake)
    with pytest.warns(UserWarning) as record:
        assert isinstance(optim.get_optimizer("signsgd_plugin"), SignSGD)
    assert str(record[0].message) == (
        "optimizer 'broken' of the 'tgraph.optimizers' entry points "
        "(support.no_such_module:Optimizer) failed to load and is skipped: "
        "ModuleNotFoundError: No module named 'support.no_such_module'; fix or uninstall the "
        "package that provides it")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # loaded once: no second warning
        with pytest.raises(tgraph.ConfigError, match=r"^unknown optimizer 'broken'; expected "):
            optim.get_optimizer("broken")
