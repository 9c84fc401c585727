"""A proximal-Newton solver for penalised GLMs with a log link: Poisson, Gamma and Tweedie (1 < p < 2).

Minimises ``½·mean deviance(y, μ) + λ·(r·‖w‖₁ + (1 − r)/2·‖w‖²)`` with ``μ = exp(Xw + b + offset)`` and an
unpenalised intercept b; the Tweedie power p is 1 for Poisson, 2 for Gamma. Half the mean deviance is the
mean negative log-likelihood up to terms in y alone, so λ means what it means for glmnet, glum's ``alpha``
and scikit-learn's ``PoissonRegressor(alpha)`` (DESIGN.md §4).

In the linear predictor η a row's loss is ``μ^(2−p)/(2−p) − y·μ^(1−p)/(1−p)`` (Poisson ``μ − yη``, Gamma
``η + y/μ``), with gradient ``g = μ^(1−p)·(μ − y)`` and curvature ``h = (2−p)·μ^(2−p) + (p−1)·y·μ^(1−p)``
(Poisson μ, Gamma y/μ): convex for 1 ≤ p ≤ 2. Each outer step replaces the loss by its quadratic model
``(1/2n)·Σ hᵢ (zᵢ − b − xᵢᵀβ)²`` with ``zᵢ = ηᵢ − oᵢ − gᵢ/hᵢ`` (IRLS with the true Hessian, so Newton's
quadratic convergence also for the non-canonical Gamma and Tweedie links), solves that weighted elastic net
exactly — a p × p problem in the weighted Gram matrix whatever n: the multinomial logistic solver's inner
step on it (:func:`regtune.models._logistic_solver._enet_gram`: active-set linear solves, L-BFGS-B within
bounds until the support is known), or one linear solve for pure L2 — and moves along
the step with a backtracking line search on the true objective. Warm starts make a nearby λ a couple of
Newton steps. The same algorithm as glmnet's and glum's (Friedman, Hastie & Tibshirani 2010).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from regtune.models._base import squared_singular_values
from regtune.models._logistic_solver import INNER_TOL, NULL_RTOL, _enet_gram
from regtune.models._threads import one_blas_thread

#: Curvatures below this share of the largest are raised to it (a row with μ → 0 carries no information).
MIN_CURVATURE = 1e-12


@dataclass
class GLMSolution:
    coef: np.ndarray  # (p,)
    intercept: float
    converged: bool
    n_iter: int


def _xlogy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``x·log(y)``, 0 where x is 0 (SciPy's ``xlogy``, without importing ``scipy.special``: ~0.1 s)."""
    x, y = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
    out = np.zeros(x.shape)
    on = x != 0
    out[on] = x[on] * np.log(y[on])
    return out


