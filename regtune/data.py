"""Loading a table and choosing target, features and task.

A *source* is a CSV path (``.csv`` or ``.csv.gz``), ``-`` for standard input, or ``builtin:NAME`` for
a dataset bundled with scikit-learn. Nothing here fits a model: the result is a :class:`Dataset`.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import stat
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO

from regtune.errors import ConfigError, DataError, named

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

#: Bundled scikit-learn datasets: name -> (loader function name, task).
BUILTINS: dict[str, tuple[str, str, str]] = {
    "diabetes": ("load_diabetes", "regression", "disease progression after one year, 442 × 10"),
    "breast_cancer": ("load_breast_cancer", "classification", "malignant or benign, 569 × 30"),
    "wine": ("load_wine", "classification", "three cultivars, 178 × 13"),
    "iris": ("load_iris", "classification", "three species, 150 × 4"),
    "digits": ("load_digits", "classification", "handwritten digits 0-9, 1797 × 64"),
}

#: A numeric target with at most this many distinct integer values is taken as class labels.
MAX_CLASSES_AUTO = 20


@dataclass
class Dataset:
    """A table split into features and target, with the task and the kind of each feature."""

    source: str
    target: str
    X: pd.DataFrame
    y: np.ndarray
    task: str
    task_reason: str
    numeric: list[str]
    categorical: list[str]
    rows_dropped: int = 0
    groups: np.ndarray | None = None
    fold_ids: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)
    #: The dtype pandas read each feature column as, before the conversion to float64 / text.
    source_dtypes: dict[str, str] = field(default_factory=dict)
    #: The offset of each row (``--offset``, or the log of ``--exposure``), its column and which it was.
    offset: np.ndarray | None = None
    offset_column: str | None = None
    offset_kind: str | None = None
    #: The weight of each row (``--weights``; ≥ 0, not all 0) and its column; None without weights.
    weights: np.ndarray | None = None
    weights_column: str | None = None
    #: How a missing numeric value is filled in a fold (``--impute``): by the training rows' median or mean.
    impute: str = "median"
    #: The 1-based data row (header not counted) of each kept row in the source, for messages.
    row_numbers: np.ndarray | None = None

    def row_number(self, index: int) -> int:
        """The source's data row (from 1, header not counted) of row ``index`` of ``X`` and ``y``."""
        return int(self.row_numbers[index]) if self.row_numbers is not None else index + 1

    @property
    def n_rows(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    @property
    def n_classes(self) -> int | None:
        """The number of classes of a classification target (None for regression)."""
        return len(set(self.y.tolist())) if self.task == "classification" else None

    def subset(self, rows: np.ndarray, source: str | None = None) -> Dataset:
        """The same table restricted to ``rows`` (positions), e.g. the rows left for the search."""
        from dataclasses import replace

        import numpy as np

        return replace(
            self,
            source=source or self.source,
            X=self.X.iloc[rows].reset_index(drop=True),
            y=self.y[rows],
            groups=None if self.groups is None else self.groups[rows],
            fold_ids=None if self.fold_ids is None else self.fold_ids[rows],
            offset=None if self.offset is None else self.offset[rows],
            weights=None if self.weights is None else self.weights[rows],
            row_numbers=(self.row_numbers if self.row_numbers is not None else np.arange(1, self.n_rows + 1))[rows],
            rows_dropped=0 if source else self.rows_dropped,
        )

    def fingerprint(self) -> str:
        """A short hash of the data (features, target, column names) for identifying a study."""
        import pandas as pd

        h = hashlib.sha256()
        h.update(",".join(map(str, self.X.columns)).encode())
        h.update(pd.util.hash_pandas_object(self.X, index=False).to_numpy().tobytes())
        h.update(pd.util.hash_pandas_object(pd.Series(self.y), index=False).to_numpy().tobytes())
        return h.hexdigest()[:16]


def list_builtins() -> list[tuple[str, str, str]]:
    """The bundled datasets as (name, task, description)."""
    return [(name, task, desc) for name, (_, task, desc) in BUILTINS.items()]


def read_table(source: str, stdin: TextIO | BinaryIO | None = None, sep: str | None = None) -> pd.DataFrame:
    """Read a source into a DataFrame; the target, if bundled, is the column ``target``.

    A regular file is read from its path, standard input and other pipes (``<(cat data.csv)``) once into
    memory; either is recognised by its content (:func:`regtune.tables.read_file`: Parquet, Arrow IPC,
    CSV with ``sep`` or a sniffed delimiter, gzip / Zstandard compressed; a known non-table kind refused);
    a device is refused. Text must be UTF-8 (a UTF-8 or UTF-16 byte-order mark is honoured).
    """
    from regtune.tables import read_file

    if source.startswith("builtin:"):
        name = source.split(":", 1)[1]
        if name not in BUILTINS:
            raise DataError(
                f"unknown built-in dataset {name!r}: use one of {', '.join(BUILTINS)} (see `regtune datasets`)"
            )
        import sklearn.datasets

        bunch = getattr(sklearn.datasets, BUILTINS[name][0])(as_frame=True)
        frame: pd.DataFrame = bunch.frame
        return frame
    if source == "-":
        stream = stdin if stdin is not None else sys.stdin
        buffer = getattr(stream, "buffer", None)
        raw = (buffer or stream).read()
        data = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else bytes(raw)
        if not data.strip():
            raise DataError("standard input is empty: pipe a CSV file with a header row into regtune")
        return read_file(data, "standard input", sep)
    path = Path(source)
    if not path.exists():
        raise DataError(f"file not found: {source} (check the path, or use - to read standard input)")
    if path.is_dir():
        raise DataError(f"{source} is a folder, not a CSV file: give the path of a .csv or .csv.gz file")
    try:
        with path.open("rb") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):  # /dev/zero would never end
                raise DataError(f"{source} is a device, not a CSV file: give a file, a pipe, or - for standard input")
            # A pipe has no size and can be read only once: keep what it gives.
            special = not stat.S_ISREG(mode)
            data = handle.read() if special else handle.read(4)
    except OSError as exc:
        raise DataError(f"cannot read {source}: {exc.strerror} (check its permissions)") from None
    empty = not data.strip() if special else path.stat().st_size == 0
    if empty:
        raise DataError(f"{source} is empty: give a CSV file with a header row and data rows")
    return read_file(data if special else path, source, sep)


