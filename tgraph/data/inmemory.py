"""Datasets from Python objects: numpy arrays and pandas DataFrames.

They go through the same steps as files (:func:`tgraph.data.loading.build_dataset`):
class names, NCHW layout, validation split, preprocessing fitted on the training split.

>>> data = from_arrays(x, y, x_test=xt, y_test=yt)          # x (N, 32, 32, 3) uint8: NCHW
>>> data = from_dataframe(df, target="species", test=df_test)
"""

import numpy as np

from tgraph.data._arrays import describe
from tgraph.data._raw import Part, RawData
from tgraph.data.loading import build_dataset
from tgraph.errors import DataError

__all__ = ["from_arrays", "from_dataframe"]

_PANDAS = "from_dataframe needs pandas: pip install pandas"


def from_arrays(x, y, *, x_valid=None, y_valid=None, x_test=None, y_test=None,
                source="<arrays>", **options):
    """A :class:`tgraph.data.Dataset` from numpy arrays (or anything ``np.asarray`` takes).

    Args:
        x: (N, ...) training inputs, any numeric dtype: (N, features) tables, (N, H, W)
            or (N, C, H, W) / (N, H, W, C) images (NHWC is detected or given with
            ``layout``, and transposed to NCHW).
        y: (N,) labels: integer class indices, or class names (strings).
        x_valid, y_valid: a validation split (default: split off from x, y).
        x_test, y_test: a test split (default: none).
        source: the name of the data in messages and ``Dataset.source``.
        **options: ``valid_fraction``, ``valid_size``, ``valid_split``, ``seed``,
            ``class_names``, ``preprocessing``, ``impute``, ``layout``, as for
            :func:`tgraph.data.load_dataset`.

    Returns:
        The :class:`tgraph.data.Dataset`.

    Raises:
        DataError: an array is missing its partner, or is not what it should be.
    """
    pairs = {"train": (x, y), "valid": (x_valid, y_valid), "test": (x_test, y_test)}
    parts = {}
    for split, (xs, ys) in pairs.items():
        if (xs is None) != (ys is None):
            given = f"x_{split}" if xs is not None else f"y_{split}"
            raise DataError(f"from_arrays: {given} without its partner; give both the inputs "
                            "and the labels of a split")
        if xs is not None:
            suffix = "" if split == "train" else f"_{split}"
            parts[split] = Part(_array(xs, f"x{suffix}"), _array(ys, f"y{suffix}"),
                                f"x{suffix}", f"y{suffix}")
    return build_dataset(RawData(parts), source=source, fmt="arrays", **options)


def _array(value, name):
    array = np.asarray(value)
    if array.dtype == object:
        raise DataError(f"from_arrays: `{name}` is an object array; give numbers, or strings "
                        "for labels (np.asarray(labels, dtype=str))")
    if array.ndim == 0:
        raise DataError(f"from_arrays: `{name}` (={describe(array)}) must have one row per "
                        "example")
    return array


def from_dataframe(df, target=None, *, test=None, source="<DataFrame>", **options):
    """A :class:`tgraph.data.Dataset` from a pandas DataFrame: feature columns and a label.

    Args:
        df: the training examples, one row each; every column but ``target`` must be
            numeric (or boolean); missing values (NaN, None, ``pd.NA``) are refused,
            naming the row and column, unless ``impute`` is given.
        target: the label column's name, or its position (int); default the last.
        test: a DataFrame of test examples with the same columns, or None.
        source: the name of the data in messages and ``Dataset.source``.
        **options: as for :func:`from_arrays` (``preprocessing`` defaults to
            ``"standardize"`` for a table, as for CSV files).

    Returns:
        The :class:`tgraph.data.Dataset`; ``meta["columns"]`` lists the features.

    Raises:
        DataError: no pandas, a non-numeric feature column, a missing value, a missing
            label, unknown ``target``.
    """
    pd = _pandas()
    column = _target_column(df, target, pd)
    parts = {"train": _frame_part(df, column, options.get("impute"), "df")}
    if test is not None:
        parts["test"] = _frame_part(test, column, options.get("impute"), "test")
    info = {"columns": [str(c) for c in df.columns if c != column], "target": str(column)}
    return build_dataset(RawData(parts, kind="table", info=info), source=source,
                         fmt="dataframe", **options)


def _pandas():
    try:
        import pandas
    except ImportError as exc:
        raise DataError(_PANDAS) from exc
    return pandas


def _target_column(df, target, pd):
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"from_dataframe: `df` is a {type(df).__name__}; expected a "
                        "pandas DataFrame (for arrays use from_arrays)")
    columns = list(df.columns)
    if target is None:
        return columns[-1]
    if target in columns:
        return target
    is_index = isinstance(target, int) and not isinstance(target, bool)
    if is_index and -len(columns) <= target < len(columns):
        return columns[target]
    raise DataError(f"from_dataframe: `target` (={target!r}) is not a column; the columns are "
                    f"{', '.join(repr(c) for c in columns[:20])}")


def _frame_part(df, column, impute, name):
    if column not in df.columns:
        raise DataError(f"from_dataframe: `{name}` has no column {column!r}")
    features = df.drop(columns=[column])
    for c in features.columns:
        if not (_numeric(features[c].dtype)):
            raise DataError(f"from_dataframe: `{name}` column {c!r} holds {features[c].dtype} "
                            "values; features must be numbers: encode it (e.g. "
                            f"pd.get_dummies({name}, columns=[{c!r}])) or drop it")
    x = features.to_numpy(dtype=np.float64, na_value=np.nan)
    _refuse_missing(x, features, impute, name)
    labels = df[column]
    if labels.isna().any():
        row = labels.index[labels.isna().to_numpy()][0]
        raise DataError(f"from_dataframe: `{name}` row {row!r}, column {column!r}: missing "
                        "label; labels cannot be imputed: drop the row or give it its class")
    if getattr(labels.dtype, "kind", "O") in "iu":
        y = labels.to_numpy(dtype=np.int64)
    else:
        y = labels.astype(str).to_numpy(dtype=str)
    return Part(x, y, f"{name} features", f"{name} column {column!r}")


def _numeric(dtype):
    return dtype.kind in "biuf" if isinstance(dtype, np.dtype) else \
        getattr(dtype, "kind", "O") in "biuf"


def _refuse_missing(x, features, impute, name):
    missing = np.isnan(x)
    if impute is None and missing.any():
        r, c = np.argwhere(missing)[0]
        raise DataError(f"from_dataframe: `{name}` row {features.index[r]!r}, column "
                        f"{features.columns[c]!r}: missing value ({int(missing.sum())} in "
                        "all); fill them, or pass impute=\"mean\" or impute=\"median\"")
