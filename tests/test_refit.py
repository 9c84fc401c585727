"""The refit model (regtune.refit): coefficients on the original scale reproduce its predictions from the
raw columns; two-level categoricals are one 0/1 column; every encoded column is standardized."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import regtune

PENGUINS = str(Path(__file__).resolve().parent.parent / "examples" / "data" / "penguins.csv")


@pytest.mark.parametrize(
    "settings",
    [{"target": "body_mass_g", "drop": ("year",)}, {"target": "species", "drop": ("year",)}],
    ids=["regression", "multiclass"],
)
def test_original_scale_coefficients_reproduce_the_predictions(settings: dict[str, object]) -> None:
    result = regtune.tune(PENGUINS, n_trials=12, seed=1, **settings)
    pipeline = result.model
    X = result.refit_context.dataset.X
    pre = pipeline[0]
    num = pre.named_transformers_["num"].named_steps["impute"].transform(X[pre.transformers_[0][2]])
    cat = pre.named_transformers_["cat"]
    dummies = cat.named_steps["onehot"].transform(cat.named_steps["impute"].transform(X[pre.transformers_[1][2]]))
    raw = np.hstack([num, dummies])  # the columns in their own units: numbers, and 0/1 dummies
    coef = np.array([v for _, v in result.original.coefficients]).reshape(np.atleast_2d(pipeline[-1].coef_).shape)
    intercept = np.array([b0 for _, _, b0 in result.original.intercepts])
    eta = raw @ coef.T + intercept
    if result.dataset["task"] == "regression":
        np.testing.assert_allclose(eta[:, 0], pipeline.predict(X), rtol=1e-9, atol=1e-6)
        doc = result.to_dict()
        assert doc["intercept"][0]["name"] == "(intercept)"
        assert doc["coefficients"][0]["original"] == result.original.coefficients[0][1]
    else:
        np.testing.assert_allclose(eta, pipeline.decision_function(X), rtol=1e-9, atol=1e-6)
        assert len(result.original.intercepts) == 3


def test_two_level_categoricals_are_one_standardized_column() -> None:
    from regtune.preprocess import make_preprocessor

    frame = pd.DataFrame(
        {"sex": ["m", "f", "f", "m", "f"], "colour": ["r", "g", "b", "r", "g"], "x": [1.0, 2, 3, 4, 5]}
    )
    pre = make_preprocessor(["x"], ["sex", "colour"])
    out = pre.fit_transform(frame)
    names = [n.split("__", 1)[1] for n in pre.get_feature_names_out()]
    assert names == ["x", "sex_m", "colour_b", "colour_g", "colour_r"]
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=0), 1.0)  # dummies standardized too, as glmnet does
