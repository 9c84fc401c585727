"""What every contender script shares: reading the benchmark CSV, the folds, the preprocessing.

Contenders are plain scripts a user could write; they import scikit-learn and Optuna, never regtune.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def load(path: str, target: str, task: str) -> tuple[pd.DataFrame, np.ndarray]:
    frame = pd.read_csv(path)
    y = frame.pop(target).to_numpy()
    if task == "regression":
        y = y.astype(float)
    return frame, y


def folds(y: np.ndarray, task: str, k: int = 5, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """The same splitter regtune uses for `--folds k --seed seed`."""
    idx = np.arange(len(y))
    if task == "classification":
        return list(StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(idx, y))
    return list(KFold(n_splits=k, shuffle=True, random_state=seed).split(idx))


def preprocessor(frame: pd.DataFrame) -> ColumnTransformer:
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    categorical = [c for c in frame.columns if c not in numeric]
    parts = []
    if numeric:
        parts.append(("num", Pipeline([("i", SimpleImputer(strategy="median")), ("s", StandardScaler())]), numeric))
    if categorical:
        parts.append(
            (
                "cat",
                Pipeline(
                    [
                        ("i", SimpleImputer(strategy="most_frequent")),
                        ("o", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
                    ]
                ),
                categorical,
            )
        )
    return ColumnTransformer(parts, sparse_threshold=0.0)


def args() -> tuple[str, str, str, int]:
    """argv: CSV path, target, task, n_trials."""
    path, target, task, n_trials = sys.argv[1:5]
    return path, target, task, int(n_trials)
