"""The built-in optimizers: configuration classes over :mod:`tgraph.optim.updates`."""

import attrs

from tgraph.optim import updates as rules
from tgraph.optim.base import Optimizer, register_optimizer
from tgraph.validate import positive_float, unit_interval

__all__ = ["SGD", "Momentum", "Nesterov", "RMSprop", "Adagrad", "Adadelta", "Adam", "Adamax"]


@register_optimizer("sgd")
@attrs.define(eq=False)
class SGD(Optimizer):
    """Plain stochastic gradient descent: ``p <- p - lr * g``."""

    def updates(self, params, grads):
        return list(rules.sgd(params, grads, self.lr).items())


@register_optimizer("momentum")
@attrs.define(eq=False)
class Momentum(Optimizer):
    """SGD with classical momentum (``momentum`` in [0, 1), default 0.9)."""

    momentum: float = attrs.field(default=0.9, validator=unit_interval)

    def updates(self, params, grads):
        base = rules.sgd(params, grads, self.lr)
        return list(rules.apply_momentum(base, params, self.momentum, self.slot).items())


@register_optimizer("nesterov")
@attrs.define(eq=False)
class Nesterov(Optimizer):
    """SGD with Nesterov momentum (``momentum`` in [0, 1), default 0.9)."""

    momentum: float = attrs.field(default=0.9, validator=unit_interval)

    def updates(self, params, grads):
        base = rules.sgd(params, grads, self.lr)
        return list(rules.apply_nesterov_momentum(base, params, self.momentum, self.slot).items())


@register_optimizer("rmsprop")
@attrs.define(eq=False)
class RMSprop(Optimizer):
    """RMSprop with the dropout tutorial's defaults: lr 0.001, rho 0.9, epsilon 1e-6."""

    learning_rate: float = attrs.field(default=0.001, validator=positive_float)
    rho: float = attrs.field(default=0.9, validator=unit_interval)
    epsilon: float = attrs.field(default=1e-6, validator=positive_float)

    def updates(self, params, grads):
        return list(rules.rmsprop(params, grads, self.lr, self.rho, self.epsilon,
                                  self.slot).items())


@register_optimizer("adagrad")
@attrs.define(eq=False)
class Adagrad(Optimizer):
    """Adagrad (lr 0.01, epsilon 1e-6)."""

    epsilon: float = attrs.field(default=1e-6, validator=positive_float)

    def updates(self, params, grads):
        return list(rules.adagrad(params, grads, self.lr, self.epsilon, self.slot).items())


@register_optimizer("adadelta")
@attrs.define(eq=False)
class Adadelta(Optimizer):
    """Adadelta (lr 1.0, rho 0.95, epsilon 1e-6, as in Zeiler 2012)."""

    learning_rate: float = attrs.field(default=1.0, validator=positive_float)
    rho: float = attrs.field(default=0.95, validator=unit_interval)
    epsilon: float = attrs.field(default=1e-6, validator=positive_float)

    def updates(self, params, grads):
        return list(rules.adadelta(params, grads, self.lr, self.rho, self.epsilon,
                                   self.slot).items())


@register_optimizer("adam")
@attrs.define(eq=False)
class Adam(Optimizer):
    """Adam (lr 0.001, beta1 0.9, beta2 0.999, epsilon 1e-8)."""

    learning_rate: float = attrs.field(default=0.001, validator=positive_float)
    beta1: float = attrs.field(default=0.9, validator=unit_interval)
    beta2: float = attrs.field(default=0.999, validator=unit_interval)
    epsilon: float = attrs.field(default=1e-8, validator=positive_float)

    def updates(self, params, grads):
        return list(rules.adam(params, grads, self.lr, self.beta1, self.beta2, self.epsilon,
                               self.slot, self.scalar_state("t")).items())


@register_optimizer("adamax")
@attrs.define(eq=False)
class Adamax(Optimizer):
    """Adamax (lr 0.002, beta1 0.9, beta2 0.999, epsilon 1e-8)."""

    learning_rate: float = attrs.field(default=0.002, validator=positive_float)
    beta1: float = attrs.field(default=0.9, validator=unit_interval)
    beta2: float = attrs.field(default=0.999, validator=unit_interval)
    epsilon: float = attrs.field(default=1e-8, validator=positive_float)

    def updates(self, params, grads):
        return list(rules.adamax(params, grads, self.lr, self.beta1, self.beta2, self.epsilon,
                                 self.slot, self.scalar_state("t")).items())

