"""A least-squares fold of many validation rows is scored from their statistics (Σ x xᵀ, Σ x y, Σ y²): the
same scores and hypergradients as from the rows, without a pass over them per trial."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import regtune
from regtune.config import TuneConfig
from regtune.cv import fit_and_score, resolve_scorer
from regtune.data import load_dataset
from regtune.folds import assign_folds, build_folds
from regtune.models import Penalty, get_family
from regtune.models import least_squares as ls


def _table(weighted: bool) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    n = 900
    X = rng.standard_normal((n, 5))
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(5)])
    frame["colour"] = rng.choice(["red", "green", "blue"], n)
    frame.loc[rng.random(n) < 0.05, "x2"] = np.nan
    frame["y"] = 300 + X @ [3.0, 0.0, -2.0, 0.5, 0.0] + (frame["colour"] == "red") * 4 + rng.standard_normal(n)
    if weighted:
        frame["w"] = rng.uniform(0.2, 3.0, n)
    return frame


def _fold_results(frame: pd.DataFrame, weighted: bool, scoring: str, penalty: Penalty) -> list:  # type: ignore[type-arg]
    ds = load_dataset(frame, target="y", weights="w" if weighted else None)
    family = get_family("regression")
    folds = build_folds(ds, assign_folds(ds, TuneConfig(seed=3, folds=4)), center=family.center_folds)
    _, scorer = resolve_scorer(scoring, "regression", family)
    return [fit_and_score(family, fold, scorer, penalty, 1e-10, None, scoring) for fold in folds], folds


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("scoring", ["neg_mean_squared_error", "r2", "neg_root_mean_squared_error"])
@pytest.mark.parametrize(
    "penalty", [Penalty.of("l1", 0.05), Penalty.of("l2", 0.01), Penalty.of("elasticnet", 0.08, 0.4)], ids=str
)
def test_scores_and_hypergradients_from_statistics_equal_those_from_rows(
    monkeypatch: pytest.MonkeyPatch, weighted: bool, scoring: str, penalty: Penalty
) -> None:
    frame = _table(weighted)
    from_rows, folds = _fold_results(frame, weighted, scoring, penalty)
    assert all(f.test_stats is None for f in folds)  # 225 validation rows: below STATS_ROWS
    monkeypatch.setattr(ls, "STATS_ROWS", 0)
    from_stats, folds = _fold_results(frame, weighted, scoring, penalty)
    assert all(f.test_stats is not None for f in folds)
    for rows, stats in zip(from_rows, from_stats, strict=True):
        assert stats.score == pytest.approx(rows.score, rel=1e-10, abs=1e-12)
        assert rows.grad is not None and stats.grad is not None
        assert stats.grad[0] == pytest.approx(rows.grad[0], rel=1e-8, abs=1e-10)
        if penalty.kind == "elasticnet":
            assert stats.grad[1] == pytest.approx(rows.grad[1], rel=1e-8, abs=1e-10)


def test_a_scorer_of_rows_still_scores_a_fold_with_statistics(monkeypatch: pytest.MonkeyPatch) -> None:
    """Mean absolute error has no quadratic form: it predicts the rows with the same fold model."""
    monkeypatch.setattr(ls, "STATS_ROWS", 0)
    frame = _table(False)
    ours, _ = _fold_results(frame, False, "neg_mean_absolute_error", Penalty.of("l1", 0.05))
    monkeypatch.setattr(ls, "STATS_ROWS", 10**9)
    plain, _ = _fold_results(frame, False, "neg_mean_absolute_error", Penalty.of("l1", 0.05))
    assert [r.score for r in ours] == pytest.approx([r.score for r in plain], rel=1e-12)


@pytest.mark.parametrize("impute", ["median", "mean"])
def test_folds_from_one_pass_of_sums_are_the_encoded_folds(monkeypatch: pytest.MonkeyPatch, impute: str) -> None:
    """A large table's least-squares folds come from one pass of sums (the Dask engine's encoding, with the
    training medians filling the gaps): the same scores and hypergradients as the encoded folds."""
    from regtune.scale import stats

    frame = _table(False)
    frame.loc[np.random.default_rng(5).random(len(frame)) < 0.04, "colour"] = np.nan
    ds = replace(load_dataset(frame, target="y"), impute=impute)
    family = get_family("regression")
    splits = assign_folds(ds, TuneConfig(seed=3, folds=4))
    monkeypatch.setattr(ls, "STATS_ROWS", 0)
    encoded = build_folds(ds, splits, center=True)
    monkeypatch.setattr(stats, "ROWS_PER_RAW_COLUMN", 100)
    assert stats.folds_from_sums(ds, splits) is None  # 900 rows, 15 raw columns: too few rows per column
    monkeypatch.setattr(stats, "ROWS_PER_RAW_COLUMN", 20)
    summed = stats.folds_from_sums(ds, splits)
    assert summed is not None
    for scoring in ("neg_mean_squared_error", "r2"):
        _, scorer = resolve_scorer(scoring, "regression", family)
        for penalty in (Penalty.of("l1", 0.05), Penalty.of("l2", 0.01), Penalty.of("elasticnet", 0.08, 0.4)):
            for a, b in zip(encoded, summed, strict=True):
                rows = fit_and_score(family, a, scorer, penalty, 1e-10, None, scoring)
                sums = fit_and_score(family, b, scorer, penalty, 1e-10, None, scoring)
                assert sums.score == pytest.approx(rows.score, rel=1e-9, abs=1e-12)
                assert rows.grad is not None and sums.grad is not None
                assert sums.grad[0] == pytest.approx(rows.grad[0], rel=1e-7, abs=1e-9)
                np.testing.assert_allclose(sums.coef, rows.coef, rtol=1e-7, atol=1e-9)


def test_tables_the_sums_cannot_encode_keep_the_encoded_folds(monkeypatch: pytest.MonkeyPatch) -> None:
    """A categorical column with a value in one row only (no value in some fold's training rows), or folds
    that do not train on the rest of the rows: the encoded folds, and the run tunes as before."""
    from regtune.scale import stats

    monkeypatch.setattr(ls, "STATS_ROWS", 0)
    frame = _table(False)
    frame["note"] = pd.Series([None] * len(frame), dtype=object)
    frame.loc[5, "note"] = "rare"
    ds = load_dataset(frame, target="y")
    splits = assign_folds(ds, TuneConfig(seed=3, folds=4))
    assert stats.folds_from_sums(ds, splits) is None
    result = regtune.tune(frame, target="y", n_trials=4, seed=3)
    assert result.chosen.point.penalty in ("l1", "l2", "elasticnet")
    ds = load_dataset(_table(False), target="y")
    assert stats.folds_from_sums(ds, splits) is not None
    shrunk = [(train[: len(train) // 2], test) for train, test in splits]  # trains on half the rest
    assert stats.folds_from_sums(ds, shrunk) is None
