"""Each family's λ mapping is numerically right: the estimator it builds minimises the λ objective
``mean loss + λ·(r‖w‖₁ + (1 − r)/2‖w‖²)`` (checked through its optimality conditions)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.preprocessing import StandardScaler

from regtune.folds import Fold
from regtune.models import Penalty
from regtune.models._logistic_solver import fit_logistic_enet
from regtune.models.least_squares import LeastSquares
from regtune.models.logistic import Logistic


def _regression(n: int = 80, p: int = 8, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    y = X[:, 0] * 2 - X[:, 1] + rng.normal(size=n) + 5.0
    return X, y


def _kkt_residual(grad: np.ndarray, w: np.ndarray, lam: float, r: float) -> float:
    """Largest violation of 0 ∈ grad + λ(1−r)w + λr·∂‖w‖₁ (grad of the mean loss)."""
    smooth = grad + lam * (1 - r) * w
    active = w != 0
    viol_active = np.abs(smooth[active] + lam * r * np.sign(w[active]))
    viol_zero = np.maximum(np.abs(smooth[~active]) - lam * r, 0.0)
    return float(np.max(np.concatenate([viol_active, viol_zero, [0.0]])))


@pytest.mark.parametrize("penalty,r", [("l1", 1.0), ("elasticnet", 0.3), ("l2", 0.0)])
@pytest.mark.parametrize("lam", [0.02, 0.3])
def test_least_squares_mapping_minimises_the_lambda_objective(penalty: str, r: float, lam: float) -> None:
    X, y = _regression()
    est = LeastSquares("regression").estimator(Penalty.of(penalty, lam, r), X.shape[0], tol=1e-10)
    if hasattr(est, "max_iter"):
        est.set_params(max_iter=100_000)
    est.fit(X, y)
    resid = y - X @ est.coef_ - est.intercept_
    grad = -X.T @ resid / X.shape[0]
    assert abs(resid.mean()) < 1e-8  # unpenalised intercept
    assert _kkt_residual(grad, est.coef_, lam, r) < 1e-6


def test_ridge_native_alpha_is_n_lambda() -> None:
    assert LeastSquares("regression").native(Penalty.of("l2", 0.5, 0.0), 200) == {"alpha": 100.0}
    assert LeastSquares("regression").native(Penalty.of("l1", 0.5, 1.0), 200) == {"alpha": 0.5}
    assert Logistic("classification").native(Penalty.of("l2", 0.01, 0.0), 200) == {"C": pytest.approx(0.5)}


def test_fold_ridge_from_svd_equals_sklearn_ridge() -> None:
    from sklearn.linear_model import Ridge

    X, y = _regression()
    Xc = X - X.mean(axis=0)
    fold = Fold(0, np.arange(60), np.arange(60, 80), Xc[:60] - Xc[:60].mean(0), Xc[60:], y[:60], y[60:])
    for lam in (1e-3, 0.1, 10.0):
        ours = LeastSquares("regression").fit_fold(fold, Penalty.of("l2", lam, 0.0), tol=1e-8)
        ref = Ridge(alpha=60 * lam).fit(fold.X_train, fold.y_train)
        np.testing.assert_allclose(ours.coef, ref.coef_, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(ours.model.predict(fold.X_test), ref.predict(fold.X_test), rtol=1e-8)


def _binary() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X[:, :8]), y


@pytest.mark.parametrize("lam", [1e-3, 3e-2])
def test_logistic_l2_mapping_minimises_the_lambda_objective(lam: float) -> None:
    X, y = _binary()
    est = Logistic("classification").estimator(Penalty.of("l2", lam, 0.0), X.shape[0], tol=1e-10).fit(X, y)
    w = est.coef_[0]
    prob = expit(X @ w + est.intercept_[0])
    grad = X.T @ (prob - y) / X.shape[0]
    assert np.max(np.abs(grad + lam * w)) < 1e-6


@pytest.mark.parametrize("r", [1.0, 0.5])
@pytest.mark.parametrize("lam", [2e-3, 2e-2])
def test_logistic_enet_solver_satisfies_kkt_and_matches_saga(r: float, lam: float) -> None:
    from sklearn.linear_model import LogisticRegression

    X, y = _binary()
    n = X.shape[0]
    sol = fit_logistic_enet(X, y, np.unique(y), lam, r, tol=1e-9)
    assert sol.converged
    w = sol.coef[0]
    prob = expit(X @ w + sol.intercept[0])
    assert abs(np.mean(prob - y)) < 1e-7
    assert _kkt_residual(X.T @ (prob - y) / n, w, lam, r) < 1e-6
    saga = LogisticRegression(C=1 / (n * lam), l1_ratio=r, solver="saga", tol=1e-10, max_iter=200_000).fit(X, y)
    np.testing.assert_allclose(saga.coef_[0], w, atol=2e-4)


def test_multinomial_solver_satisfies_kkt() -> None:
    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    classes = np.unique(y)
    lam, r = 5e-3, 0.7
    sol = fit_logistic_enet(X, y, classes, lam, r, tol=1e-9)
    assert sol.converged
    eta = X @ sol.coef.T + sol.intercept
    P = np.exp(eta - eta.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    Y = (y[:, None] == classes[None, :]).astype(float)
    grad = (P - Y).T @ X / X.shape[0]
    assert _kkt_residual(grad.ravel(), sol.coef.ravel(), lam, r) < 1e-6


def _multinomial_kkt(
    X: np.ndarray, y: np.ndarray, coef: np.ndarray, intercept: np.ndarray, lam: float, r: float
) -> float:
    classes = np.unique(y)
    eta = X @ coef.T + intercept
    P = np.exp(eta - eta.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    R = P - (y[:, None] == classes[None, :])
    grad = R.T @ X / X.shape[0]
    return max(_kkt_residual(grad.ravel(), coef.ravel(), lam, r), float(np.max(np.abs(R.mean(axis=0)))))


@pytest.mark.parametrize("r", [1.0, 0.5])
@pytest.mark.parametrize("share", [1e-3, 0.05])
def test_wide_multinomial_solver_cold_and_warm(r: float, share: float) -> None:
    """Ten classes, 61 columns: the working set and the active-set solves of the Newton steps leave the
    optimality conditions of every coefficient met, from zero and from a neighbouring λ's solution."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X, y = X[:400], y[:400]
    X = StandardScaler().fit_transform(X[:, X[:400].std(axis=0) > 0])
    classes = np.unique(y)
    lam = Logistic("classification").lambda_max(X, y, r) * share
    cold = fit_logistic_enet(X, y, classes, lam, r, tol=1e-9)
    assert cold.converged
    assert _multinomial_kkt(X, y, cold.coef, cold.intercept, lam, r) < 1e-9
    near = fit_logistic_enet(X, y, classes, lam * 1.3, r, tol=1e-6)
    warm = fit_logistic_enet(X, y, classes, lam, r, tol=1e-9, coef_init=near.coef, intercept_init=near.intercept)
    assert warm.converged
    assert _multinomial_kkt(X, y, warm.coef, warm.intercept, lam, r) < 1e-9
    assert 0 < np.count_nonzero(warm.coef) < warm.coef.size


