"""The log-link GLM families (poisson, gamma, tweedie:P): λ mapping and solver against glum and scikit-learn,
KKT conditions, λ_max, the curvature of the L2 range, deviance scoring, offsets, and bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from regtune.errors import ConfigError
from regtune.folds import Fold
from regtune.models import Family, Penalty, get_family
from regtune.models._glm_solver import mean_deviance, null_intercept

FAMILIES = ("poisson", "gamma", "tweedie:1.5", "tweedie:1.2")
PENALTIES = (("l1", 1.0), ("l2", 0.0), ("elasticnet", 0.5))
TOL = 1e-10


def power_of(family: str) -> float:
    return {"poisson": 1.0, "gamma": 2.0}.get(family) or float(family.split(":")[1])


def glm_data(family: str, n: int = 300, p: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Standardized X, a target drawn from the family (log link), and an offset (log exposure)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) * rng.uniform(0.5, 2.0, size=p)
    X = (X - X.mean(0)) / X.std(0)
    offset = np.log(rng.uniform(0.5, 2.0, size=n))
    mu = np.exp(0.3 + X @ rng.normal(scale=0.3, size=p) + offset)
    power = power_of(family)
    if power == 1:
        y = rng.poisson(mu).astype(np.float64)
    elif power == 2:
        y = rng.gamma(2.0, mu / 2.0)
    else:  # compound Poisson-Gamma: exact zeros and a long tail
        counts = rng.poisson(mu ** (2 - power) / (2 - power))
        scale = (power - 1) * mu ** (power - 1)
        y = np.array(
            [rng.gamma((2 - power) / (power - 1), s, size=c).sum() for c, s in zip(counts, scale, strict=True)]
        )
    return X, y, offset


def glum_family(family: str):  # type: ignore[no-untyped-def]
    from glum import TweedieDistribution

    return family if ":" not in family else TweedieDistribution(power_of(family))


def kkt_violation(X: np.ndarray, y: np.ndarray, offset: np.ndarray, power: float, coef, intercept, pen) -> float:  # type: ignore[no-untyped-def]
    """The largest violation of the optimality conditions of ½·mean deviance + λ·P(w) at (coef, intercept)."""
    mu = np.exp(X @ coef + intercept + offset)
    g = mu ** (1 - power) * (mu - y)
    grad = X.T @ g / len(y)
    active = coef != 0
    worst = abs(float(g.mean()))  # the intercept's gradient
    on = grad[active] + pen.l1 * np.sign(coef[active]) + pen.l2 * coef[active]
    off = np.maximum(np.abs(grad[~active]) - pen.l1, 0.0)
    return max(worst, float(np.max(np.abs(on), initial=0.0)), float(np.max(off, initial=0.0)))


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize(("kind", "ratio"), PENALTIES)
def test_matches_glum_at_fixed_lambda(family: str, kind: str, ratio: float) -> None:
    """λ is glum's alpha (and l1_ratio is glum's): same coefficients to 1e-6, with an offset; KKT hold."""
    from glum import GeneralizedLinearRegressor

    X, y, offset = glm_data(family)
    fam = get_family("regression", family=family)
    lam = 0.1 * fam.lambda_max(X, y, max(ratio, 0.05), offset=offset) if kind != "l2" else 0.05
    penalty = Penalty.of(kind, lam, ratio if kind == "elasticnet" else None)
    ours = fam.fit(X, y, penalty, TOL, offset=offset)
    theirs = GeneralizedLinearRegressor(
        alpha=lam, l1_ratio=penalty.l1_ratio, family=glum_family(family), link="log", gradient_tol=1e-12, max_iter=1000
    ).fit(X, y, offset=offset)
    assert ours.converged
    np.testing.assert_allclose(ours.coef, theirs.coef_, atol=1e-6)
    assert ours.intercept[0] == pytest.approx(theirs.intercept_, abs=1e-6)
    assert 0 < ours.n_nonzero <= X.shape[1]
    assert kkt_violation(X, y, offset, fam.power, ours.coef, ours.intercept[0], penalty) < 1e-7  # type: ignore[attr-defined]
    assert fam.native(penalty, len(y))["alpha"] == lam


@pytest.mark.parametrize("family", FAMILIES)
def test_l2_matches_scikit_learn(family: str) -> None:
    """For L2, λ is the alpha of PoissonRegressor / GammaRegressor / TweedieRegressor(link="log")."""
    from sklearn.linear_model import GammaRegressor, PoissonRegressor, TweedieRegressor

    X, y, _ = glm_data(family, seed=1)
    lam = 0.03
    fam = get_family("regression", family=family)
    ours = fam.fit(X, y, Penalty.of("l2", lam), TOL)
    power = power_of(family)
    sk = (
        PoissonRegressor(alpha=lam, tol=1e-12, max_iter=10_000)
        if power == 1
        else GammaRegressor(alpha=lam, tol=1e-12, max_iter=10_000)
        if power == 2
        else TweedieRegressor(power=power, link="log", alpha=lam, tol=1e-12, max_iter=10_000)
    ).fit(X, y)
    np.testing.assert_allclose(ours.coef, sk.coef_, atol=1e-6)
    assert ours.intercept[0] == pytest.approx(sk.intercept_, abs=1e-6)
    np.testing.assert_allclose(ours.model.predict(X), sk.predict(X), rtol=1e-6)


@pytest.mark.parametrize("family", FAMILIES)
def test_lambda_max_is_the_null_model(family: str) -> None:
    """At λ_max every coefficient is exactly zero and the intercept is the null model's; just below, not."""
    X, y, offset = glm_data(family, seed=2)
    fam = get_family("regression", family=family)
    lmax = fam.lambda_max(X, y, 1.0, offset=offset)
    at = fam.fit(X, y, Penalty.of("l1", lmax), TOL, offset=offset)
    assert at.n_nonzero == 0
    assert at.intercept[0] == pytest.approx(null_intercept(y, offset, power_of(family)))
    below = fam.fit(X, y, Penalty.of("l1", lmax * 0.98), TOL, offset=offset)
    assert below.n_nonzero >= 1
    assert fam.lambda_max(X, y, 0.5, offset=offset) == pytest.approx(2 * lmax)