#: The name of the target made from ``y`` when neither ``target`` nor ``y``'s own name gives one.
DEFAULT_TARGET = "y"


def _is_paths(source: Any) -> bool:
    if isinstance(source, str | os.PathLike):
        return True
    return isinstance(source, list | tuple) and bool(source) and all(isinstance(s, str | os.PathLike) for s in source)


def read_sources(
    sources: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    stdin: TextIO | BinaryIO | None = None,
    sep: str | None = None,
    source_column: str | None = None,
) -> tuple[pd.DataFrame, str]:
    """The table of one source or several (paths and quoted glob patterns, :func:`regtune.tables.expand_sources`)
    with the same columns, concatenated in order; ``source_column`` names a column holding the file of each row.
    Also returns how messages and the result name the data: the source as given (the sources, space-separated)."""
    from regtune.tables import concat_tables, expand_sources

    listed = [os.fspath(sources)] if isinstance(sources, str | os.PathLike) else [os.fspath(s) for s in sources]
    if any(not isinstance(s, str) for s in listed):
        raise ConfigError("data paths must be text, not bytes: decode them first")
    paths = expand_sources([str(s) for s in listed])
    label = " ".join(str(s) for s in listed)
    if len(paths) == 1 and source_column is None:
        return read_table(paths[0], stdin=stdin, sep=sep), label
    return concat_tables([(p, read_table(p, stdin=stdin, sep=sep)) for p in paths], source_column), label