def test_a_large_multinomial_ridge_by_lbfgs_is_as_accurate_as_newton(monkeypatch: pytest.MonkeyPatch) -> None:
    """A ridge of more than MAX_NEWTON_PARAMS coefficients is fitted by L-BFGS, warm-started from a
    neighbouring λ as in a search: its fold log-loss must be the optimum's (Newton's, to
    tol × NEWTON_TOL_FACTOR) to 1e-4 — at ``tol`` (scikit-learn's lbfgs) it was 8.2e-4 away."""
    from sklearn.datasets import load_digits

    import regtune.models.logistic as logistic

    X, y = load_digits(return_X_y=True)
    X = X[:, X.std(axis=0) > 0]
    rng = np.random.default_rng(3)
    test = rng.random(len(y)) < 0.25
    mean = X[~test].mean(axis=0)
    scale = X[~test].std(axis=0) + 1e-12
    fold = Fold(
        0,
        np.flatnonzero(~test),
        np.flatnonzero(test),
        (X[~test] - mean) / scale,
        (X[test] - mean) / scale,
        y[~test],
        y[test],
    )
    family = Logistic("classification")
    assert logistic.ridge_by_lbfgs(10, fold.X_train.shape[1])

    def log_loss(outcome: object) -> float:
        P = outcome.model.predict_proba(fold.X_test)  # type: ignore[attr-defined]
        return float(-np.mean(np.log(P[np.arange(len(fold.y_test)), fold.y_test])))

    near = family.fit_fold(fold, Penalty.of("l2", 2e-3, 0.0), 1e-4)
    by_lbfgs = family.fit_fold(fold, Penalty.of("l2", 5e-4, 0.0), 1e-4, (near.coef, near.intercept))
    monkeypatch.setattr(logistic, "MAX_NEWTON_PARAMS", 10**6)
    by_newton = family.fit_fold(fold, Penalty.of("l2", 5e-4, 0.0), 1e-4)
    assert by_lbfgs.converged and by_newton.converged
    assert log_loss(by_lbfgs) == pytest.approx(log_loss(by_newton), abs=1e-4)


