"""RBM: free energy and CD-k / PCD-k updates against a plain-numpy implementation.

The training step draws its uniforms from the layer's random stream (``ctx.uniform``: a
64-bit key from the shared generator a draw, expanded with Threefry); the reference draws
the same keys from a copy of the generator and expands them with the numpy Threefry, so
both use the same random numbers and the updates must agree to float64 rounding.
"""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

import tgraph
from tgraph import layers as L
from tgraph import optim
from tgraph.errors import ShapeError, SpecError
from tgraph.layerwise import LayerModel
from tgraph.ops.threefry import uniform_array
from tgraph.pretraining import Pretrain

N_VIS, N_HID, BATCH, LR = 6, 4, 5, 0.25  # LR exact in float32 (the shared lr)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def np_free_energy(v, W, hb, vb):
    return -np.logaddexp(0.0, v @ W + hb).sum(axis=1) - v @ vb


def np_contrastive_divergence(v0, W, hb, vb, uniforms, k, chain=None):
    """The rbm tutorial's CD-k / PCD-k update direction, written out for binary units.

    Returns the gradients of ``mean F(v0) - mean F(v_k)`` (chain end constant), the
    last hidden sample, the last visible pre-activation and the chain end.
    """
    if chain is None:
        h, uniforms = (uniforms[0] < sigmoid(v0 @ W + hb)).astype(float), uniforms[1:]
    else:
        h = chain
    for i in range(k):
        v_pre = h @ W.T + vb
        v = (uniforms[2 * i] < sigmoid(v_pre)).astype(float)
        h = (uniforms[2 * i + 1] < sigmoid(v @ W + hb)).astype(float)
    ph0, phk, n = sigmoid(v0 @ W + hb), sigmoid(v @ W + hb), len(v0)
    grads = {"W": (v.T @ phk - v0.T @ ph0) / n,
             "hbias": (phk.sum(0) - ph0.sum(0)) / n,
             "vbias": (v.sum(0) - v0.sum(0)) / n}
    return grads, h, v_pre, v


def tiny_phase(persistent, k=1, seed=5):
    model = tgraph.Model([L.Input((N_VIS,)), L.RBM(N_HID, k=k, persistent=persistent)],
                         dtype="float64", seed=seed)
    phase = Pretrain(layer=1, epochs=1, optimizer=optim.SGD(LR), batch_size=BATCH)
    layer_model = LayerModel(model, phase)
    x = (np.random.default_rng(seed).random((BATCH, N_VIS)) < 0.5).astype(np.float64)
    layer_model.set_train_data(*layer_model.check_data(x, None))
    params = {k_: v.get_value() for k_, v in model.network.layer_params(1).items()}
    params["vbias"] = np.linspace(-0.5, 0.5, N_VIS)  # nonzero biases exercise every term
    params["hbias"] = np.linspace(0.3, -0.3, N_HID)
    for name, value in params.items():
        model.network.layer_params(1)[name].set_value(value)
    return layer_model, x, params


def reference_uniforms(layer_model, shapes):
    """The uniforms the next step draws, from a copy of the layer's generator."""
    generator = layer_model.random.generators[1].get_value(borrow=False)
    return [uniform_array(generator.integers(0, 2**32, size=(2,), dtype="int64"), shape,
                           "float64") for shape in shapes]


@pytest.mark.parametrize("k", [1, 3])
def test_cd_k_update_equals_numpy_with_the_same_random_numbers(k):
    layer_model, x, p = tiny_phase(persistent=False, k=k)
    step = layer_model.train_function(BATCH)
    shapes = [(BATCH, N_HID)] + [(BATCH, N_VIS), (BATCH, N_HID)] * k
    uniforms = reference_uniforms(layer_model, shapes)
    reported = float(step(0))
    grads, _, v_pre, _ = np_contrastive_divergence(x, p["W"], p["hbias"], p["vbias"], uniforms, k)
    after = {n: v.get_value() for n, v in layer_model.network.layer_params(1).items()}
    for name in ("W", "hbias", "vbias"):
        np.testing.assert_allclose(after[name], p[name] - LR * grads[name], rtol=0, atol=1e-13,
                                   err_msg=name)
    recon = np.mean(np.sum(np.logaddexp(0, v_pre) - x * v_pre, axis=1))
    assert reported == pytest.approx(recon, rel=1e-12)