def table_of(
    source: Any,
    y: Any = None,
    target: str | None = None,
    stdin: TextIO | BinaryIO | None = None,
    sep: str | None = None,
    source_column: str | None = None,
) -> tuple[pd.DataFrame, str, str | None]:
    """The table of :func:`load_dataset`'s ``source`` (and ``y``), how messages name it, and the target.

    A source string (or path), or a list of them, is read by :func:`read_sources`; a table in memory is
    converted to pandas (:func:`as_frame`); features ``X`` with a target ``y`` become one table with ``y``
    as its last column. Anything else is a :class:`ConfigError`.
    """
    if y is not None:
        return frame_from_arrays(source, y, target)
    if _is_paths(source):
        read, label = read_sources(source, stdin=stdin, sep=sep, source_column=source_column)
        return read, label, target
    frame = as_frame(source)
    if frame is not None:
        return frame.copy(deep=False), "DataFrame", target
    kind = type(source).__name__
    if _is_array_like(source):
        raise ConfigError(
            f"data is a {kind} without a target: give the target too, tune(X, y), or a DataFrame with the target"
            f" as a column and {named('target')} naming it"
        )
    raise ConfigError(
        f"data must be a path, a DataFrame (pandas, pyarrow, polars, …) or features X with a target y; got {kind}"
    )


def _is_array_like(value: Any) -> bool:
    return hasattr(value, "__array__") or hasattr(value, "shape") or isinstance(value, list | tuple)


def as_frame(data: Any) -> pd.DataFrame | None:
    """``data`` as a pandas DataFrame when it is a table: a pandas DataFrame (as it is), a pyarrow Table or
    RecordBatch, an object that exports an Arrow stream (``__arrow_c_stream__``: polars, DuckDB, …) or the
    dataframe interchange protocol (``__dataframe__``). None for anything else (arrays included)."""
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pd.Series | str | bytes | os.PathLike):
        return None
    if hasattr(data, "__arrow_c_stream__") or type(data).__module__.startswith("pyarrow"):
        try:
            import pyarrow as pa
        except ImportError:  # pragma: no cover - pyarrow is a dependency
            pa = None
        if pa is not None:
            try:
                table = pa.table(data)
            except (TypeError, ValueError, pa.ArrowException) as exc:
                raise ConfigError(f"cannot read the {type(data).__name__} as a table ({exc})") from None
            frame: pd.DataFrame = table.to_pandas()
            return frame
    if hasattr(data, "__dataframe__"):
        try:
            converted: pd.DataFrame = pd.api.interchange.from_dataframe(data)
        except Exception as exc:  # the producer's own error
            raise ConfigError(f"cannot read the {type(data).__name__} as a table ({exc})") from None
        return converted
    return None


def frame_from_arrays(X: Any, y: Any, target: str | None = None) -> tuple[pd.DataFrame, str, str]:
    """Features ``X`` (a 2-D array, a sparse matrix — made dense —, or a table) and a target ``y`` (1-D)
    as one table, its label in messages, and the target's name: ``target``, else ``y``'s own name (a
    pandas Series), else ``y``. Array columns are named ``x0``, ``x1``, … as scikit-learn names them."""
    import numpy as np
    import pandas as pd

    frame = as_frame(X)
    if frame is not None:
        frame = frame.copy(deep=False).reset_index(drop=True)
        frame.columns = [str(c) for c in frame.columns]
    else:
        if not _is_array_like(X):
            raise ConfigError(f"X must be an array, a sparse matrix or a DataFrame; got {type(X).__name__}")
        dense = X.toarray() if hasattr(X, "toarray") else X
        try:
            values = np.asarray(dense)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"X cannot be read as an array ({exc})") from None
        if values.ndim != 2:
            raise ConfigError(
                f"X must be 2-D (rows × features), got {values.ndim}-D: reshape it, e.g. X.reshape(-1, 1)"
                " for a single feature"
            )
        frame = pd.DataFrame(values, columns=[f"x{i}" for i in range(values.shape[1])])
    if isinstance(y, pd.DataFrame) and y.shape[1] == 1:
        y = y.iloc[:, 0]
    if isinstance(y, pd.Series):
        y_values: Any = y.reset_index(drop=True)
        own = y.name if isinstance(y.name, str) and y.name not in frame.columns else None
    else:
        if not _is_array_like(y):
            raise ConfigError(f"y must be a 1-D array or a Series; got {type(y).__name__}")
        y_values = np.asarray(y)
        if y_values.ndim == 2 and y_values.shape[1] == 1:
            y_values = y_values[:, 0]
        if y_values.ndim != 1:
            raise ConfigError(f"y must be 1-D (one target per row), got shape {y_values.shape}")
        own = None
    if len(y_values) != frame.shape[0]:
        raise ConfigError(f"X has {frame.shape[0]} rows but y has {len(y_values)}: give one target per row")
    name = target or own or DEFAULT_TARGET
    if name in frame.columns:
        raise ConfigError(
            f"X has a column {name!r}, the target's name: name the target otherwise with {named('target')}"
        )
    frame[name] = y_values
    return frame, "X, y arrays", name


