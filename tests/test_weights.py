"""Sample weights (``--weights``, ``sample_weight=``): the loss is Σ wᵢℓᵢ / Σ wᵢ.

Checked against scikit-learn's estimators fitted with ``sample_weight`` at a fixed λ (the λ mappings of
test_models.py), against integer weights as repeated rows (same folds through a fold column: the fold fits
and the fold scores are equal), and the hypergradients against finite differences of the weighted CV score.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from regtune.cli import app
from regtune.config import TuneConfig
from regtune.cv import Evaluator, resolve_scorer
from regtune.data import Dataset, load_dataset
from regtune.folds import assign_folds, build_folds
from regtune.models import Family, Penalty, get_family

TOL = 1e-10


def _table(task: str, n: int = 90, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)) * [1.0, 3.0, 0.5, 2.0] + [0.0, 5.0, -1.0, 2.0]
    eta = X @ [0.8, -0.3, 1.0, 0.0]
    if task == "regression":
        y: np.ndarray = eta + rng.normal(size=n)
    elif task == "poisson":
        y = rng.poisson(np.exp(0.3 * eta - 0.5)).astype(float)
    elif task == "multiclass":
        noisy = eta + rng.normal(size=n)
        y = np.digitize(noisy, np.quantile(noisy, [1 / 3, 2 / 3]))
    else:
        y = (eta + rng.normal(size=n) > np.median(eta)).astype(int)
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    frame["y"] = y
    frame["w"] = rng.integers(0, 4, size=n).astype(float)
    frame["fold"] = np.arange(n) % 3
    return frame


def _dataset(frame: pd.DataFrame, task: str, weights: str | None = "w") -> Dataset:
    return load_dataset(frame, target="y", task=task, weights=weights, fold_column="fold")


def _family(kind: str) -> Family:
    if kind == "poisson":
        return get_family("regression", family="poisson")
    return get_family("regression" if kind == "regression" else "classification")


def _task(kind: str) -> str:
    return "classification" if kind in ("classification", "multiclass") else "regression"


PENALTIES = [("l1", 1.0), ("elasticnet", 0.5), ("l2", 0.0)]


@pytest.mark.parametrize(("penalty", "r"), PENALTIES)
def test_least_squares_fold_fits_equal_scikit_learn_with_sample_weight(penalty: str, r: float) -> None:
    frame = _table("regression")
    dataset = _dataset(frame, "regression")
    family = _family("regression")
    folds = build_folds(dataset, assign_folds(dataset, TuneConfig()), center=True)
    lam = 0.05 * family.lambda_max(
        folds[0].X_train, folds[0].y_train, max(r, 0.05), sample_weight=folds[0].weight_train
    )
    for fold in folds:
        pen = Penalty.of(penalty, lam, r)
        ours = family.fit_fold(fold, pen, TOL)
        ref = family.estimator(pen, fold.n_train, 1e-12)
        ref.set_params(**({"max_iter": 100_000} if penalty != "l2" else {}))
        ref.fit(fold.X_train, fold.y_train, sample_weight=fold.weight_train)
        np.testing.assert_allclose(ours.coef, ref.coef_, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(ours.intercept[0], ref.intercept_, rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize(("penalty", "r"), PENALTIES)
def test_binary_logistic_fold_fits_equal_scikit_learn_with_sample_weight(penalty: str, r: float) -> None:
    """C = 1/(n·λ) with the weights summing to n: scikit-learn's ``C·Σ sᵢℓᵢ`` is then n·C times the mean."""
    from sklearn.linear_model import LogisticRegression

    dataset = _dataset(_table("classification"), "classification")
    family = _family("classification")
    fold = build_folds(dataset, assign_folds(dataset, TuneConfig()), center=True)[0]
    lam = 0.05 * family.lambda_max(fold.X_train, fold.y_train, max(r, 0.05), sample_weight=fold.weight_train)
    ours = family.fit_fold(fold, Penalty.of(penalty, lam, r), 1e-9)
    C = 1.0 / (fold.n_train * lam)
    solver = "lbfgs" if penalty == "l2" else "saga"
    ref = LogisticRegression(C=C, l1_ratio=r, solver=solver, tol=1e-12, max_iter=200_000)
    ref.fit(fold.X_train, fold.y_train, sample_weight=fold.weight_train)
    np.testing.assert_allclose(ours.coef, ref.coef_, atol=2e-4)
    np.testing.assert_allclose(ours.intercept, ref.intercept_, atol=2e-4)