@pytest.mark.parametrize("r", [1.0, 0.3])
def test_multinomial_chord_steps_reach_the_same_optimum(r: float, monkeypatch: pytest.MonkeyPatch) -> None:
    """Near the optimum a step reuses the last step's Hessian (a chord step): warm-started fits along a λ
    path take such steps and meet the same optimality conditions, at the same solution, as fits that
    build a Hessian at every step."""
    from sklearn.datasets import load_digits

    from regtune.models import _logistic_solver as solver

    X, y = load_digits(return_X_y=True)
    X, y = X[400:900], y[400:900]
    X = StandardScaler().fit_transform(X[:, X.std(axis=0) > 0])
    classes = np.unique(y)
    lams = Logistic("classification").lambda_max(X, y, r) * np.geomspace(0.02, 0.012, 4)
    chords: list[bool] = []
    real_chord = solver._chord_step

    def counted(*args: object, **kwargs: object) -> object:
        step = real_chord(*args, **kwargs)  # type: ignore[arg-type]
        chords.append(step is not None)
        return step

    def path() -> list[object]:
        fits, warm = [], None
        for lam in lams:
            start = {} if warm is None else {"coef_init": warm.coef, "intercept_init": warm.intercept}
            warm = fit_logistic_enet(X, y, classes, lam, r, tol=1e-8, **start)  # type: ignore[arg-type]
            assert warm.converged
            fits.append(warm)
        return fits

    monkeypatch.setattr(solver, "_chord_step", counted)
    with_chords = path()
    assert any(chords)
    monkeypatch.setattr(solver, "CHORD", 0.0)
    taken = len(chords)
    without = path()
    assert len(chords) == taken  # CHORD 0: none tried
    for lam, a, b in zip(lams, with_chords, without, strict=True):
        for fit in (a, b):
            assert _multinomial_kkt(X, y, fit.coef, fit.intercept, lam, r) <= 1e-8 * lam * max(r, 0.05)
        np.testing.assert_allclose(a.coef, b.coef, atol=1e-6)  # type: ignore[attr-defined]


def test_chord_step_refuses_when_a_coordinate_outside_its_working_set_violates() -> None:
    from regtune.models import _logistic_solver as solver

    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4))
    y = np.argmax(X[:, :3] + 0.3 * rng.normal(size=(120, 3)), axis=1)
    Y = (y[:, None] == np.arange(3)[None, :]).astype(float)
    W, b = np.zeros((3, 4)), np.zeros(3)
    eta = X @ W.T + b
    _, G, _ = solver._loss_gradient(X, Y, eta, None)
    lam = 0.5 * float(np.max(np.abs(G)))  # some coordinates violate at zero
    _, _, model = solver._multinomial_step(X, Y, W, b, eta, lam, 1.0, 1e-8, 1e-8)
    assert solver._chord_step(X, Y, W, eta, lam, 1.0, 1e-8, model) is not None  # the same point: all inside
    violators = np.argwhere(np.abs(G) >= lam)
    keep = (model.rows != violators[0][0]) | (model.cols != violators[0][1])
    narrow = solver._Model(
        model.rows[keep],
        model.cols[keep],
        model.Q[np.ix_(keep, keep)],
        model.HwbP[keep],
        model.Hbb_pinv,
        model.Hwb[keep],
    )
    assert solver._chord_step(X, Y, W, eta, lam, 1.0, 1e-8, narrow) is None