def _close_names(name: str, columns: list[str]) -> str:
    close = difflib.get_close_matches(name, columns, n=3, cutoff=0.5)
    if not close:
        close = [c for c in columns if name.lower() in c.lower() or c.lower() in name.lower()][:3]
    if close:
        return "did you mean " + ", ".join(repr(c) for c in close) + "?"
    shown = ", ".join(columns[:8]) + (", ..." if len(columns) > 8 else "")
    return f"the columns are: {shown}"


def _check_columns(names: tuple[str, ...], columns: list[str], flag: str) -> None:
    for name in names:
        if name not in columns:
            raise DataError(f"{flag} column {name!r} not found: {_close_names(name, columns)}")


def _check_delimiter(target: str, columns: list[str]) -> None:
    """A table read as one column whose name holds ``;``, a tab or ``|``: it was not comma-separated."""
    if len(columns) != 1 or target in columns:
        return
    for sep, name in ((";", "';'"), ("\t", "tab"), ("|", "'|'")):
        if sep in columns[0]:
            raise DataError(
                f"the file has a single column {columns[0][:60]!r}: it looks {name}-separated: give"
                f" {named('sep')} {name if sep != chr(9) else 'tab'}"
            )


def plain(value: Any) -> str:
    """A value as a person writes it (``5``, not ``np.int64(5)``)."""
    item = getattr(value, "item", None)
    return repr(item() if callable(item) else value)


def _detect_task(y: pd.Series, task: str, target: str) -> tuple[str, str]:
    import pandas as pd

    numeric = pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y)
    n_unique = int(y.nunique())
    as_numbers = y if numeric or pd.api.types.is_bool_dtype(y) else pd.to_numeric(y, errors="coerce")
    text = y[as_numbers.isna()]
    if task == "auto" and len(text) and as_numbers.notna().mean() >= 0.5:
        raise DataError(
            f"target {target!r} holds text among its numbers (e.g. {str(text.iloc[0])!r}): fix those values,"
            f" or use {named('task')} classification if the numbers are class labels"
        )
    if task == "regression":
        if not numeric:
            example = str(text.iloc[0]) if len(text) else str(y.iloc[0])
            raise DataError(
                f"target {target!r} is not numeric (e.g. {example!r}), so it cannot be a regression target:"
                f" use {named('task')} classification or choose a numeric {named('target')}"
            )
        return "regression", "set by --task"
    if task == "classification":
        return "classification", "set by --task"
    if not numeric:
        return "classification", f"target is not numeric ({n_unique} classes)"
    integral = bool(((y % 1) == 0).all())
    if integral and (n_unique == 2 or (n_unique <= MAX_CLASSES_AUTO and n_unique * 5 <= len(y))):
        return (
            "classification",
            f"target has {n_unique} distinct integer values (≤ {MAX_CLASSES_AUTO}, about 5+ rows each); "
            "use --task regression to treat it as a number",
        )
    kind = "integer" if integral else "real"
    return "regression", f"target is numeric with {n_unique} distinct {kind} values"


