"""Directories of images, one subdirectory per class: colour, sizes, splits, bad files."""

import warnings

import numpy as np
import pytest

from tgraph.data import load_dataset, read_image, stratified_indices
from tgraph.errors import DataError

Image = pytest.importorskip("PIL.Image")


def rgb(seed, height, width):
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def save(path, array, mode=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode).save(path)
    return path


def make_folder(root, sizes, classes=("cat", "dog"), per_class=3, suffix=".png"):
    """``root/<class>/<i>.png`` colour images; returns {path: HWC array} in reading order."""
    images = {}
    k = 0
    for name in classes:
        for i in range(per_class):
            array = rgb(k, *sizes[k % len(sizes)])
            images[save(root / name / f"{i}{suffix}", array)] = array
            k += 1
    return images


def test_colour_pngs_are_nchw_scaled_to_unit_range(tmp_path):
    images = make_folder(tmp_path / "pets", [(8, 6)], per_class=4)
    data = load_dataset(tmp_path / "pets", valid_size=2)
    assert data.meta["format"] == "folders"
    assert data.class_names == ("cat", "dog") and data.num_classes == 2
    assert data.input_shape == (3, 8, 6)
    # Image folders are sorted by class: their default validation split is random.
    assert data.split_info["valid_split"] == "random"
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    valid = stratified_indices(labels, 2, seed=0)
    train = np.setdiff1d(np.arange(8), valid)
    stored = np.stack(list(images.values())).transpose(0, 3, 1, 2)  # HWC files -> NCHW
    assert np.array_equal(data.train.x, (stored[train] / 255.0).astype(np.float32))
    assert np.array_equal(data.valid.x, (stored[valid] / 255.0).astype(np.float32))
    assert data.train.y.tolist() == labels[train].tolist()
    assert data.valid.y.tolist() == [0, 1]  # stratified: one of each class
    assert data.preprocessing.kind == "scale" and data.preprocessing.high == 255.0


def test_last_split_of_a_class_sorted_folder_is_refused(tmp_path):
    make_folder(tmp_path / "pets", [(4, 4)], per_class=20)
    with pytest.raises(DataError, match=r"holds 1 of the 2 classes of the training split "
                                        r"\(missing: 'cat'\); the file is probably sorted by "
                                        r"class; use valid_split=\"random\""):
        load_dataset(tmp_path / "pets", valid_split="last")


def test_two_sizes_are_refused_without_image_size(tmp_path):
    make_folder(tmp_path / "pets", [(8, 6), (10, 12)])
    with pytest.raises(DataError) as err:
        load_dataset(tmp_path / "pets")
    first, odd = tmp_path / "pets" / "cat" / "0.png", tmp_path / "pets" / "cat" / "1.png"
    assert str(err.value) == (
        f"{odd.resolve()}: the image is 10x12 pixels (height x width), but {first.resolve()} is "
        "8x6; images of several sizes need image_size=(height, width) (`--image-size HxW`) to resize "
        "them all to one size")


def test_two_sizes_are_resized_with_image_size(tmp_path):
    images = make_folder(tmp_path / "pets", [(8, 6), (10, 12)])
    data = load_dataset(tmp_path / "pets", image_size=(8, 6), valid_size=2)
    assert data.input_shape == (3, 8, 6) and data.meta["resized"] is True
    path, array = list(images.items())[1]  # a 10x12 image
    reference = np.asarray(Image.fromarray(array).resize((6, 8), Image.Resampling.BILINEAR))
    assert np.array_equal(read_image(path, channels=3, size=(8, 6)), reference.transpose(2, 0, 1))
    same = load_dataset(tmp_path / "pets", image_size="8x6", valid_size=2)
    assert np.array_equal(same.train.x, data.train.x)


def test_grayscale_folder_has_one_channel_and_mixed_folder_is_rgb(tmp_path):
    for i, name in enumerate(["a", "b"]):
        for j in range(2):
            save(tmp_path / "gray" / name / f"{j}.png", rgb(i * 2 + j, 5, 5)[..., 0], "L")
    gray = load_dataset(tmp_path / "gray", valid_size=2)
    assert gray.input_shape == (1, 5, 5)
    save(tmp_path / "gray" / "b" / "2.png", rgb(9, 5, 5))
    mixed = load_dataset(tmp_path / "gray", valid_size=2)
    assert mixed.input_shape == (3, 5, 5)
    forced = load_dataset(tmp_path / "gray", color_mode="grayscale", valid_size=2,
                          valid_split="random")
    assert forced.input_shape == (1, 5, 5)