def half_unit_deviance(y: np.ndarray, mu: np.ndarray, power: float) -> np.ndarray:
    """½ the Tweedie unit deviance of each row (power 0 squared error, 1 Poisson, 2 Gamma, else Tweedie)."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if power == 0:
            out: np.ndarray = 0.5 * (y - mu) ** 2
        elif power == 1:
            out = _xlogy(y, y) - _xlogy(y, mu) - y + mu
        elif power == 2:
            out = np.log(mu / y) + y / mu - 1
        else:
            p = power
            out = (
                np.maximum(y, 0) ** (2 - p) / ((1 - p) * (2 - p))
                - y * mu ** (1 - p) / (1 - p)
                + mu ** (2 - p) / (2 - p)
            )
    return out


def mean_deviance(y: np.ndarray, mu: np.ndarray, power: float, sample_weight: np.ndarray | None = None) -> float:
    """The mean Tweedie deviance (scikit-learn's ``mean_tweedie_deviance(y, mu, power=power)``), weighted by
    ``sample_weight`` if given."""
    return float(2.0 * np.average(half_unit_deviance(y, mu, power), weights=sample_weight))


def gradient_curvature(y: np.ndarray, eta: np.ndarray, power: float) -> tuple[np.ndarray, np.ndarray]:
    """Per row, d loss / dη and d² loss / dη² at the linear predictor η."""
    p = power
    with np.errstate(over="ignore"):
        mu = np.exp(eta)
        if p == 1:
            return mu - y, mu
        lead = np.exp((1 - p) * eta)  # μ^(1−p)
        return lead * (mu - y), (2 - p) * lead * mu + (p - 1) * y * lead


def null_intercept(
    y: np.ndarray, offset: np.ndarray | None, power: float, sample_weight: np.ndarray | None = None
) -> float:
    """The intercept of the intercept-only model: ``log(Σ s·y·e^((1−p)o) / Σ s·e^((2−p)o))`` (log ȳ without
    offset; s the rows' weights, 1 without)."""
    s = np.ones_like(y) if sample_weight is None else sample_weight
    if offset is None:
        return float(np.log(np.average(y, weights=s)))
    top = float(np.sum(s * y * np.exp((1 - power) * offset)))
    return float(np.log(top / np.sum(s * np.exp((2 - power) * offset))))


def null_gradient(
    X: np.ndarray, y: np.ndarray, offset: np.ndarray | None, power: float, sample_weight: np.ndarray | None = None
) -> np.ndarray:
    """The gradient of the mean loss in the coefficients at the null model (w = 0, the intercept optimal);
    ``sample_weight`` (summing to n) weights each row's loss."""
    eta = null_intercept(y, offset, power, sample_weight) + (0.0 if offset is None else offset)
    g, _ = gradient_curvature(y, np.broadcast_to(eta, y.shape), power)
    if sample_weight is not None:
        g = g * sample_weight
    grad: np.ndarray = X.T @ g / X.shape[0]
    return grad


def null_curvature(
    X: np.ndarray, y: np.ndarray, offset: np.ndarray | None, power: float, sample_weight: np.ndarray | None = None
) -> np.ndarray:
    """Eigenvalues of the mean loss's Hessian in the coefficients at the null model, the intercept profiled
    out: eig(X̃ᵀ diag(h) X̃ / n), X̃ centred with the weights h (the null model's IRLS weights, times the rows'
    weights, which sum to n, if any)."""
    eta = null_intercept(y, offset, power, sample_weight) + (0.0 if offset is None else offset)
    _, h = gradient_curvature(y, np.broadcast_to(eta, y.shape), power)
    if sample_weight is not None:
        h = h * sample_weight
    Xc = np.sqrt(h)[:, None] * (X - (h @ X) / h.sum())
    eigs: np.ndarray = squared_singular_values(Xc) / X.shape[0]
    return eigs


def objective(
    y: np.ndarray,
    eta: np.ndarray,
    power: float,
    w: np.ndarray,
    lam: float,
    r: float,
    sample_weight: np.ndarray | None = None,
) -> float:
    """½·mean deviance at η (weighted by ``sample_weight``, which sums to n, if given) plus the penalty of w."""
    with np.errstate(over="ignore"):
        rows = half_unit_deviance(y, np.exp(eta), power)
        loss = float(np.mean(rows if sample_weight is None else sample_weight * rows))
    return loss + lam * (r * float(np.abs(w).sum()) + 0.5 * (1 - r) * float(w @ w))


def _newton_step(
    X: np.ndarray, h: np.ndarray, z: np.ndarray, lam: float, r: float, beta: np.ndarray, tol: float, damping: float
) -> tuple[np.ndarray, float]:
    """Solve ``min (1/2n) Σ hᵢ (zᵢ − b − xᵢᵀβ)² + (μ/2n)‖β − β₀‖² + λ P(β)`` from β₀ = ``beta``; returns (β, b).

    The intercept is absorbed by centring with the weights h; what remains is ``½βᵀQβ − qᵀβ + λP(β)`` with
    Q = (X̃ᵀHX̃ + μI)/n and q = (X̃ᵀHz̃ + μβ₀)/n, a p × p problem whatever n: one linear solve for pure L2,
    :func:`regtune.models._logistic_solver._enet_gram` on (Q, q) otherwise. μ =
    ``damping``·max diag is the Levenberg–Marquardt term the line search raises after a short step.
    """
    from regtune.models._base import solve_pd

    n = X.shape[0]
    sh = float(h.sum())
    s = h @ X  # Xᵀh
    xbar, zbar = s / sh, float(h @ z) / sh
    root = np.sqrt(h)
    Xs = X * root[:, None]
    gram = Xs.T @ Xs - np.outer(s, xbar)  # X̃ᵀHX̃ (NumPy computes Aᵀ·A as a symmetric rank-k update)
    gram = 0.5 * (gram + gram.T)
    mu = damping * max(float(np.max(np.diag(gram), initial=0.0)), 1e-12)
    Q = gram / n
    Q[np.diag_indices_from(Q)] += mu / n
    q = (Xs.T @ (root * z) - s * zbar + mu * beta) / n
    if r == 0:
        Q[np.diag_indices_from(Q)] += lam
        new = solve_pd(Q, q)
    else:
        new = _enet_gram(Q, q, lam, r, beta, tol)
    return new, zbar - float(xbar @ new)


def fit_glm_enet(
    X: np.ndarray,
    y: np.ndarray,
    power: float,
    lam: float,
    r: float,
    *,
    offset: np.ndarray | None = None,
    tol: float = 1e-4,
    coef_init: np.ndarray | None = None,
    intercept_init: float | None = None,
    max_iter: int = 200,
    sample_weight: np.ndarray | None = None,
) -> GLMSolution:
    """Fit the penalised log-link GLM of Tweedie ``power`` (1 ≤ power ≤ 2).

    Converged when a Newton step moves no coefficient or the intercept by more than ``tol``·max(1, ‖w‖∞),
    or lowers the objective by less than ``tol²`` of its value. ``sample_weight`` (≥ 0, rescaled to sum to
    n): the loss is the weighted mean of the rows' half deviances.
    """
    s = None if sample_weight is None else sample_weight * (X.shape[0] / float(np.sum(sample_weight)))
    with one_blas_thread():
        return _fit(X, y, power, lam, r, offset, tol, coef_init, intercept_init, max_iter, s)


def _fit(
    X: np.ndarray,
    y: np.ndarray,
    power: float,
    lam: float,
    r: float,
    offset: np.ndarray | None,
    tol: float,
    coef_init: np.ndarray | None,
    intercept_init: float | None,
    max_iter: int,
    s: np.ndarray | None = None,
) -> GLMSolution:
    p = X.shape[1]
    b_null = null_intercept(y, offset, power, s)
    if r > 0 and lam * r >= float(np.max(np.abs(null_gradient(X, y, offset, power, s)), initial=0.0)) * (1 - NULL_RTOL):
        # λ ≥ λ_max: the null model (every coefficient exactly zero) is the optimum.
        return GLMSolution(np.zeros(p), b_null, True, 0)
    w = np.zeros(p) if coef_init is None else np.array(coef_init, dtype=np.float64).ravel()
    b = b_null if intercept_init is None else float(np.ravel(intercept_init)[0])
    base = np.zeros_like(y) if offset is None else offset
    eta = X @ w + b + base
    f = objective(y, eta, power, w, lam, r, s)
    if not np.isfinite(f):  # a warm start far off (μ overflows): start from the null model
        w, b = np.zeros(p), b_null
        eta = b + base
        f = objective(y, eta, power, w, lam, r, s)
    inner_tol = tol * INNER_TOL
    damping = 1e-8
    for it in range(1, max_iter + 1):
        g, h = gradient_curvature(y, eta, power)
        h = np.maximum(h, MIN_CURVATURE * max(float(h.max()), 1e-300))
        z = eta - base - g / h
        if s is not None:  # the rows' weights multiply each row's curvature (z, the working response, stays)
            h = np.maximum(h * s, MIN_CURVATURE * max(float((h * s).max()), 1e-300))
        beta, b_new = _newton_step(X, h, z, lam, r, w, inner_tol, damping)
        d_w, d_b = beta - w, b_new - b
        delta = X @ d_w + d_b
        t = 1.0
        while t >= 1e-6:
            f_try = objective(y, eta + t * delta, power, w + t * d_w, lam, r, s)
            if f_try <= f + 1e-12 * max(1.0, abs(f)):
                break
            t *= 0.5
        else:  # no decrease along the Newton direction: at the optimum to precision
            return GLMSolution(w, b, True, it)
        f_prev, f = f, f_try
        damping = max(damping / 10, 1e-10) if t == 1.0 else min(damping * 10, 1.0)
        w, b, eta = w + t * d_w, b + t * d_b, eta + t * delta
        step = t * max(float(np.max(np.abs(d_w), initial=0.0)), abs(d_b))
        if step <= tol * max(1.0, float(np.max(np.abs(w), initial=0.0))):
            return GLMSolution(w, b, True, it)
        if f_prev - f <= tol * tol * abs(f):
            return GLMSolution(w, b, True, it)
    return GLMSolution(w, b, False, max_iter)
