"""Restricted Boltzmann machine with binary visible and hidden units.

As the deeplearning.net tutorial ``rbm.py`` (and ``DBN.py``, which stacks them): the
energy is ``E(v, h) = -v.vbias - h.hbias - v W h``; the free energy of a visible vector
is ``F(v) = -v.vbias - sum_j softplus(v W + hbias)_j``. Training follows contrastive
divergence (CD-k, Hinton 2002) or persistent CD (PCD-k, Tieleman 2008): the gradient of
``mean F(v0) - mean F(v_k)`` with the chain end ``v_k`` held constant.

In a network the layer computes the mean hidden activation ``sigmoid(x W + hbias)``, so
a deep belief net is fine-tuned as a sigmoid MLP, as the tutorial does; ``vbias`` is
used only by the local objective (greedy pretraining, :mod:`tgraph.pretraining`).
"""

import attrs
import pytensor.tensor as pt
from pytensor.gradient import disconnected_grad

from tgraph.layers.base import STATE_TAGS, LocalObjective, ParamSpec
from tgraph.layers.tied import TiedSigmoidLayer
from tgraph.ops import elementwise as ew
from tgraph.ops.losses import binary_crossentropy_from_logits
from tgraph.ops.sampling import bernoulli
from tgraph.validate import boolean, positive_int

__all__ = ["RBM", "GibbsChain"]


@attrs.frozen
class GibbsChain:
    """The symbolic result of k Gibbs steps ``h -> v -> h`` (the tutorial's ``gibbs_hvh``).

    Attributes:
        v_pre: (N, n_visible) pre-sigmoid activation of the last visible step.
        v_mean: (N, n_visible) its mean ``sigmoid(v_pre)``.
        v_sample: (N, n_visible) binary sample of the last visible step (the chain end).
        h_mean: (N, units) mean of the last hidden step.
        h_sample: (N, units) binary sample of the last hidden step (the next chain start).
    """

    v_pre: object
    v_mean: object
    v_sample: object
    h_mean: object
    h_sample: object


