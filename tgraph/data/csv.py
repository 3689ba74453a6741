"""Tables in CSV / TSV files: numeric feature columns and one label column.

Read with Python's :mod:`csv` module (no pandas needed); ``.gz`` files are decompressed
on the fly. Rules:

- the separator is ``","`` (tab for ``.tsv`` and ``.tab`` files), or ``delimiter``;
- the first row is a header when none of its fields is a number (``header=`` says it
  explicitly); blank lines are skipped;
- the label column (``target``) is named by header name or index, the last by default;
  labels are numbers or names (see :mod:`tgraph.data.labels`);
- every other column must hold numbers; a missing value (an empty field, ``NA``,
  ``NaN``, ``N/A``, ``null``, ``None``, ``?``) is an error naming its line and column,
  unless the caller imputes (``allow_missing``: it is read as NaN); a missing label is
  always an error.
"""

import csv
import io
import re

import numpy as np

from tgraph.data._files import FETCH_AGAIN, existing_path, open_maybe_gzip, reading
from tgraph.data._raw import Part, RawData
from tgraph.errors import ConfigError, DataError

__all__ = ["TABLE_SUFFIXES", "MISSING_TOKENS", "read_csv_table", "read_csv_features"]

TABLE_SUFFIXES = (".csv", ".tsv", ".tab", ".csv.gz", ".tsv.gz", ".tab.gz")
MISSING_TOKENS = frozenset({"", "na", "nan", "n/a", "null", "none", "?"})
_KIND = "a CSV table"
_INTEGER = re.compile(r"^[+-]?\d+$")
_IMPUTE_HINT = ("fill it in the file, drop the row, or pass impute=\"mean\" or "
                "impute=\"median\" (`--impute mean`)")


def read_csv_table(path, *, target=None, header=None, delimiter=None, allow_missing=False):
    """The examples of a CSV or TSV table, as stored.

    Args:
        path: the ``.csv`` / ``.tsv`` file (gzip-compressed or not).
        target: the label column: a header name, or an index (int, or a str of one;
            negative counts from the end); default the last column.
        header: True or False, or None to detect (a first row without numbers).
        delimiter: the field separator; default ``"\\t"`` for ``.tsv`` / ``.tab``,
            else ``","``.
        allow_missing: read missing feature values as NaN (for imputation) instead of
            refusing them.

    Returns:
        A :class:`RawData` of kind ``"table"`` with one ``train`` part: x (N, features)
        float64, y (N,) int64 (integer labels) or str (any other labels); ``info``
        holds ``columns`` (the feature names) and ``target`` (the label column's name).

    Raises:
        DataError: unreadable file, rows of different lengths, a non-numeric feature,
            a missing value (see ``allow_missing``), an unknown ``target``.
    """
    path = existing_path(path, _KIND)
    rows = _rows(path, delimiter or _default_delimiter(path))
    names, rows = _split_header(path, rows, header)
    column = _target_index(path, target, names)
    features = [i for i in range(len(names)) if i != column]
    x = _features(path, rows, features, names, allow_missing)
    y = _labels(path, rows, column, names)
    info = {"columns": [names[i] for i in features], "target": names[column]}
    return RawData({"train": Part(x, y, "features", f"column {names[column]!r}")},
                   kind="table", info=info)


def read_csv_features(path, n_features, *, target=None, header=None, delimiter=None,
                      allow_missing=False):
    """The feature columns of a table of inputs to predict, with or without the label column.

    Args:
        path: the ``.csv`` / ``.tsv`` file (gzip-compressed or not).
        n_features: how many features the model takes.
        target: the label column to drop when the rows have ``n_features + 1`` fields
            (name or index; default the last); ignored when they have ``n_features``.
        header, delimiter, allow_missing: as for :func:`read_csv_table`.

    Returns:
        (N, n_features) float64 (NaN for missing values with ``allow_missing``).

    Raises:
        DataError: rows of another width, non-numeric or missing values.
    """
    path = existing_path(path, _KIND)
    rows = _rows(path, delimiter or _default_delimiter(path))
    names, rows = _split_header(path, rows, header)
    if len(names) not in (n_features, n_features + 1):
        raise DataError(f"{path}: rows of {len(names)} fields, but the model takes {n_features} "
                        f"features; give {n_features} feature columns, optionally with the "
                        "label column")
    columns = list(range(len(names)))
    if len(names) == n_features + 1:
        columns.remove(_target_index(path, target, names))
    return _features(path, rows, columns, names, allow_missing)


