"""The in-fold preprocessing pipeline: impute, one-hot encode, standardize.

It is always fitted on training rows only (a fold's training part, or all rows for the final refit),
so the validation rows never leak into medians, categories or scales.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sklearn.compose import ColumnTransformer


def make_preprocessor(numeric: list[str], categorical: list[str]) -> ColumnTransformer:
    """Numeric: median imputation then standardization. Categorical: most-frequent imputation then
    one-hot encoding (unknown categories at predict time are encoded as all zeros). Dense output."""
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
                            OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                        ),
                    ]
                ),
                categorical,
            )
        )
    return ColumnTransformer(parts, remainder="drop", sparse_threshold=0.0, verbose_feature_names_out=True)
