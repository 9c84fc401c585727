"""``impute``: a missing numeric value filled by the median (default) or the mean of the training rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import regtune
from regtune.config import TuneConfig
from regtune.data import load_dataset
from regtune.errors import ConfigError
from regtune.folds import assign_folds, build_folds


def _frame(n: int = 120) -> pd.DataFrame:
    rng = np.random.default_rng(4)
    x = rng.exponential(size=(n, 2))  # skewed: the mean and the median differ
    frame = pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "y": x @ [1.0, -2.0] + rng.normal(size=n)})
    frame.loc[rng.random(n) < 0.15, "x1"] = np.nan
    return frame


@pytest.mark.parametrize("impute", ["mean", "median"])
def test_refit_imputes_by_the_rows_mean_or_median(impute: str) -> None:
    frame = _frame()
    result = regtune.tune(frame, target="y", impute=impute, n_trials=3, penalties=("l2",))
    imputer = result.model[0].named_transformers_["num"].named_steps["impute"]
    expected = frame[["x1", "x2"]].mean() if impute == "mean" else frame[["x1", "x2"]].median()
    assert np.allclose(imputer.statistics_, expected.to_numpy())


def test_default_is_the_median() -> None:
    frame = _frame()
    result = regtune.tune(frame, target="y", n_trials=3, penalties=("l2",))
    imputer = result.model[0].named_transformers_["num"].named_steps["impute"]
    assert np.allclose(imputer.statistics_, frame[["x1", "x2"]].median().to_numpy())


def test_fold_imputes_by_its_training_mean() -> None:
    """A mean-imputed value is the training mean: standardized and centred on the training rows, it is 0."""
    frame = _frame()
    dataset = load_dataset(frame, target="y")
    dataset.impute = "mean"
    folds = build_folds(dataset, assign_folds(dataset, TuneConfig.of(target="y")), center=True)
    missing = frame["x1"].isna().to_numpy()
    for fold in folds:
        assert np.allclose(fold.X_train[missing[fold.train], 0], 0.0, atol=1e-12)
        # The test rows are filled by the training mean too (their own mean would not standardize to 0).
        assert np.allclose(fold.X_test[missing[fold.test], 0], 0.0, atol=1e-12)
        assert not np.isclose(frame["x1"].iloc[fold.train].mean(), frame["x1"].iloc[fold.test].mean())


def test_unknown_imputation_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown impute 'mode'"):
        TuneConfig.of(impute="mode")


def test_numpy_encoder_imputes_the_mean_as_scikit_learn() -> None:
    from regtune.preprocess import Encoder, make_preprocessor

    frame = _frame().drop(columns=["y"])
    ours = Encoder(["x1", "x2"], [], "mean").fit_transform(frame)
    theirs = make_preprocessor(["x1", "x2"], [], "mean").fit_transform(frame)
    assert np.allclose(ours, theirs, rtol=1e-12, atol=1e-12)
