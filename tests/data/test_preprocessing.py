"""Preprocessing: statistics of the training split only, numpy references, JSON round trip."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tgraph.data import Preprocessing, embedded_path, from_arrays, load_dataset
from tgraph.errors import ConfigError, DataError


def test_standardize_uses_the_training_split_only():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(5, 2, (80, 3)), rng.normal(-100, 50, (20, 3))])
    y = np.arange(100) % 2
    data = from_arrays(x, y)  # last 20 validate: their very different values must not count
    mean, std = x[:80].mean(axis=0), x[:80].std(axis=0)
    assert data.preprocessing.kind == "standardize"
    np.testing.assert_allclose(data.preprocessing.mean, mean, rtol=1e-12)
    np.testing.assert_allclose(data.preprocessing.std, std, rtol=1e-12)
    np.testing.assert_allclose(data.valid.x, (x[80:] - mean) / std, rtol=1e-5)


def test_normalize_per_channel_uses_the_training_split_only():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (10, 3, 4, 4), dtype=np.uint8)
    x[8:] = 255  # the validation part
    data = from_arrays(x, np.arange(10) % 2, valid_size=2, preprocessing="normalize")
    scaled = x[:8] / 255.0
    mean, std = scaled.mean(axis=(0, 2, 3)), scaled.std(axis=(0, 2, 3))
    np.testing.assert_allclose(data.preprocessing.mean, mean, rtol=1e-12)
    np.testing.assert_allclose(data.preprocessing.std, std, rtol=1e-12)
    np.testing.assert_allclose(data.train.x.mean(axis=(0, 2, 3)), 0, atol=1e-6)
    np.testing.assert_allclose(data.train.x.std(axis=(0, 2, 3)), 1, rtol=1e-5)
    expected = (x[8:] / 255.0 - mean[:, None, None]) / std[:, None, None]
    np.testing.assert_allclose(data.valid.x, expected, rtol=1e-6)


def test_scale_of_uint8_is_the_tutorials_division_bit_for_bit():
    x = np.arange(256, dtype=np.uint8).reshape(1, 256)
    fitted = Preprocessing("scale").fit(x)
    assert (fitted.low, fitted.high) == (0.0, 255.0)
    assert np.array_equal(fitted.apply(x), (x / 255.0).astype(np.float32))
    assert np.array_equal(fitted.apply(x.astype(np.int64)), (x / 255.0).astype(np.float32))


@pytest.mark.parametrize("x, low, high", [
    (np.array([[0.0, 0.5, 1.0]]), 0.0, 1.0),                  # already in [0, 1]: left alone
    (np.array([[0.0, 17.0, 200.0]]), 0.0, 255.0),             # float pixels 0..255
    (np.array([[0, 7, 40000]], dtype=np.uint16), 0.0, 65535.0),
    (np.array([[0, 7, 300]], dtype=np.int32), 0.0, 65535.0),
    (np.array([[-2.0, 0.0, 6.0]]), -2.0, 6.0),                # anything else: training min, max
])
def test_scale_ranges(x, low, high):
    fitted = Preprocessing("scale").fit(x)
    assert (fitted.low, fitted.high) == (low, high)
    np.testing.assert_allclose(fitted.apply(x), (x - low) / (high - low), rtol=1e-7)


def test_float_unit_data_is_unchanged():
    x = np.random.default_rng(0).uniform(size=(5, 7)).astype(np.float32)
    assert np.array_equal(Preprocessing("scale").fit(x).apply(x), x)


def test_constant_columns_become_zero_not_nan():
    x = np.array([[1.0, 5.0], [2.0, 5.0], [3.0, 5.0]])
    fitted = Preprocessing("standardize").fit(x)
    assert fitted.std[1] == 1.0
    out = fitted.apply(x)
    assert np.isfinite(out).all() and (out[:, 1] == 0).all()
    big = np.full((3, 1), 1e9)
    assert (Preprocessing("standardize").fit(big).apply(big) == 0).all()


@pytest.mark.parametrize("kind", ["scale", "standardize", "normalize", "none"])
def test_json_round_trip(kind):
    x = np.random.default_rng(3).integers(0, 256, (6, 3, 2, 2)).astype(np.float64) * 1.37
    x[1, 0, 0, 0] = np.nan
    fitted = Preprocessing(kind, impute="median").fit(x)
    text = fitted.to_json()
    assert json.loads(text)["kind"] == kind
    again = Preprocessing.from_json(text)
    assert again == fitted
    assert np.array_equal(again.apply(x), fitted.apply(x))
    assert Preprocessing.from_dict(fitted.to_dict()) == fitted


def test_dataset_preprocessing_reapplies_to_new_inputs():
    data = load_dataset()
    restored = Preprocessing.from_json(data.preprocessing.to_json())
    with np.load(embedded_path()) as d:
        raw = d["x_test"][:50]
    assert np.array_equal(restored.apply(raw), data.test.x[:50])


def test_a_fitted_preprocessing_is_applied_as_it_is():
    x = np.arange(20, dtype=np.float64).reshape(10, 2)
    first = from_arrays(x, np.arange(10) % 2)
    second = from_arrays(x * 3, np.arange(10) % 2, preprocessing=first.preprocessing)
    assert second.preprocessing is first.preprocessing
    np.testing.assert_allclose(second.train.x, first.preprocessing.apply(x[:8] * 3))


def test_errors():
    with pytest.raises(ConfigError, match=r"`preprocessing` \(='zscore'\) must be one of 'none', "
                                          "'scale', 'standardize', 'normalize'"):
        Preprocessing("zscore")
    with pytest.raises(ConfigError, match=r"`impute` \(='zero'\) must be one of None, 'mean', "
                                          "'median'"):
        Preprocessing("scale", impute="zero")
    with pytest.raises(ConfigError, match="the 'standardize' preprocessing is not fitted"):
        Preprocessing("standardize").apply(np.zeros((2, 2)))
    fitted = Preprocessing("standardize").fit(np.zeros((2, 3)))
    with pytest.raises(DataError, match=r"examples of shape \(4,\), but the preprocessing was "
                                        r"fitted on examples of shape \(3,\)"):
        fitted.apply(np.zeros((2, 4)))
    with pytest.raises(DataError, match=r"2 missing values \(NaN\), the first in example 0, "
                                        r"feature \(1,\)"):
        fitted.apply(np.array([[0, np.nan, 0], [np.nan, 0, 0]]))
    with pytest.raises(DataError, match="per-channel normalization needs images"):
        Preprocessing("normalize").fit(np.zeros((2, 3)))
    with pytest.raises(DataError, match=r"feature 0 has no value in the training split"):
        Preprocessing("scale", impute="mean").fit(np.array([[np.nan, 1.0], [np.nan, 2.0]]))
    with pytest.raises(DataError, match="not JSON"):
        Preprocessing.from_json("{kind")
    with pytest.raises(DataError, match=r"\['kind', 'scale'\] is not a preprocessing "
                                        "description"):
        Preprocessing.from_json('{"kind": "none", "scale": 2}')
    with pytest.raises(ConfigError, match=r"`preprocessing` \(='zscore'\) must be \"auto\""):
        from_arrays(np.zeros((4, 2)), np.arange(4) % 2, preprocessing="zscore")


@settings(max_examples=30, deadline=None)
@given(x=hnp.arrays(np.float64, st.tuples(st.integers(2, 20), st.integers(1, 5)),
                    elements=st.floats(-1e3, 1e3)))
def test_standardize_matches_numpy(x):
    fitted = Preprocessing("standardize").fit(x)
    std = x.std(axis=0)
    scale = np.maximum(np.abs(x).max(axis=0), 1.0)
    std = np.where(std < 1e-12 * scale, 1.0, std)
    np.testing.assert_allclose(fitted.apply(x), ((x - x.mean(axis=0)) / std).astype(np.float32),
                               rtol=1e-5, atol=1e-5)