def load_dataset(
    source: Any,
    *,
    y: Any = None,
    target: str | None = None,
    features: tuple[str, ...] = (),
    drop: tuple[str, ...] = (),
    categorical: tuple[str, ...] = (),
    task: str = "auto",
    groups: str | None = None,
    fold_column: str | None = None,
    offset: str | None = None,
    exposure: str | None = None,
    weights: str | None = None,
    stdin: TextIO | BinaryIO | None = None,
    max_categories: int | None = None,
    sep: str | None = None,
    source_column: str | None = None,
) -> Dataset:
    """Load ``source`` and split it into features and target.

    ``source`` is a source string (a path, ``-``, ``builtin:NAME``), a table in memory (a pandas
    DataFrame, a pyarrow Table, or any object with ``__arrow_c_stream__`` or ``__dataframe__``, e.g. a polars
    DataFrame), or the features ``X`` (an array, a sparse matrix or a DataFrame) when ``y`` is given: then
    ``y`` is the target, named after ``target``, or ``y`` if not given.

    Rows with a missing target are dropped (and counted). Numeric columns (but booleans) are numeric
    features; strings, booleans and the ``categorical`` columns are categorical features. ``groups``
    and ``fold_column`` are taken out of the features, and so is ``offset`` (used as it is) or ``exposure``
    (its log is the offset; it must be positive), and ``weights`` (each row's weight: a number ≥ 0, not 0
    in every row). A categorical feature with more than
    ``max_categories`` distinct values (an identifier, most likely) is refused.
    """
    import numpy as np
    import pandas as pd

    frame, source, target = table_of(source, y, target, stdin, sep, source_column)
    if source_column is not None and source_column not in frame.columns:
        raise ConfigError(f"{named('source_column')} names the file of each row: give the data as files")
    frame.columns = [str(c) for c in frame.columns]
    columns = list(frame.columns)
    if target is None:
        if source.startswith("builtin:"):
            target = "target"
        else:
            raise DataError(
                f"no target column given: add {named('target')} COLUMN (one of: "
                + ", ".join(columns[:8])
                + (", ..." if len(columns) > 8 else "")
                + ")"
            )
    _check_delimiter(target, columns)
    _check_columns((target,), columns, "target")
    _check_columns(features, columns, named("features"))
    _check_columns(drop, columns, named("drop"))
    _check_columns(categorical, columns, named("categorical"))
    offset_column = offset or exposure
    offset_flag = named("offset" if offset else "exposure")
    for flag, col in (
        (named("groups"), groups),
        (named("fold_column"), fold_column),
        (offset_flag, offset_column),
        (named("weights"), weights),
    ):
        if col is not None:
            _check_columns((col,), columns, flag)
            if col == target:
                raise DataError(f"{flag} column {col!r} is the target: choose another column")

    keep = frame[target].notna()
    rows_dropped = int((~keep).sum())
    row_numbers = np.flatnonzero(keep.to_numpy()) + 1 if rows_dropped else None
    if rows_dropped:
        frame = frame.loc[keep].reset_index(drop=True)
    if frame.shape[0] == 0:
        raise DataError(f"target {target!r} is missing in every row: choose another {named('target')}")

    special = {target, *(c for c in (groups, fold_column, offset_column, weights) if c)}
    if features:
        bad = special.intersection(features)
        if bad:
            raise DataError(
                f"{named('features')} names {sorted(bad)[0]!r}, which is the target, group, fold, offset or weights"
                " column: remove it"
            )
        chosen = [c for c in features if c not in drop]
    else:
        chosen = [c for c in columns if c not in special and c not in drop]
    if not chosen:
        raise DataError(f"no feature columns left: check {named('features')} and {named('drop')}")

    X = frame[chosen]  # copy-on-write (pandas ≥ 3): a column is copied only if changed below
    source_dtypes = {str(c): str(t) for c, t in X.dtypes.items()}
    all_missing = [c for c in chosen if X[c].isna().all()]
    if all_missing:
        raise DataError(
            f"feature column {all_missing[0]!r} has no values: drop it with {named('drop')} {all_missing[0]}"
        )

    y_series = frame[target]
    if y_series.nunique() < 2:
        what = "class" if task == "classification" or not _is_numeric(y_series) else "value"
        raise DataError(
            f"target {target!r} has the same {what} ({plain(y_series.iloc[0])}) in every row: there is nothing"
            f" to predict; choose another {named('target')}"
        )
    detected, reason = _detect_task(y_series, task, target)
    if detected == "classification":
        y = y_series.astype(str).to_numpy() if not _is_numeric(y_series) else y_series.to_numpy()
    else:
        y = y_series.to_numpy(dtype=np.float64)
        check_finite(y, f"target {target!r}")

    cat_set = set(categorical)
    numeric_cols: list[str] = []
    cat_cols: list[str] = []
    for col in chosen:
        series = X[col]
        is_num = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
        if col in cat_set or not is_num:
            cat_cols.append(col)
        else:
            numeric_cols.append(col)
    if max_categories is not None:
        _check_categories(X, cat_cols, max_categories)
    X = coerce_features(X, numeric_cols, cat_cols)

    group_values = frame[groups].to_numpy() if groups else None
    fold_values = frame[fold_column].to_numpy() if fold_column else None
    if group_values is not None and pd.isna(group_values).any():
        raise DataError(f"{named('groups')} column {groups!r} has missing values: fill them or drop those rows")
    if fold_values is not None:
        if pd.isna(fold_values).any():
            raise DataError(f"{named('fold_column')} {fold_column!r} has missing values: give every row a fold id")
        if len(set(fold_values.tolist())) < 2:
            raise DataError(
                f"{named('fold_column')} {fold_column!r} has fewer than 2 distinct fold ids: give at least two folds"
            )

    offsets = None
    if offset_column is not None:
        offsets = offset_values(frame[offset_column], offset_flag, row_numbers, log=exposure is not None)
    row_weights = None if weights is None else weight_values(frame[weights], named("weights"), row_numbers)

    return Dataset(
        source=source,
        target=target,
        X=X,
        y=y,
        task=detected,
        task_reason=reason,
        numeric=numeric_cols,
        categorical=cat_cols,
        rows_dropped=rows_dropped,
        groups=group_values,
        fold_ids=fold_values,
        source_dtypes=source_dtypes,
        offset=offsets,
        offset_column=offset_column,
        offset_kind=None if offset_column is None else ("offset" if offset else "exposure"),
        weights=row_weights,
        weights_column=weights,
        row_numbers=row_numbers,
    )


