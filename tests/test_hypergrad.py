"""Hypergradients: d CV score / d log λ (and / d l1_ratio) against central finite differences of the same
CV score, per family and penalty; and the gradient search that uses them."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import regtune
from regtune.cv import Evaluator, resolve_scorer
from regtune.folds import Fold
from regtune.models import Family, Penalty
from regtune.models._base import Jacobian
from regtune.models.least_squares import LeastSquares
from regtune.models.logistic import Logistic
from regtune.policy import GRAD_RTOL
from regtune.select import Point

TOL = 1e-12
H = 1e-5


def _folds(X: np.ndarray, y: np.ndarray, k: int = 3, seed: int = 0) -> list[Fold]:
    rng = np.random.default_rng(seed)
    parts = np.array_split(rng.permutation(len(y)), k)
    folds = []
    for i in range(k):
        test = parts[i]
        train = np.concatenate([parts[j] for j in range(k) if j != i])
        mean = X[train].mean(axis=0)
        folds.append(Fold(i, train, test, X[train] - mean, X[test] - mean, y[train], y[test]))
    return folds


def _problem(task: str, n: int, p: int, n_classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) * rng.uniform(0.5, 2.0, size=p)
    X = (X - X.mean(0)) / X.std(0)
    signal = X @ rng.normal(size=p)
    if task == "regression":
        return X, signal + rng.normal(scale=1.5, size=n)
    noisy = signal + rng.normal(size=n)
    cuts = np.quantile(noisy, np.linspace(0, 1, n_classes + 1)[1:-1])
    return X, np.digitize(noisy, cuts)


def _supports(family: Family, folds: list[Fold], penalty: str, lam: float, r: float) -> list[tuple[int, ...]]:
    return [
        tuple(np.flatnonzero(np.atleast_2d(family.fit_fold(f, Penalty.of(penalty, lam, r), TOL).coef).any(axis=0)))
        for f in folds
    ]


def _check_against_fd(
    task: str, scoring: str, penalty: str, lam_frac: float, r: float, n: int, p: int, n_classes: int, seed: int
) -> None:
    X, y = _problem(task, n, p, n_classes, seed)
    assume(len(np.unique(y)) == n_classes or task == "regression")
    family: Family = LeastSquares("regression") if task == "regression" else Logistic("classification")
    name, scorer = resolve_scorer(scoring, task)
    folds = _folds(X, y)
    lam = lam_frac * family.lambda_max(X, y, max(r, 0.05))
    # The derivative exists where the active sets do not change: skip the (measure-zero) kinks.
    here = _supports(family, folds, penalty, lam, r)
    assume(here == _supports(family, folds, penalty, lam * math.exp(H), r))
    assume(here == _supports(family, folds, penalty, lam * math.exp(-H), r))

    def cv(lam_: float, r_: float) -> float:
        return float(np.mean(Evaluator(folds, family, scorer, TOL).evaluate(Penalty.of(penalty, lam_, r_)).fold_scores))

    ev = Evaluator(folds, family, scorer, TOL, hyper=family.hyper_quantity(name)).evaluate(Penalty.of(penalty, lam, r))
    fd = (cv(lam * math.exp(H), r) - cv(lam * math.exp(-H), r)) / (2 * H)
    assert ev.d_log_lambda == pytest.approx(fd, rel=2e-3, abs=2e-7)
    if penalty == "elasticnet":
        fd_r = (cv(lam, r + H) - cv(lam, r - H)) / (2 * H)
        assert ev.d_l1_ratio == pytest.approx(fd_r, rel=2e-3, abs=2e-7)
    else:
        assert ev.d_l1_ratio is None


PENALTY = st.sampled_from([("l1", 1.0), ("l2", 0.0), ("elasticnet", None)])
FD_SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FD_SETTINGS
@given(
    penalty=PENALTY,
    scoring=st.sampled_from(["r2", "neg_mean_squared_error", "neg_root_mean_squared_error"]),
    lam_frac=st.floats(1e-3, 0.8),
    r=st.floats(0.1, 0.9),
    n=st.integers(40, 90),
    p=st.integers(2, 8),
    seed=st.integers(0, 10_000),
)
def test_least_squares_hypergradient_equals_finite_differences(
    penalty: tuple[str, float | None], scoring: str, lam_frac: float, r: float, n: int, p: int, seed: int
) -> None:
    name, fixed = penalty
    _check_against_fd("regression", scoring, name, lam_frac, r if fixed is None else fixed, n, p, 0, seed)


@FD_SETTINGS
@given(
    penalty=PENALTY,
    n_classes=st.sampled_from([2, 3]),
    lam_frac=st.floats(3e-3, 0.8),
    r=st.floats(0.1, 0.9),
    n=st.integers(60, 100),
    p=st.integers(2, 6),
    seed=st.integers(0, 10_000),
)
def test_logistic_hypergradient_equals_finite_differences(
    penalty: tuple[str, float | None], n_classes: int, lam_frac: float, r: float, n: int, p: int, seed: int
) -> None:
    name, fixed = penalty
    _check_against_fd(
        "classification", "neg_log_loss", name, lam_frac, r if fixed is None else fixed, n, p, n_classes, seed
    )


def test_lasso_hypergradient_on_both_sides_of_an_active_set_change() -> None:
    """Near a λ where a coefficient enters, each side's derivative matches that side's differences,
    and the two differ: the CV curve has a kink there, which the search must treat as an optimum candidate."""
    X, y = _problem("regression", 80, 6, 0, seed=3)
    family = LeastSquares("regression")
    name, scorer = resolve_scorer("r2", "regression")
    folds = _folds(X, y)
    lo, hi = 1e-3, family.lambda_max(X, y)
    grid = np.geomspace(hi * 0.9, lo, 60)
    sup = [_supports(family, folds, "l1", lam, 1.0) for lam in grid]
    i = next(i for i in range(len(grid) - 1) if sup[i] != sup[i + 1])
    a, b = grid[i + 1], grid[i]  # the active sets differ between a < b
    for _ in range(60):  # bisect to the kink
        mid = math.sqrt(a * b)
        if _supports(family, folds, "l1", mid, 1.0) == sup[i]:
            b = mid
        else:
            a = mid
    kink = math.sqrt(a * b)

    def cv(lam: float) -> float:
        return float(np.mean(Evaluator(folds, family, scorer, TOL).evaluate(Penalty.of("l1", lam, 1.0)).fold_scores))

    grads = []
    for side in (math.exp(-1e-3), math.exp(1e-3)):
        lam = kink * side
        g = Evaluator(folds, family, scorer, TOL, hyper=name).evaluate(Penalty.of("l1", lam, 1.0)).d_log_lambda
        h = 1e-6
        fd = (cv(lam * math.exp(h)) - cv(lam * math.exp(-h))) / (2 * h)
        assert g == pytest.approx(fd, rel=1e-3, abs=1e-8)
        grads.append(g)
    assert grads[0] is not None and grads[1] is not None
    assert abs(grads[0] - grads[1]) > 1e-4 * max(abs(grads[0]), abs(grads[1]))


def test_accuracy_follows_the_log_loss_and_says_so() -> None:
    result = regtune.tune("builtin:breast_cancer", scoring="accuracy", n_trials=12, penalties=("l2",))
    hyper = result.min.hypergradient
    assert hyper is not None and hyper["quantity"] == "neg_log_loss" and hyper["exact"] is False
    assert result.to_dict()["chosen"]["hypergradient"]["quantity"] == "neg_log_loss"


def _fits_to(points: list[Point], best: float, rel: float) -> int | None:
    """Fold fits used until the choice so far is within ``rel`` of ``best`` (and stays there)."""
    from regtune.select import select

    points = sorted(points, key=lambda p: p.trial)
    used, hit = 0, None
    for i, point in enumerate(points):
        used += len(point.fold_scores)
        sel = select(points[: i + 1])
        within = sel is not None and (best - sel.best.mean) / abs(best) <= rel
        if not within:
            hit = None
        elif hit is None:
            hit = used
    return hit


def test_hybrid_and_gradient_reach_the_dense_grid_oracle_sooner_than_tpe() -> None:
    """On diabetes, on the same folds: hybrid ends within 1e-4 (relative) of a dense λ grid's best CV score
    and no worse than TPE (within the search's gain tolerance), and both gradient modes get there with
    fewer fold fits than TPE; the gradient mode stops early, certified."""
    from regtune.config import TuneConfig
    from regtune.data import load_dataset
    from regtune.folds import assign_folds, build_folds

    config = TuneConfig(penalties=("l1", "l2"), n_trials=60)
    runs = {
        mode: regtune.tune("builtin:diabetes", config, search=mode, scoring="r2")
        for mode in ("tpe", "gradient", "hybrid")
    }
    dataset = load_dataset("builtin:diabetes")
    folds = build_folds(dataset, assign_folds(dataset, config), center=True)
    _, scorer = resolve_scorer("r2", "regression")
    evaluator = Evaluator(folds, LeastSquares("regression"), scorer, config.tol)
    oracle = -math.inf
    for summary in runs["tpe"].per_penalty:
        r = 1.0 if summary.penalty == "l1" else 0.0
        for lam in np.geomspace(*summary.lambda_range, 400):
            oracle = max(oracle, float(np.mean(evaluator.evaluate(Penalty.of(summary.penalty, lam, r)).fold_scores)))
    hybrid, tpe, gradient = runs["hybrid"], runs["tpe"], runs["gradient"]
    assert (oracle - hybrid.min.point.mean) / abs(oracle) <= 1e-4
    # No worse than TPE beyond the gain tolerance at which the gradient phase stops (the lasso curve has
    # kinks, so local peaks 1e-6 apart exist; which one each search ends on is luck at that level).
    assert hybrid.min.point.mean >= tpe.min.point.mean - GRAD_RTOL * abs(oracle)
    assert hybrid.study["n_trials"] == 60 and {"gradient", "explore"} <= {p.phase for p in hybrid.curve}
    assert hybrid.min.hypergradient is not None and hybrid.min.hypergradient["verdict"] == "interior"
    # Stops early: both penalties pinned (gradient steps, then bracketed to MIN_GAP_DECADES around each best,
    # as lasso curves have kinks where the derivative jumps) and λ.1se pinned to BRACKET_DECADES.
    assert gradient.study["converged"] and gradient.study["n_trials"] < 40
    assert gradient.min.hypergradient is not None and gradient.min.hypergradient["verdict"] == "interior"
    tpe_fits = _fits_to(tpe.curve, oracle, 1e-4)
    for fast in (hybrid, gradient):
        fits = _fits_to(fast.curve, oracle, 1e-4)
        assert fits is not None and (tpe_fits is None or fits < tpe_fits)


def test_gradient_search_is_reproducible_and_cli_reports_the_derivative(tmp_path: object) -> None:
    import json

    from typer.testing import CliRunner

    from regtune.cli import app

    runner = CliRunner()
    args = ["tune", "builtin:diabetes", "--search", "gradient", "-n", "40", "--scoring", "r2", "--json", "-"]
    first = runner.invoke(app, args)
    second = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    a, b = json.loads(first.stdout), json.loads(second.stdout)
    assert a["curve"] == b["curve"]
    hyper = a["chosen"]["hypergradient"]
    assert hyper["quantity"] == "r2" and hyper["exact"] is True
    assert hyper["verdict"] in ("interior", "boundary", "not_converged")
    assert a["cv"]["search"] == "gradient"
    table = runner.invoke(app, ["tune", "builtin:diabetes", "--search", "hybrid", "-n", "30", "--scoring", "r2"])
    assert "d r2 / d log λ" not in table.stdout  # the verdict in words; the number only with --verbose
    assert any(words in table.stdout for words in ("optimum confirmed", "edge of the searched", "not pinned yet"))
    verbose = runner.invoke(app, ["tune", "builtin:diabetes", "-n", "30", "--scoring", "r2", "--verbose"])
    assert "d r2 / d log λ at λ.min" in verbose.stdout
    bad = runner.invoke(app, ["tune", "builtin:diabetes", "--search", "newton"])
    assert bad.exit_code == 2


@pytest.mark.slow
@pytest.mark.parametrize("name", ["breast_cancer", "wine", "iris"])
def test_hybrid_reaches_the_dense_grid_oracle_on_the_bundled_classification_sets(name: str) -> None:
    """`make test-slow`: on each bundled classification set, hybrid ends within 1e-4 (relative) of a dense
    λ grid's best CV log-loss (L1 and L2) on the same folds, and no worse than TPE."""
    from regtune.config import TuneConfig
    from regtune.data import load_dataset
    from regtune.folds import assign_folds, build_folds

    config = TuneConfig(penalties=("l1", "l2"), n_trials=60)
    hybrid = regtune.tune(f"builtin:{name}", config)
    tpe = regtune.tune(f"builtin:{name}", config, search="tpe")
    dataset = load_dataset(f"builtin:{name}")
    folds = build_folds(dataset, assign_folds(dataset, config), center=True)
    _, scorer = resolve_scorer(None, "classification")
    evaluator = Evaluator(folds, Logistic("classification"), scorer, config.tol)
    oracle = -math.inf
    for summary in tpe.per_penalty:
        r = 1.0 if summary.penalty == "l1" else 0.0
        lams = np.geomspace(*summary.lambda_range, 120)[::-1]
        scores = [float(np.mean(evaluator.evaluate(Penalty.of(summary.penalty, lam, r)).fold_scores)) for lam in lams]
        i = int(np.argmax(scores))
        fine = np.geomspace(lams[max(i - 1, 0)], lams[min(i + 1, len(lams) - 1)], 41)
        oracle = max(
            oracle,
            *scores,
            *(float(np.mean(evaluator.evaluate(Penalty.of(summary.penalty, lam, r)).fold_scores)) for lam in fine),
        )
    assert (oracle - hybrid.min.point.mean) / abs(oracle) <= 1e-4
    assert hybrid.min.point.mean >= tpe.min.point.mean - 1e-6 * abs(oracle)


def test_a_failing_hypergradient_leaves_the_trial_standing(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object) -> None:
        raise np.linalg.LinAlgError("singular")

    X, y = _problem("regression", 60, 4, 0, seed=1)
    family = LeastSquares("regression")
    monkeypatch.setattr(family, "jacobian", broken)
    _, scorer = resolve_scorer("r2", "regression")
    ev = Evaluator(_folds(X, y), family, scorer, 1e-8, hyper="r2").evaluate(Penalty.of("l1", 0.05, 1.0))
    assert len(ev.fold_scores) == 3 and ev.complete and ev.d_log_lambda is None


def _record_refinements(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each refined solve of the logistic Jacobian converged (as they happen)."""
    import regtune.models.logistic as logistic

    converged: list[bool] = []
    original = logistic.refined_solve

    def recorded(*args: Any) -> np.ndarray | None:
        x = original(*args)
        converged.append(x is not None)
        return x

    monkeypatch.setattr(logistic, "refined_solve", recorded)
    return converged


def _assert_same_jacobian(got: Jacobian, want: Jacobian) -> None:
    """The same derivatives (coefficients and intercepts, in λ and in the mix) to 1e-9 of their scale."""
    for g, w in ((got.d_log_lambda, want.d_log_lambda), (got.d_l1_ratio, want.d_l1_ratio)):
        assert (g is None) == (w is None)
        for a, b in zip(g or (), w or (), strict=True):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-9 * np.max(np.abs(b)))


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(
    ("penalty", "r", "lam_frac"), [("l1", 1.0, 0.005), ("elasticnet", 0.6, 0.005), ("l2", 0.0, 1e-3)]
)
def test_a_large_multinomial_jacobian_is_the_dense_solve_s(
    monkeypatch: pytest.MonkeyPatch, penalty: str, r: float, lam_frac: float, weighted: bool
) -> None:
    """Above REFINE_SIZE unknowns the Jacobian's solve is refined from an approximate Hessian (the solver's
    last Newton model, else one built in float32) with exact residuals: it must give the dense float64
    solve's answer, intercepts included (their free direction held at zero as the dense solve does)."""
    import regtune.models.logistic as logistic

    X, y = _problem("classification", 400, 50, 5, seed=4)
    rng = np.random.default_rng(1)
    folds = _folds(X, y)
    if weighted:
        for f in folds:
            f.weight_train = rng.uniform(0.2, 3.0, size=len(f.y_train))
            f.weight_train *= len(f.y_train) / f.weight_train.sum()
    family = Logistic("classification")
    fold = folds[0]
    pen = Penalty.of(penalty, lam_frac * family.lambda_max(X, y, max(r, 0.05)), r)
    outcome = family.fit_fold(fold, pen, 1e-4)
    theta = int(np.count_nonzero(outcome.coef)) + 5
    assert theta >= logistic.REFINE_SIZE
    assert outcome.solver_model is not None  # the multinomial solver's last Newton model (L2 too: Newton)

    calls: list[str] = []
    for name in ("model_preconditioner", "_dense_preconditioner"):
        original = getattr(logistic, name)
        monkeypatch.setattr(logistic, name, lambda *a, _o=original, _n=name: calls.append(_n) or _o(*a))
    converged = _record_refinements(monkeypatch)
    refined = family.jacobian(fold, outcome, pen)
    no_model = family.jacobian(fold, dataclasses.replace(outcome, solver_model=None), pen)
    assert converged == [True, True]  # each refinement converged (no fallback to the dense solve)
    monkeypatch.setattr(logistic, "REFINE_SIZE", 10**9)
    dense = family.jacobian(fold, outcome, pen)
    assert calls == ["model_preconditioner", "_dense_preconditioner"]  # refined from the model, then float32
    _assert_same_jacobian(refined, dense)
    _assert_same_jacobian(no_model, dense)


def test_a_refinement_that_does_not_converge_falls_back_to_the_dense_solve(monkeypatch: pytest.MonkeyPatch) -> None:
    import regtune.models.logistic as logistic

    X, y = _problem("classification", 400, 50, 5, seed=6)
    family = Logistic("classification")
    fold = _folds(X, y)[1]
    pen = Penalty.of("l1", 0.005 * family.lambda_max(X, y, 1.0), 1.0)
    outcome = family.fit_fold(fold, pen, 1e-4)
    attempts: list[int] = []
    original = logistic.refined_solve

    def never(solve: object, rhs: np.ndarray, times: object) -> None:
        attempts.append(1)
        assert original(solve, rhs, times) is not None  # it would have converged
        return None

    monkeypatch.setattr(logistic, "refined_solve", never)
    fallback = family.jacobian(fold, outcome, pen)
    assert len(attempts) == 2  # the solver's model, then the float32 Hessian
    monkeypatch.setattr(logistic, "REFINE_SIZE", 10**9)
    dense = family.jacobian(fold, outcome, pen)
    np.testing.assert_array_equal(fallback.d_log_lambda[0], dense.d_log_lambda[0])
    np.testing.assert_array_equal(fallback.d_log_lambda[1], dense.d_log_lambda[1])


def test_a_large_binary_jacobian_is_the_dense_solve_s(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two classes and more than REFINE_SIZE unknowns: refined from the float32 Hessian (the binary solver
    leaves no Newton model), the dense solve's answer."""
    import regtune.models.logistic as logistic

    X, y = _problem("classification", 500, 170, 2, seed=8)
    family = Logistic("classification")
    fold = _folds(X, y)[2]
    pen = Penalty.of("elasticnet", 1e-3 * family.lambda_max(X, y, 0.5), 0.5)
    outcome = family.fit_fold(fold, pen, 1e-4)
    assert outcome.solver_model is None and np.count_nonzero(outcome.coef) + 1 >= logistic.REFINE_SIZE
    converged = _record_refinements(monkeypatch)
    refined = family.jacobian(fold, outcome, pen)
    assert converged == [True]
    monkeypatch.setattr(logistic, "REFINE_SIZE", 10**9)
    dense = family.jacobian(fold, outcome, pen)
    _assert_same_jacobian(refined, dense)


@pytest.mark.parametrize("n_classes", [2, 3, 5])
@pytest.mark.parametrize("weighted", [False, True])
def test_the_log_loss_hessian_s_products_are_its_matrix_s(n_classes: int, weighted: bool) -> None:
    """``LogLossHessian.times`` (the refinement's exact products) against ``dense`` and against a Hessian
    written block by block from its definition, a class without active coefficients included."""
    from regtune.models.logistic import LogLossHessian

    rng = np.random.default_rng(n_classes)
    n, p = 120, 12
    X = rng.normal(size=(n, p))
    rows = 1 if n_classes == 2 else n_classes
    coef = rng.normal(size=(rows, p)) * (rng.random((rows, p)) < 0.5)
    if rows > 1:
        coef[1] = 0.0
    intercept = rng.normal(size=rows)
    s = rng.uniform(0.2, 3.0, size=n) if weighted else None
    if s is not None:
        s *= n / s.sum()
    active = [np.flatnonzero(coef[k]) for k in range(rows)]
    hessian = LogLossHessian(X, coef, intercept, active, s)
    eta = X @ coef.T + intercept
    P = 1 / (1 + np.exp(-eta)) if rows == 1 else np.exp(eta) / np.exp(eta).sum(axis=1, keepdims=True)
    X1, w = np.hstack([X, np.ones((n, 1))]), np.ones(n) if s is None else s
    blocks = [[np.empty(0)] * rows for _ in range(rows)]
    for k in range(rows):
        for m in range(rows):
            c = w * P[:, 0] * (1 - P[:, 0]) if rows == 1 else w * P[:, k] * ((k == m) - P[:, m])
            ck, cm = np.append(active[k], p), np.append(active[m], p)
            blocks[k][m] = (X1[:, ck] * c[:, None]).T @ X1[:, cm] / n
    reference = np.block(blocks)
    np.testing.assert_allclose(hessian.dense(), reference, rtol=0, atol=1e-13 * np.abs(reference).max())
    x = rng.normal(size=(hessian.size, 2))
    np.testing.assert_allclose(hessian.times(x), reference @ x, rtol=0, atol=1e-13 * np.abs(reference @ x).max())


def test_the_solver_s_model_is_no_preconditioner_when_an_active_coefficient_is_outside_its_working_set() -> None:
    import regtune.models.logistic as logistic

    X, y = _problem("classification", 400, 50, 5, seed=4)
    family = Logistic("classification")
    fold = _folds(X, y)[0]
    pen = Penalty.of("l1", 0.005 * family.lambda_max(X, y, 1.0), 1.0)
    outcome = family.fit_fold(fold, pen, 1e-4)
    model = outcome.solver_model
    active = [np.flatnonzero(outcome.coef[k]) for k in range(outcome.coef.shape[0])]
    hessian = logistic.LogLossHessian(fold.X_train, outcome.coef, outcome.intercept, active, None)
    b_idx = hessian.offsets[1:] - 1
    coef_idx = np.setdiff1d(np.arange(hessian.size), b_idx)
    assert logistic.model_preconditioner(model, hessian, coef_idx, b_idx, 0.0) is not None
    # The working set without the first active coefficient of the first class that has one.
    k = next(k for k in range(len(active)) if active[k].size)
    drop = np.flatnonzero((model.rows == k) & (model.cols == active[k][0]))
    keep = np.setdiff1d(np.arange(model.rows.size), drop)
    partial = dataclasses.replace(
        model,
        rows=model.rows[keep],
        cols=model.cols[keep],
        Q=model.Q[np.ix_(keep, keep)],
        HwbP=model.HwbP[keep],
        Hwb=model.Hwb[keep],
    )
    assert logistic.model_preconditioner(partial, hessian, coef_idx, b_idx, 0.0) is None


def test_a_lasso_whose_hessian_is_singular_is_refined_to_the_dense_solve_s_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without a ridge, a feature active in every class can move by one constant in all of them without
    changing a probability: the Hessian is singular there. The refinement holds that direction at zero,
    as it does the intercepts', and converges to the dense solve's answer instead of stalling."""
    import regtune.models.logistic as logistic

    rng = np.random.default_rng(7)
    n, p, k = 1000, 80, 4
    X = rng.standard_normal((n, p))
    y = np.argmax(X[:, :k] * 2 + rng.gumbel(size=(n, k)), axis=1)
    fold = Fold(0, np.arange(n), np.arange(0), X, X[:0], y, y[:0])
    family = Logistic("classification")
    pen = Penalty.of("l1", 0.003 * family.lambda_max(X, y, 1.0), 1.0)
    outcome = family.fit_fold(fold, pen, 1e-4)
    assert np.count_nonzero(outcome.coef) + k >= logistic.REFINE_SIZE
    assert np.all(outcome.coef != 0, axis=0).sum() >= 5  # features active in every class
    converged = _record_refinements(monkeypatch)
    refined = family.jacobian(fold, outcome, pen)
    assert converged == [True]
    monkeypatch.setattr(logistic, "REFINE_SIZE", 10**9)
    _assert_same_jacobian(refined, family.jacobian(fold, outcome, pen))