def _default_delimiter(path):
    return "\t" if path.name.lower().endswith((".tsv", ".tab", ".tsv.gz", ".tab.gz")) else ","


def _rows(path, delimiter):
    """[(line number, fields)] of the non-blank lines, all of one length."""
    with reading(path, _KIND), open_maybe_gzip(path) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        try:
            reader = csv.reader(text, delimiter=delimiter)
            rows = [(reader.line_num, r) for r in reader if any(f.strip() for f in r)]
        except (UnicodeDecodeError, csv.Error) as exc:
            raise DataError(f"{path}: cannot read {_KIND}: {type(exc).__name__}: {exc}; is it "
                            f"a UTF-8 text file? {FETCH_AGAIN}") from exc
    if not rows:
        raise DataError(f"{path}: the table is empty; expected a header (optional) and one row "
                        "per example")
    width = len(rows[0][1])
    for line, fields in rows:
        if len(fields) != width:
            raise DataError(f"{path}: line {line} has {len(fields)} fields, the first row has "
                            f"{width}; every row needs one value per column (separator "
                            f"{delimiter!r}; pass `delimiter` if it is another one)")
    if width < 2:
        raise DataError(f"{path}: rows of one field (separator {delimiter!r}); a table needs "
                        "feature columns and a label column; pass `delimiter` if the separator "
                        "is another one")
    return rows


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _split_header(path, rows, header):
    """(column names, data rows)."""
    if header is None:
        header = not any(_is_number(f) for f in rows[0][1])
    if not header:
        return [f"column {i}" for i in range(len(rows[0][1]))], rows
    if len(rows) < 2:
        raise DataError(f"{path}: the table has a header and no rows")
    return [f.strip() for f in rows[0][1]], rows[1:]


def _target_index(path, target, names):
    if target is None:
        return len(names) - 1
    if isinstance(target, str) and target in names:
        return names.index(target)
    if isinstance(target, str) and _INTEGER.match(target.strip()):
        target = int(target)
    is_index = isinstance(target, int) and not isinstance(target, bool)
    if is_index and -len(names) <= target < len(names):
        return target % len(names)
    raise ConfigError(f"{path}: `target` (={target!r}) is not a column of the table; give a "
                      f"column name ({', '.join(repr(n) for n in names[:20])}) or an index in "
                      f"[-{len(names)}, {len(names) - 1}]")


def _features(path, rows, columns, names, allow_missing):
    x = np.empty((len(rows), len(columns)), np.float64)
    for r, (line, fields) in enumerate(rows):
        for c, column in enumerate(columns):
            x[r, c] = _number(path, line, names[column], fields[column], allow_missing)
    return x


def _number(path, line, name, text, allow_missing):
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    if text.lower() in MISSING_TOKENS:
        if allow_missing:
            return np.nan
        raise DataError(f"{path}: line {line}, column {name!r}: missing value ({text!r}); "
                        f"{_IMPUTE_HINT}")
    raise DataError(f"{path}: line {line}, column {name!r}: {text!r} is not a number; feature "
                    "columns must hold numbers (only the `target` column may hold class "
                    "names); encode or drop that column, or choose it as `target`")


def _labels(path, rows, column, names):
    texts = [fields[column].strip() for _, fields in rows]
    for (line, _), text in zip(rows, texts):
        if text.lower() in MISSING_TOKENS:
            raise DataError(f"{path}: line {line}, column {names[column]!r}: missing label "
                            f"({text!r}); labels cannot be imputed: drop the row or give it "
                            "its class")
    values = [_integral(t) for t in texts]
    if all(v is not None for v in values):
        return np.array(values, dtype=np.int64)
    return np.array(texts, dtype=str)


def _integral(text):
    """The int a label stands for ("3", "3.0"), or None for a name."""
    if _INTEGER.match(text):
        return int(text)
    try:
        value = float(text)
    except ValueError:
        return None
    return int(value) if value.is_integer() and abs(value) < 2**31 else None
