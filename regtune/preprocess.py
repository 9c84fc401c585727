"""The in-fold preprocessing pipeline: impute, one-hot encode, standardize.

It is always fitted on training rows only (a fold's training part, or all rows for the final refit),
so the validation rows never leak into medians, categories or scales. As glmnet does, every encoded
column — dummies included — is standardized, so λ is on glmnet's scale; a two-level categorical becomes
one 0/1 column (two would be exactly collinear and say the same thing twice).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
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


def fit_transform(pre: ColumnTransformer, X: Any, sample_weight: np.ndarray | None = None) -> np.ndarray:
    """Fit ``pre`` on the rows of ``X`` and return them transformed (dense float64).

    With ``sample_weight`` the standardization uses the weighted mean and standard deviation (Σ wᵢ in the
    denominator), as glmnet standardizes with its weights: each fitted ``StandardScaler`` is moved to those
    moments, so the pipeline transforms new rows the same way. The imputation (median, most frequent) and
    the categories stay unweighted. A column constant on the rows with weight keeps its unweighted scale.
    """
    import numpy as np

    Z = np.ascontiguousarray(pre.fit_transform(X), dtype=np.float64)
    if sample_weight is None:
        return Z
    w = np.asarray(sample_weight, dtype=np.float64)
    w = w / w.sum()
    for name, part, _ in pre.transformers_:
        if name not in ("num", "cat"):
            continue
        where = pre.output_indices_[name]
        scaler = part.named_steps["scale"]
        block = Z[:, where]
        mean = w @ block
        sd = np.sqrt(w @ (block - mean) ** 2)
        sd = np.where(sd > 1e-8, sd, 1.0)
        scaler.mean_ = scaler.mean_ + scaler.scale_ * mean
        scaler.scale_ = scaler.scale_ * sd
        scaler.var_ = scaler.scale_**2
        Z[:, where] = (block - mean) / sd
    return Z


@contextmanager
def quiet_unknown_categories() -> Iterator[None]:
    """Transform without scikit-learn's warning about categories unseen in training (they are encoded as
    zeros on purpose: a validation fold or new rows may hold a category the training rows did not)."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Found unknown categories", category=UserWarning)
        yield