@pytest.mark.parametrize("family", FAMILIES)
def test_curvature_is_the_null_hessian(family: str) -> None:
    """Family.curvature = eigenvalues of d²(mean loss)/dw² at the null model with the intercept profiled out,
    checked against finite differences of the gradient of the penalty-free objective."""
    X, y, offset = glm_data(family, n=200, p=4, seed=3)
    fam = get_family("regression", family=family)
    power = power_of(family)
    b0 = null_intercept(y, offset, power)
    n, p = X.shape
    design = np.hstack([X, np.ones((n, 1))])

    def grad(theta: np.ndarray) -> np.ndarray:
        mu = np.exp(design @ theta + offset)
        return design.T @ (mu ** (1 - power) * (mu - y)) / n

    theta0 = np.append(np.zeros(p), b0)
    h = 1e-6
    H = np.column_stack([(grad(theta0 + h * e) - grad(theta0 - h * e)) / (2 * h) for e in np.eye(p + 1)])
    profiled = H[:p, :p] - np.outer(H[:p, p], H[p, :p]) / H[p, p]
    np.testing.assert_allclose(np.sort(fam.curvature(X, y, offset=offset)), np.linalg.eigvalsh(profiled), rtol=1e-5)


@pytest.mark.parametrize("family", FAMILIES)
def test_deviance_scorer_and_null_deviance(family: str) -> None:
    """The family's scorer is scikit-learn's mean Tweedie deviance at its power; the null deviance is that
    of the intercept-only model."""
    from sklearn.metrics import mean_tweedie_deviance

    X, y, offset = glm_data(family, seed=4)
    fam = get_family("regression", family=family)
    name = fam.default_scoring
    power = power_of(family)
    outcome = fam.fit(X, y, Penalty.of("l2", 0.01), TOL)
    scorer = fam.scorer(name)
    assert scorer is not None
    assert scorer(outcome.model, X, y) == pytest.approx(
        -mean_tweedie_deviance(y, outcome.model.predict(X), power=power)
    )
    mu0 = np.exp(null_intercept(y, offset, power) + offset)
    assert fam.null_deviance(name, y, offset) == pytest.approx(mean_deviance(y, mu0, power))
    assert fam.null_deviance("neg_mean_squared_error", y) is None


def test_offset_fold_scoring_uses_the_test_offsets() -> None:
    """A fold's test rows are scored at their own offsets (exposure), not at offset 0."""
    from regtune.cv import fit_and_score

    X, y, offset = glm_data("poisson", seed=5)
    fam = get_family("regression", family="poisson")
    train, test = np.arange(200), np.arange(200, 300)
    fold = Fold(
        0, train, test, X[train], X[test], y[train], y[test], offset_train=offset[train], offset_test=offset[test]
    )
    result = fit_and_score(fam, fold, fam.scorer("neg_mean_poisson_deviance"), Penalty.of("l2", 0.01), TOL, None)
    outcome = fam.fit(X[train], y[train], Penalty.of("l2", 0.01), TOL, offset=offset[train])
    expected = -mean_deviance(y[test], outcome.model.predict(X[test], offset=offset[test]), 1.0)
    assert result.score == pytest.approx(expected)
    assert result.score != pytest.approx(-mean_deviance(y[test], outcome.model.predict(X[test]), 1.0))


