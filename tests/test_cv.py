"""regtune against scikit-learn as the oracle: same folds ⇒ same CV scores; a good choice of λ."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import Pipeline

import regtune
from regtune.config import TuneConfig
from regtune.cv import Evaluator, resolve_scorer
from regtune.data import load_dataset
from regtune.folds import assign_folds, build_folds
from regtune.models import Penalty, get_family
from regtune.policy import lambda_ranges
from regtune.preprocess import make_preprocessor


def _setup(source: str, **kw: object):  # type: ignore[no-untyped-def]
    config = TuneConfig(**kw)  # type: ignore[arg-type]
    ds = load_dataset(source, target=config.target, task=config.task)
    family = get_family(ds.task)
    splits = assign_folds(ds, config)
    folds = build_folds(ds, splits, center=family.center_folds)
    return ds, family, splits, folds


@pytest.mark.parametrize(
    "source,target,penalty,lam,r",
    [
        ("builtin:diabetes", None, "l1", 0.5, 1.0),
        ("builtin:diabetes", None, "l2", 0.05, 0.0),
        ("builtin:diabetes", None, "elasticnet", 0.2, 0.4),
        ("penguins", "body_mass_g", "l1", 5.0, 1.0),
        ("builtin:breast_cancer", None, "l2", 1e-2, 0.0),
        ("builtin:breast_cancer", None, "l1", 1e-2, 1.0),
        ("builtin:wine", None, "elasticnet", 2e-2, 0.5),
    ],
)
def test_cv_score_equals_cross_val_score_of_the_equivalent_pipeline(
    source: str, target: str | None, penalty: str, lam: float, r: float, penguins
) -> None:  # type: ignore[no-untyped-def]
    src = str(penguins) if source == "penguins" else source
    ds, family, splits, folds = _setup(src, target=target)
    name, scorer = resolve_scorer(None, ds.task)
    ours = Evaluator(folds, family, scorer, tol=1e-10).evaluate(Penalty.of(penalty, lam, r)).fold_scores

    def pipeline(n: int) -> Pipeline:
        est = family.estimator(Penalty.of(penalty, lam, r), n, tol=1e-10)
        if hasattr(est, "max_iter"):
            est.set_params(max_iter=200_000)
        return Pipeline([("pre", make_preprocessor(ds.numeric, ds.categorical)), ("model", est)])

    if family.native(Penalty.of(penalty, lam, r), 100) == family.native(Penalty.of(penalty, lam, r), 101):
        # λ is the native parameter (Lasso / ElasticNet alpha): one pipeline in cross_val_score.
        ref = list(cross_val_score(pipeline(len(ds.y)), ds.X, ds.y, cv=splits, scoring=name))
    else:
        # Ridge's alpha = n·λ and C = 1/(n·λ) depend on each fold's own n: one pipeline per fold.
        ref = []
        for train, test in splits:
            fitted = pipeline(len(train)).fit(ds.X.iloc[train], ds.y[train])
            ref.append(scorer(fitted, ds.X.iloc[test], ds.y[test]))
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6)


def _dense_grid_best(source: str) -> float:
    ds, family, _, folds = _setup(source)
    _, scorer = resolve_scorer(None, ds.task)
    ev = Evaluator(folds, family, scorer, tol=1e-4)
    X_all = make_preprocessor(ds.numeric, ds.categorical).fit_transform(ds.X)
    ranges = lambda_ranges(family, X_all, ds.y, ("l1", "l2", "elasticnet"), None, None)
    best = -np.inf
    for penalty, ratios in (("l1", [1.0]), ("l2", [0.0]), ("elasticnet", [0.1, 0.5, 0.9])):
        lo, hi = ranges[penalty]
        for r in ratios:
            for lam in np.geomspace(lo, hi, 60):
                best = max(best, float(np.mean(ev.evaluate(Penalty.of(penalty, lam, r)).fold_scores)))
    return best


@pytest.mark.parametrize("source", ["builtin:diabetes", "builtin:breast_cancer"])
def test_chosen_point_is_within_1e3_of_a_dense_grid_on_the_same_folds(source: str) -> None:
    result = regtune.tune(source, n_trials=60, seed=0)
    grid = _dense_grid_best(source)
    assert result.min.point.mean >= grid - 1e-3, (result.min.point, grid)


def test_same_seed_same_result_and_rule_1se_chooses_a_larger_lambda() -> None:
    a = regtune.tune("builtin:diabetes", n_trials=25, seed=3)
    b = regtune.tune("builtin:diabetes", n_trials=25, seed=3, rule="1se")
    assert a.min.point.trial == b.min.point.trial
    assert a.min.point.lam == b.min.point.lam
    assert [p.fold_scores for p in a.curve] == [p.fold_scores for p in b.curve]
    assert b.chosen.point is b.one_se.point
    assert b.chosen.point.lam >= a.chosen.point.lam
    assert b.chosen.rule == "1se"


def test_failed_fits_are_recorded_and_the_search_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    from regtune.models.least_squares import LeastSquares

    real = LeastSquares.fit_fold

    def flaky(self, fold, penalty, tol, warm=None):  # type: ignore[no-untyped-def]
        if penalty.kind == "l1":
            raise ValueError("solver exploded")
        return real(self, fold, penalty, tol, warm)

    monkeypatch.setattr(LeastSquares, "fit_fold", flaky)
    result = regtune.tune("builtin:diabetes", n_trials=12)
    assert result.study["failed"] > 0
    assert result.chosen.point.penalty != "l1"
    assert any("solver exploded" in w for w in result.warnings)
    failed = [p for p in result.to_dict()["curve"] if p["state"] == "failed"]
    assert failed and all(p["penalty"] == "l1" for p in failed)


def test_unconverged_fits_are_counted_not_printed(monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    import regtune.models._logistic_solver as solver
    import regtune.models.least_squares as ls

    monkeypatch.setattr(ls, "MAX_ITER", 1)  # coordinate descent stops after one sweep
    monkeypatch.setattr(solver, "ACTIVE_SET_STEPS", 0)  # and the exact active-set search before it gives up
    monkeypatch.setattr(solver, "ACTIVE_SET_JOINS", 0)
    monkeypatch.setattr(solver, "LARGE_ACTIVE_SET_STEPS", 0)
    result = regtune.tune("builtin:diabetes", n_trials=12, penalties=("l1", "l2"))
    assert result.study["unconverged"] > 0
    assert result.chosen.point.converged
    captured = capsys.readouterr()
    assert "ConvergenceWarning" not in captured.err + captured.out


def test_best_lambda_on_the_edge_widens_the_range() -> None:
    # A range far above the optimum: the best λ sits on its lower edge and the range must widen.
    result = regtune.tune("builtin:diabetes", n_trials=30, penalties=("l1",), lambda_min=5.0, lambda_max=50.0)
    summary = result.per_penalty[0]
    assert summary.widened
    assert summary.lambda_range[0] < 5.0
    assert result.min.point.lam < 5.0
    assert any("widened" in w for w in result.warnings)


def test_pruned_trials_are_counted_and_never_chosen() -> None:
    result = regtune.tune("builtin:breast_cancer", n_trials=30, seed=0)
    pruned = [p for p in result.curve if p.state == "pruned"]
    assert result.study["pruned"] == len(pruned) > 0
    assert all(len(p.fold_scores) < 5 for p in pruned)
    assert result.min.point.state == "complete" and result.one_se.point.state == "complete"
    assert result.cv["n_fold_fits"] < 5 * 30
    unpruned = regtune.tune("builtin:breast_cancer", n_trials=30, seed=0, prune=False)
    assert unpruned.study["pruned"] == 0
    assert unpruned.cv["n_fold_fits"] == 5 * unpruned.study["n_trials"]


def test_fold_pruner_prunes_only_trials_worse_on_every_fold() -> None:
    import optuna

    from regtune.search import make_fold_pruner

    study = optuna.create_study(direction="maximize", pruner=make_fold_pruner())
    best = optuna.trial.create_trial(
        value=0.8,
        intermediate_values={0: 0.8, 1: 0.82, 2: 0.78},
        user_attrs={"fold_scores": [0.8, 0.82, 0.78]},
        params={},
        distributions={},
    )
    study.add_trial(best)
    pruner = make_fold_pruner()
    clearly_worse = optuna.trial.create_trial(
        state=optuna.trial.TrialState.RUNNING, intermediate_values={0: 0.5, 1: 0.55}, params={}, distributions={}
    )
    mixed = optuna.trial.create_trial(
        state=optuna.trial.TrialState.RUNNING, intermediate_values={0: 0.5, 1: 0.9}, params={}, distributions={}
    )
    close = optuna.trial.create_trial(
        state=optuna.trial.TrialState.RUNNING, intermediate_values={0: 0.79, 1: 0.81}, params={}, distributions={}
    )
    one_fold = optuna.trial.create_trial(
        state=optuna.trial.TrialState.RUNNING, intermediate_values={0: 0.1}, params={}, distributions={}
    )
    assert pruner.prune(study, clearly_worse)
    assert not pruner.prune(study, mixed)
    assert not pruner.prune(study, close)
    assert not pruner.prune(study, one_fold)


@pytest.mark.parametrize("source", ["builtin:diabetes", "builtin:wine"])
def test_n_jobs_2_gives_exactly_the_same_study_as_n_jobs_1(source: str) -> None:
    a = regtune.tune(source, n_trials=14, seed=1, n_jobs=1)
    b = regtune.tune(source, n_trials=14, seed=1, n_jobs=2)
    key = [(p.trial, p.penalty, p.lam, p.l1_ratio, p.fold_scores, p.state) for p in a.curve]
    assert key == [(p.trial, p.penalty, p.lam, p.l1_ratio, p.fold_scores, p.state) for p in b.curve]
    assert a.chosen.point.lam == b.chosen.point.lam


def test_warm_start_solutions_are_not_changed_by_later_fits() -> None:
    ds, family, _, folds = _setup("builtin:diabetes")
    _, scorer = resolve_scorer(None, ds.task)
    ev = Evaluator(folds, family, scorer, tol=1e-6)
    ev.evaluate(Penalty.of("l1", 0.5, 1.0))
    kept = ev.warm.nearest(0, Penalty.of("l1", 0.5))
    assert kept is not None
    before = kept[0].copy()
    ev.evaluate(Penalty.of("l1", 0.05, 1.0))  # warm-starts from the λ=0.5 solution
    np.testing.assert_array_equal(ev.warm.nearest(0, Penalty.of("l1", 0.5))[0], before)


def test_predicted_warm_start_moves_along_the_tangent_and_keeps_signs() -> None:
    from regtune.cv import FoldResult, WarmStarts

    warm = WarmStarts()
    coef = np.array([[0.5, -0.2, 0.0, 0.05]])
    d_coef, d_b = np.array([[0.1, 0.1, 0.0, -0.2]]), np.array([0.3])
    result = FoldResult(0.0, True, 3, coef, np.array([1.0]), None, ((d_coef, d_b), None))
    warm.remember(0, Penalty.of("l1", 0.1, 1.0), result)
    target = Penalty.of("l1", 0.1 * np.exp(0.5), 1.0)
    plain = warm.nearest(0, target)
    assert plain is not None
    np.testing.assert_array_equal(plain[0], coef)
    moved = warm.nearest(0, target, predict=True)
    assert moved is not None
    # 0.05 − 0.5·0.2 crosses zero: it stays at zero; the stored solution is not changed.
    np.testing.assert_allclose(moved[0], [[0.55, -0.15, 0.0, 0.0]])
    np.testing.assert_allclose(moved[1], [1.15])
    np.testing.assert_array_equal(coef, [[0.5, -0.2, 0.0, 0.05]])
    far = warm.nearest(0, Penalty.of("l1", 0.1 * np.exp(3.0), 1.0), predict=True)
    assert far is not None
    np.testing.assert_array_equal(far[0], coef)


def test_predicted_warm_starts_give_the_same_multinomial_fits() -> None:
    """Logistic fits start from the predicted point; their solutions are those of plain warm starts."""
    ds, family, _, folds = _setup("builtin:wine")
    _, scorer = resolve_scorer(None, ds.task)
    results = []
    for predict in (True, False):
        family.warm_predictor = predict  # type: ignore[misc]
        ev = Evaluator(folds, family, scorer, tol=1e-8, hyper="neg_log_loss")
        scores = [ev.evaluate(Penalty.of("elasticnet", lam, 0.5)).fold_scores for lam in (0.05, 0.03, 0.02)]
        results.append(np.array(scores))
        tangents = [entry[4] for entry in ev.warm._store[(0, "elasticnet")]]
        assert all((t is not None) == predict for t in tangents)
    family.warm_predictor = True  # type: ignore[misc]
    np.testing.assert_allclose(results[0], results[1], rtol=1e-6)


@pytest.mark.parametrize(
    "source,names",
    [
        ("builtin:diabetes", ["r2", "neg_mean_squared_error", "neg_root_mean_squared_error"]),
        ("builtin:breast_cancer", ["neg_log_loss", "accuracy"]),
        ("builtin:wine", ["neg_log_loss", "accuracy"]),
    ],
)
def test_fast_scorers_equal_scikit_learns(source: str, names: list[str]) -> None:
    from sklearn.metrics import get_scorer

    ds, family, _, folds = _setup(source)
    for name in names:
        _, fast = resolve_scorer(name, ds.task, family)  # least squares: its SquaredError
        for lam in (1e-3, 1e-1):
            for penalty in ("l1", "l2"):
                outcome = family.fit_fold(folds[0], Penalty.of(penalty, lam, 0.5), 1e-6)
                ref = get_scorer(name)(outcome.model, folds[0].X_test, folds[0].y_test)
                assert fast(outcome.model, folds[0].X_test, folds[0].y_test) == pytest.approx(ref, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("source,settings", [("builtin:diabetes", {}), ("builtin:breast_cancer", {"folds": 4})])
def test_no_two_distinct_lambdas_share_identical_fold_scores(source: str, settings: dict[str, int]) -> None:
    """Fits stop on the optimality conditions relative to λ, not on a duality gap relative to ‖y‖²: a fit
    warm-started from a nearby λ always moves, so no stale solution sits on the curve (the null model
    above λ_max is the same solution, and is left out)."""
    import itertools

    result = regtune.tune(source, penalties=("l1",), n_trials=60, seed=3, **settings)
    points = [p for p in result.curve if p.state == "complete" and p.n_nonzero]
    assert len(points) > 30
    stale = [
        (a.lam, b.lam)
        for a, b in itertools.combinations(points, 2)
        if a.lam != b.lam and a.fold_scores == b.fold_scores
    ]
    assert not stale


def test_folds_built_on_threads_are_the_folds_built_one_by_one(penguins: Path) -> None:
    ds, family, splits, folds = _setup(str(penguins), target="body_mass_g")
    threaded = build_folds(ds, splits, center=family.center_folds, n_jobs=2)
    for one, other in zip(folds, threaded, strict=True):
        assert one.index == other.index
        np.testing.assert_array_equal(one.X_train, other.X_train)
        np.testing.assert_array_equal(one.X_test, other.X_test)
        np.testing.assert_array_equal(one.y_test, other.y_test)


def test_fold_workers_take_the_next_fold_when_free_and_stay_in_step(tmp_path: Path) -> None:
    """``-j 2``: a worker held by a slow fold does not hold the others back (the free worker takes every
    next fold); the results come in fold order; a pruned trial's fits still running, and the fits after a
    fold that raised, are waited for and dropped, so the next trial's scores are its own."""
    import os
    import time

    ds, family, _, folds = _setup("builtin:diabetes")
    _, scorer = resolve_scorer(None, ds.task)
    log = tmp_path / "fits.txt"
    slow, bad = 0.7, 0.9
    base_fit = type(family).fit_fold

    class Recording(type(family)):  # type: ignore[misc]
        def fit_fold(self, fold, penalty, tol, warm=None):  # type: ignore[no-untyped-def]
            if penalty.lam == slow and fold.index == 0:
                time.sleep(1.0)
            if penalty.lam == bad and fold.index == 1:
                raise ValueError("a fold that cannot be fitted")
            with log.open("a") as out:
                out.write(f"{penalty.lam} {fold.index} {os.getpid()}\n")
            return base_fit(self, fold, penalty, tol, warm)

    def run(ev: Evaluator) -> list[object]:
        out: list[object] = [ev.evaluate(Penalty.of("l1", slow, 1.0)).fold_scores]
        pruned = ev.evaluate(Penalty.of("l1", 0.3, 1.0), lambda score, fold: fold == 0)
        out += [(pruned.complete, pruned.fold_scores), ev.evaluate(Penalty.of("l1", 0.2, 1.0)).fold_scores]
        with pytest.raises(ValueError, match="cannot be fitted"):
            ev.evaluate(Penalty.of("l1", bad, 1.0))
        out += [ev.evaluate(Penalty.of("l1", 0.3, 1.0)).fold_scores, ev.fits]
        return out

    recording = Recording(ds.task)
    expected = run(Evaluator(folds, recording, scorer, tol=1e-6))
    assert expected[1][0] is False and len(expected[1][1]) == 1  # type: ignore[index]
    assert expected[-1] == 5 + 1 + 5 + 1 + 5  # the fits made (the failing trial's first fold is one)
    log.write_text("")
    with Evaluator(folds, recording, scorer, tol=1e-6, n_jobs=2) as ev:
        assert run(ev) == expected  # the dropped fits are neither counted nor remembered as starts
    fits = [line.split() for line in log.read_text().splitlines()]
    workers = {index: pid for lam, index, pid in fits if float(lam) == slow}
    assert len({workers["1"], workers["2"], workers["3"], workers["4"]}) == 1  # all while fold 0 slept
    assert workers["0"] != workers["1"]


