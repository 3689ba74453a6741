"""The PyTorch twin of a tgraph experiment: same layers, init scale, loss and optimizer.

Used by ``benchmarks/run.py`` to measure PyTorch's CPU training throughput on exactly
the network a spec file describes. Only what the tutorial specs use is translated;
anything else raises ``NotImplementedError``.
"""

import numpy as np
import torch
from torch import nn

from tgraph import layers as L
from tgraph import optim

__all__ = ["build_torch", "torch_step"]

_ACTIVATIONS = {"linear": None, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "relu": nn.ReLU,
                "softmax": None, "elu": nn.ELU, "softplus": nn.Softplus}


def _modules(layer, shape):
    """Torch modules for one tgraph layer spec whose input has ``shape``."""
    if isinstance(layer, L.Input):
        return []
    if isinstance(layer, L.Dense):
        mods = [nn.Linear(shape[1], layer.units, bias=layer.use_bias)]
    elif isinstance(layer, L.Dropout):
        return [nn.Dropout(layer.rate)]
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


def build_torch(experiment, network):
    """(model, optimizer, loss_fn) in PyTorch for a tgraph experiment and its built network
    (whose specs have the sizes a data-following spec, ``Input()``, ``Dense("classes")``,
    took from the data).

    The output softmax is folded into ``cross_entropy`` (PyTorch's usual stable form,
    the same fusion tgraph makes); L2 penalties become SGD ``weight_decay = 2 * l2``.
    """
    torch.manual_seed(0)
    mods = []
    for i, layer in enumerate(network.specs):
        mods += _modules(layer, network.shapes[i - 1] if i else None)
    net = nn.Sequential(*mods)
    for m in net.modules():  # weights ~ N(0, 0.01) like the dropout nets; scale is irrelevant
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.normal_(m.weight, 0.0, 0.01)
    opt = experiment.optimizer
    decay = 2 * max((getattr(l, "l2", 0.0) for l in experiment.model), default=0.0)
    if isinstance(opt, optim.RMSprop):
        optimizer = torch.optim.RMSprop(net.parameters(), lr=opt.learning_rate, alpha=opt.rho,
                                        eps=opt.epsilon)
    elif isinstance(opt, optim.SGD):
        optimizer = torch.optim.SGD(net.parameters(), lr=opt.learning_rate, weight_decay=decay)
    elif isinstance(opt, optim.Adam):
        optimizer = torch.optim.Adam(net.parameters(), lr=opt.learning_rate)
    else:
        raise NotImplementedError(f"no PyTorch twin for {type(opt).__name__}")
    return net, optimizer


def torch_step(net, optimizer, x, y):
    """One training step on tensors ``x`` (float32) and ``y`` (int64); returns the loss."""
    optimizer.zero_grad(set_to_none=True)
    loss = nn.functional.cross_entropy(net(x), y)
    loss.backward()
    optimizer.step()
    return loss


def as_torch(x, y, input_shape):
    """Contiguous torch tensors shaped for the network input."""
    x = np.ascontiguousarray(x.reshape((len(x), *input_shape[1:])), dtype=np.float32)
    return torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