def test_family_names_and_errors() -> None:
    fam: Family = get_family("regression", family="tweedie:1.3")
    assert fam.name == "tweedie:1.3" and fam.power == pytest.approx(1.3)  # type: ignore[attr-defined]
    assert get_family("regression").name == "least_squares"  # the default: as before
    assert get_family("regression", family="gaussian").name == "least_squares"
    assert get_family("classification", family="binomial").name == "logistic"
    for bad, words in (
        ("tweedie:2.5", "between 1 and 2"),
        ("tweedie", "needs its power"),
        ("poisson:2", "takes no parameter"),
        ("negbin", "unknown"),
    ):
        with pytest.raises(ConfigError, match=words):
            get_family("regression", family=bad)
    with pytest.raises(ConfigError, match="does not fit a classification task"):
        get_family("classification", family="poisson")


def test_invalid_targets_name_the_first_row() -> None:
    y = np.array([1.0, 0.0, 2.0, -1.0, -3.0])
    assert get_family("regression", family="poisson").invalid_target(y) == (3, "≥ 0")
    assert get_family("regression", family="tweedie:1.5").invalid_target(y) == (3, "≥ 0")
    assert get_family("regression", family="gamma").invalid_target(y) == (1, "> 0")
    assert get_family("regression", family="poisson").invalid_target(np.zeros(4)) is not None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert get_family("regression", family="gamma").invalid_target(np.array([0.5, 2.0])) is None


def _folds(X: np.ndarray, y: np.ndarray, offset: np.ndarray, k: int = 3) -> list[Fold]:
    parts = np.array_split(np.random.default_rng(0).permutation(len(y)), k)
    folds = []
    for i in range(k):
        test = parts[i]
        train = np.concatenate([parts[j] for j in range(k) if j != i])
        mean = X[train].mean(axis=0)
        fold = Fold(i, train, test, X[train] - mean, X[test] - mean, y[train], y[test])
        fold.offset_train, fold.offset_test = offset[train], offset[test]
        folds.append(fold)
    return folds


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize(("kind", "ratio"), [*PENALTIES, ("elasticnet", 0.3)])
def test_hypergradient_equals_finite_differences(family: str, kind: str, ratio: float) -> None:
    """d CV score / d log λ (and / d l1_ratio) by implicit differentiation = central differences of the same
    CV score, for the family's deviance and for the squared error, with offsets."""
    import math

    from regtune.cv import Evaluator, resolve_scorer

    X, y, offset = glm_data(family, n=150, p=5, seed=7)
    fam = get_family("regression", family=family)
    folds = _folds(X, y, offset)
    lam = 0.05 * fam.lambda_max(X, y, max(ratio, 0.05), offset=offset) if kind != "l2" else 0.02
    h = 1e-5

    def supports(lam_: float) -> list[tuple[int, ...]]:
        pen = Penalty.of(kind, lam_, ratio if kind == "elasticnet" else None)
        return [tuple(np.flatnonzero(fam.fit_fold(f, pen, 1e-12).coef)) for f in folds]

    assert supports(lam) == supports(lam * math.exp(h)) == supports(lam * math.exp(-h))
    for scoring in (fam.default_scoring, "neg_mean_squared_error"):
        name, scorer = resolve_scorer(scoring, "regression", fam)

        def cv(lam_: float, r_: float, scorer=scorer) -> float:  # type: ignore[no-untyped-def]
            pen = Penalty.of(kind, lam_, r_ if kind == "elasticnet" else None)
            return float(np.mean(Evaluator(folds, fam, scorer, 1e-12).evaluate(pen).fold_scores))

        pen = Penalty.of(kind, lam, ratio if kind == "elasticnet" else None)
        ev = Evaluator(folds, fam, scorer, 1e-12, hyper=fam.hyper_quantity(name)).evaluate(pen)
        fd = (cv(lam * math.exp(h), ratio) - cv(lam * math.exp(-h), ratio)) / (2 * h)
        assert ev.d_log_lambda == pytest.approx(fd, rel=1e-3, abs=1e-8)
        if kind == "elasticnet":
            fd_r = (cv(lam, ratio + h) - cv(lam, ratio - h)) / (2 * h)
            assert ev.d_l1_ratio == pytest.approx(fd_r, rel=1e-3, abs=1e-8)
