"""Update rules as small functions over (params, grads) -> {param: new value}.

Lasagne's style (``lasagne/updates.py``): a rule returns an ordered dict of updates;
momentum is a transformation of another rule's updates, so
``apply_momentum(sgd(...), ...)`` is classical momentum. State tensors are created by
the ``slot`` callable that the optimizer classes pass in (zero-initialised shared
variables shaped like the parameter).
"""

from collections import OrderedDict

import pytensor.tensor as pt

__all__ = [
    "sgd",
    "apply_momentum",
    "apply_nesterov_momentum",
    "rmsprop",
    "adagrad",
    "adadelta",
    "adam",
    "adamax",
]


def _c(value, like):
    return pt.cast(value, like.dtype)


def _bias_correction(beta, t):
    """``1 - beta ** t``, a float64 scalar (the caller casts it to the parameters' dtype).

    In float32 it is ~1e-5 off relatively: ``beta`` itself rounds (0.999 becomes
    0.99900001), and ``1 - beta`` keeps only the rounding's first digits. The step count
    ``t`` (a float32 shared scalar) counts exactly up to 2**24 steps, long after
    ``beta ** t`` has reached 0 for any ``beta`` below 1 - 1e-6.
    """
    return 1 - pt.constant(float(beta), dtype="float64") ** pt.cast(t, "float64")


def sgd(params, grads, lr):
    """``p <- p - lr * g``."""
    return OrderedDict((p, p - _c(lr, p) * g) for p, g in zip(params, grads))


def apply_momentum(updates, params, momentum, slot):
    """Classical momentum on top of ``updates`` (Polyak 1964; Lasagne).

    ``v <- momentum * v + (update(p) - p)``; ``p <- p + v``.
    """
    updates = OrderedDict(updates)
    for p in params:
        v = slot(p, "velocity")
        step = _c(momentum, p) * v + updates[p] - p
        updates[v] = step
        updates[p] = p + step
    return updates


def apply_nesterov_momentum(updates, params, momentum, slot):
    """Nesterov momentum on top of ``updates`` (Sutskever et al. 2013; Lasagne's form).

    ``v <- momentum * v + (update(p) - p)``; ``p <- update(p) + momentum * v``.
    """
    updates = OrderedDict(updates)
    for p in params:
        v = slot(p, "velocity")
        step = _c(momentum, p) * v + updates[p] - p
        updates[v] = step
        updates[p] = _c(momentum, p) * step + updates[p]
    return updates


def rmsprop(params, grads, lr, rho, epsilon, slot):
    """RMSprop (Tieleman & Hinton 2012), as in the deeplearning.net dropout tutorial.

    ``a <- rho * a + (1 - rho) * g**2``; ``p <- p - lr * g / sqrt(a + epsilon)``.
    """
    updates = OrderedDict()
    for p, g in zip(params, grads):
        acc = slot(p, "accumulator")
        acc_new = _c(rho, p) * acc + _c(1 - rho, p) * pt.sqr(g)
        updates[acc] = acc_new
        updates[p] = p - _c(lr, p) * g / pt.sqrt(acc_new + _c(epsilon, p))
    return updates


def adagrad(params, grads, lr, epsilon, slot):
    """Adagrad (Duchi et al. 2011): ``a <- a + g**2``; ``p <- p - lr * g / sqrt(a + epsilon)``."""
    updates = OrderedDict()
    for p, g in zip(params, grads):
        acc = slot(p, "accumulator")
        acc_new = acc + pt.sqr(g)
        updates[acc] = acc_new
        updates[p] = p - _c(lr, p) * g / pt.sqrt(acc_new + _c(epsilon, p))
    return updates


def adadelta(params, grads, lr, rho, epsilon, slot):
    """Adadelta (Zeiler 2012).

    ``a <- rho a + (1 - rho) g**2``; ``u = g sqrt(d + eps) / sqrt(a + eps)``;
    ``p <- p - lr u``; ``d <- rho d + (1 - rho) u**2``.
    """
    updates = OrderedDict()
    for p, g in zip(params, grads):
        acc, delta_acc = slot(p, "accumulator"), slot(p, "delta_accumulator")
        eps = _c(epsilon, p)
        acc_new = _c(rho, p) * acc + _c(1 - rho, p) * pt.sqr(g)
        step = g * pt.sqrt(delta_acc + eps) / pt.sqrt(acc_new + eps)
        updates[acc] = acc_new
        updates[p] = p - _c(lr, p) * step
        updates[delta_acc] = _c(rho, p) * delta_acc + _c(1 - rho, p) * pt.sqr(step)
    return updates


def adam(params, grads, lr, beta1, beta2, epsilon, slot, t):
    """Adam (Kingma & Ba 2015, Algorithm 1).

    ``t <- t + 1``; ``m <- b1 m + (1 - b1) g``; ``v <- b2 v + (1 - b2) g**2``;
    ``p <- p - lr * (m / (1 - b1**t)) / (sqrt(v / (1 - b2**t)) + epsilon)``.
    """
    t_new = t + 1
    correction1, correction2 = _bias_correction(beta1, t_new), _bias_correction(beta2, t_new)
    updates = OrderedDict([(t, t_new)])
    for p, g in zip(params, grads):
        m, v = slot(p, "m"), slot(p, "v")
        m_new = _c(beta1, p) * m + _c(1 - beta1, p) * g
        v_new = _c(beta2, p) * v + _c(1 - beta2, p) * pt.sqr(g)
        updates[m], updates[v] = m_new, v_new
        m_hat = m_new / _c(correction1, p)
        v_hat = v_new / _c(correction2, p)
        updates[p] = p - _c(lr, p) * m_hat / (pt.sqrt(v_hat) + _c(epsilon, p))
    return updates


def adamax(params, grads, lr, beta1, beta2, epsilon, slot, t):
    """Adamax (Kingma & Ba 2015, section 7).

    ``m <- b1 m + (1 - b1) g``; ``u <- max(b2 u, |g|)``;
    ``p <- p - lr / (1 - b1**t) * m / (u + epsilon)``.
    """
    t_new = t + 1
    step_size = lr / _bias_correction(beta1, t_new)
    updates = OrderedDict([(t, t_new)])
    for p, g in zip(params, grads):
        m, u = slot(p, "m"), slot(p, "u")
        m_new = _c(beta1, p) * m + _c(1 - beta1, p) * g
        u_new = pt.maximum(_c(beta2, p) * u, pt.abs(g))
        updates[m], updates[u] = m_new, u_new
        updates[p] = p - _c(step_size, p) * m_new / (u_new + _c(epsilon, p))
    return updates
