"""The in-fold preprocessing pipeline: impute, one-hot encode, standardize.

It is always fitted on training rows only (a fold's training part, or all rows for the final refit),
so the validation rows never leak into medians, categories or scales. As glmnet does, every encoded
column — dummies included — is standardized, so λ is on glmnet's scale; a two-level categorical becomes
one 0/1 column (two would be exactly collinear and say the same thing twice).

Two forms compute the same numbers: :class:`Encoder` in NumPy, which the folds and the refit use (it
imports neither scikit-learn, ≈2 s of start-up on a small machine, nor its per-call validation), and the
scikit-learn ``ColumnTransformer`` of :func:`make_preprocessor`, which a saved model's pipeline carries
(:meth:`Encoder.to_sklearn` builds it with the encoder's own statistics).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from sklearn.compose import ColumnTransformer


def make_preprocessor(numeric: list[str], categorical: list[str], impute: str = "median") -> ColumnTransformer:
    """Numeric: median (or, with ``impute="mean"``, mean) imputation then standardization. Categorical:
    most-frequent imputation, one-hot encoding (one column for a two-level category; unknown categories at
    predict time are encoded as all zeros — for a two-level column, as its first level), then
    standardization. Dense output."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    parts = []
    if numeric:
        parts.append(
            (
                "num",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy=impute, keep_empty_features=True)),
                        ("scale", StandardScaler()),
                    ]
                ),
                numeric,
            )
        )
    if categorical:
        parts.append(
            (
                "cat",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="most_frequent", keep_empty_features=True)),
                        (
                            "onehot",
                            OneHotEncoder(handle_unknown="ignore", drop="if_binary", sparse_output=False),
                        ),
                        ("scale", StandardScaler()),
                    ]
                ),
                categorical,
            )
        )
    return ColumnTransformer(parts, remainder="drop", sparse_threshold=0.0, verbose_feature_names_out=True)


