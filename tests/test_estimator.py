"""The scikit-learn estimators: scikit-learn's own conformance suite, the CLI's λ from inside a Pipeline,
clone / pickle / GridSearchCV / cross_val_score, and the fitted attributes."""

from __future__ import annotations

import doctest
import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.linear_model import Lasso, LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import regtune
from regtune import RegTuneClassifier, RegTuneRegressor
from regtune.errors import ConfigError, DataError

#: Checks whose small made-up data regtune refuses, with the reason; every other check must pass.
#: Each of these builds a classification target as ``X[:, 0].astype(int)`` on 20 random rows, which leaves
#: class 3 with a single row. Stratified K-fold cross-validation cannot put such a class in both a training
#: and a test part, so regtune refuses the data in one line ("class 3 has a single row: …") — a ValueError,
#: as scikit-learn asks of bad input — exactly as ``regtune tune`` does; the check, written for estimators
#: that fit without cross-validation, counts that refusal as a failure.
TOO_FEW_ROWS_PER_CLASS = (
    "stratified cross-validation needs at least 2 rows of every class: the check's 20-row target"
    " X[:, 0].astype(int) has a class with one row, which regtune refuses with a ValueError"
)
CLASSIFIER_XFAILS = {
    name: TOO_FEW_ROWS_PER_CLASS
    for name in (
        "check_dont_overwrite_parameters",
        "check_dict_unchanged",
        "check_f_contiguous_array_estimator",
        "check_fit2d_predict1d",
        "check_methods_sample_order_invariance",
        "check_methods_subset_invariance",
    )
}


def expected_failures(estimator: Any) -> dict[str, str]:
    return CLASSIFIER_XFAILS if isinstance(estimator, RegTuneClassifier) else {}


@parametrize_with_checks(
    [RegTuneRegressor(n_trials=2, cv=2, search="tpe"), RegTuneClassifier(n_trials=2, cv=2, search="tpe")],
    expected_failed_checks=expected_failures,
    xfail_strict=True,  # a check that starts passing must leave the list
)
def test_scikit_learn_conformance(estimator: Any, check: Any) -> None:
    check(estimator)