@attrs.frozen
class RBM(TiedSigmoidLayer):
    """Binary-binary RBM; in a network, the mean hidden activation ``sigmoid(x W + hbias)``.

    Input (N, n_visible) with values in [0, 1] -> output (N, units). Parameters ``W``
    (n_visible, units), ``hbias`` (units,), ``vbias`` (n_visible,); the biases are not
    regularized. ``W`` starts uniform on ``±4 sqrt(6 / (n_visible + units))`` (the
    tutorial's), the biases at zero.

    Attributes:
        units: number of hidden units.
        k: Gibbs steps per update (CD-k / PCD-k).
        persistent: persistent CD: the negative chain continues from the last update's
            hidden samples (a (batch_size, units) state created by the pretraining
            phase) instead of starting at the data.
        init: initializer of ``W``; Glorot uniform with the sigmoid gain 4 by default.
        l1: L1 penalty on ``W`` in supervised fine-tuning.
        l2: L2 penalty on ``W`` in supervised fine-tuning.

    Monitors of the local objective (lower is better; the tutorial prints the negatives):
    ``reconstruction_cross_entropy`` with CD (cross-entropy of the data under the last
    visible mean of the chain, summed over pixels), ``pseudo_likelihood_cost`` with PCD
    (``-n_visible log sigmoid(F(x_flip) - F(x))`` for one bit ``i`` of the rounded data,
    ``i`` cycling through the visible units, one per update; the tutorial's estimate,
    meaningful over many more updates than visible units: border pixels cost almost
    nothing, central ones much more).
    """

    HIDDEN_BIAS = "hbias"
    VISIBLE_BIAS = "vbias"

    k: int = attrs.field(default=1, validator=positive_int)
    persistent: bool = attrs.field(default=False, validator=boolean)

    def local_state_specs(self, input_shape, batch_size):
        """PCD: the chain's hidden state (batch_size, units) and the pseudo-likelihood's
        bit index (1,), both starting at zero (the tutorial's)."""
        if not self.persistent:
            return ()
        return (ParamSpec("persistent_chain", (batch_size, self.units), "zeros",
                          tags=STATE_TAGS),
                ParamSpec("pl_bit", (1,), "zeros", tags=STATE_TAGS))

    # -- the deterministic network function ---------------------------------------------

    # -- energy and sampling ------------------------------------------------------------

    def free_energy(self, v, params):
        """``F(v) = -v.vbias - sum softplus(v W + hbias)``, (N,) for v (N, n_visible)."""
        hidden = ew.softplus(pt.dot(v, params["W"]) + params["hbias"]).sum(axis=1)
        return -hidden - pt.dot(v, params["vbias"])

    def visible_pre(self, h, params):
        """``h W^T + vbias`` (N, n_visible): the pre-sigmoid activation of v given h."""
        return pt.dot(h, params["W"].T) + params["vbias"]

    def gibbs_hvh(self, h, params, u_v, u_h):
        """One Gibbs step ``h -> v -> h`` with the given uniform numbers.

        Args:
            h: (N, units) hidden state.
            params: the layer's parameters.
            u_v: (N, n_visible) uniforms sampling v (``v = u_v < p(v|h)``).
            u_h: (N, units) uniforms sampling the new h.

        Returns:
            A :class:`GibbsChain` of this one step.
        """
        v_pre = self.visible_pre(h, params)
        v_mean = ew.sigmoid(v_pre)
        v_sample = bernoulli(v_mean, u_v)
        h_mean = self.apply(v_sample, params, None)
        return GibbsChain(v_pre, v_mean, v_sample, h_mean, bernoulli(h_mean, u_h))

    def gibbs_chain(self, h, params, uniforms):
        """``len(uniforms) // 2`` Gibbs steps from hidden state ``h``, unrolled.

        Args:
            h: (N, units) chain start.
            params: the layer's parameters.
            uniforms: ``[u_v1, u_h1, u_v2, u_h2, ...]``, two arrays a step.

        Returns:
            The :class:`GibbsChain` of the last step.
        """
        step = None
        for i in range(0, len(uniforms), 2):
            step = self.gibbs_hvh(h, params, uniforms[i], uniforms[i + 1])
            h = step.h_sample
        return step

    def uniform_shapes(self, x):
        """Shapes of the uniform arrays one update needs, in the order it uses them."""
        n, n_vis = x.shape[0], x.shape[1]
        start = [] if self.persistent else [(n, self.units)]
        return start + [(n, n_vis), (n, self.units)] * self.k

    # -- the local objective ------------------------------------------------------------

    def local_objective(self, x, params, ctx):
        """CD-k or PCD-k on the batch ``x``, sampling from the layer's random stream."""
        uniforms = [ctx.uniform(shape, x.dtype) for shape in self.uniform_shapes(x)]
        return self.contrastive_divergence(x, params, uniforms, ctx)

    def contrastive_divergence(self, x, params, uniforms, ctx):
        """The CD-k / PCD-k objective for explicit uniform numbers.

        Args:
            x: (N, n_visible) data batch.
            params: ``W``, ``hbias``, ``vbias`` and, with ``persistent``, the state
                ``persistent_chain`` (N, units) and ``pl_bit`` ((1,) bit index).
            uniforms: as :meth:`uniform_shapes` lists them (CD: the first samples h0).
            ctx: receives the updates of the persistent state.

        Returns:
            A :class:`LocalObjective`.
        """
        if self.persistent:
            start = params["persistent_chain"]
        else:
            start = bernoulli(self.apply(x, params, None), uniforms[0])
            uniforms = uniforms[1:]
        chain = self.gibbs_chain(start, params, uniforms)
        end = disconnected_grad(chain.v_sample)
        cost = self.free_energy(x, params).mean() - self.free_energy(end, params).mean()
        if self.persistent:
            ctx.add_update(params["persistent_chain"], chain.h_sample)
            return LocalObjective(cost, {"pseudo_likelihood_cost":
                                         self._pseudo_likelihood(x, params, ctx)})
        recon = binary_crossentropy_from_logits(chain.v_pre, x).mean()
        return LocalObjective(cost, {"reconstruction_cross_entropy": recon})

    def _pseudo_likelihood(self, x, params, ctx):
        """The tutorial's stochastic pseudo-likelihood cost; advances the bit index."""
        bit_value = params["pl_bit"]  # (1,): the index as a float (exact below 2**24)
        n_vis = x.shape[1]
        bit = pt.cast(bit_value[0], "int64")
        xi = pt.round(x)
        flipped = pt.set_subtensor(xi[:, bit], 1 - xi[:, bit])
        gap = self.free_energy(flipped, params) - self.free_energy(xi, params)
        ctx.add_update(bit_value, pt.mod(bit_value + 1, pt.cast(n_vis, bit_value.dtype)))
        return pt.cast(n_vis, x.dtype) * ew.softplus(-gap).mean()