def test_pcd_1_update_and_chain_equal_numpy_with_the_same_random_numbers():
    layer_model, x, p = tiny_phase(persistent=True, k=1)
    chain = layer_model.local_state[0].variable
    start = (np.random.default_rng(9).random((BATCH, N_HID)) < 0.5).astype(np.float64)
    chain.set_value(start)
    step = layer_model.train_function(BATCH)
    for n_step in range(2):  # the second step starts from the first one's hidden samples
        uniforms = reference_uniforms(layer_model, [(BATCH, N_VIS), (BATCH, N_HID)])
        before = {n: v.get_value() for n, v in layer_model.network.layer_params(1).items()}
        reported = float(step(0))
        grads, h, _, _ = np_contrastive_divergence(x, before["W"], before["hbias"],
                                                   before["vbias"], uniforms, 1, chain=start)
        after = {n: v.get_value() for n, v in layer_model.network.layer_params(1).items()}
        for name in ("W", "hbias", "vbias"):
            np.testing.assert_allclose(after[name], before[name] - LR * grads[name], rtol=0,
                                       atol=1e-13, err_msg=f"step {n_step}: {name}")
        np.testing.assert_array_equal(chain.get_value(), h)
        # the tutorial's pseudo-likelihood: one bit flipped, the bit index cycling
        xi = np.round(x)
        flipped = xi.copy()
        flipped[:, n_step] = 1 - flipped[:, n_step]
        gap = (np_free_energy(flipped, before["W"], before["hbias"], before["vbias"])
               - np_free_energy(xi, before["W"], before["hbias"], before["vbias"]))
        assert reported == pytest.approx(N_VIS * np.mean(np.logaddexp(0, -gap)), rel=1e-12)
        assert layer_model.local_state[1].variable.get_value().tolist() == [n_step + 1]
        start = h


def test_free_energy_equals_numpy():
    layer = L.RBM(N_HID)
    rng = np.random.default_rng(1)
    W, hb, vb = rng.normal(size=(N_VIS, N_HID)), rng.normal(size=N_HID), rng.normal(size=N_VIS)
    v = rng.random((7, N_VIS))
    params = {"W": pt.constant(W), "hbias": pt.constant(hb), "vbias": pt.constant(vb)}
    sym = pt.dmatrix("v")
    fe = pytensor.function([sym], layer.free_energy(sym, params))(v)
    np.testing.assert_allclose(fe, np_free_energy(v, W, hb, vb), rtol=1e-12)


def test_network_output_is_the_mean_hidden_activation():
    model = tgraph.Model([L.Input((N_VIS,)), L.RBM(N_HID)], dtype="float64")
    p = {n: v.get_value() for n, v in model.network.layer_params(1).items()}
    x = np.random.default_rng(2).random((3, N_VIS))
    np.testing.assert_allclose(model.predict(x), sigmoid(x @ p["W"] + p["hbias"]), rtol=1e-12)


def test_initial_weights_are_the_tutorials():
    net = tgraph.network.build([L.Input((784,)), L.RBM(500)], seed=123, legacy_init=True,
                               dtype="float64")
    bound = 4 * np.sqrt(6.0 / (784 + 500))
    expected = np.random.RandomState(123).uniform(-bound, bound, size=(784, 500))
    np.testing.assert_array_equal(net.layer_params(1)["W"].get_value(), expected)
    assert not net.layer_params(1)["vbias"].get_value().any()
    tags = {p.name: p.tags for p in net.params}
    assert tags["1_rbm/vbias"] == tags["1_rbm/hbias"] == frozenset({"trainable"})


def test_persistent_chain_has_the_phase_batch_size():
    specs = L.RBM(10, persistent=True).local_state_specs((None, 784), batch_size=20)
    assert [(s.name, s.shape) for s in specs] == [("persistent_chain", (20, 10)), ("pl_bit", (1,))]
    assert all("trainable" not in s.tags for s in specs)
    assert L.RBM(10).local_state_specs((None, 784), batch_size=20) == ()


def test_bad_fields_and_shapes_are_named():
    with pytest.raises(SpecError, match=r"RBM: `units` \(=0\)"):
        L.RBM(0)
    with pytest.raises(SpecError, match=r"RBM: `k` \(=0\)"):
        L.RBM(5, k=0)
    with pytest.raises(ShapeError, match="2-D input"):
        L.RBM(5).output_shape((None, 1, 28, 28))


def test_pseudo_likelihood_bit_index_wraps_around():
    layer_model, x, p = tiny_phase(persistent=True)
    bit = layer_model.local_state[1].variable
    bit.set_value(np.array([N_VIS - 1.0]))
    step = layer_model.train_function(BATCH)
    reported = float(step(0))
    assert bit.get_value().tolist() == [0]
    xi = np.round(x)
    flipped = xi.copy()
    flipped[:, N_VIS - 1] = 1 - flipped[:, N_VIS - 1]
    gap = (np_free_energy(flipped, p["W"], p["hbias"], p["vbias"])
           - np_free_energy(xi, p["W"], p["hbias"], p["vbias"]))
    assert reported == pytest.approx(N_VIS * np.mean(np.logaddexp(0, -gap)), rel=1e-12)