@contextmanager
def quiet_unknown_categories() -> Iterator[None]:
    """Transform without scikit-learn's warning about categories unseen in training (they are encoded as
    zeros on purpose: a validation fold or new rows may hold a category the training rows did not)."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Found unknown categories", category=UserWarning)
        yield


def numeric_fills(values: np.ndarray, impute: str, wanted: np.ndarray | None = None) -> np.ndarray:
    """What fills each numeric column's gaps: its median (``impute="mean"``: its mean) over the rows of
    ``values``, 0 for a column missing in every row (scikit-learn's ``keep_empty_features``); NaN for the
    columns ``wanted`` (a mask) leaves out."""
    import warnings

    import numpy as np

    wanted = np.ones(values.shape[1], dtype=bool) if wanted is None else np.asarray(wanted, dtype=bool)
    fills = np.full(values.shape[1], np.nan)
    if wanted.any():
        part = values[:, wanted]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a column missing in every row: NaN, then 0
            centre = np.nanmean if impute == "mean" else np.nanmedian
            found = centre(part, axis=0) if part.shape[0] else np.zeros(part.shape[1])
        fills[wanted] = np.where(np.isnan(found), 0.0, found)
    return fills


@dataclass
class Columns:
    """An encoder's input columns as arrays (:meth:`Encoder.columns`): the numeric ones as one float64
    matrix (None when there are none), each categorical one as integer codes into its distinct values."""

    numeric: np.ndarray | None
    #: Per categorical column: each row's position in ``values`` (−1 for a missing value) …
    codes: list[np.ndarray]
    #: … and the column's distinct values, sorted.
    values: list[list[Any]]

    def __len__(self) -> int:
        if self.numeric is not None:
            return int(self.numeric.shape[0])
        return len(self.codes[0]) if self.codes else 0

    def take(self, rows: np.ndarray) -> Columns:
        """The rows ``rows`` (positions) of every column."""
        numeric = None if self.numeric is None else self.numeric[rows]
        return Columns(numeric, [codes[rows] for codes in self.codes], self.values)


class Encoder:
    """:func:`make_preprocessor`'s pipeline in NumPy, with the same statistics and output.

    Numeric columns: missing values become the training median (``impute="mean"``: the mean; 0 for a column
    with none), then ``(x − mean) / scale``. Categorical columns (text, missing as NaN): missing values
    become the most frequent level (the smallest of tied ones; the fill ``0`` for a column with no value),
    one 0/1 column per level in sorted order — the first dropped when there are exactly two — with unseen
    levels all zeros, then standardized the same way. Means and variances follow scikit-learn's ``StandardScaler``
    (its corrected two-pass variance, and scale 1 for a column it finds constant), so the matrices match
    its pipeline's to rounding (``tests/test_preprocess.py``).
    """

    def __init__(self, numeric: list[str], categorical: list[str], impute: str = "median") -> None:
        self.numeric = list(numeric)
        self.categorical = list(categorical)
        self.impute = impute
        self.medians: np.ndarray | None = None
        self.fills: list[Any] = []
        #: Every level of each categorical column (sorted), and the levels that get a column.
        self.levels: list[list[Any]] = []
        self.kept: list[list[Any]] = []
        self.mean: np.ndarray | None = None
        self.scale: np.ndarray | None = None

    # --- fitting -----------------------------------------------------------------------------------

    def fit_transform(self, X: pd.DataFrame, sample_weight: np.ndarray | None = None) -> np.ndarray:
        """Fit on the rows of ``X`` and return them encoded (C-contiguous float64). With ``sample_weight``
        the standardization uses the weighted mean and standard deviation (Σ wᵢ in the denominator), as
        glmnet standardizes with its weights; the imputation and the levels stay unweighted, and a column
        constant on the rows with weight keeps its unweighted scale."""
        return self.fit_transform_columns(self.columns(X), sample_weight)

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Encode new rows with the fitted statistics (C-contiguous float64)."""
        return self.transform_columns(self.columns(X))

    def columns(self, X: pd.DataFrame) -> Columns:
        """The encoder's input columns of ``X`` as arrays, converted once: :meth:`fit_transform_columns`
        and :meth:`transform_columns` read them (a fold's rows are ``columns.take(rows)``). A categorical
        column becomes codes into its sorted values (one hash pass; every later step is integer work)."""
        import numpy as np
        import pandas as pd

        values = X[self.numeric].to_numpy(dtype=np.float64) if self.numeric else None
        codes, levels = [], []
        for col in self.categorical:
            found, uniques = pd.factorize(X[col].to_numpy(dtype=object), sort=True)
            codes.append(np.asarray(found, dtype=np.intp))
            levels.append(list(uniques))
        return Columns(values, codes, levels)

    def fit_transform_columns(
        self, columns: Columns, sample_weight: np.ndarray | None = None, *, gaps: np.ndarray | None = None
    ) -> np.ndarray:
        """:meth:`fit_transform` of :meth:`columns`' arrays. ``gaps`` (a mask over the numeric columns)
        limits the medians (or means) computed to the columns it marks: the other columns' fill is left
        unknown (NaN), and :meth:`transform_columns` refuses a missing value there. The folds pass the
        columns that miss a value anywhere in the data (a median of 261,600 rows costs 6 ms per column)."""
        import numpy as np

        values = columns.numeric
        if values is not None:
            self.medians = numeric_fills(values, self.impute, gaps)
        self.fills, self.levels, self.kept = [], [], []
        for codes, names in zip(columns.codes, columns.values, strict=True):
            counts = np.bincount(codes[codes >= 0], minlength=len(names))
            present = np.flatnonzero(counts)
            # The most frequent level (the smallest of tied ones: the first in sorted order); 0 if none.
            fill: Any = names[present[np.argmax(counts[present])]] if present.size else 0
            levels = [names[i] for i in present] or [fill]
            self.fills.append(fill)
            self.levels.append(levels)
            self.kept.append(levels[1:] if len(levels) == 2 else levels)
        centred = self._raw(columns)  # a new array, centred and scaled in place (each large array costs)
        n = centred.shape[0]
        mean = centred.sum(axis=0) / n
        centred -= mean
        correction = centred.sum(axis=0)
        var = (np.einsum("ij,ij->j", centred, centred) - correction**2 / n) / n
        eps = np.finfo(np.float64).eps
        constant = var <= n * eps * var + (n * mean * eps) ** 2
        scale = np.sqrt(var)
        scale[constant] = 1.0
        self.mean, self.scale = mean, scale
        centred /= scale
        if sample_weight is not None:
            w = np.asarray(sample_weight, dtype=np.float64)
            w = w / w.sum()
            w_mean = w @ centred
            sd = np.sqrt(w @ (centred - w_mean) ** 2)
            sd = np.where(sd > 1e-8, sd, 1.0)
            self.mean = self.mean + self.scale * w_mean
            self.scale = self.scale * sd
            centred = (centred - w_mean) / sd
        return np.ascontiguousarray(centred)

    def transform_columns(self, columns: Columns) -> np.ndarray:
        """:meth:`transform` of :meth:`columns`' arrays."""
        import numpy as np

        assert self.mean is not None and self.scale is not None, "fit_transform first"
        centred = self._raw(columns)
        centred -= self.mean
        centred /= self.scale
        return np.ascontiguousarray(centred)

    def _raw(self, columns: Columns) -> np.ndarray:
        """The imputed numeric columns and the 0/1 level columns, before standardization: a new array."""
        import numpy as np

        n = len(columns)
        values = columns.numeric
        if values is not None:
            assert self.medians is not None
            missing = np.isnan(values)
            if missing.any():
                unfilled = np.isnan(self.medians[missing.any(axis=0)]).any()
                assert not unfilled, "a missing value in a column fitted without its fill (gaps=)"
                values = np.where(missing, self.medians, values)
            elif not self.categorical:
                values = values.copy()  # the caller's (a table's) array
            if not self.categorical:
                return values
        p = 0 if values is None else values.shape[1]
        raw = np.zeros((n, p + sum(len(kept) for kept in self.kept)))
        if values is not None:
            raw[:, :p] = values
        at = p
        for codes, names, fill, kept in zip(columns.codes, columns.values, self.fills, self.kept, strict=True):
            # Each code's output column (−1: none — a dropped or unseen level), then the missing values' (the fill's).
            where = {level: j for j, level in enumerate(kept)}
            lookup = np.array([*(where.get(name, -1) for name in names), where.get(fill, -1)], dtype=np.intp)
            out = lookup[codes]  # code −1 (missing) reads the last entry
            rows = np.flatnonzero(out >= 0)
            raw[rows, at + out[rows]] = 1.0
            at += len(kept)
        return raw

    # --- what the encoded columns are ----------------------------------------------------------------

    def get_feature_names_out(self) -> list[str]:
        """The output columns' names, as :func:`make_preprocessor`'s: ``num__x``, ``cat__colour_red``."""
        names = [f"num__{c}" for c in self.numeric]
        for col, kept in zip(self.categorical, self.kept, strict=True):
            names.extend(f"cat__{col}_{level}" for level in kept)
        return names

    def to_dict(self) -> dict[str, Any]:
        """The fitted statistics as plain JSON values (a model file's ``linear.json``)."""
        assert self.mean is not None and self.scale is not None, "fit_transform first"
        return {
            "numeric": self.numeric,
            "categorical": self.categorical,
            "medians": [] if self.medians is None else [float(v) for v in self.medians],
            "fills": [v if isinstance(v, str) else int(v) for v in self.fills],
            "levels": self.levels,
            "kept": self.kept,
            "mean": [float(v) for v in self.mean],
            "scale": [float(v) for v in self.scale],
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Encoder:
        """The encoder :meth:`to_dict` described (its shapes checked: ValueError if they do not agree)."""
        import numpy as np

        encoder = cls(list(doc["numeric"]), list(doc["categorical"]))
        encoder.medians = np.asarray(doc["medians"], dtype=np.float64)
        encoder.fills, encoder.levels, encoder.kept = list(doc["fills"]), doc["levels"], doc["kept"]
        encoder.mean = np.asarray(doc["mean"], dtype=np.float64)
        encoder.scale = np.asarray(doc["scale"], dtype=np.float64)
        width = len(encoder.numeric) + sum(len(k) for k in encoder.kept)
        if (
            encoder.medians.shape != (len(encoder.numeric),)
            or not len(encoder.fills) == len(encoder.kept) == len(encoder.categorical)
            or encoder.mean.shape != (width,)
            or encoder.scale.shape != (width,)
        ):
            raise ValueError(f"the encoding's statistics do not fit its {width} columns")
        return encoder

    @classmethod
    def from_sklearn(cls, pre: ColumnTransformer) -> Encoder:
        """The encoder of a fitted :func:`make_preprocessor` (a saved pipeline's first step)."""
        import numpy as np

        columns = {name: list(cols) for name, _, cols in pre.transformers_ if name in ("num", "cat")}
        encoder = cls(columns.get("num", []), columns.get("cat", []))
        means, scales = [], []
        for name, part, _ in pre.transformers_:
            if name not in ("num", "cat"):
                continue
            scaler = part.named_steps["scale"]
            means.append(np.asarray(scaler.mean_, dtype=np.float64))
            scales.append(np.asarray(scaler.scale_, dtype=np.float64))
            imputed = list(part.named_steps["impute"].statistics_)
            if name == "num":
                encoder.medians = np.asarray(imputed, dtype=np.float64)
                continue
            onehot = part.named_steps["onehot"]
            drop = onehot.drop_idx_ if onehot.drop_idx_ is not None else [None] * len(onehot.categories_)
            encoder.fills = [v if isinstance(v, str) else int(v) for v in imputed]
            encoder.levels = [list(c) for c in onehot.categories_]
            encoder.kept = [
                lv if d is None else lv[: int(d)] + lv[int(d) + 1 :] for lv, d in zip(encoder.levels, drop, strict=True)
            ]
        encoder.mean, encoder.scale = np.concatenate(means), np.concatenate(scales)
        return encoder

    def to_sklearn(self, X: pd.DataFrame) -> ColumnTransformer:
        """:func:`make_preprocessor`'s ``ColumnTransformer`` fitted on the rows ``X`` the encoder was fitted
        on, its scalers set to the encoder's means and scales (weighted ones included), so that it
        transforms new rows as :meth:`transform` does."""
        import numpy as np

        assert self.mean is not None and self.scale is not None, "fit_transform first"
        pre = make_preprocessor(self.numeric, self.categorical, self.impute)
        pre.fit(X)
        for name, part, _ in pre.transformers_:
            if name not in ("num", "cat"):
                continue
            where = pre.output_indices_[name]
            scaler = part.named_steps["scale"]
            scaler.mean_ = np.array(self.mean[where])
            scaler.scale_ = np.array(self.scale[where])
            scaler.var_ = scaler.scale_**2
        return pre