def _repeated(frame: pd.DataFrame) -> pd.DataFrame:
    """Each row repeated ``w`` times (rows of weight 0 left out), without the weights column."""
    return frame.loc[frame.index.repeat(frame["w"].astype(int))].reset_index(drop=True).drop(columns=["w"])


@pytest.mark.parametrize("kind", ["regression", "classification", "poisson", "multiclass"])
@pytest.mark.parametrize(("penalty", "r"), PENALTIES)
def test_integer_weights_are_repeated_rows(kind: str, penalty: str, r: float) -> None:
    """The same folds (a fold column): every fold's preprocessing, fit and weighted score equal those of the
    table with each row repeated w times."""
    frame = _table(kind)
    task = _task(kind)
    weighted, repeated = _dataset(frame, task), _dataset(_repeated(frame), task, weights=None)
    family = _family(kind)
    config = TuneConfig()
    folds_w = build_folds(weighted, assign_folds(weighted, config), center=True)
    folds_r = build_folds(repeated, assign_folds(repeated, config), center=True)
    f0 = folds_w[0]
    lmax = family.lambda_max(f0.X_train, f0.y_train, max(r, 0.05), sample_weight=f0.weight_train)
    assert lmax == pytest.approx(family.lambda_max(folds_r[0].X_train, folds_r[0].y_train, max(r, 0.05)), rel=1e-9)
    pen = Penalty.of(penalty, 0.1 * lmax, r)
    scorer = resolve_scorer(None, task, family)[1]
    for fw, fr in zip(folds_w, folds_r, strict=True):
        a, b = family.fit_fold(fw, pen, 1e-9), family.fit_fold(fr, pen, 1e-9)
        np.testing.assert_allclose(a.coef, b.coef, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(a.intercept, b.intercept, rtol=1e-5, atol=1e-6)
    scores_w = Evaluator(folds_w, family, scorer, 1e-9).evaluate(pen).fold_scores
    scores_r = Evaluator(folds_r, family, scorer, 1e-9).evaluate(pen).fold_scores
    np.testing.assert_allclose(scores_w, scores_r, rtol=1e-6)


@pytest.mark.parametrize("kind", ["regression", "classification", "poisson", "multiclass"])
def test_ridge_range_curvature_of_integer_weights_is_that_of_repeated_rows(kind: str) -> None:
    from regtune.preprocess import Encoder

    frame = _table(kind)
    task = _task(kind)
    weighted, repeated = _dataset(frame, task), _dataset(_repeated(frame), task, weights=None)
    family = _family(kind)
    Xw = Encoder(weighted.numeric, []).fit_transform(weighted.X, weighted.weights)
    Xr = Encoder(repeated.numeric, []).fit_transform(repeated.X)
    eig_w = np.sort(family.curvature(Xw, weighted.y, sample_weight=weighted.weights))
    eig_r = np.sort(family.curvature(Xr, repeated.y))
    np.testing.assert_allclose(eig_w, eig_r, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("kind", ["regression", "classification", "poisson"])
@pytest.mark.parametrize(("penalty", "r", "frac"), [("l1", 1.0, 0.2), ("elasticnet", 0.5, 0.1), ("l2", 0.0, 0.05)])
def test_hypergradient_with_weights_equals_finite_differences(kind: str, penalty: str, r: float, frac: float) -> None:
    task = _task(kind)
    dataset = _dataset(_table(kind, n=120, seed=3), task)
    family = _family(kind)
    folds = build_folds(dataset, assign_folds(dataset, TuneConfig()), center=True)
    name, scorer = resolve_scorer(None, task, family)
    f0 = folds[0]
    lam = frac * family.lambda_max(f0.X_train, f0.y_train, max(r, 0.05), sample_weight=f0.weight_train)
    h = 1e-5

    def cv(lam_: float, r_: float) -> float:
        return float(
            np.mean(Evaluator(folds, family, scorer, 1e-12).evaluate(Penalty.of(penalty, lam_, r_)).fold_scores)
        )

    ev = Evaluator(folds, family, scorer, 1e-12, hyper=family.hyper_quantity(name)).evaluate(
        Penalty.of(penalty, lam, r)
    )
    assert ev.d_log_lambda is not None
    fd = (cv(lam * math.exp(h), r) - cv(lam * math.exp(-h), r)) / (2 * h)
    assert ev.d_log_lambda == pytest.approx(fd, rel=5e-3, abs=1e-6)
    if penalty == "elasticnet":
        fd_r = (cv(lam, r + h) - cv(lam, r - h)) / (2 * h)
        assert ev.d_l1_ratio == pytest.approx(fd_r, rel=5e-3, abs=1e-6)


def test_weights_of_one_change_nothing_but_the_study(tmp_path: Path) -> None:
    import regtune

    frame = _table("regression").drop(columns=["fold"])
    frame["w"] = 1.0
    plain = regtune.tune(frame.drop(columns=["w"]), target="y", n_trials=8, seed=1)
    ones = regtune.tune(frame, target="y", weights="w", n_trials=8, seed=1)
    assert ones.chosen.point.lam == pytest.approx(plain.chosen.point.lam, rel=1e-9)
    assert ones.chosen.point.mean == pytest.approx(plain.chosen.point.mean, rel=1e-9)


def test_weights_are_part_of_the_study_identity() -> None:
    from regtune.search import auto_study_name, study_identity

    frame = _table("regression")
    config = TuneConfig()
    names = []
    for w in (frame["w"], frame["w"] + 1):
        dataset = _dataset(frame.assign(w=w), "regression")
        family = _family("regression")
        splits = assign_folds(dataset, config)
        from regtune.policy import SearchSpace

        space = SearchSpace(penalties=("l1",), ranges={"l1": (0.01, 1.0)})
        identity = study_identity(dataset, config, "neg_mean_squared_error", family, splits, space, 4)
        assert identity["weights"]["column"] == "w"
        names.append(auto_study_name(identity))
    assert names[0] != names[1]


BAD = [
    ("-1", "row 2 has -1"),
    ("", "row 2 has no value"),
    ("inf", "row 2 has inf"),
    ("heavy", "row 2 has 'heavy'"),
]


@pytest.mark.parametrize(("value", "shown"), BAD)
def test_a_bad_weight_is_one_line_naming_the_column_and_row(tmp_path: Path, value: str, shown: str) -> None:
    csv = tmp_path / "t.csv"
    rows = ["x,y,wt"] + [f"{i},{i % 5 + i * 0.3},1" for i in range(30)]
    rows[2] = f"1,1.3,{value}"
    csv.write_text("\n".join(rows) + "\n")
    outcome = CliRunner().invoke(app, ["tune", str(csv), "-y", "y", "--weights", "wt", "-n", "3", "-q"])
    assert outcome.exit_code == 1, outcome.output
    line = outcome.output.strip()
    assert "\n" not in line and "--weights column 'wt'" in line and shown in line, line


def test_all_zero_weights_and_a_model_without_weights_are_refused(tmp_path: Path) -> None:
    csv = tmp_path / "t.csv"
    csv.write_text("x,y,wt\n" + "".join(f"{i},{i * 0.7 % 3},0\n" for i in range(30)))
    outcome = CliRunner().invoke(app, ["tune", str(csv), "-y", "y", "--weights", "wt", "-q"])
    assert outcome.exit_code == 1 and "is zero in every row" in outcome.output, outcome.output
    outcome = CliRunner().invoke(app, ["tune", str(csv), "-y", "y", "--weights", "wt", "--model", "mlp", "-q"])
    assert outcome.exit_code != 0 and "--weights does not apply to --model mlp" in outcome.output, outcome.output


def test_the_estimators_sample_weight_is_the_clis_weights_column() -> None:
    import regtune
    from regtune import RegTuneRegressor

    frame = _table("regression").drop(columns=["fold"])
    X, y, w = frame[["a", "b", "c", "d"]], frame["y"], frame["w"]
    reg = RegTuneRegressor(n_trials=10, random_state=3).fit(X, y, sample_weight=w)
    result = regtune.tune(frame, target="y", weights="w", n_trials=10, seed=3)
    assert reg.lambda_ == pytest.approx(result.chosen.point.lam, rel=1e-9)
    assert reg.penalty_ == result.chosen.point.penalty
    unweighted = RegTuneRegressor(n_trials=10, random_state=3).fit(X, y)
    assert unweighted.best_score_ != pytest.approx(reg.best_score_, rel=1e-6)
    with pytest.raises(ValueError, match="sample_weight"):
        RegTuneRegressor(n_trials=2).fit(X, y, sample_weight=-w)


@pytest.mark.parametrize("kind", ["regression", "classification"])
def test_the_whole_tune_of_integer_weights_is_that_of_repeated_rows(kind: str) -> None:
    """With the same folds (a fold column), every trial, its fold scores and the choice are the same."""
    import regtune

    frame = _table(kind)
    task = _task(kind)
    settings = {"target": "y", "fold_column": "fold", "n_trials": 12, "seed": 2, "task": task}
    weighted = regtune.tune(frame, weights="w", **settings)
    repeated = regtune.tune(_repeated(frame), **settings)
    assert len(weighted.curve) == len(repeated.curve) == 12
    for a, b in zip(weighted.curve, repeated.curve, strict=True):
        assert (a.penalty, a.state) == (b.penalty, b.state)
        assert a.lam == pytest.approx(b.lam, rel=1e-6)
        np.testing.assert_allclose(a.fold_scores, b.fold_scores, rtol=1e-6)
    assert weighted.chosen.point.lam == pytest.approx(repeated.chosen.point.lam, rel=1e-6)
    np.testing.assert_allclose(weighted.model[-1].coef_, repeated.model[-1].coef_, rtol=1e-5, atol=1e-7)


def test_a_poisson_rate_weighted_by_exposure_is_the_count_with_its_offset() -> None:
    """glmnet's equivalence: Poisson on yᵢ/tᵢ with weights tᵢ is Poisson on yᵢ with offset log tᵢ, at
    λ/t̄ (the weights are rescaled to mean 1, so the weighted loss is the offset's divided by t̄)."""
    rng = np.random.default_rng(5)
    n = 200
    X = rng.normal(size=(n, 3))
    t = rng.uniform(0.2, 3.0, size=n)
    y = rng.poisson(t * np.exp(X @ [0.4, -0.3, 0.0] - 0.2)).astype(float)
    family = _family("poisson")
    lam = 0.02
    for penalty, r in PENALTIES:
        counts = family.fit(X, y, Penalty.of(penalty, lam, r), 1e-10, offset=np.log(t))
        rates = family.fit(X, y / t, Penalty.of(penalty, lam / t.mean(), r), 1e-10, sample_weight=t)
        np.testing.assert_allclose(rates.coef, counts.coef, atol=1e-6)
        np.testing.assert_allclose(rates.intercept, counts.intercept, atol=1e-6)


def test_held_out_rows_are_scored_with_their_weights(tmp_path: Path) -> None:
    import regtune

    frame = _table("regression", n=150).drop(columns=["fold"])
    frame["w"] = frame["w"] + 1
    train, test = frame.iloc[:100], frame.iloc[100:]
    path = tmp_path / "test.csv"
    test.to_csv(path, index=False)
    result = regtune.tune(train, target="y", weights="w", n_trials=6, seed=0, test=str(path))
    assert result.held_out is not None
    pred = result.model.predict(test[["a", "b", "c", "d"]])
    expected = -np.average((test["y"] - pred) ** 2, weights=test["w"])
    assert result.held_out.min.score == pytest.approx(expected, rel=1e-9)


def test_a_settings_file_sets_the_weights_and_the_output_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    monkeypatch.chdir(tmp_path)
    _table("regression").drop(columns=["fold"]).to_csv("t.csv", index=False)
    Path("regtune.toml").write_text('weights = "w"\nn-trials = 4\n')
    outcome = CliRunner().invoke(app, ["tune", "t.csv", "-y", "y", "--json", "r.json"])
    assert outcome.exit_code == 0, outcome.output
    assert "weighted by w" in outcome.output
    doc = json.loads(Path("r.json").read_text())
    assert doc["dataset"]["weights"] == "w"
    assert "w" not in doc["dataset"]["numeric"]
