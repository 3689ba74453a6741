"""The PyTorch twin of a tgraph experiment: same layers, weights, loss and optimizer.

Used by ``benchmarks/run.py`` to time PyTorch's CPU training steps, eager and under
``torch.compile``, on exactly the network a spec file describes, starting from tgraph's
initial weights. Only what the tutorial specs use is translated; anything else raises
``NotImplementedError``.
"""

import time

import numpy as np
import torch
from torch import nn

from peers.common import l2_coefficients, layer_weights, learning_rate, minibatches
from tgraph import layers as L
from tgraph import optim

__all__ = ["build_torch", "torch_step", "TorchPeer", "TgraphRMSprop"]

_ACTIVATIONS = {"linear": None, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "relu": nn.ReLU,
                "softmax": None, "elu": nn.ELU, "softplus": nn.Softplus}


def _modules(layer, shape, dropout):
    """Torch modules for one tgraph layer spec whose input has ``shape``; the first one
    holds the layer's parameters (if it has any)."""
    if isinstance(layer, L.Input):
        return []
    if isinstance(layer, L.Dense):
        mods = [nn.Linear(shape[1], layer.units, bias=layer.use_bias)]
    elif isinstance(layer, L.Dropout):
        return [nn.Dropout(layer.rate)] if dropout and layer.rate > 0 else []
    elif isinstance(layer, L.Flatten):
        return [nn.Flatten()]
    elif isinstance(layer, L.Reshape):
        return [nn.Unflatten(1, layer.shape)]
    elif isinstance(layer, L.Activation):
        mods = []
    elif isinstance(layer, L.Conv2D):
        mods = [nn.Conv2d(shape[1], layer.filters, layer.kernel_size, stride=layer.stride,
                          padding=layer.padding_pair, bias=layer.use_bias)]
    elif isinstance(layer, (L.MaxPool2D, L.AvgPool2D)):
        cls = nn.MaxPool2d if isinstance(layer, L.MaxPool2D) else nn.AvgPool2d
        return [cls(layer.pool_size, stride=layer.stride_pair, ceil_mode=not layer.ignore_border)]
    else:
        raise NotImplementedError(f"no PyTorch twin for {type(layer).__name__}")
    act = _ACTIVATIONS[getattr(layer, "activation", "linear")]
    return mods + ([act()] if act else [])


@torch.no_grad()
def _load(module, layer, values):
    """Copy tgraph's ``W`` (Dense: (in, out), transposed here; Conv2D: (F, C, kh, kw)) and
    ``b`` into a Linear or Conv2d module."""
    w = values["W"].T if isinstance(layer, L.Dense) else values["W"]
    module.weight.copy_(torch.from_numpy(np.ascontiguousarray(w)))
    if "b" in values:
        module.bias.copy_(torch.from_numpy(values["b"]))


class TgraphRMSprop(torch.optim.Optimizer):
    """tgraph's RMSprop (the Theano dropout tutorial's): ``a <- rho a + (1 - rho) g**2``;
    ``p <- p - lr g / sqrt(a + eps)``, epsilon *inside* the root (``torch.optim.RMSprop``
    adds it outside, a different update while ``a`` is below ``eps``). Same foreach ops
    as ``torch.optim.RMSprop``'s, its state allocated up front."""

    def __init__(self, params, lr, rho, eps):
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=0.0))
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p]["acc"] = torch.zeros_like(p)

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            grads = [p.grad for p in params]
            if group["weight_decay"]:
                grads = torch._foreach_add(grads, params, alpha=group["weight_decay"])
            accs = [self.state[p]["acc"] for p in params]
            torch._foreach_mul_(accs, group["rho"])
            torch._foreach_addcmul_(accs, grads, grads, value=1 - group["rho"])
            denom = torch._foreach_add(accs, group["eps"])
            torch._foreach_sqrt_(denom)
            torch._foreach_addcdiv_(params, grads, denom, value=-group["lr"])


