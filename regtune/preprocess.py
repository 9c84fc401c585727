"""The in-fold preprocessing pipeline: impute, one-hot encode, standardize.

It is always fitted on training rows only (a fold's training part, or all rows for the final refit),
so the validation rows never leak into medians, categories or scales. As glmnet does, every encoded
column — dummies included — is standardized, so λ is on glmnet's scale; a two-level categorical becomes
one 0/1 column (two would be exactly collinear and say the same thing twice).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sklearn.compose import ColumnTransformer


def make_preprocessor(numeric: list[str], categorical: list[str]) -> ColumnTransformer:
    """Numeric: median imputation then standardization. Categorical: most-frequent imputation, one-hot
    encoding (one column for a two-level category; unknown categories at predict time are encoded as all
    zeros — for a two-level column, as its first level), then standardization. Dense output."""
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
                        ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
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