@pytest.mark.parametrize("weighted", [False, True])
def test_multinomial_newton_model_is_the_weights_hessian_with_the_intercepts_eliminated(weighted: bool) -> None:
    """The quadratic model of a multinomial Newton step, Q, is the mean log-loss's Hessian in the working
    set's weights with the intercepts eliminated (Schur complement), built here row by row from its
    definition, plus the damping; exactly symmetric."""
    from regtune.models import _logistic_solver as solver

    rng = np.random.default_rng(4)
    n, p, K = 90, 5, 4
    X = rng.normal(size=(n, p))
    Y = np.eye(K)[rng.integers(0, K, size=n)]
    s = rng.uniform(0.2, 3.0, size=n) if weighted else None
    s = None if s is None else s * n / s.sum()
    W, b = 0.3 * rng.normal(size=(K, p)), 0.1 * rng.normal(size=K)
    eta = X @ W.T + b
    P, _, _ = solver._loss_gradient(X, Y, eta, s)
    H = np.zeros((K * (p + 1), K * (p + 1)))  # θ = (class 0's weights, …, class K-1's; then the K intercepts)
    for i in range(n):
        d = np.append(X[i], 1.0)
        block = np.diag(P[i]) - np.outer(P[i], P[i])
        H += (1.0 if s is None else s[i]) * np.kron(block, np.outer(d, d))
    H /= n
    order = np.concatenate([[k * (p + 1) + j for k in range(K) for j in range(p)], [k * (p + 1) + p for k in range(K)]])
    H = H[np.ix_(order, order)]
    Hww, Hwb, Hbb = H[: K * p, : K * p], H[: K * p, K * p :], H[K * p :, K * p :]
    expected = Hww - Hwb @ np.linalg.pinv(Hbb, hermitian=True, rcond=1e-10) @ Hwb.T
    damping = 1e-6
    _, _, model = solver._multinomial_step(X, Y, W, b, eta, 1e-3, 0.5, 1e-8, damping, sample_weight=s)
    assert model.rows.size == K * p  # every coefficient non-zero: the whole Hessian
    expected[np.diag_indices_from(expected)] += damping * np.max(np.diag(expected))
    assert np.allclose(model.Q, expected, rtol=1e-10, atol=1e-12)
    assert np.array_equal(model.Q, model.Q.T)