def test_the_docstring_examples_run() -> None:
    import regtune.estimator

    outcome = doctest.testmod(regtune.estimator, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert outcome.attempted >= 10
    assert outcome.failed == 0


def _penguins_without_gaps(path: Path, tmp_path: Path) -> tuple[pd.DataFrame, Path]:
    frame = pd.read_csv(path).drop(columns=["year", "species"]).dropna().reset_index(drop=True)
    csv = tmp_path / "penguins.csv"
    frame.to_csv(csv, index=False)
    return pd.read_csv(csv), csv


def test_a_pipeline_with_a_column_transformer_chooses_the_clis_lambda(penguins: Path, tmp_path: Path) -> None:
    """Standardizing and one-hot encoding before regtune change nothing: regtune standardizes every encoded
    column inside each fold, and a fold's standardization undoes any affine map of a column."""
    from typer.testing import CliRunner

    from regtune.cli import app

    frame, csv = _penguins_without_gaps(penguins, tmp_path)
    numeric = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm"]
    categorical = ["island", "sex"]
    outcome = CliRunner().invoke(
        app, ["tune", str(csv), "-y", "body_mass_g", "-n", "20", "--seed", "3", "--json", "-", "-q"]
    )
    assert outcome.exit_code == 0, outcome.output
    cli = json.loads(outcome.stdout)["chosen"]

    pipeline = Pipeline(
        [
            (
                "pre",
                ColumnTransformer(
                    [
                        ("num", StandardScaler(), numeric),
                        ("cat", OneHotEncoder(drop="if_binary", sparse_output=False), categorical),
                    ]
                ),
            ),
            ("reg", RegTuneRegressor(n_trials=20, random_state=3)),
        ]
    )
    pipeline.fit(frame[numeric + categorical], frame["body_mass_g"])
    reg = pipeline.named_steps["reg"]
    assert reg.penalty_ == cli["penalty"]
    assert reg.lambda_ == pytest.approx(cli["lambda"], rel=1e-9)
    assert reg.l1_ratio_ == pytest.approx(cli["l1_ratio"], rel=1e-9)
    assert reg.best_score_ == pytest.approx(cli["cv_mean"], rel=1e-9)


def test_a_dataframe_with_text_columns_and_gaps_fits_as_regtune_tune(penguins: Path) -> None:
    frame = pd.read_csv(penguins).drop(columns=["year"]).dropna(subset=["body_mass_g"]).reset_index(drop=True)
    X, y = frame.drop(columns=["body_mass_g"]), frame["body_mass_g"]
    reg = RegTuneRegressor(n_trials=8, random_state=1).fit(X, y)
    result = regtune.tune(X, y, n_trials=8, seed=1)
    assert (reg.penalty_, reg.lambda_) == (result.chosen.point.penalty, result.chosen.point.lam)
    assert list(reg.feature_names_in_) == list(X.columns)
    assert result.refit_context is not None
    np.testing.assert_allclose(reg.predict(X), result.model.predict(result.refit_context.dataset.X), rtol=1e-12)


def test_a_splitter_gives_the_folds_an_int_gives() -> None:
    X, y = load_diabetes(return_X_y=True)
    by_int = RegTuneRegressor(n_trials=8, cv=4, random_state=2).fit(X, y)
    by_splitter = RegTuneRegressor(n_trials=8, cv=KFold(4, shuffle=True, random_state=2), random_state=2).fit(X, y)
    assert (by_int.penalty_, by_int.lambda_) == (by_splitter.penalty_, by_splitter.lambda_)
    folds = list(KFold(3).split(X))
    listed = RegTuneRegressor(n_trials=4, cv=folds).fit(X, y)
    assert listed.result_.cv.folds == 3


def test_fitted_attributes_agree_with_scikit_learn_models() -> None:
    X, y = load_diabetes(return_X_y=True)
    reg = RegTuneRegressor(penalties="l1", n_trials=10).fit(X, y)
    assert reg.alpha_ == pytest.approx(reg.lambda_)  # Lasso's alpha is λ
    lasso = Lasso(alpha=reg.lambda_, tol=1e-10, max_iter=100_000).fit(StandardScaler().fit_transform(X), y)
    np.testing.assert_allclose(reg.best_estimator_[-1].coef_, lasso.coef_, atol=1e-3 * np.abs(lasso.coef_).max())
    np.testing.assert_allclose(X @ reg.coef_ + reg.intercept_, reg.predict(X), rtol=1e-10)
    results = reg.cv_results_
    assert len(results["params"]) == len(reg.result_.curve) == 10
    best = int(np.argmin(results["rank_test_score"]))
    assert results["mean_test_score"][best] == pytest.approx(reg.result_.min.point.mean)
    assert results["param_lambda"][best] == pytest.approx(reg.lambda_min_)
    assert results["split0_test_score"].shape == (10,)
    assert reg.lambda_1se_ >= reg.lambda_min_

    Xc, yc = load_breast_cancer(return_X_y=True)
    clf = RegTuneClassifier(penalties="l2", n_trials=6, cv=3).fit(Xc, yc)
    assert pytest.approx(1 / (len(yc) * clf.lambda_)) == clf.C_
    assert clf.coef_.shape == (1, 30) and clf.intercept_.shape == (1,)
    reference = LogisticRegression(C=clf.C_, tol=1e-10, max_iter=10_000).fit(StandardScaler().fit_transform(Xc), yc)
    np.testing.assert_allclose(clf.best_estimator_[-1].coef_, reference.coef_, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(clf.decision_function(Xc), Xc @ clf.coef_[0] + clf.intercept_[0], rtol=1e-8)


def test_labels_of_any_kind_come_back_as_given() -> None:
    X, y = load_iris(return_X_y=True)
    for labels in (np.array(["setosa", "versicolor", "virginica"])[y], y + 10, y == 0):
        clf = RegTuneClassifier(penalties="l2", n_trials=3, cv=3).fit(X, labels)
        np.testing.assert_array_equal(clf.classes_, np.unique(labels))
        predicted = clf.predict(X)
        assert predicted.dtype == clf.classes_.dtype
        assert set(predicted.tolist()) <= set(clf.classes_.tolist())
        assert clf.score(X, labels) > 0.8


def test_clone_pickle_grid_search_and_nested_cv() -> None:
    X, y = load_diabetes(return_X_y=True)
    reg = RegTuneRegressor(n_trials=4, cv=3)
    assert clone(reg).get_params() == reg.get_params()
    fitted = clone(reg).fit(X, y)
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(again.predict(X[:5]), fitted.predict(X[:5]))

    search = GridSearchCV(reg, {"penalties": [("l1",), ("l2",)]}, cv=3).fit(X, y)
    assert search.best_params_["penalties"] in [("l1",), ("l2",)]
    assert search.best_estimator_.penalty_ == search.best_params_["penalties"][0]

    scores = cross_val_score(make_pipeline(StandardScaler(), reg), X, y, cv=3)  # nested CV
    assert scores.shape == (3,) and np.all(scores > 0.2)


def test_a_pandas_output_pipeline_hands_named_columns_on() -> None:
    data = load_diabetes(as_frame=True)
    pipeline = make_pipeline(StandardScaler(), RegTuneRegressor(n_trials=4, cv=3)).set_output(transform="pandas")
    pipeline.fit(data.data, data.target)
    assert list(pipeline[-1].feature_names_in_) == list(data.data.columns)
    assert pipeline.predict(data.data.iloc[:4]).shape == (4,)


def test_groups_stay_in_one_fold() -> None:
    X, y = load_diabetes(return_X_y=True)
    groups = np.arange(len(y)) % 7
    reg = RegTuneRegressor(n_trials=3, cv=3).fit(X, y, groups=groups)
    assert reg.result_.cv.folds == 3


def test_bad_parameters_and_data_are_value_errors_with_regtunes_message() -> None:
    X, y = load_diabetes(return_X_y=True)
    with pytest.raises(ValueError, match="unknown penalty 'l3'") as caught:
        RegTuneRegressor(penalties="l3").fit(X, y)
    assert isinstance(caught.value, ConfigError)
    with pytest.raises(ValueError, match="n_trials must be at least 1"):
        RegTuneRegressor(n_trials=0).fit(X, y)
    with pytest.raises(ValueError, match=r"class 'b' has a single row") as refused:
        RegTuneClassifier(n_trials=2).fit(X[:11], ["a"] * 10 + ["b"])
    assert isinstance(refused.value, DataError)


def test_the_readme_from_python_section_runs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import re

    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## From Python") :]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None
    monkeypatch.chdir(root)
    exec(compile(match.group(1), "README.md", "exec"), {})
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert lines[0].split()[0] == lines[2].split()[0]  # the pipeline and regtune.tune(frame) agree
    assert float(lines[0].split()[1]) == pytest.approx(float(lines[2].split()[1]), rel=1e-9)