def test_jpeg_and_bmp_and_transparent_png(tmp_path):
    root = tmp_path / "mixed"
    save(root / "a" / "0.bmp", rgb(0, 4, 4))
    save(root / "a" / "1.jpg", rgb(1, 4, 4))
    rgba = np.dstack([rgb(2, 4, 4), np.zeros((4, 4), np.uint8)])  # fully transparent
    save(root / "b" / "0.png", rgba, "RGBA")
    save(root / "b" / "1.jpeg", rgb(3, 4, 4))
    data = load_dataset(root, valid_size=2, valid_split="random", preprocessing="none")
    x = np.concatenate([data.train.x, data.valid.x])
    assert x.shape == (4, 3, 4, 4)
    bmp = read_image(root / "a" / "0.bmp")
    assert np.array_equal(bmp, rgb(0, 4, 4).transpose(2, 0, 1))  # BMP is lossless
    assert not read_image(root / "b" / "0.png").any()  # transparent pixels are black


def test_train_valid_test_subfolders(tmp_path):
    for split, n in (("train", 3), ("valid", 1), ("test", 2)):
        for name in ("cat", "dog"):
            for i in range(n):
                save(tmp_path / "pets" / split / name / f"{i}.png", rgb(i, 4, 4))
    data = load_dataset(tmp_path / "pets")
    assert data.sizes() == {"train": 6, "valid": 2, "test": 4}
    assert data.split_info["valid_split"] == "file" and data.split_info["test"] == "file"
    assert data.test.y.tolist() == [0, 0, 1, 1]


def test_test_split_with_an_unknown_class(tmp_path):
    for split, names in (("train", ("cat", "dog")), ("test", ("cat", "cow"))):
        for name in names:
            save(tmp_path / "pets" / split / name / "0.png", rgb(0, 4, 4))
    with pytest.raises(DataError) as err:
        load_dataset(tmp_path / "pets", valid_size=1)
    assert str(err.value) == (f"{(tmp_path / 'pets' / 'test' / 'cow').resolve()}: a class that the "
                              "training directory does not have (its classes: cat, dog); add it "
                              "there or remove it")


def test_empty_class_and_no_classes(tmp_path):
    make_folder(tmp_path / "pets", [(4, 4)])
    (tmp_path / "pets" / "emu").mkdir()
    with pytest.raises(DataError, match=r"emu: no images \(.png, .jpg, .jpeg, .bmp\) in this "
                                        "class directory; add some or remove the directory"):
        load_dataset(tmp_path / "pets", format="folders")
    (tmp_path / "flat").mkdir()
    save(tmp_path / "flat" / "0.png", rgb(0, 4, 4))
    with pytest.raises(DataError, match="flat: no class subdirectories; expected a directory of "
                                        "images with one subdirectory per class"):
        load_dataset(tmp_path / "flat", format="folders")


def test_truncated_image_names_the_file(tmp_path):
    images = make_folder(tmp_path / "pets", [(16, 16)])
    broken = list(images)[3]
    broken.write_bytes(broken.read_bytes()[:60])
    with pytest.raises(DataError) as err:
        load_dataset(tmp_path / "pets")
    assert str(err.value).startswith(f"{broken.resolve()}: cannot read the image (")
    assert str(err.value).endswith("is it a complete PNG, JPEG or BMP file? Replace or remove it")


def test_other_files_are_skipped_with_a_warning(tmp_path):
    make_folder(tmp_path / "pets", [(4, 4)])
    (tmp_path / "pets" / "cat" / "notes.txt").write_text("hello")
    (tmp_path / "pets" / "cat" / ".DS_Store").write_text("")
    with pytest.warns(UserWarning, match="skipped 1 files that are not png/jpg/jpeg/bmp images"):
        data = load_dataset(tmp_path / "pets", valid_size=2)
    assert len(data.train) + len(data.valid) == 6


def test_no_warning_for_a_clean_folder(tmp_path):
    make_folder(tmp_path / "pets", [(4, 4)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_dataset(tmp_path / "pets", valid_size=2)


def test_without_pillow_the_message_says_how_to_install_it(tmp_path, monkeypatch):
    make_folder(tmp_path / "pets", [(4, 4)])
    monkeypatch.setitem(__import__("sys").modules, "PIL", None)
    with pytest.raises(DataError) as err:
        load_dataset(tmp_path / "pets")
    first = (tmp_path / "pets" / "cat" / "0.png").resolve()
    assert str(err.value) == (f"{first}: reading images needs Pillow: pip install "
                              "'tgraph[images]' (or pip install pillow)")