def _check_categories(X: pd.DataFrame, categorical: list[str], limit: int) -> None:
    """Refuse a categorical column with more than ``limit`` distinct values: one-hot encoding it makes
    that many columns (an ID column of 10,000 values: 10,000 dense columns per fold)."""
    for col in categorical:
        count = int(X[col].nunique())
        if count > limit:
            raise DataError(
                f"column {col!r} has {count} distinct values, more than {named('max_categories')} {limit}"
                f" (an identifier?): one-hot encoding it would add {count} columns; leave it out with"
                f" {named('drop')} {col}, or raise {named('max_categories')}"
            )


#: Values beyond this magnitude are refused: standardizing them overflows (their squares are summed).
MAX_ABS = 1e100


def check_finite(values: np.ndarray, what: str) -> None:
    """Refuse ±inf and values too large to standardize (NaN is a missing value, imputed later)."""
    import numpy as np

    if values.size and values.dtype.kind in "fiub":  # the common case: two reductions, no temporary array
        # As Python floats: a float32 compared with 1e100 would round the bound to inf and let inf through.
        low, high = float(np.fmin.reduce(values, axis=None)), float(np.fmax.reduce(values, axis=None))
        if low >= -MAX_ABS and high <= MAX_ABS:  # NaN only when every value is missing: looked at below
            return
    with np.errstate(invalid="ignore", over="ignore"):  # a float32's bound rounds to inf: inf is still caught
        bad = np.flatnonzero(np.isinf(values) | (np.abs(values) > MAX_ABS))
    if bad.size:
        value = float(values[bad[0]])
        kind = "infinite" if np.isinf(value) else f"beyond ±{MAX_ABS:g}, too large to standardize"
        raise DataError(
            f"{what} holds {value:g} ({kind}) in {bad.size} row(s): replace those values,"
            " or leave the cells empty to be imputed"
        )


def estimate_encoded_bytes(dataset: Dataset, n_folds: int) -> int:
    """About how many bytes the folds' dense matrices take: every fold holds all rows (its training and
    test parts) after one-hot encoding, and the refit and the λ range one more copy each."""
    width = len(dataset.numeric) + sum(int(dataset.X[c].nunique()) for c in dataset.categorical)
    return 8 * dataset.n_rows * width * (n_folds + 2)


