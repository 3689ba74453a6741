"""Each optimizer's first steps against a plain-numpy implementation of its published rule."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from tgraph import optim
from tgraph.errors import ConfigError

STEPS = 3
SHAPES = [(3, 4), (4,)]


def _grads(step):
    rng = np.random.default_rng(100 + step)
    return [rng.normal(size=s).astype(np.float32) for s in SHAPES]


def _initial():
    rng = np.random.default_rng(7)
    return [rng.normal(size=s).astype(np.float32) for s in SHAPES]


def run_tgraph(optimizer):
    """Apply ``optimizer`` for STEPS steps with fixed gradients; return params after each."""
    params = [pytensor.shared(v.copy(), name=f"p{i}") for i, v in enumerate(_initial())]
    grads = [pt.tensor(f"g{i}", dtype="float32", shape=s) for i, s in enumerate(SHAPES)]
    with pytensor.config.change_flags(floatX="float32"):
        updates = optimizer.updates(params, grads)
        step = pytensor.function(grads, [], updates=updates, mode="FAST_COMPILE")
    history = []
    for k in range(STEPS):
        step(*_grads(k))
        history.append([p.get_value() for p in params])
    return history, updates


# --- plain numpy references ---------------------------------------------------------------


def ref_sgd(lr):
    def rule(p, g, s, t):
        return p - lr * g
    return rule


def ref_momentum(lr, mu, nesterov=False):
    def rule(p, g, s, t):
        s["v"] = mu * s.get("v", 0) - lr * g
        return p + (mu * s["v"] - lr * g if nesterov else s["v"])
    return rule


def ref_rmsprop(lr, rho, eps):
    def rule(p, g, s, t):
        s["a"] = rho * s.get("a", 0) + (1 - rho) * g ** 2
        return p - lr * g / np.sqrt(s["a"] + eps)
    return rule


def ref_adagrad(lr, eps):
    def rule(p, g, s, t):
        s["a"] = s.get("a", 0) + g ** 2
        return p - lr * g / np.sqrt(s["a"] + eps)
    return rule


def ref_adadelta(lr, rho, eps):
    def rule(p, g, s, t):
        s["a"] = rho * s.get("a", 0) + (1 - rho) * g ** 2
        u = g * np.sqrt(s.get("d", 0) + eps) / np.sqrt(s["a"] + eps)
        s["d"] = rho * s.get("d", 0) + (1 - rho) * u ** 2
        return p - lr * u
    return rule


def ref_adam(lr, b1, b2, eps):
    def rule(p, g, s, t):
        s["m"] = b1 * s.get("m", 0) + (1 - b1) * g
        s["v"] = b2 * s.get("v", 0) + (1 - b2) * g ** 2
        m_hat, v_hat = s["m"] / (1 - b1 ** t), s["v"] / (1 - b2 ** t)
        return p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return rule


def ref_adamax(lr, b1, b2, eps):
    def rule(p, g, s, t):
        s["m"] = b1 * s.get("m", 0) + (1 - b1) * g
        s["u"] = np.maximum(b2 * s.get("u", 0), np.abs(g))
        return p - lr / (1 - b1 ** t) * s["m"] / (s["u"] + eps)  # eps as in Lasagne/Keras
    return rule


def run_numpy(rule):
    params = [v.astype(np.float64) for v in _initial()]
    states = [{} for _ in params]
    history = []
    for k in range(STEPS):
        params = [rule(p, g.astype(np.float64), s, k + 1)
                  for p, g, s in zip(params, _grads(k), states)]
        history.append(params)
    return history


CASES = [
    (optim.SGD(learning_rate=0.1), ref_sgd(0.1)),
    (optim.Momentum(learning_rate=0.1, momentum=0.9), ref_momentum(0.1, 0.9)),
    (optim.Nesterov(learning_rate=0.1, momentum=0.8), ref_momentum(0.1, 0.8, nesterov=True)),
    (optim.RMSprop(), ref_rmsprop(0.001, 0.9, 1e-6)),
    (optim.RMSprop(learning_rate=0.01, rho=0.5, epsilon=1e-3), ref_rmsprop(0.01, 0.5, 1e-3)),
    (optim.Adagrad(learning_rate=0.5), ref_adagrad(0.5, 1e-6)),
    (optim.Adadelta(), ref_adadelta(1.0, 0.95, 1e-6)),
    (optim.Adam(learning_rate=0.01), ref_adam(0.01, 0.9, 0.999, 1e-8)),
    (optim.Adam(learning_rate=0.1, beta1=0.5, beta2=0.9, epsilon=1e-3),
     ref_adam(0.1, 0.5, 0.9, 1e-3)),
    (optim.Adamax(), ref_adamax(0.002, 0.9, 0.999, 1e-8)),
]


@pytest.mark.parametrize("optimizer, reference", CASES, ids=lambda c: repr(c)[:40])
def test_first_steps_match_numpy(optimizer, reference):
    got, _ = run_tgraph(optimizer)
    want = run_numpy(reference)
    for step, (g_params, w_params) in enumerate(zip(got, want)):
        for g, w in zip(g_params, w_params):
            np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-7,
                                       err_msg=f"step {step + 1} of {type(optimizer).__name__}")
            assert g.dtype == np.float32


def test_state_lives_in_named_shared_variables():
    opt = optim.Adam()
    _, updates = run_tgraph(opt)
    names = sorted(v.name for v, _ in updates)
    assert names == ["optimizer/t", "p0", "p0/m", "p0/v", "p1", "p1/m", "p1/v"]
    assert optim.learning_rate_of(opt) == pytest.approx(0.001)


def test_learning_rate_is_shared_and_changes_without_recompiling():
    opt = optim.SGD(learning_rate=0.1)
    p = pytensor.shared(np.float32(1.0), name="p")
    g = pt.scalar("g", dtype="float32")
    step = pytensor.function([g], [], updates=opt.updates([p], [g]), mode="FAST_COMPILE")
    step(np.float32(1.0))
    optim.set_learning_rate(opt, 0.5)
    step(np.float32(1.0))
    assert p.get_value() == pytest.approx(1.0 - 0.1 - 0.5)


def test_total_norm_constraint_rescales_jointly():
    g1, g2 = pt.vector("a"), pt.vector("b")
    f = pytensor.function([g1, g2], optim.total_norm_constraint([g1, g2], 1.0),
                          mode="FAST_COMPILE")
    a, b = np.array([3.0, 0.0]), np.array([0.0, 4.0])
    ca, cb = f(a, b)
    np.testing.assert_allclose(np.sqrt((ca ** 2).sum() + (cb ** 2).sum()), 1.0, rtol=1e-6)
    np.testing.assert_allclose(ca / cb.sum(), a / b.sum(), rtol=1e-6)
    small = f(a / 10, b / 10)
    np.testing.assert_allclose(small[0], a / 10, rtol=1e-6)


def test_norm_constraint_limits_each_unit():
    w = pt.matrix("w")
    f = pytensor.function([w], optim.norm_constraint(w, 2.0), mode="FAST_COMPILE")
    value = np.array([[3.0, 0.1], [4.0, 0.1]])  # column norms 5 and 0.14
    out = f(value)
    np.testing.assert_allclose(np.linalg.norm(out, axis=0), [2.0, np.linalg.norm(value[:, 1])],
                               rtol=1e-6)


def test_registry_lookup_and_unknown_name():
    assert isinstance(optim.get_optimizer("rmsprop"), optim.RMSprop)
    assert optim.get_optimizer("Adam", learning_rate=0.5).learning_rate == 0.5
    with pytest.raises(ConfigError, match=r"unknown optimizer 'adamm'; expected one of: .*'adam'"):
        optim.get_optimizer("adamm")


def test_user_optimizer_is_pluggable_and_registrable():
    @optim.register_optimizer("signsgd_test")
    class SignSGD(optim.Optimizer):
        def updates(self, params, grads):
            return [(p, p - self.lr * pt.sign(g)) for p, g in zip(params, grads)]

    opt = optim.get_optimizer("signsgd_test", learning_rate=0.25)
    history, _ = run_tgraph(opt)
    want = _initial()[0] - 0.25 * np.sign(_grads(0)[0])
    np.testing.assert_allclose(history[0][0], want, rtol=1e-6)


def test_duck_typed_optimizer_accepted_and_bad_object_rejected():
    class Halve:
        def updates(self, params, grads):
            return [(p, p * 0.5) for p in params]

    assert isinstance(optim.get_optimizer(Halve()), Halve)
    with pytest.raises(ConfigError, match="has no `updates\\(params, grads\\)` method"):
        optim.get_optimizer(object())


@pytest.mark.parametrize("kwargs, message", [
    ({"learning_rate": -1.0}, r"RMSprop: `learning_rate` \(=-1.0\) must be a number > 0."),
    ({"rho": 1.0}, r"RMSprop: `rho` \(=1.0\) must be in \[0, 1\)."),
    ({"clip_norm": 0}, r"RMSprop: `clip_norm` \(=0\) must be None or a number > 0."),
])
def test_bad_hyperparameters_raise_clear_errors(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        optim.RMSprop(**kwargs)
