"""A choice you can trust, on data nobody tuned regtune on: λ.1se pinned against the exact 1-SE λ of a
dense grid on the same folds (prostate, 10 folds of 9–10 rows), honest non-zero counts with 0/1 dummies
(Hitters), and ridge's range on the scale of its own problem (y × 1000 changes nothing but the lasso's λ)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import regtune
from regtune.cv import Evaluator, resolve_scorer
from regtune.data import load_dataset
from regtune.folds import assign_folds, build_folds
from regtune.models import Penalty, get_family
from regtune.select import mean_se

DATA = Path(__file__).resolve().parent / "data"


def _evaluator(source: str, **settings: object) -> Evaluator:
    config = regtune.TuneConfig.of(**settings)
    dataset = load_dataset(source, target=config.target, drop=config.drop)
    family = get_family(dataset.task)
    folds = build_folds(dataset, assign_folds(dataset, config), center=True)
    _, scorer = resolve_scorer(config.scoring, dataset.task)
    return Evaluator(folds, family, scorer, tol=1e-10)


def _cv(ev: Evaluator, lam: float) -> tuple[float, float]:
    return mean_se(ev.evaluate(Penalty.of("l1", lam)).fold_scores)


def _exact_one_se(ev: Evaluator, lo: float, hi: float) -> tuple[float, float]:
    """(λ.min, λ.1se) of the lasso from a dense grid refined around both (to 1e-4 decades)."""
    grid = np.geomspace(lo, hi, 400)
    curve = [_cv(ev, lam) for lam in grid]
    i = int(np.argmax([m for m, _ in curve]))
    fine = np.geomspace(grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)], 81)
    best_lam, (best, se) = max(((lam, _cv(ev, lam)) for lam in fine), key=lambda item: item[1][0])
    threshold = best - se
    j = max(k for k in range(len(grid)) if curve[k][0] >= threshold)
    a, b = math.log(grid[j]), math.log(grid[min(j + 1, len(grid) - 1)])
    while b - a > 1e-4 * math.log(10):
        mid = (a + b) / 2
        a, b = (mid, b) if _cv(ev, math.exp(mid))[0] >= threshold else (a, mid)
    return best_lam, math.exp(a)


def test_prostate_lambda_1se_is_pinned_to_the_exact_one_on_a_dense_grid() -> None:
    source = str(DATA / "prostate.csv")
    result = regtune.tune(source, target="lpsa", penalties=("l1",), folds=10, n_trials=60, seed=0, rule="1se")
    assert result.cv.scoring == "neg_mean_squared_error"
    lo, hi = result.per_penalty[0].lambda_range
    lam_min, lam_1se = _exact_one_se(_evaluator(source, target="lpsa", folds=10, seed=0), lo, hi)
    assert abs(math.log10(result.min.point.lam / lam_min)) < 0.05
    assert abs(math.log10(result.one_se.point.lam / lam_1se)) <= 0.005
    assert result.chosen.point is result.one_se.point


def test_fold_averaged_r2_on_small_folds_gets_a_warning_naming_the_alternative() -> None:
    result = regtune.tune(str(DATA / "prostate.csv"), target="lpsa", folds=10, n_trials=12, scoring="r2")
    assert any("unstable" in w and "neg_mean_squared_error" in w for w in result.warnings)


def test_hitters_non_zero_counts_are_those_of_an_exact_lasso_with_0_1_dummies() -> None:
    from sklearn.linear_model import Lasso

    result = regtune.tune(str(DATA / "hitters.csv"), target="Salary", drop=("Player",), penalties=("l1",),
                          n_trials=40, seed=0)  # fmt: skip
    assert result.dataset["rows_dropped"] == 59 and result.dataset["n_columns_encoded"] == 19  # 3 two-level → 3
    names = [n for n, _ in result.coefficients]
    assert {"League_N", "Division_W", "NewLeague_N"} <= set(names)
    pipeline = result.model
    X = pipeline[0].transform(result.refit_context.dataset.X)
    exact = Lasso(alpha=result.chosen.point.lam, tol=1e-12, max_iter=1_000_000).fit(X, result.refit_context.dataset.y)
    assert result.chosen.n_nonzero == np.count_nonzero(exact.coef_)
    np.testing.assert_allclose([v for _, v in result.coefficients], exact.coef_, atol=1e-3 * np.abs(exact.coef_).max())


@pytest.mark.parametrize("scale", [1e3, 1e-3])
def test_scaling_the_target_moves_only_the_lasso_lambda(tmp_path: Path, scale: float) -> None:
    """Multiplying y by c leaves the chosen penalty, ridge's λ, every CV R² and every non-zero count
    unchanged, and multiplies the lasso's λ by c (its λ_max scales with y; ridge's range does not)."""
    import pandas as pd

    frame = load_dataset("builtin:diabetes").X.assign(y=load_dataset("builtin:diabetes").y)
    base, scaled = tmp_path / "base.csv", tmp_path / "scaled.csv"
    frame.to_csv(base, index=False)
    frame.assign(y=frame["y"] * scale).to_csv(scaled, index=False)
    runs = [regtune.tune(str(p), target="y", penalties=("l1", "l2"), n_trials=40, seed=0) for p in (base, scaled)]
    a, b = (r.to_dict() for r in runs)
    assert a["chosen"]["penalty"] == b["chosen"]["penalty"]
    for pa, pb in zip(a["per_penalty"], b["per_penalty"], strict=True):
        factor = scale if pa["penalty"] == "l1" else 1.0
        assert pb["lambda"] == pytest.approx(pa["lambda"] * factor, rel=1e-6)
        assert pb["lambda_range"] == pytest.approx([x * factor for x in pa["lambda_range"]], rel=1e-9)
        assert pb["cv_r2"] == pytest.approx(pa["cv_r2"], abs=1e-9)
        assert pb["n_nonzero"] == pa["n_nonzero"]
    assert pd.Series([p["cv_r2"] for p in a["curve"]]).round(9).tolist() == pytest.approx(
        [p["cv_r2"] for p in b["curve"]], abs=1e-9
    )