def available_memory() -> int | None:
    """Bytes of memory available now (Linux: MemAvailable), or None when unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (OSError, ValueError, AttributeError):
        return None


def check_memory(dataset: Dataset, n_folds: int, available: int | None = None) -> None:
    """Refuse, before encoding anything, a table whose encoded folds would not fit in memory."""
    need = estimate_encoded_bytes(dataset, n_folds)
    have = available_memory() if available is None else available
    if have is not None and need > 0.8 * have:
        copies = f"{dataset.n_rows} rows × {n_folds} folds" if n_folds else f"{dataset.n_rows} rows, encoded once"
        raise DataError(
            f"the encoded table would take about {need / 2**30:.1f} GiB ({copies}),"
            f" more than the {have / 2**30:.1f} GiB of memory available: leave wide categorical columns out with"
            f" {named('drop')}, lower {named('max_categories')}, or use fewer rows"
        )


def offset_values(column: pd.Series, flag: str, row_numbers: np.ndarray | None, *, log: bool) -> np.ndarray:
    """The offset of each row: the column's values, or their log for an exposure (which must be > 0)."""
    import numpy as np
    import pandas as pd

    name = column.name
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values) | ((values <= 0) if log else False)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        row = int(row_numbers[i]) if row_numbers is not None else i + 1
        need = "a positive number" if log else "a finite number"
        value = column.iloc[i]
        shown = f"{value:g}" if isinstance(value, (int, float)) and not pd.isna(value) else repr(value)
        raise DataError(
            f"{flag} column {name!r} must be {need} in every row: row {row} has {shown}"
            " (rows count from 1 after the header); fix or drop that row"
        )
    result: np.ndarray = np.log(values) if log else values
    return result


def weight_values(column: pd.Series, flag: str, row_numbers: np.ndarray | None) -> np.ndarray:
    """The weight of each row: a finite number ≥ 0 in every row, and not 0 in all of them."""
    import numpy as np
    import pandas as pd

    name = column.name
    values: np.ndarray = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        row = int(row_numbers[i]) if row_numbers is not None else i + 1
        value = column.iloc[i]
        if pd.isna(value):
            shown = "no value"
        elif isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
            shown = f"{float(value):g}"
        else:
            shown = repr(str(value))
        raise DataError(
            f"{flag} column {name!r} must be a number ≥ 0 in every row: row {row} has {shown}"
            " (rows count from 1 after the header); fix or drop that row"
        )
    if not np.any(values > 0):
        raise DataError(f"{flag} column {name!r} is zero in every row: nothing would be fitted; give some rows weight")
    return values


def invalid_target_message(dataset: Dataset, family: str, found: tuple[int, str]) -> str:
    """The one-line error for a target the family cannot model: the column, the rule, the first bad row."""
    index, need = found
    value = dataset.y[index]
    return (
        f"target {dataset.target!r} must be {need} for {named('family')} {family}: row {dataset.row_number(index)}"
        f" has {value:g} (rows count from 1 after the header); fix or drop such rows, or choose another"
        f" {named('family')}"
    )


def looks_like_counts(y: np.ndarray) -> bool:
    """Whether a numeric target looks like counts: non-negative integers with a long right tail
    (skewness above 1, as a Poisson variable with mean under 1, or overdispersed counts)."""
    import numpy as np

    if y.size < 3 or np.any(y < 0) or np.any(y % 1 != 0):
        return False
    sd = float(y.std())
    return sd > 0 and float(np.mean((y - y.mean()) ** 3)) / sd**3 > 1.0


def coerce_features(X: pd.DataFrame, numeric: list[str], categorical: list[str]) -> pd.DataFrame:
    """``X`` with one type per feature column, as the preprocessing expects: numeric columns as float64,
    categorical ones as text (missing values kept as NaN for the imputer). Used at training and at
    prediction time, so both see the same values."""
    import numpy as np
    import pandas as pd

    for col in categorical:
        present = X[col].notna()
        as_text = pd.Series(np.nan, index=X.index, dtype=object)
        as_text[present] = X.loc[present, col].astype(str).astype(object)
        X[col] = as_text
    for col in numeric:
        try:
            X[col] = X[col].astype(np.float64)
        except (TypeError, ValueError):
            bad = next(v for v in X[col] if not _is_number(v))
            raise DataError(f"column {col!r} should hold numbers but holds {bad!r}: fix that column") from None
        check_finite(X[col].to_numpy(), f"column {col!r}")
    return X


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _is_numeric(series: Any) -> bool:
    import pandas as pd

    return bool(pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series))