def test_a_refit_starts_from_the_folds_solutions_and_meets_the_same_conditions() -> None:
    """The refit of a chosen point starts from the mean of the folds' starts there (``start_for``): it takes
    fewer Newton steps than from zero and reaches the same optimum, to the solver's tolerance. No start
    for a family without warm starts, nor before every fold has a solution; one of the wrong width
    (a fold missing a category's level) is not used."""
    from regtune.models._logistic_solver import fit_logistic_enet
    from regtune.preprocess import Encoder
    from regtune.refit import refit

    ds, family, _, folds = _setup("builtin:wine")
    _, scorer = resolve_scorer(None, ds.task)
    ev = Evaluator(folds, family, scorer, tol=1e-6, hyper="neg_log_loss")
    chosen = Penalty.of("elasticnet", 0.02, 0.5)
    assert ev.start_for(chosen) is None  # no fold has a solution yet
    for lam in (0.05, 0.03):
        ev.evaluate(Penalty.of("elasticnet", lam, 0.5))
    start = ev.start_for(chosen)
    assert start is not None
    expected = [ev.warm.nearest(f.index, chosen, True) for f in folds]
    np.testing.assert_allclose(start[0], np.mean([e[0] for e in expected], axis=0))  # type: ignore[index]

    encoder = Encoder(ds.numeric, ds.categorical, ds.impute)
    X = encoder.fit_transform(ds.X, ds.weights)
    classes = np.unique(ds.y)
    steps = {}
    for name, init in (("cold", None), ("warm", start)):
        solution = fit_logistic_enet(
            X, ds.y, classes, chosen.lam, chosen.l1_ratio, tol=1e-6,
            coef_init=None if init is None else init[0], intercept_init=None if init is None else init[1],
        )  # fmt: skip
        steps[name] = solution.n_iter
    assert steps["warm"] < steps["cold"]
    cold = refit(ds, family, chosen, 1e-6, encoded=(encoder, X))
    warm = refit(ds, family, chosen, 1e-6, encoded=(encoder, X), warm=start)
    np.testing.assert_allclose(warm.model.coef_, cold.model.coef_, atol=1e-5)
    assert warm.n_nonzero == cold.n_nonzero
    wrong = (np.zeros((start[0].shape[0], X.shape[1] + 1)), start[1])
    again = refit(ds, family, chosen, 1e-6, encoded=(encoder, X), warm=wrong)  # ignored: cold
    np.testing.assert_array_equal(again.model.coef_, cold.model.coef_)

    family.warm_starts = False
    try:
        assert ev.start_for(chosen) is None
    finally:
        family.warm_starts = True


