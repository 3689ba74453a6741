"""CSV / TSV tables: header detection, target column, string labels, missing values, bad files."""

import gzip
import json

import numpy as np
import pytest

from tgraph.data import Preprocessing, load_dataset, read_csv_table
from tgraph.errors import ConfigError, DataError

IRIS_LIKE = """sepal_length,sepal_width,species
5.1,3.5,setosa
7.0,3.2,versicolor
6.3,3.3,virginica
4.9,3.0,setosa
6.4,3.2,versicolor
5.8,2.7,virginica
4.7,3.2,setosa
6.9,3.1,versicolor
7.1,3.0,virginica
5.0,3.6,setosa
"""


def write(tmp_path, text, name="table.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_string_labels_become_sorted_class_indices(tmp_path):
    path = write(tmp_path, IRIS_LIKE)
    data = load_dataset(path, valid_size=3, preprocessing="none")
    assert data.class_names == ("setosa", "versicolor", "virginica")
    assert data.num_classes == 3
    assert data.train.y.tolist() == [0, 1, 2, 0, 1, 2, 0]
    assert data.valid.y.tolist() == [1, 2, 0]
    assert data.train.x.dtype == np.float32 and data.train.x.shape == (7, 2)
    assert data.train.x[0].tolist() == [np.float32(5.1), np.float32(3.5)]
    assert data.meta["format"] == "csv"
    assert data.meta["columns"] == ["sepal_length", "sepal_width"]
    assert data.meta["target"] == "species"
    assert data.test is None
    assert data.notes == (f"no test split: {path} has none and no test file was given "
                          "(`test_path`, `--test-data`); only validation figures are reported",)
    assert data.split_info["test"] is None


def test_table_columns_are_standardized_with_training_statistics(tmp_path):
    data = load_dataset(write(tmp_path, IRIS_LIKE), valid_size=3)
    raw = np.loadtxt(tmp_path / "table.csv", delimiter=",", skiprows=1, usecols=(0, 1))
    train, valid = raw[:7], raw[7:]
    mean, std = train.mean(axis=0), train.std(axis=0)
    assert data.preprocessing.kind == "standardize"
    np.testing.assert_allclose(data.preprocessing.mean, mean, rtol=1e-12)
    np.testing.assert_allclose(data.train.x, (train - mean) / std, rtol=1e-6)
    np.testing.assert_allclose(data.valid.x, (valid - mean) / std, rtol=1e-6)


def test_no_header_target_by_index_and_tsv(tmp_path):
    path = write(tmp_path, "1\t0.5\t2\n0\t1.5\t3\n1\t2.5\t4\n0\t3.5\t5\n1\t4.5\t6\n", "t.tsv")
    data = load_dataset(path, target=0, valid_size=2, preprocessing="none")
    assert data.class_names == ("0", "1")
    assert data.train.y.tolist() == [1, 0, 1] and data.valid.y.tolist() == [0, 1]
    assert data.train.x.tolist() == [[0.5, 2], [1.5, 3], [2.5, 4]]
    assert data.meta["columns"] == ["column 1", "column 2"] and data.meta["target"] == "column 0"


def test_target_by_name_and_as_an_index_string(tmp_path):
    path = write(tmp_path, "label,a,b\nx,1,2\ny,3,4\nx,5,6\ny,7,8\n")
    by_name = load_dataset(path, target="label", valid_size=2, preprocessing="none")
    by_text = load_dataset(path, target="0", valid_size=2, preprocessing="none")
    assert by_name.train.x.tolist() == by_text.train.x.tolist() == [[1, 2], [3, 4]]
    assert by_name.class_names == ("x", "y")


def test_header_can_be_forced(tmp_path):
    path = write(tmp_path, "1,2,0\n3,4,1\n5,6,0\n7,8,1\n")
    data = load_dataset(path, header=True, valid_size=1, preprocessing="none")
    assert data.meta["columns"] == ["1", "2"] and data.sizes() == {"train": 2, "valid": 1}


def test_negative_numeric_labels_are_names(tmp_path):
    path = write(tmp_path, "a,y\n1,-1\n2,1\n3,-1\n4,1\n")
    data = load_dataset(path, valid_size=2, preprocessing="none")
    assert data.class_names == ("-1", "1") and data.train.y.tolist() == [0, 1]


def test_gzip_compressed_csv(tmp_path):
    path = tmp_path / "table.csv.gz"
    path.write_bytes(gzip.compress(IRIS_LIKE.encode()))
    assert load_dataset(path, valid_size=3).class_names == ("setosa", "versicolor", "virginica")


def test_test_path_is_a_second_table(tmp_path):
    train = write(tmp_path, IRIS_LIKE, "train.csv")
    test = write(tmp_path, "sepal_length,sepal_width,species\n6.0,3.0,virginica\n5.0,3.4,setosa\n",
                 "test.csv")
    data = load_dataset(train, test_path=test, valid_size=3)
    assert data.test.y.tolist() == [2, 0]
    assert data.split_info["test"] == str(test.resolve())
    assert data.notes == ()
    fitted = data.preprocessing
    expected = (np.array([[6.0, 3.0], [5.0, 3.4]]) - fitted.mean) / fitted.std
    np.testing.assert_allclose(data.test.x, expected, rtol=1e-6)


def test_missing_value_is_refused_naming_line_and_column(tmp_path):
    path = write(tmp_path, "a,b,y\n1,2,x\n3,,y\n5,6,x\n")
    with pytest.raises(DataError) as err:
        load_dataset(path)
    assert str(err.value) == (f"{path.resolve()}: line 3, column 'b': missing value (''); fill it "
                              "in the file, drop the row, or pass impute=\"mean\" or "
                              "impute=\"median\" (`--impute mean`)")


@pytest.mark.parametrize("impute", ["mean", "median"])
def test_impute_uses_the_training_split_only(tmp_path, impute):
    # Rows 1-4 train, rows 5-6 validate; the validation values (100, 1000) must not count.
    path = write(tmp_path, "a,b,y\n1,10,p\nNA,20,q\n3,?,p\n8,40,q\n100,50,p\n1000,,q\n")
    data = load_dataset(path, valid_size=2, valid_split="last", impute=impute,
                        preprocessing="none")
    fill_a = {"mean": 4.0, "median": 3.0}[impute]
    fill_b = {"mean": 70 / 3, "median": 20.0}[impute]
    np.testing.assert_allclose(data.preprocessing.fill, [fill_a, fill_b])
    assert data.train.x[1, 0] == np.float32(fill_a) and data.train.x[2, 1] == np.float32(fill_b)
    assert data.valid.x[1, 1] == np.float32(fill_b)


def test_non_numeric_feature(tmp_path):
    path = write(tmp_path, "a,city,y\n1,Paris,x\n2,Rome,y\n")
    with pytest.raises(DataError) as err:
        load_dataset(path)
    assert str(err.value) == (f"{path.resolve()}: line 2, column 'city': 'Paris' is not a number; "
                              "feature columns must hold numbers (only the `target` column may "
                              "hold class names); encode or drop that column, or choose it as "
                              "`target`")


def test_missing_label(tmp_path):
    path = write(tmp_path, "a,y\n1,x\n2,\n")
    with pytest.raises(DataError, match=r"line 3, column 'y': missing label \(''\); labels "
                                        "cannot be imputed"):
        read_csv_table(path)


def test_ragged_rows(tmp_path):
    path = write(tmp_path, "a,b,y\n1,2,x\n3,4\n")
    with pytest.raises(DataError) as err:
        load_dataset(path)
    assert str(err.value) == (f"{path.resolve()}: line 3 has 2 fields, the first row has 3; every "
                              "row needs one value per column (separator ','; pass `delimiter` "
                              "if it is another one)")


def test_unknown_target(tmp_path):
    path = write(tmp_path, "a,b,y\n1,2,x\n3,4,y\n")
    with pytest.raises(ConfigError, match=r"`target` \(='label'\) is not a column of the table; "
                                          r"give a column name \('a', 'b', 'y'\) or an index "
                                          r"in \[-3, 2\]"):
        load_dataset(path, target="label")


def test_empty_and_truncated_gzip(tmp_path):
    empty = write(tmp_path, "\n\n", "empty.csv")
    with pytest.raises(DataError, match="the table is empty"):
        load_dataset(empty)
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(gzip.compress(IRIS_LIKE.encode())[:40])
    with pytest.raises(DataError) as err:
        load_dataset(cut)
    assert str(err.value).startswith(f"{cut.resolve()}: cannot read a CSV table: EOFError: ")
    assert str(err.value).endswith("download or copy the file again")


def test_binary_file_is_not_read_as_text(tmp_path):
    path = tmp_path / "bin.csv"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(DataError, match=f"{path.resolve()}: cannot read a CSV table: "
                                        "UnicodeDecodeError"):
        load_dataset(path)


def test_csv_options_warn_for_other_formats():
    with pytest.warns(UserWarning, match="`target` is only used with the csv format, not npz; "
                                         "ignored"):
        load_dataset(target="y")


def test_integer_labels_are_indices_and_empty_classes_are_noted(tmp_path):
    path = write(tmp_path, "a,y\n1,1\n2,2\n3,3\n4,1\n5,2\n6,3\n")
    data = load_dataset(path, valid_split="random", valid_size=3)
    assert data.class_names == ("0", "1", "2", "3") and data.num_classes == 4
    assert data.notes[0] == ("the classes '0' have no example: integer labels are class indices "
                             "0..K-1 (labels 1..3 make 4 classes); store labels as names, or "
                             "pass `class_names`")


def test_labels_of_the_test_file(tmp_path):
    train = write(tmp_path, IRIS_LIKE, "train.csv")
    test = write(tmp_path, "sepal_length,sepal_width,species\n6.0,3.0,daisy\n", "test.csv")
    data = load_dataset(train, test_path=test, valid_size=3)
    assert data.class_names == ("daisy", "setosa", "versicolor", "virginica")
    assert data.notes == ("the classes 'daisy' have no training example (only validation or "
                          "test ones): the model cannot learn them",)
    with pytest.raises(DataError) as err:  # a model's own class names: the file is named
        load_dataset(train, test_path=test, valid_size=3,
                     class_names=["setosa", "versicolor", "virginica"])
    assert str(err.value) == (f"{test.resolve()}: column 'species': label 'daisy' (example 0) is "
                              "not one of the class names ['setosa', 'versicolor', 'virginica']; "
                              "fix the label or the `class_names`")


def test_load_options_read_the_source_again_the_same_way(tmp_path):
    train = write(tmp_path, "label;a;b\nx;1;NA\ny;2;20\nx;3;30\ny;4;40\nx;5;50\ny;6;60\n")
    test = write(tmp_path, "label;a;b\nx;7;70\n", "test.csv")
    data = load_dataset(train, target="label", delimiter=";", impute="mean", test_path=test,
                        valid_split="random", valid_size=2, seed=3)
    record = json.loads(json.dumps(data.record()))
    assert record["load_options"] == {
        "format": "csv", "valid_fraction": 0.2, "valid_size": 2, "valid_split": "random",
        "seed": 3, "test_path": str(test.resolve()), "impute": "mean", "layout": None,
        "target": "label", "header": None, "delimiter": ";"}
    preprocessing = Preprocessing.from_dict(record["preprocessing"])
    again = load_dataset(record["source"], **record["load_options"], preprocessing=preprocessing,
                         class_names=record["class_names"])
    for split in ("train", "valid", "test"):
        assert np.array_equal(getattr(again, split).x, getattr(data, split).x)
        assert np.array_equal(getattr(again, split).y, getattr(data, split).y)
