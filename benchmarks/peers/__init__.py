"""The peers tgraph's training steps are timed against, each built from the same resolved
network and tgraph's initial weights: PyTorch eager (``torch``), ``torch.compile`` of the
same step, and JAX (``jax``: a jitted ``lax.scan`` over each epoch, optax).

Every peer has ``step_losses(count)`` ((count,) float64 losses of its next steps),
``warm_up()`` (seconds of its first calls: compilation) and ``run(steps)`` (runs at least
``steps`` steps, returns how many it ran). Each is optional: building one whose library is
missing raises ``ImportError``.
"""

__all__ = ["PEERS", "make_peer"]

PEERS = ("torch", "torch.compile", "jax")


def make_peer(name, experiment, network, weights, x, y, *, dropout=True):
    """A peer by name (one of :data:`PEERS`).

    Args:
        name: ``"torch"``, ``"torch.compile"`` or ``"jax"``.
        experiment: the resolved experiment (optimizer, regularization, batch size).
        network: its built tgraph network (specs sized from the data, shapes, params).
        weights: tgraph's ``Model.get_weights()``: the peer starts from them.
        x: (N, ...) float32 training examples; y: (N,) int labels.
        dropout: False: Dropout layers are left out (for the numerics check).

    Raises:
        ImportError: the peer's library is not installed.
        NotImplementedError: a layer or optimizer the peer has no twin for.
    """
    if name in ("torch", "torch.compile"):
        from peers.torch_twin import TorchPeer
        return TorchPeer(experiment, network, weights, x, y, dropout=dropout,
                         compiled=name == "torch.compile")
    if name == "jax":
        from peers.jax_twin import JaxPeer
        return JaxPeer(experiment, network, weights, x, y, dropout=dropout)
    raise ValueError(f"unknown peer {name!r}; one of {', '.join(PEERS)}")