def _optimizer(experiment, groups):
    opt, lr = experiment.optimizer, learning_rate(experiment.optimizer)
    if isinstance(opt, optim.RMSprop):
        return TgraphRMSprop(groups, lr=lr, rho=opt.rho, eps=opt.epsilon)
    if isinstance(opt, optim.Momentum):
        return torch.optim.SGD(groups, lr=lr, momentum=opt.momentum)
    if type(opt) is optim.SGD:
        return torch.optim.SGD(groups, lr=lr)
    raise NotImplementedError(f"no PyTorch twin for {type(opt).__name__}")


def build_torch(experiment, network, weights, *, dropout=True):
    """(model, optimizer) in PyTorch for a tgraph experiment and its built network.

    Args:
        experiment: the resolved experiment (its optimizer and regularization).
        network: the built network (specs sized from the data, shapes, params).
        weights: tgraph's ``Model.get_weights()``: the twin starts from them.
        dropout: False: leave the Dropout layers out (for the numerics check).

    The output softmax is folded into ``cross_entropy`` (PyTorch's usual stable form,
    the same fusion tgraph makes); an L2 penalty ``l2 * sum(W**2)`` becomes SGD
    ``weight_decay = 2 * l2`` on that weight alone (not on the biases, as in tgraph).
    """
    torch.manual_seed(0)
    values = layer_weights(network, weights)
    mods = []
    for i, layer in enumerate(network.specs):
        layer_mods = _modules(layer, network.shapes[i - 1] if i else None, dropout)
        if i in values:
            _load(layer_mods[0], layer, values[i])
        mods += layer_mods
    net = nn.Sequential(*mods)
    return net, _optimizer(experiment, _param_groups(experiment, network, net))


def _param_groups(experiment, network, net):
    """Torch parameter groups, one per distinct weight decay, in tgraph's param order
    (the modules hold W then b, as tgraph lists them)."""
    decay = l2_coefficients(network, experiment.regularization)
    groups = {}
    for p, tp in zip(network.params, net.parameters(), strict=True):
        groups.setdefault(2 * decay.get(p.name, 0.0), []).append(tp)
    return [{"params": ps, "weight_decay": wd} for wd, ps in groups.items()]


def torch_step(net, optimizer, x, y):
    """One training step on tensors ``x`` (float32) and ``y`` (int64); returns the loss
    (the mean cross-entropy, without the penalty, as tgraph reports it)."""
    optimizer.zero_grad(set_to_none=True)
    loss = nn.functional.cross_entropy(net(x), y)
    loss.backward()
    optimizer.step()
    return loss


class TorchPeer:
    """Training steps of the twin on the minibatches of ``(x, y)``, in order, cycling.

    Args:
        experiment, network, weights: as for :func:`build_torch`.
        x: (N, ...) float32 examples; y: (N,) int labels.
        dropout: as for :func:`build_torch`.
        compiled: run the step under ``torch.compile`` (default mode); the first calls
            compile it (see :meth:`warm_up`).
    """

    def __init__(self, experiment, network, weights, x, y, *, dropout=True, compiled=False):
        self.net, self.optimizer = build_torch(experiment, network, weights, dropout=dropout)
        self.net.train()
        xs, ys = minibatches(x, y, experiment.training.batch_size, network.input_shape)
        self.xs, self.ys = torch.from_numpy(xs), torch.from_numpy(ys)
        self.step = torch.compile(torch_step) if compiled else torch_step
        self.batch = 0

    def _next(self):
        j = self.batch
        self.batch = (j + 1) % len(self.xs)
        return self.step(self.net, self.optimizer, self.xs[j], self.ys[j])

    def step_losses(self, count):
        """(count,) float64: the losses of the next ``count`` steps."""
        return np.array([float(self._next().detach()) for _ in range(count)])

    def warm_up(self):
        """Seconds of the first 3 steps (compilation under ``torch.compile``)."""
        t0 = time.perf_counter()
        self.run(3)
        return time.perf_counter() - t0

    def run(self, steps):
        """Run ``steps`` steps; returns ``steps``."""
        for _ in range(steps):
            self._next()
        return steps
