"""Inputs to predict: colour images of any size, NHWC arrays, tables, the model's preprocessing."""

import numpy as np
import pytest

from tgraph.data import Preprocessing, from_arrays, load_dataset, load_inputs, read_image
from tgraph.errors import DataError

Image = pytest.importorskip("PIL.Image")


def rgb(seed, height, width):
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_colour_images_of_any_size_resized_to_the_model(tmp_path):
    (tmp_path / "in").mkdir()
    Image.fromarray(rgb(0, 20, 30)).save(tmp_path / "in" / "a.png")
    Image.fromarray(rgb(1, 8, 8)).save(tmp_path / "in" / "b.jpg")
    (tmp_path / "in" / "notes.txt").write_text("ignored")
    x, names = load_inputs(tmp_path / "in", channels=3, size=(8, 8), resize=True)
    assert names == ["a.png", "b.jpg"] and x.shape == (2, 3, 8, 8) and x.dtype == np.float32
    expected = read_image(tmp_path / "in" / "a.png", channels=3, size=(8, 8)) / 255.0
    assert np.array_equal(x[0], expected.astype(np.float32))


def test_images_through_the_training_preprocessing(tmp_path):
    train = np.random.default_rng(2).integers(0, 256, (10, 3, 4, 4), dtype=np.uint8)
    data = from_arrays(train, np.arange(10) % 2, preprocessing="normalize")
    Image.fromarray(rgb(3, 4, 4)).save(tmp_path / "p.png")
    x, _ = load_inputs(tmp_path / "p.png", channels=3, size=(4, 4),
                       preprocessing=data.preprocessing)
    stored = rgb(3, 4, 4).transpose(2, 0, 1)[None]
    assert np.array_equal(x, data.preprocessing.apply(stored))
    inverted, _ = load_inputs(tmp_path / "p.png", channels=3, size=(4, 4), invert=True,
                              preprocessing=data.preprocessing)
    assert np.array_equal(inverted, data.preprocessing.apply(255 - stored))


def test_other_size_without_resize_is_refused(tmp_path):
    Image.fromarray(rgb(0, 5, 6)).save(tmp_path / "p.png")
    with pytest.raises(DataError, match=r"p.png: the image is 5x6 pixels \(height x width\), "
                                        "the model needs 8x8; resize it first"):
        load_inputs(tmp_path / "p.png", channels=3, size=(8, 8))


def test_nhwc_arrays_become_nchw(tmp_path):
    x = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    np.save(tmp_path / "x.npy", x)
    loaded, names = load_inputs(tmp_path / "x.npy")
    assert names is None
    assert np.array_equal(loaded, (x.transpose(0, 3, 1, 2) / 255.0).astype(np.float32))


def test_table_with_and_without_the_label_column(tmp_path):
    train = tmp_path / "train.csv"
    train.write_text("a,b,label\n1,10,x\n2,20,y\n3,30,x\n4,40,y\n5,50,x\n")
    data = load_dataset(train, valid_size=1)
    restored = Preprocessing.from_json(data.preprocessing.to_json())
    with_label = tmp_path / "new.csv"
    with_label.write_text("a,b,label\n6,60,x\n")
    features_only = tmp_path / "new2.csv"
    features_only.write_text("6,60\n")
    x1, _ = load_inputs(with_label, preprocessing=restored)
    x2, _ = load_inputs(features_only, preprocessing=restored)
    assert np.array_equal(x1, x2)
    assert np.array_equal(x1, restored.apply(np.array([[6.0, 60.0]])))
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("1,2,3,4\n")
    with pytest.raises(DataError, match="rows of 4 fields, but the model takes 2 features"):
        load_inputs(wrong, preprocessing=restored)