def test_a_refit_ignores_folds_start_when_its_folds_held_other_classes() -> None:
    """With --groups a class can live in one group only: each fold's training rows then lack a class,
    different ones, and the folds' solutions have as many rows as each other but fewer than the whole
    table's classes (and rows of other classes). Such a mean is not a start for the refit: it fits from
    zero and has a row per class (it failed with a broadcasting error)."""
    import pandas as pd

    rng = np.random.default_rng(0)
    frames = []
    for group, own in (("A", 2), ("B", 3)):
        for c in (0, 1, own):
            X = rng.normal(size=(30, 4)) + c
            frames.append(pd.DataFrame(X, columns=list("abcd")).assign(grp=group, y=c))
    table = pd.concat(frames, ignore_index=True)
    result = regtune.tune(table, target="y", task="classification", groups="grp", folds=2, n_trials=6, seed=0)
    assert result.model[-1].coef_.shape == (4, 4)
    assert list(result.model[-1].classes_) == [0, 1, 2, 3]


def test_a_warm_started_sgd_refit_does_not_start_from_the_folds() -> None:
    """SGD with warm starts (``warm_start=True``) runs epochs from where it starts: its refit is not an
    optimum that any start reaches, so it gets no start from the folds' solutions."""
    ds, _, _, folds = _setup("builtin:breast_cancer")
    from regtune.models.sgd import SGDLinear

    family = SGDLinear(ds.task, warm_start=True)
    assert family.warm_starts and not family.has_jacobian
    _, scorer = resolve_scorer(None, ds.task)
    ev = Evaluator(folds, family, scorer, tol=1e-3)
    ev.evaluate(Penalty.of("l2", 1e-3, 0.0))
    assert ev.warm.nearest(0, Penalty.of("l2", 1e-3, 0.0)) is not None
    assert ev.start_for(Penalty.of("l2", 1e-3, 0.0)) is None
