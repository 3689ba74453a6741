"""Gradient clipping and weight-norm constraints, applied around any optimizer."""

import pytensor.tensor as pt

__all__ = ["total_norm_constraint", "norm_constraint", "apply_max_norm"]


def total_norm_constraint(grads, max_norm, epsilon=1e-7):
    """Rescale ``grads`` together so that their global L2 norm is at most ``max_norm``.

    Pascanu et al. (2013); Lasagne's ``total_norm_constraint``.

    Args:
        grads: list of symbolic gradients.
        max_norm: the largest allowed global norm (> 0).
        epsilon: guards the division when the norm is 0.

    Returns:
        List of rescaled gradients (unchanged when the norm is below ``max_norm``).
    """
    norm = pt.sqrt(sum(pt.sqr(g).sum() for g in grads))
    dtype = grads[0].dtype
    target = pt.minimum(norm, pt.cast(max_norm, dtype))
    scale = pt.cast(target / (norm + pt.cast(epsilon, dtype)), dtype)
    return [g * scale for g in grads]


def _norm_axes(ndim):
    if ndim == 2:
        return (0,)  # Dense W (inputs, units): the weights into one unit are a column
    if ndim in (3, 4, 5):
        return tuple(range(1, ndim))  # conv W (filters, channels, ...): one filter
    return None


def norm_constraint(value, max_norm, epsilon=1e-7):
    """Rescale each unit's incoming weights to an L2 norm of at most ``max_norm``.

    Srivastava et al. (2014), section 5.1; Lasagne's ``norm_constraint``. For a Dense
    weight (inputs, units) the norm is taken over each column, for a convolution
    weight (filters, channels, h, w) over each filter.

    Args:
        value: the parameter's new value (a symbolic update), 2-D to 5-D.
        max_norm: the largest allowed norm.
        epsilon: guards the division.

    Returns:
        The constrained value; vectors (biases) are returned unchanged.
    """
    axes = _norm_axes(value.ndim)
    if axes is None:
        return value
    dtype = value.dtype
    norms = pt.sqrt(pt.sqr(value).sum(axis=axes, keepdims=True))
    target = pt.minimum(norms, pt.cast(max_norm, dtype))
    return value * (target / (norms + pt.cast(epsilon, dtype)))


def apply_max_norm(updates, params):
    """Constrain the updates of every regularizable param whose layer sets ``max_norm``.

    Args:
        updates: list of (shared variable, new value) pairs.
        params: the network's :class:`tgraph.params.Param` list.

    Returns:
        A new list of pairs.
    """
    limits = {p.variable: p.max_norm for p in params if p.max_norm and p.regularizable}
    return [(var, norm_constraint(new, limits[var]) if var in limits else new)
            for var, new in updates]
