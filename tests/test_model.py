"""The compiled model: float32 graphs, givens-based steps, training lowers the test error."""

import numpy as np
import pytest

import tgraph
from tgraph import layers as L
from tgraph import optim
from tgraph.errors import DataError


def logreg():
    return [L.Input((784,)), L.Dense(10, activation="softmax", init="zeros")]


def mlp():
    return [L.Input((784,)), L.Dense(500, activation="tanh", l2=1e-4),
            L.Dense(10, activation="softmax", init="zeros", l2=1e-4)]


@pytest.fixture(scope="module")
def mlp_model(mnist):
    model = tgraph.Model(mlp(), optimizer=optim.SGD(learning_rate=0.01), seed=1)
    model.set_train_data(*mnist["train"])
    return model


def _variables_dtypes(fn):
    return {v.type.dtype for v in fn.maker.fgraph.variables if hasattr(v.type, "dtype")}


def test_training_graph_has_no_float64(mlp_model):
    fn = mlp_model.train_function(20)
    assert "float64" not in _variables_dtypes(fn)


def _float64_inside(node):
    """Whether a fused elementwise node computes in float64 inside its scalar graph."""
    inner = getattr(getattr(node.op, "scalar_op", None), "fgraph", None)
    return inner is not None and any(getattr(v.type, "dtype", None) == "float64"
                                     for v in inner.variables)


def test_adam_bias_correction_is_float64_on_scalars_only(mnist):
    # Adam's 1 - beta ** t is computed in float64 (exact to float32 rounding) but only
    # on the step count: parameter-sized tensors stay float32 throughout.
    model = tgraph.Model(mlp(), optimizer=optim.Adam())
    model.set_train_data(*mnist["train"])
    fn = model.train_function(20)
    assert "float64" not in _variables_dtypes(fn)
    in_float64 = [n for n in fn.maker.fgraph.apply_nodes if _float64_inside(n)]
    assert in_float64 and all(out.type.ndim == 0 for n in in_float64 for out in n.outputs)


def test_float64_on_request(mnist):
    model = tgraph.Model(logreg(), dtype="float64", mode="FAST_COMPILE")
    model.set_train_data(*mnist["train"])
    assert "float64" in _variables_dtypes(model.train_function(600))


def test_step_reads_minibatch_from_shared_data(mlp_model):
    fn = mlp_model.train_function(20)
    inputs = [i.variable for i in fn.maker.inputs if not i.shared]
    assert [v.name for v in inputs] == ["batch_index"]


def test_mlp_training_lowers_test_error(mlp_model, mnist):
    before = mlp_model.evaluate(*mnist["test"])["error"]
    step = mlp_model.train_function(20)
    losses = [float(step(i)) for i in range(400)]
    after = mlp_model.evaluate(*mnist["test"])
    assert before > 0.8
    assert after["error"] < 0.25
    assert np.mean(losses[-50:]) < np.mean(losses[:50])
    probs = mlp_model.predict(mnist["test"][0][:7])
    assert probs.shape == (7, 10) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=1e-5)


def test_logreg_trains(mnist):
    model = tgraph.Model(logreg(), optimizer=optim.SGD(learning_rate=0.13))
    model.set_train_data(*mnist["train"])
    step = model.train_function(600)
    for epoch in range(3):
        for i in range(8000 // 600):
            step(i)
    assert model.evaluate(*mnist["test"])["error"] < 0.2


def test_l2_penalty_is_in_training_loss_only(mnist):
    x, y = mnist["train"][0][:20], mnist["train"][1][:20]
    plain = tgraph.Model(mlp(), seed=5, mode="FAST_COMPILE")
    heavy = tgraph.Model(mlp(), seed=5, mode="FAST_COMPILE",
                         regularization=tgraph.Regularization(l2=0.5))
    assert plain.evaluate(x, y)["loss"] == pytest.approx(heavy.evaluate(x, y)["loss"], rel=1e-6)
    for m in (plain, heavy):
        m.optimizer = optim.SGD(learning_rate=0.0001)
        m.set_train_data(x, y)
    w0 = heavy.network.params[0].variable.get_value()
    plain.train_step(0, 20), heavy.train_step(0, 20)
    w_plain = plain.network.params[0].variable.get_value()
    w_heavy = heavy.network.params[0].variable.get_value()
    # heavy decays W by lr * 2 * (0.5 + 1e-4) * W more than plain
    np.testing.assert_allclose(w_plain - w_heavy, 0.0001 * 2 * 0.5 * w0, rtol=1e-2, atol=1e-9)


def test_max_norm_and_clip_norm_apply(mnist):
    x, y = mnist["train"][0][:20], mnist["train"][1][:20]
    model = tgraph.Model([L.Input((784,)), L.Dense(30, activation="relu", max_norm=0.5),
                          L.Dense(10, activation="softmax")],
                         optimizer=optim.SGD(learning_rate=10.0, clip_norm=1.0),
                         mode="FAST_COMPILE")
    model.set_train_data(x, y)
    model.train_step(0, 20)
    w = model.network.params[0].variable.get_value()
    assert np.linalg.norm(w, axis=0).max() <= 0.5 + 1e-5


def test_bad_data_shapes_are_reported(mlp_model):
    with pytest.raises(DataError, match=r"inputs have shape \(3, 10\), the model's Input expects "
                                        r"\(N, 784\)"):
        mlp_model.predict(np.zeros((3, 10)))
    with pytest.raises(DataError, match=r"labels range over \[0, 12\], but the output layer has "
                                        r"10 units"):
        mlp_model.evaluate(np.zeros((2, 784)), np.array([0, 12]))


def test_non_finite_inputs_are_rejected(mlp_model):
    x = np.zeros((6, 784), np.float32)
    x[3, 5], x[3, 7], x[5, 0] = np.nan, np.inf, -np.inf
    message = (r"^inputs contain 3 non-finite values \(NaN or inf\), the first in example 3; "
               r"remove or replace those examples \(e.g. np.nan_to_num\)$")
    with pytest.raises(DataError, match=message):
        mlp_model.predict(x)
    with pytest.raises(DataError, match=message):
        mlp_model.evaluate(x, np.zeros(6, np.int32))
    with pytest.raises(DataError, match=message):
        mlp_model.check_data(x.reshape(6, 28, 28), None)
    mlp_model.check_data(x[:3], None)  # the finite examples pass


def test_non_finite_regression_targets_are_rejected():
    model = tgraph.Model([L.Input((3,)), L.Dense(2)], loss="mse", mode="FAST_COMPILE")
    y = np.zeros((4, 2))
    y[2, 1] = np.nan
    with pytest.raises(DataError, match=r"^targets contain 1 non-finite values .* in example 2;"):
        model.check_data(np.zeros((4, 3)), y)


def test_rmsprop_dropout_step_computes_each_product_once(dropout_mlp, mnist):
    # 3 forward products, 3 weight gradients, 2 input gradients: PyTensor's own rewrite
    # would add a Dot22Scalar per weight (lr * g besides g ** 2), 11 in all.
    from pytensor.tensor.blas import Dot22, Dot22Scalar, Gemm

    model = dropout_mlp(optim.RMSprop(learning_rate=0.003), seed=1234, batch_size=20)
    model.set_train_data(*mnist["train"])
    fn = model.train_function(20)
    products = [n for n in fn.maker.fgraph.apply_nodes
                if isinstance(n.op, (Dot22, Dot22Scalar, Gemm))]
    assert len(products) == 8
    assert "float64" not in _variables_dtypes(fn)
