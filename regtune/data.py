"""Loading a table and choosing target, features and task.

A *source* is a CSV path (``.csv`` or ``.csv.gz``), ``-`` for standard input, or ``builtin:NAME`` for
a dataset bundled with scikit-learn. Nothing here fits a model: the result is a :class:`Dataset`.
"""

from __future__ import annotations

import difflib
import hashlib
import io
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from regtune.errors import DataError, named

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

        return replace(
            self,
            source=source or self.source,
            X=self.X.iloc[rows].reset_index(drop=True),
            y=self.y[rows],
            groups=None if self.groups is None else self.groups[rows],
            fold_ids=None if self.fold_ids is None else self.fold_ids[rows],
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


def read_table(source: str, stdin: TextIO | None = None) -> pd.DataFrame:
    """Read a source into a DataFrame; the target, if bundled, is the column ``target``."""

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
        text = stream.read()
        if not text.strip():
            raise DataError("standard input is empty: pipe a CSV file with a header row into regtune")
        return _parse_csv(io.StringIO(text), "standard input")
    path = Path(source)
    if not path.exists():
        raise DataError(f"file not found: {source} (check the path, or use - to read standard input)")
    if path.is_dir():
        raise DataError(f"{source} is a folder, not a CSV file: give the path of a .csv or .csv.gz file")
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except OSError as exc:
        raise DataError(f"cannot read {source}: {exc.strerror} (check its permissions)") from None
    if path.stat().st_size == 0:
        raise DataError(f"{source} is empty: give a CSV file with a header row and data rows")
    return _parse_csv(path, source)


def _parse_csv(handle: Path | io.StringIO, label: str) -> pd.DataFrame:
    import pandas as pd

    try:
        frame = pd.read_csv(handle, compression="infer" if isinstance(handle, Path) else None)
    except pd.errors.EmptyDataError:
        raise DataError(f"{label} is empty: give a CSV file with a header row and data rows") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, EOFError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{label} is not a readable CSV file ({first}): check its format") from None
    if frame.shape[0] == 0:
        raise DataError(f"{label} has a header but no data rows: add rows to the file")
    return frame


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


def _detect_task(y: pd.Series, task: str, target: str) -> tuple[str, str]:
    import pandas as pd

    numeric = pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y)
    n_unique = int(y.nunique())
    if task == "regression":
        if not numeric:
            example = str(y.iloc[0])
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
    source: str,
    *,
    target: str | None = None,
    features: tuple[str, ...] = (),
    drop: tuple[str, ...] = (),
    categorical: tuple[str, ...] = (),
    task: str = "auto",
    groups: str | None = None,
    fold_column: str | None = None,
    stdin: TextIO | None = None,
) -> Dataset:
    """Load ``source`` and split it into features and target.

    Rows with a missing target are dropped (and counted). Numeric columns (but booleans) are numeric
    features; strings, booleans and the ``categorical`` columns are categorical features. ``groups``
    and ``fold_column`` are taken out of the features.
    """
    import numpy as np
    import pandas as pd

    frame = read_table(source, stdin=stdin)
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
    _check_columns((target,), columns, "target")
    _check_columns(features, columns, named("features"))
    _check_columns(drop, columns, named("drop"))
    _check_columns(categorical, columns, named("categorical"))
    for flag, col in ((named("groups"), groups), (named("fold_column"), fold_column)):
        if col is not None:
            _check_columns((col,), columns, flag)
            if col == target:
                raise DataError(f"{flag} column {col!r} is the target: choose another column")

    keep = frame[target].notna()
    rows_dropped = int((~keep).sum())
    if rows_dropped:
        frame = frame.loc[keep].reset_index(drop=True)
    if frame.shape[0] == 0:
        raise DataError(f"target {target!r} is missing in every row: choose another {named('target')}")

    special = {target, *(c for c in (groups, fold_column) if c)}
    if features:
        bad = special.intersection(features)
        if bad:
            raise DataError(
                f"{named('features')} names {sorted(bad)[0]!r}, which is the target, group or fold column: remove it"
            )
        chosen = [c for c in features if c not in drop]
    else:
        chosen = [c for c in columns if c not in special and c not in drop]
    if not chosen:
        raise DataError(f"no feature columns left: check {named('features')} and {named('drop')}")

    X = frame[chosen].copy()
    source_dtypes = {str(c): str(t) for c, t in X.dtypes.items()}
    all_missing = [c for c in chosen if X[c].isna().all()]
    if all_missing:
        raise DataError(
            f"feature column {all_missing[0]!r} has no values: drop it with {named('drop')} {all_missing[0]}"
        )

    y_series = frame[target]
    detected, reason = _detect_task(y_series, task, target)
    if detected == "classification":
        if y_series.nunique() < 2:
            raise DataError(
                f"target {target!r} has a single class ({y_series.iloc[0]!r}): a classifier needs at least two"
            )
        y = y_series.astype(str).to_numpy() if not _is_numeric(y_series) else y_series.to_numpy()
    else:
        if y_series.nunique() < 2:
            raise DataError(f"target {target!r} has a single value ({y_series.iloc[0]!r}): nothing to predict")
        y = y_series.to_numpy(dtype=np.float64)

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
    )


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