def test_nearly_singular_intercept_hessian_costs_no_extra_newton_steps() -> None:
    """With a class that has no rows its probability vanishes and the intercepts' Hessian is singular in a
    second direction, nearly: its pseudo-inverse is taken on its own eigenvalues (a square root of the
    inverse already taken lost what was left, and the Newton model with it: 21 steps at λ = 1e-4 instead of
    14). The fit takes the Newton steps of the three classes that have rows."""
    from sklearn.datasets import load_wine

    X, y = load_wine(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    for lam in (1e-3, 1e-4, 1e-5):
        three = fit_logistic_enet(X, y, np.array([0, 1, 2]), lam, 1.0, tol=1e-8)
        four = fit_logistic_enet(X, y, np.array([0, 1, 2, 3]), lam, 1.0, tol=1e-8)
        assert three.converged and four.converged
        assert four.n_iter <= three.n_iter


@pytest.mark.parametrize("exact_finish", [True, False])
@pytest.mark.parametrize("rank", [40, 25])
def test_gram_elastic_net_is_solved_exactly(exact_finish: bool, rank: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """``_enet_gram`` solves ½vᵀQv − qᵀv + λP(v) to its optimality conditions, from zero and from a nearby
    point, Q of full rank or singular (fewer rows than columns behind it): with the active-set solve on the
    support L-BFGS-B found, and by L-BFGS-B alone when that solve is not there."""
    from regtune.models import _logistic_solver as solver

    if not exact_finish:
        monkeypatch.setattr(solver, "_on_support", lambda Q, q, lam, r, v: None)
    rng = np.random.default_rng(3)
    A = rng.normal(size=(60, 40)) @ np.diag(np.linspace(0.05, 2, 40))
    A[rank:] = 0.0
    Q = A.T @ A / 60
    q = A.T @ rng.normal(size=60) / 60
    for r in (1.0, 0.4):
        lam = 0.3 * float(np.max(np.abs(q))) / r
        v = solver._enet_gram(Q, q, lam, r, np.zeros(40), 1e-12)
        again = solver._enet_gram(Q, q, lam, r, v + rng.normal(scale=0.01, size=40) * (v != 0), 1e-12)
        for answer in (v, again):
            # L-BFGS-B alone stops where rounding stops its line search (1.5e-9-1.7e-9 here)
            assert _kkt_residual(Q @ answer - q, answer, lam, r) < (1e-9 if exact_finish else 1e-8)
            assert 0 < np.count_nonzero(answer) < 40


def test_support_solves_reuse_a_factor_for_nearby_supports_and_refactor_otherwise() -> None:
    """``_SupportSolves`` answers (Q + ρI)_SS x = b as a direct solve does: a support a few coordinates from
    the factored one (some left, some joined) with that factor, bordered; a support far from it, or one
    whose bordered answer is not at rounding level (an ill-conditioned base), by a factor of its own;
    a matrix that is not positive definite raises."""
    from regtune.models import _logistic_solver as solver

    rng = np.random.default_rng(7)
    A = rng.normal(size=(300, 160))
    Q, ridge = A.T @ A / 300, 0.05

    def direct(support: np.ndarray, rhs: np.ndarray) -> np.ndarray:
        M = Q[np.ix_(support, support)] + ridge * np.eye(support.size)
        return np.linalg.solve(M, rhs)

    solves = solver._SupportSolves(Q, ridge)
    first = np.arange(0, 150)
    rhs = rng.normal(size=first.size)
    assert np.allclose(solves.solve(first, rhs), direct(first, rhs), rtol=1e-12, atol=1e-12)
    base = solves.base
    near = np.sort(np.concatenate([np.setdiff1d(first, [3, 40, 77, 149]), [151, 155, 159]]))
    rhs = rng.normal(size=near.size)
    assert np.allclose(solves.solve(near, rhs), direct(near, rhs), rtol=1e-10, atol=1e-12)
    assert solves.base is base  # the first factor, bordered
    far = np.arange(60, 160)
    rhs = rng.normal(size=far.size)
    assert np.allclose(solves.solve(far, rhs), direct(far, rhs), rtol=1e-12, atol=1e-12)
    assert solves.base is far  # a factor of its own
    small = np.arange(10, 50)  # a support of few of Q's rows: its residual from those rows only
    rhs = rng.normal(size=small.size)
    solves.solve(small, rhs)
    fewer = np.concatenate([np.arange(10, 44), np.arange(45, 50), [120]])
    rhs = rng.normal(size=fewer.size)
    assert np.allclose(solves.solve(fewer, rhs), direct(fewer, rhs), rtol=1e-10, atol=1e-12)
    assert solves.base is small

    # An ill-conditioned base (a Lasso's: no ridge, two nearly collinear columns), the support without one
    # of them: bordered, the answer cancels the base's large solution along their difference, off by 3e-11
    # of the scale (2e-7 at 1e-5 apart); the residual is checked, and the support factored instead.
    for apart in (1e-3, 1e-5):
        B = rng.normal(size=(300, 120))
        B[:, 1] = B[:, 0] + apart * rng.normal(size=300)
        Qc = B.T @ B / 300
        ill = solver._SupportSolves(Qc, 0.0)
        ill.solve(np.arange(110), rng.normal(size=110))
        base = ill.base
        moved = np.concatenate([[0], np.arange(2, 110)])
        rhs = rng.normal(size=moved.size)
        x = ill.solve(moved, rhs)
        M = Qc[np.ix_(moved, moved)]
        scale = float(np.max(np.abs(rhs))) + float(np.max(np.abs(M))) * float(np.max(np.abs(x)))
        assert float(np.max(np.abs(M @ x - rhs))) <= 1e-14 * scale
        assert ill.base is not base

    with pytest.raises(np.linalg.LinAlgError):
        solver._SupportSolves(-Q, 0.0).solve(first, np.ones(first.size))


def test_lambda_max_zeroes_every_l1_coefficient() -> None:
    X, y = _regression()
    lmax = LeastSquares("regression").lambda_max(X, y)
    just_above = LeastSquares("regression").estimator(Penalty.of("l1", lmax * 1.001, 1.0), len(y), 1e-10).fit(X, y)
    just_below = LeastSquares("regression").estimator(Penalty.of("l1", lmax * 0.95, 1.0), len(y), 1e-10).fit(X, y)
    assert np.count_nonzero(just_above.coef_) == 0
    assert np.count_nonzero(just_below.coef_) > 0
    Xb, yb = _binary()
    lmax_b = Logistic("classification").lambda_max(Xb, yb)
    above = fit_logistic_enet(Xb, yb, np.unique(yb), lmax_b * 1.001, 1.0, tol=1e-9)
    below = fit_logistic_enet(Xb, yb, np.unique(yb), lmax_b * 0.95, 1.0, tol=1e-9)
    assert np.count_nonzero(above.coef) == 0
    assert np.count_nonzero(below.coef) > 0


@pytest.mark.parametrize("seed", range(12))
def test_at_exactly_lambda_max_every_coefficient_is_exactly_zero(seed: int) -> None:
    """At λ_max the KKT condition holds with equality: the solvers return the null model, not a
    rounding-size coefficient that the non-zero count would see (it did for 13 of 200 random problems)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(60, 8))
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    y = X @ rng.normal(size=8) * rng.uniform(0.01, 1000) + rng.normal(size=60)
    family = LeastSquares("regression")
    lmax = family.lambda_max(X, y)
    for r in (1.0, 0.4):
        assert family.fit(X, y, Penalty.of("elasticnet", lmax / r, r), 1e-4).n_nonzero == 0
    fold = Fold(0, np.arange(60), np.arange(0), X - X.mean(axis=0), X[:0], y, y[:0])
    assert family.fit_fold(fold, Penalty.of("l1", family.lambda_max(fold.X_train, y), 1.0), 1e-4).n_nonzero == 0
    assert family.fit_fold(fold, Penalty.of("l1", family.lambda_max(fold.X_train, y) * 0.8, 1.0), 1e-4).n_nonzero > 0
    labels = np.digitize(y, np.quantile(y, [1 / 3, 2 / 3]))
    for classes in (2, 3):
        yc = np.minimum(labels, classes - 1)
        lmax_c = Logistic("classification").lambda_max(X, yc)
        at = Logistic("classification").fit(X, yc, Penalty.of("l1", lmax_c, 1.0), 1e-4)
        assert at.n_nonzero == 0 and not np.any(at.coef)
        assert Logistic("classification").fit(X, yc, Penalty.of("l1", lmax_c * 0.95, 1.0), 1e-4).n_nonzero > 0


@pytest.mark.parametrize("size", [20, 150])
def test_solve_pd_solves_and_refuses_what_is_not_positive_definite(size: int) -> None:
    """Both routes (NumPy's Cholesky up to SMALL_SOLVE, LAPACK's posv above): the solution of a
    positive-definite system; LinAlgError for an indefinite matrix (and, above SMALL_SOLVE, one holding NaN)."""
    from regtune.models._base import SMALL_SOLVE, solve_pd, solve_sym

    assert (size > SMALL_SOLVE) == (size == 150)
    rng = np.random.default_rng(size)
    A = rng.normal(size=(2 * size, size))
    M = A.T @ A / size
    rhs = rng.normal(size=(size, 2))
    np.testing.assert_allclose(M @ solve_pd(M, rhs), rhs, atol=1e-9)
    np.testing.assert_allclose(M @ solve_pd(M, rhs[:, 0]), rhs[:, 0], atol=1e-9)
    indefinite = M - 2 * float(np.max(np.linalg.eigvalsh(M))) * np.eye(size) * (np.arange(size) == 3)
    with pytest.raises(np.linalg.LinAlgError):
        solve_pd(indefinite, rhs)
    if size > SMALL_SOLVE:  # OpenBLAS's Cholesky passes a NaN through: posv's result is checked
        broken = M.copy()
        broken[5, 5] = np.nan
        with pytest.raises(np.linalg.LinAlgError):
            solve_pd(broken, rhs)
    singular = M.copy()
    singular[:, 0] = singular[0, :] = 0.0
    x = solve_sym(singular, rhs)  # least squares when Cholesky fails
    np.testing.assert_allclose(singular @ x, singular @ np.linalg.lstsq(singular, rhs, rcond=None)[0], atol=1e-8)


def test_one_blas_thread_limits_scipys_openblas_loaded_after_its_controller(monkeypatch: pytest.MonkeyPatch) -> None:
    """NumPy and SciPy each load their own OpenBLAS; a controller built before SciPy's was loaded (here: one
    that knows NumPy's only) is rebuilt once it is, so the solvers' factorisations run on one thread too."""
    import scipy.linalg  # noqa: F401  (SciPy's OpenBLAS loaded)
    from threadpoolctl import ThreadpoolController, threadpool_info

    from regtune.models import _threads

    blas = [info for info in threadpool_info() if info["user_api"] == "blas"]
    stale = ThreadpoolController().select(filepath=[i["filepath"] for i in blas if "numpy" in i["filepath"]])
    monkeypatch.setattr(_threads, "_CONTROLLER", [stale, False])
    with _threads.one_blas_thread():
        assert [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"] == [1] * len(blas)


def test_a_folds_logistic_fits_take_its_classes_once_and_match_a_plain_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fold's fits use its labels' classes computed once (strings: ``np.unique`` was 1.2-1.5 ms a fit on
    churn); the fit is the one of ``Logistic.fit`` on the same rows."""
    rng = np.random.default_rng(4)
    X = rng.standard_normal((90, 4))
    y = np.where(X[:, 0] + 0.5 * rng.standard_normal(90) > 0, "yes", "no").astype(object)
    fold = Fold(0, np.arange(70), np.arange(70, 90), X[:70], X[70:], y[:70], y[70:])
    family, penalty = Logistic("classification"), Penalty.of("elasticnet", 0.02, 0.5)
    plain = family.fit(fold.X_train, fold.y_train, penalty, 1e-6)
    calls = []
    real_unique = np.unique
    monkeypatch.setattr(np, "unique", lambda *a, **k: calls.append(1) or real_unique(*a, **k))
    outcomes = [family.fit_fold(fold, penalty, 1e-6) for _ in range(3)]
    assert len(calls) == 1
    assert list(fold.classes()) == ["no", "yes"]
    for outcome in outcomes:
        np.testing.assert_array_equal(outcome.coef, plain.coef)
        np.testing.assert_array_equal(outcome.model.classes_, plain.model.classes_)


@pytest.mark.parametrize(("classes", "weighted"), [(10, False), (2, False), (4, True)])
def test_ridge_by_lbfgs_meets_newtons_optimum(classes: int, weighted: bool) -> None:
    """``fit_ridge_lbfgs`` (SciPy's L-BFGS-B, no scikit-learn) minimises the same λ objective as the Newton
    solver: binary and multinomial, with and without the rows' weights, from zero."""
    from regtune.models._logistic_solver import fit_ridge_lbfgs

    rng = np.random.default_rng(classes)
    X = rng.normal(size=(500, 120))
    y = np.argmax(X[:, :classes] + rng.gumbel(size=(500, classes)), axis=1)
    sw = rng.uniform(0.2, 2.0, 500) if weighted else None
    found = np.unique(y)
    ours = fit_ridge_lbfgs(X, y, found, 1e-2, tol=1e-8, sample_weight=sw)
    newton = fit_logistic_enet(X, y, found, 1e-2, 0.0, tol=1e-10, sample_weight=sw)
    assert ours.converged
    assert not fit_ridge_lbfgs(X, y, found, 1e-2, tol=1e-8, sample_weight=sw, max_iter=2).converged
    np.testing.assert_allclose(ours.coef, newton.coef, atol=1e-6)
    centre = (lambda b: b - b.mean()) if classes > 2 else (lambda b: b)  # the intercepts' free direction
    np.testing.assert_allclose(centre(ours.intercept), centre(newton.intercept), atol=5e-6)
