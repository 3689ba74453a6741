"""Optimizers on a real objective against the papers' own formulations.

``test_optimizers.py`` feeds fixed gradients; here the gradient depends on the parameters,
which tells apart rules that only agree for fixed gradients (Nesterov's look-ahead).
"""

import numpy as np
import pytensor
import pytest

from tgraph import optim

A = np.array([3.0, 0.5, 1.5, 0.2])  # the diagonal of a quadratic's Hessian
THETA0 = np.array([1.0, -2.0, 0.5, 3.0])
STEPS = 3


def quadratic_grad(theta):
    """Gradient of f(theta) = 0.5 * sum(A * theta**2)."""
    return A * theta


def run_tgraph(optimizer):
    p = pytensor.shared(THETA0.copy(), name="p")
    loss = 0.5 * (A * p ** 2).sum()
    step = pytensor.function([], loss, updates=optimizer.updates([p], [pytensor.grad(loss, p)]),
                             mode="FAST_COMPILE")
    history = []
    for _ in range(STEPS):
        step()
        history.append(p.get_value())
    return history


def test_nesterov_is_sutskever_2013_with_the_look_ahead_gradient():
    """Sutskever et al. (2013), eq. 3-4: v <- mu v - lr grad(theta + mu v); theta <- theta + v.

    tgraph (like Lasagne) keeps phi = theta + mu v as the parameter, so after every step
    it must hold the look-ahead point theta + mu v of the original formulation.
    """
    lr, mu = 0.1, 0.9
    theta, v, want = THETA0.copy(), np.zeros(4), []
    for _ in range(STEPS):
        v = mu * v - lr * quadratic_grad(theta + mu * v)
        theta = theta + v
        want.append(theta + mu * v)
    got = run_tgraph(optim.Nesterov(learning_rate=lr, momentum=mu))
    np.testing.assert_allclose(got, want, rtol=1e-6)  # lr is a float32 shared scalar


def test_classical_momentum_is_polyak():
    lr, mu = 0.1, 0.9
    theta, v, want = THETA0.copy(), np.zeros(4), []
    for _ in range(STEPS):
        v = mu * v - lr * quadratic_grad(theta)
        theta = theta + v
        want.append(theta)
    np.testing.assert_allclose(run_tgraph(optim.Momentum(learning_rate=lr, momentum=mu)), want,
                               rtol=1e-6)


def test_adam_first_step_is_lr_times_sign_of_the_gradient():
    """Kingma & Ba (2015), section 2.1: with bias correction the first step is ~ lr."""
    got = run_tgraph(optim.Adam(learning_rate=0.01))[0]
    np.testing.assert_allclose(THETA0 - got, 0.01 * np.sign(THETA0), rtol=1e-6)


def test_adadelta_first_step_per_zeiler_2012():
    """Algorithm 1 of Zeiler (2012) at t = 1, with E[dx^2] = 0:
    dx = -sqrt(eps) / sqrt((1 - rho) g^2 + eps) * g."""
    rho, eps = 0.95, 1e-6
    g = quadratic_grad(THETA0)
    want = THETA0 - np.sqrt(eps) / np.sqrt((1 - rho) * g ** 2 + eps) * g
    np.testing.assert_allclose(run_tgraph(optim.Adadelta(rho=rho, epsilon=eps))[0], want,
                               rtol=1e-12)


@pytest.mark.parametrize("name, defaults", [
    ("rmsprop", {"learning_rate": 0.001, "rho": 0.9, "epsilon": 1e-6}),  # the dropout tutorial
    ("adadelta", {"learning_rate": 1.0, "rho": 0.95, "epsilon": 1e-6}),  # Zeiler 2012
    ("adam", {"learning_rate": 0.001, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}),
    ("adamax", {"learning_rate": 0.002, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}),
])
def test_published_default_hyperparameters(name, defaults):
    opt = optim.get_optimizer(name)
    assert {k: getattr(opt, k) for k in defaults} == defaults
