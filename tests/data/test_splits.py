"""Validation splits: the last part (refused on class-sorted data), stratified random parts."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tgraph.data import from_arrays, load_dataset, stratified_indices
from tgraph.errors import ConfigError, DataError


def sorted_by_class(tmp_path, per_class=(30, 20, 10)):
    """An .npz table whose rows are sorted by class (0s, then 1s, then 2s)."""
    y = np.repeat(np.arange(len(per_class)), per_class)
    x = np.column_stack([np.arange(len(y)), y * 10.0])  # row number, class-dependent feature
    path = tmp_path / "sorted.npz"
    np.savez(path, x=x, y=y)
    return path, x, y


def test_last_split_of_sorted_data_is_refused(tmp_path):
    path, _, _ = sorted_by_class(tmp_path)
    with pytest.raises(DataError) as err:
        load_dataset(path)
    assert str(err.value) == (
        f"{path.resolve()}: the training split (all but the file's last 12 examples, "
        "valid_split=\"last\") has no example of the classes '2', which only the validation "
        "split holds; the file is probably sorted by class; use valid_split=\"random\" "
        "(`--valid-split random`) for a seeded random validation split stratified by class")


def test_last_split_validating_on_fewer_classes_is_refused(tmp_path):
    path, _, _ = sorted_by_class(tmp_path, per_class=(30, 30))
    with pytest.raises(DataError) as err:
        load_dataset(path)
    assert str(err.value) == (
        f"{path.resolve()}: the validation split (the file's last 12 examples, "
        "valid_split=\"last\") holds 1 of the 2 classes of the training split (missing: '0'); "
        "the file is probably sorted by class; use valid_split=\"random\" (`--valid-split "
        "random`) for a seeded random validation split stratified by class")


def test_random_split_of_sorted_data_is_stratified(tmp_path):
    path, x, y = sorted_by_class(tmp_path)
    data = load_dataset(path, valid_split="random", preprocessing="none")
    assert data.sizes() == {"train": 48, "valid": 12}
    # 20% of each class: 6 of 30, 4 of 20, 2 of 10.
    assert np.bincount(data.valid.y).tolist() == [6, 4, 2]
    assert np.bincount(data.train.y).tolist() == [24, 16, 8]
    # Every example is in exactly one part, with its own label.
    rows = np.concatenate([data.train.x[:, 0], data.valid.x[:, 0]]).astype(int)
    assert sorted(rows.tolist()) == list(range(60))
    labels = np.concatenate([data.train.y, data.valid.y])
    assert np.array_equal(labels, y[rows])
    assert data.split_info == {"valid_split": "random", "valid_fraction": 0.2, "valid_size": 12,
                               "seed": None, "test": None,
                               "sizes": {"train": 48, "valid": 12}}
    assert data.meta["valid"] == "random 20% of the training set (stratified by class)"


def test_random_split_is_seeded(tmp_path):
    path, _, _ = sorted_by_class(tmp_path)

    def valid_rows(**kw):
        return load_dataset(path, valid_split="random", preprocessing="none", **kw).valid.x[:, 0]

    assert np.array_equal(valid_rows(), valid_rows())
    assert np.array_equal(valid_rows(), valid_rows(seed=0)[np.argsort(valid_rows(seed=0))])
    assert not np.array_equal(np.sort(valid_rows(seed=1)), np.sort(valid_rows(seed=2)))


def test_valid_size_and_last_split_reproduce_the_tutorial_rule():
    data = load_dataset(valid_size=1000)
    assert data.sizes() == {"train": 9000, "valid": 1000, "test": 10000}
    assert data.meta["valid"] == "last 1000 of the training set"
    assert data.split_info["valid_split"] == "last" and data.split_info["valid_size"] == 1000
    assert data.split_info["valid_fraction"] is None
    full = load_dataset()
    assert np.array_equal(data.valid.x, full.valid.x[1000:])


@pytest.mark.parametrize("size", [0, -3, 2.5, True, "10"])
def test_bad_valid_size(size):
    with pytest.raises(ConfigError, match=r"`valid_size` \(=.*\) must be a positive number of "
                                          "examples"):
        load_dataset(valid_size=size)


def test_valid_size_too_large():
    with pytest.raises(DataError, match=r"10000 training examples cannot be split with "
                                        r"`valid_size` \(=10000\)"):
        load_dataset(valid_size=10000)


def test_bad_valid_split():
    with pytest.raises(ConfigError, match=r"`valid_split` \(='first'\) must be \"last\""):
        load_dataset(valid_split="first")


def test_small_validation_parts_are_not_refused_for_missing_classes():
    # 3 validation examples cannot hold 5 classes: "last" is accepted.
    x, y = np.zeros((10, 2)), np.array([0, 1, 2, 3, 4, 0, 1, 2, 3, 4])
    assert from_arrays(x, y, valid_size=3, preprocessing="none").valid.y.tolist() == [2, 3, 4]
    # A class missing from a small validation part by chance (p = 0.2 for 3 of 6 examples).
    y = np.array([0, 1, 0, 1, 1, 1])
    assert from_arrays(np.zeros((6, 1)), y, valid_size=2).valid.y.tolist() == [1, 1]


@pytest.mark.parametrize("per_class, refused", [((3, 3), False), ((20, 20), True),
                                                 ((50, 50, 50), True), ((5, 5, 5, 5, 5), True),
                                                 ((20, 20, 20, 20, 20), True)])
def test_sorted_files_are_refused_once_the_evidence_is_clear(tmp_path, per_class, refused):
    # The last 20% of a class-sorted file: refused when a random order would rarely look so.
    path, _, _ = sorted_by_class(tmp_path, per_class)
    if refused:
        with pytest.raises(DataError, match="the file is probably sorted by class"):
            load_dataset(path)
    else:
        assert load_dataset(path).split_info["valid_split"] == "last"


def test_random_split_that_would_empty_a_class():
    y = np.array([0, 0, 1, 2])
    with pytest.raises(DataError, match="a random validation split of 2 of 4 examples is "
                                        "impossible: each of the 3 classes keeps at least one "
                                        "example for training; validate on at most 1"):
        from_arrays(np.zeros((4, 1)), y, valid_size=2, valid_split="random")


def test_own_validation_split_is_recorded(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x_train=np.zeros((4, 2)), y_train=[0, 1, 0, 1], x_valid=np.zeros((2, 2)),
             y_valid=[0, 1], x_test=np.zeros((1, 2)), y_test=[1])
    data = load_dataset(path, valid_split="random")
    assert data.split_info == {"valid_split": "file", "valid_fraction": None, "valid_size": None,
                               "seed": None, "test": "file",
                               "sizes": {"train": 4, "valid": 2, "test": 1}}


def test_test_path_replaces_the_files_test_split(tmp_path):
    main, other = tmp_path / "a.npz", tmp_path / "b.npz"
    np.savez(main, x_train=np.zeros((10, 2)), y_train=np.arange(10) % 2,
             x_test=np.zeros((3, 2)), y_test=[0, 0, 0])
    np.savez(other, x=np.ones((2, 2)), y=[1, 1])
    data = load_dataset(main, test_path=other, valid_size=2)
    assert data.test.y.tolist() == [1, 1]
    assert data.split_info["test"] == str(other.resolve())
    assert data.notes == (f"the test split of {main.resolve()} was replaced by {other.resolve()}",)


@given(counts=st.lists(st.integers(2, 40), min_size=1, max_size=8), share=st.floats(0.01, 0.99),
       seed=st.integers(0, 2**32 - 1))
def test_stratified_quotas(counts, share, seed):
    y = np.repeat(np.arange(len(counts)), counts)
    n_valid = max(1, min(round(len(y) * share), len(y) - len(counts)))
    valid = stratified_indices(y, n_valid, seed)
    assert len(valid) == n_valid and len(np.unique(valid)) == n_valid
    per_class = np.bincount(y[valid], minlength=len(counts))
    exact = n_valid * np.array(counts) / len(y)
    assert (per_class <= np.array(counts) - 1).all()  # each class keeps a training example
    # At least the proportional share rounded down (or the cap); within one of it when no
    # class is capped (a capped class's excess goes to the others).
    capped = per_class == np.array(counts) - 1
    assert (per_class >= np.minimum(np.floor(exact), np.array(counts) - 1)).all()
    if not capped.any():
        assert (np.abs(per_class - exact) < 1).all()
