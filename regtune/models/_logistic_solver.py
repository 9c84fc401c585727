"""A proximal-Newton solver for L1 / elastic-net logistic regression (glmnet's algorithm).

Minimises ``mean log-loss + λ·(r·‖W‖₁ + (1 − r)/2·‖W‖²)`` with unpenalised intercepts, binary or
multinomial (the symmetric parametrisation scikit-learn and glmnet use: one coefficient row per class).

Each outer step replaces the log-loss by its quadratic model at the current point, solves that penalised
quadratic problem, and moves along the step with a backtracking line search on the true objective.
Binary: the model is ``(1/2n)·Σ wᵢ (zᵢ − b − xᵢᵀβ)²`` (IRLS, ``wᵢ = pᵢ(1 − pᵢ)``, ``zᵢ = ηᵢ + (yᵢ − pᵢ)/wᵢ``),
a weighted elastic net in Gram form (after weighted centring, which absorbs the intercept). Multinomial:
the full Hessian of all classes together, restricted to a working set (the non-zero coefficients and the
zero ones near their bound, checked against the optimality conditions of all), with the intercepts
eliminated: an elastic net in Gram form too. Either is solved exactly by a few active-set linear solves
on its support once the support is known (warm starts and the last Newton steps), by SciPy's L-BFGS-B
within bounds until then (:func:`_enet_gram`); scikit-learn is not imported. Within CHORD times the
tolerance a step reuses the last step's Hessian with the new gradient (a chord step). Warm starts make a
nearby λ a couple of Newton steps. On standardised data this is one to two orders of magnitude faster
than saga at the same tolerance (DESIGN.md §5). A large ridge is fitted by L-BFGS
(:func:`fit_ridge_lbfgs`).

Reference: Friedman, Hastie & Tibshirani (2010), "Regularization paths for generalized linear models
via coordinate descent", J. Stat. Softw. 33(1).
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass

import numpy as np

from regtune.models._threads import on_one_blas_thread

MIN_WEIGHT = 1e-6
#: λ·r within this relative distance below the null model's largest gradient still gives the null model:
#: at λ_max itself the KKT condition holds with equality, and the rounding of the solver's own gradient
#: would otherwise leave a coefficient of about 1e-15 that counts as non-zero (glmnet's path, too, starts
#: with exact zeros at λ_max).
NULL_RTOL = 1e-10
#: Tolerance of each inner elastic-net solve, relative to the outer tolerance.
INNER_TOL = 1e-1
#: Iterations of one inner solve (:func:`_enet_box`): an inexact Newton step is still a descent step.
INNER_MAX_ITER = 1_000
#: The tightest inner tolerance tried when a Newton direction does not decrease the objective.
MIN_INNER_TOL = 1e-16
#: A multinomial Newton step moves the non-zero coefficients and the zero ones whose gradient is at least
#: this share of λr (the others stay at zero): every coordinate that violates its optimality condition is
#: in, so the fit converges to the same conditions. 0.9: measured on digits, 0.8-1.0 were alike and
#: 0.5 took 20 % longer, 0.3 50 % (larger Hessians, no fewer steps).
SCREEN = 0.9
#: A multinomial fit whose optimality conditions are violated by more than FAR times the tolerance takes
#: inexact Newton steps: at most EARLY_SWEEPS inner iterations for each. Cold starts begin about
#: 1e7 times the tolerance away, warm starts in a search 1e2-1e4 (those take exact steps). 30 L-BFGS-B
#: iterations (:func:`_enet_box`) do as well as 100 there: on fixed replays of digits (60 trials), a digits
#: variant (56 features, 7 folds) and wine with degree-2 features (3 folds) the Newton steps were the same
#: in number (574, 425, 254) and the subproblems' time fell by 14-22 % (1.10 -> 0.89 s, 1.81 -> 1.55 s,
#: 0.65 -> 0.51 s of CPU).
FAR = 1e5
EARLY_SWEEPS = 30
#: L-BFGS-B iterations of a subproblem the active-set search did not settle (:func:`_enet_box`) before the
#: solution on the support they found is tried. On the 59 such subproblems of digits' 60 trials that ask
#: for an exact solution: 10 took 1.23 s of CPU in all, 30 0.73 s, 60 0.63 s, 100 0.75 s, no stop before
#: the end 1.08 s (the same objectives, to rounding).
PROBE_STEPS = 60
#: A solution on a support is exact when no optimality condition is violated by more than this share
#: of the problem's scale (or the inner tolerance, when smaller): rounding, not an approximation.
EXACT_RTOL = 1e-10
#: Linear solves of the feature-sign search for the exact solution of one Newton subproblem of at most
#: ACTIVE_SET_JOINS coordinates: this many plus one per coordinate (they may join one at a time: from zero,
#: a support of k then needs k solves). A larger problem gets LARGE_ACTIVE_SET_STEPS steps of a plainer
#: guess (:func:`_support_guess`) before the iterative solve: its linear solves cost more than iterations
#: once the support is not nearly right (measured with scikit-learn's coordinate descent as the iterative
#: solve: on digits' multinomial working sets the feature-sign search took 26 s for the whole run where
#: this took 20 s).
ACTIVE_SET_STEPS = 12
ACTIVE_SET_JOINS = 96
#: The share of the penalty moved to a ridge when a pure Lasso's active set is singular (_on_support).
VANISHING_RIDGE = 1e-8
#: With its solves bordered (:class:`_SupportSolves`) the plainer guess settles more subproblems in 12 steps
#: than in 6 and leaves fewer to L-BFGS-B: on fixed replays, digits' (60 trials) 80 -> 44 of them, the
#: directions' CPU time 2.10-2.20 -> 1.87-1.95 s; a digits variant (56 features, 7 folds) and wine with
#: degree-2 features (3 folds) spent 1.54-1.67 -> 1.29 s and 0.50-0.51 -> 0.44-0.47 s in L-BFGS-B; the
#: same Newton steps and fold scores on all three; 20 steps did no better than 12.
LARGE_ACTIVE_SET_STEPS = 12
#: :class:`_SupportSolves` reuses a support's factor for a support that differs from it in at most this
#: share of its coordinates (a new factor costs about as much as triangular solves for m/6 of them), and
#: keeps such an answer when its residual is within BORDER_RTOL of the system's scale (a factor's own
#: solve: 1e-17 to 1e-16; a Schur complement on an ill-conditioned base, 1e-9 was seen).
BORDER_SHARE = 0.125
BORDER_RTOL = 1e-13
#: The intercepts' Hessian's eigenvalues below this share of its largest (its trace, here) are taken as zero
#: in its pseudo-inverse (numpy.linalg.pinv's default cut).
PINV_RTOL = 1e-15
#: A multinomial fit within this factor of its tolerance takes a chord step (:func:`_chord_step`: the last
#: full step's model, the gradient at the new point). Measured on digits (60 trials): a chord step cut the
#: violation 10- to 4,000-fold, so from within 30 times the tolerance it usually finishes the fit; 30 and
#: 100 were alike (fold fits 8.5 s in all, from 9.3), 1000 took 8.7 s (more chord steps that fell short).
CHORD = 30.0


@dataclass
class LogisticSolution:
    coef: np.ndarray  # (1, p) binary, (K, p) multinomial
    intercept: np.ndarray  # (1,) or (K,)
    converged: bool
    n_iter: int
    #: The last multinomial Newton step's quadratic model (its Hessian, at an iterate near the solution),
    #: or None: the hypergradient's solve uses it as a preconditioner
    #: (:func:`regtune.models.logistic.model_preconditioner`).
    model: _Model | None = None


def _targets(
    y: np.ndarray, classes: np.ndarray, sample_weight: np.ndarray | None
) -> tuple[np.ndarray, bool, np.ndarray | None]:
    """(Y, binary, s): the labels one-hot over ``classes`` (one column, the second class's, for two), and
    the rows' weights rescaled to sum to n (None without weights)."""
    s = None if sample_weight is None else sample_weight * (y.shape[0] / float(np.sum(sample_weight)))
    Y = (y[:, None] == classes[None, :]).astype(np.float64)
    binary = len(classes) == 2
    return (Y[:, 1:] if binary else Y), binary, s


def _gram_scale(q: np.ndarray, Qv: np.ndarray, lam: float) -> float:
    """The scale of ``½vᵀQv − qᵀv + λP(v)``'s optimality conditions at v (``Qv`` = Q @ v)."""
    return lam + float(np.max(np.abs(q), initial=0.0)) + float(np.max(np.abs(Qv), initial=0.0))


def null_gradient_max(X: np.ndarray, Y: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
    """``max |XᵀS(Y − Ȳ)|/n``: the largest gradient of the mean log-loss at W = 0 with the intercepts at their
    optimum (``Y`` one-hot, one column when binary; S the rows' weights summing to n, I without). The null
    model is the optimum iff λ·r ≥ this."""
    s = np.ones(X.shape[0]) if sample_weight is None else sample_weight
    resid = s[:, None] * (Y - np.average(Y, axis=0, weights=s))
    return float(np.max(np.abs(X.T @ resid), initial=0.0)) / int(X.shape[0])


def _null_intercept(Y: np.ndarray, binary: bool, sample_weight: np.ndarray | None = None) -> np.ndarray:
    prior = np.clip(np.average(Y, axis=0, weights=sample_weight), 1e-12, 1 - 1e-12)
    logit: np.ndarray = np.log(prior / (1 - prior)) if binary else np.log(prior)
    return logit


def _penalty(W: np.ndarray, lam: float, r: float) -> float:
    return lam * (r * float(np.abs(W).sum()) + 0.5 * (1 - r) * float((W * W).sum()))


def _log_normalizer(eta: np.ndarray) -> np.ndarray:
    """Row-wise log Σₖ exp(ηₖ), stable."""
    top = eta.max(axis=1)
    result: np.ndarray = top + np.log(np.exp(eta - top[:, None]).sum(axis=1))
    return result


def _loss(eta: np.ndarray, Y: np.ndarray, binary: bool, sample_weight: np.ndarray | None = None) -> float:
    """Mean log-loss of linear predictors ``eta`` against one-hot ``Y`` (one column when binary); with
    ``sample_weight`` (summing to n) the mean of the weighted losses."""
    if binary:
        e, y = eta[:, 0], Y[:, 0]
        from scipy.special import log_expit  # here, not at import: the GLM solver imports this module

        # −[y·log σ(η) + (1 − y)·log σ(−η)], computed stably.
        rows = -y * log_expit(e) - (1 - y) * log_expit(-e)
    else:
        rows = _log_normalizer(eta) - (Y * eta).sum(axis=1)
    return float(np.mean(rows if sample_weight is None else sample_weight * rows))


def _weighted_enet(
    X: np.ndarray,
    w: np.ndarray,
    z: np.ndarray,
    lam: float,
    r: float,
    beta: np.ndarray,
    tol: float,
    damping: float,
) -> tuple[np.ndarray, float]:
    """Solve ``min (1/2n) Σ wᵢ (zᵢ − b − xᵢᵀβ)² + (μ/2n)‖β − β₀‖² + λ P(β)`` from β₀ = ``beta``.

    Weighted centring absorbs the intercept; μ = ``damping``·max diag of the Gram matrix is the
    Levenberg–Marquardt term (see :func:`_multinomial_step`). Returns (β, b).
    """
    sw = w.sum()
    xbar = (w @ X) / sw
    zbar = float(w @ z) / sw
    sq = np.sqrt(w)
    Xt = np.asfortranarray(sq[:, None] * (X - xbar))
    zt = sq * (z - zbar)
    gram = Xt.T @ Xt
    mu = damping * max(float(np.max(np.diag(gram))), 1e-12)
    gram[np.diag_indices_from(gram)] += mu
    xy = Xt.T @ zt + mu * beta
    n = X.shape[0]
    if r == 0:  # ridge: one linear solve
        new = _ridge_solve(gram / n, xy / n, lam)
        return new, zbar - float(xbar @ new)
    Q, q = gram / n, xy / n
    exact = _on_support(Q, q, lam, r, beta)
    if exact is not None and _gram_violation(Q, q, lam, r, exact) <= min(tol, EXACT_RTOL):
        return exact, zbar - float(xbar @ exact)
    new = _enet_box(Q, q, lam, r, beta, tol, INNER_MAX_ITER, precise=True)
    return new, zbar - float(xbar @ new)


def _enet_gram(
    Q: np.ndarray,
    q: np.ndarray,
    lam: float,
    r: float,
    start: np.ndarray,
    tol: float,
    max_iter: int = INNER_MAX_ITER,
) -> np.ndarray:
    """Solve ``min ½vᵀQv − qᵀv + λ P(v)`` (Q symmetric PSD, q in its range) from ``start``.

    On a support and its signs the problem is quadratic: one linear solve (:func:`_on_support`) gives its
    solution, which is the answer when it keeps those signs and no coordinate outside wants to move. That
    is tried first on the support of ``start`` (in a Newton iteration near its end, and warm-started
    from a nearby λ, the support no longer changes), then on what some iterations of a bound-constrained
    quasi-Newton solve find, and only then is that solve run to its tolerance (:func:`_enet_box`): an
    iterative solve converges slowly when Q is ill-conditioned, and its last digits are what stalled
    Newton's convergence.
    """
    d = q.shape[0]
    if d == 0:
        return np.zeros(0)
    if r == 0:  # ridge: one linear solve
        return _ridge_solve(Q, q, lam)
    exact = min(tol, EXACT_RTOL)
    # An inexact step (fewer iterations) of a large problem looks for no exact solution; a small one's is cheap.
    precise = max_iter >= INNER_MAX_ITER or d <= ACTIVE_SET_JOINS
    guess = _on_support(Q, q, lam, r, start) if precise else None
    if guess is not None and _gram_violation(Q, q, lam, r, guess) <= exact:
        return guess
    return _enet_box(Q, q, lam, r, start, tol, max_iter, precise)


def _enet_box(
    Q: np.ndarray, q: np.ndarray, lam: float, r: float, start: np.ndarray, tol: float, max_iter: int, precise: bool
) -> np.ndarray:
    """:func:`_enet_gram` when the start's support is not the solution's: the problem as a smooth one in
    v = u − w, u, w ≥ 0 (the penalty λr·Σ(u + w) is then linear), solved by SciPy's L-BFGS-B within its
    bounds — when ``precise``, PROBE_STEPS iterations, then the exact solution on the support they found
    (:func:`_on_support`), then the rest of ``max_iter`` and that again; otherwise ``max_iter`` iterations in
    one run (a restart would lose the curvature it has gathered). Each evaluation is one product with Q
    (an iteration's line search may take more than one). Stops when the projected gradient is at most
    ``tol`` of the problem's scale (:func:`_gram_violation`'s). The closer of the two (iterate or support
    solution) by objective is returned when neither is exact; the caller's line search and optimality
    check judge it either way."""
    from scipy.optimize import minimize

    d = q.shape[0]
    ridge, l1 = lam * (1 - r), lam * r
    exact = min(tol, EXACT_RTOL)

    def objective(z: np.ndarray) -> tuple[float, np.ndarray]:
        v = z[:d] - z[d:]
        g = Q @ v + ridge * v - q
        return 0.5 * float(v @ (g - q)) + l1 * float(z.sum()), np.concatenate([g + l1, l1 - g])

    v = np.array(start, dtype=np.float64)
    guess = None
    bounds = [(0.0, None)] * (2 * d)
    probe = min(PROBE_STEPS, max_iter) if precise else max_iter
    for steps in (probe, max_iter - probe):
        if steps == 0:
            break
        scale = _gram_scale(q, Q @ v, lam)
        z = np.concatenate([np.maximum(v, 0.0), np.maximum(-v, 0.0)])
        found = minimize(
            objective,
            z,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": steps, "gtol": tol * scale, "ftol": 0.0},
        )
        v = found.x[:d] - found.x[d:]
        guess = _on_support(Q, q, lam, r, v) if precise else None
        if guess is not None and _gram_violation(Q, q, lam, r, guess) <= exact:
            return guess
    return _better(Q, q, lam, r, v, guess)


def _ridge_solve(Q: np.ndarray, q: np.ndarray, lam: float) -> np.ndarray:
    """``argmin ½vᵀQv − qᵀv + λ/2·‖v‖²``: ``(Q + λI)⁻¹q`` (Cholesky; least squares if singular)."""
    from regtune.models._base import solve_sym

    M = Q + lam * np.eye(Q.shape[0])
    return solve_sym(M, q)


def _gram_objective(Q: np.ndarray, q: np.ndarray, lam: float, r: float, v: np.ndarray) -> float:
    return 0.5 * float(v @ (Q @ v)) - float(q @ v) + _penalty(v, lam, r)


def _gram_violation(Q: np.ndarray, q: np.ndarray, lam: float, r: float, v: np.ndarray) -> float:
    """The largest violation of the optimality conditions of ``½vᵀQv − qᵀv + λP(v)`` at v, relative to the
    scale of its terms."""
    Qv = Q @ v
    g = Qv - q + lam * (1 - r) * v
    on = v != 0
    worst = max(
        float(np.max(np.abs(g[on] + lam * r * np.sign(v[on])), initial=0.0)),
        float(np.max(np.abs(g[~on]) - lam * r, initial=0.0)),
    )
    return worst / _gram_scale(q, Qv, lam)


def _on_support(Q: np.ndarray, q: np.ndarray, lam: float, r: float, v: np.ndarray) -> np.ndarray | None:
    """A minimiser of ``½vᵀQv − qᵀv + λP(v)`` by an active-set search from ``v`` (feature-sign search,
    Lee, Battle, Raina & Ng, 2007): on a support with fixed signs the problem is quadratic (one linear
    solve). A step goes to that solution when it lowers the objective, else to the first point on the way
    where a coordinate crosses zero (that coordinate leaves the support), which lowers it whenever the
    coordinates that joined have the right sign. When the support's own conditions hold, the zero
    coordinates whose gradient exceeds λr join with the sign that lowers the objective: all at once, and
    after a step that does not descend or a singular solve (collinear joiners), one at a time (the most
    violating first) from where it stood.
    None when that does not settle within the budget of solves (ACTIVE_SET_STEPS and one per coordinate;
    beyond ACTIVE_SET_JOINS coordinates, :func:`_support_guess`), a solve fails, or a step does not
    descend; the caller checks the answer's optimality conditions either way."""
    if q.shape[0] > ACTIVE_SET_JOINS:
        return _support_guess(Q, q, lam, r, v)
    found = _feature_sign(Q, q, lam, r, v)
    if found is None and r == 1.0:
        # Exactly collinear coordinates (every level of a categorical, as glmnet encodes them): the Lasso's
        # solution is not unique and a support holding them all is singular. A vanishing ridge picks one of
        # its solutions, optimal for the Lasso itself to ~VANISHING_RIDGE·λ (the caller checks).
        found = _feature_sign(Q, q, lam, 1.0 - VANISHING_RIDGE, v)
    return found


def _feature_sign(Q: np.ndarray, q: np.ndarray, lam: float, r: float, v: np.ndarray) -> np.ndarray | None:
    """:func:`_on_support`'s search (a problem of at most ACTIVE_SET_JOINS coordinates)."""
    from regtune.models._base import solve_pd

    d = q.shape[0]
    x = np.array(v, dtype=np.float64)
    sign = np.sign(x)
    bound = lam * r * (1 + EXACT_RTOL)
    single = False
    f_now = _gram_objective(Q, q, lam, r, x)
    for _ in range(ACTIVE_SET_STEPS + d + 1):
        g = Q @ x - q + lam * (1 - r) * x
        on = sign != 0
        settled = not on.any() or float(np.max(np.abs(g[on] + lam * r * sign[on]))) <= EXACT_RTOL * (
            lam + float(np.max(np.abs(q), initial=0.0))
        )
        if settled:
            outside = np.where(on, 0.0, np.abs(g))
            if float(np.max(outside, initial=0.0)) <= bound:
                return x
            join = np.flatnonzero(outside > bound)
            if single:
                join = np.array([int(np.argmax(outside))])
            sign[join] = -np.sign(g[join])
        support = np.flatnonzero(sign)
        Qs = Q.take(support, axis=0).take(support, axis=1)
        Qs[np.diag_indices_from(Qs)] += lam * (1 - r)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # an ill-conditioned solve is judged by its result
                exact = solve_pd(Qs, q[support] - lam * r * sign[support])
        except np.linalg.LinAlgError:
            exact = np.full(support.size, np.nan)
        if not np.all(np.isfinite(exact)):  # a singular support (collinear joiners): one at a time instead
            if single:
                return None
            single, sign = True, np.sign(x)
            continue
        target = np.zeros_like(x)
        target[support] = exact
        best, best_f = target, _gram_objective(Q, q, lam, r, target)
        slack = EXACT_RTOL * abs(f_now)  # a start already at the optimum: equal to rounding
        if best_f > f_now + slack:
            crossing = np.flatnonzero((x != 0) & (np.sign(target) != sign))
            if crossing.size:
                ts = x[crossing] / (x[crossing] - target[crossing])
                first = float(ts.min())
                best = x + first * (target - x)
                best[crossing[ts <= first]] = 0.0
                best[np.sign(best) != sign] = 0.0  # rounded across zero: leaves too
                best_f = _gram_objective(Q, q, lam, r, best)
        if best_f > f_now + slack:  # no descent: the joiners' signs were wrong together
            if single:
                return None
            single, sign = True, np.sign(x)
            continue
        x, f_now = best, best_f
        sign = np.sign(x)
    return None


def _support_guess(Q: np.ndarray, q: np.ndarray, lam: float, r: float, v: np.ndarray) -> np.ndarray | None:
    """:func:`_on_support` for a large problem: a few active-set steps from the support and signs of ``v``
    (none from zero): on a support with fixed signs the problem is quadratic (one linear solve,
    :class:`_SupportSolves`); a coordinate whose sign the solve flips leaves the support, one whose gradient
    exceeds λr joins it with the sign that lowers the objective. None when that does not settle within
    LARGE_ACTIVE_SET_STEPS solves or a solve fails; the caller checks the answer's optimality conditions
    either way."""
    sign = np.sign(v)
    solves = _SupportSolves(Q, lam * (1 - r))
    for _ in range(LARGE_ACTIVE_SET_STEPS):
        support = np.flatnonzero(sign)
        if support.size == 0:
            return None
        try:
            exact = solves.solve(support, q[support] - lam * r * sign[support])  # judged by its result
        except (np.linalg.LinAlgError, ValueError):
            return None
        flipped = np.sign(exact) != sign[support]
        if flipped.any():
            sign[support[flipped]] = 0.0
            continue
        candidate = np.zeros_like(v, dtype=np.float64)
        candidate[support] = exact
        g = Q @ candidate - q
        join = (sign == 0) & (np.abs(g) > lam * r * (1 + EXACT_RTOL))
        if not join.any():
            return candidate
        sign[join] = -np.sign(g[join])
    return None


class _SupportSolves:
    """Solutions of ``(Q + ρI)_SS x = b`` for the supports S of one active-set search, which mostly differ
    from each other in a few coordinates.

    The first support's matrix is factored (Cholesky). A later support that differs from that base in at
    most BORDER_SHARE of its coordinates is solved with the base's factor: the base's system bordered by the
    coordinates that joined, with constraints that hold those that left at zero — triangular solves, O(m²)
    each, for one right-hand side per changed coordinate, and a dense solve of their number's size (their
    Schur complement), where a new factor is O(m³). That answer is kept when its residual is at rounding
    level (a Schur complement loses accuracy on an ill-conditioned base, which a factor of its own does
    not); otherwise, and for a support further away, the support's own matrix is factored and becomes the
    base. On digits' fixed replay (60 trials, the old and the new search run on the same subproblems in
    turn) the searches took 1.18 s of CPU against 1.46 s with a factor per solve; on a quarter of those
    subproblems (179) they found the same supports, the solutions equal to 2e-7 (the conditioning of Q).
    """

    def __init__(self, Q: np.ndarray, ridge: float) -> None:
        from scipy.linalg import get_lapack_funcs

        self.Q, self.ridge = Q, ridge
        self.potrf, self.potrs = get_lapack_funcs(("potrf", "potrs"), (Q,))
        self.scale: float | None = None  # max |Q| + ρ, when a bordered answer is first checked
        self.base: np.ndarray | None = None
        self.factor: np.ndarray | None = None

    def solve(self, support: np.ndarray, rhs: np.ndarray) -> np.ndarray:
        """x on ``support`` (sorted positions); ``numpy.linalg.LinAlgError`` when its matrix is not positive
        definite."""
        base, factor = self.base, self.factor
        if base is not None and factor is not None:
            kept = np.isin(base, support, assume_unique=True)
            joined = np.setdiff1d(support, base, assume_unique=True)
            if joined.size + int(np.count_nonzero(~kept)) <= BORDER_SHARE * base.size:
                x = self._bordered(base, factor, support, rhs, kept, joined)
                if x is not None:
                    return x
        A = self.Q.take(support, axis=0).take(support, axis=1)
        A[np.diag_indices_from(A)] += self.ridge
        factor, info = self.potrf(A, lower=True, overwrite_a=True, clean=False)
        if info != 0:
            raise np.linalg.LinAlgError(f"the matrix is not positive definite (LAPACK potrf: info {info})")
        self.base, self.factor = support, factor
        x, info = self.potrs(factor, rhs, lower=True)
        if info != 0 or not np.all(np.isfinite(x)):
            raise np.linalg.LinAlgError("the support's system has no finite solution")
        result: np.ndarray = x
        return result

    def _bordered(
        self,
        base: np.ndarray,
        factor: np.ndarray,
        support: np.ndarray,
        rhs: np.ndarray,
        kept: np.ndarray,
        joined: np.ndarray,
    ) -> np.ndarray | None:
        """:meth:`solve` with the base's factor A: ``[A E; Eᵀ F][x₀; y] = [b₀; c]``, E holding the joined
        coordinates' columns of Q and a unit column per coordinate that left (its multiplier y frees that
        row's equation and its constraint x₀ = 0 holds it at zero), F their Q block (zero for the
        constraints). None when the Schur complement F − EᵀA⁻¹E is singular or the answer's residual is
        not at rounding level."""
        m, j = base.size, joined.size
        left = np.flatnonzero(~kept)
        k = j + left.size
        at = np.searchsorted(support, base[kept])  # where the kept coordinates sit in the support
        at_joined = np.searchsorted(support, joined)
        E = np.zeros((m, k + 1))  # the right-hand side first, then the border
        E[kept, 0] = rhs[at]
        if j:
            E[:, 1 : j + 1] = self.Q[np.ix_(base, joined)]
        E[left, j + 1 + np.arange(left.size)] = 1.0
        solved, info = self.potrs(factor, E, lower=True)
        if info != 0:
            return None
        u, U = solved[:, 0], solved[:, 1:]
        T = -(E[:, 1:].T @ U)
        c = -(E[:, 1:].T @ u)
        if j:
            T[:j, :j] += self.Q[np.ix_(joined, joined)]
            T[np.arange(j), np.arange(j)] += self.ridge
            c[:j] += rhs[at_joined]
        try:
            y = np.linalg.solve(T, c) if k else c
        except np.linalg.LinAlgError:
            return None
        x = np.empty(support.size)
        x[at] = (u - U @ y)[kept]
        x[at_joined] = y[:j]
        if not np.all(np.isfinite(x)):
            return None
        full = np.zeros(self.Q.shape[0])
        full[support] = x
        # The support's rows of Q·x: taken when they are few (a wide binary problem's Q), else the whole product.
        Qx = self.Q.take(support, axis=0) @ full if 2 * support.size < full.size else (self.Q @ full)[support]
        residual = Qx + self.ridge * x - rhs
        if self.scale is None:
            self.scale = float(np.max(np.abs(self.Q), initial=0.0)) + self.ridge
        bound = BORDER_RTOL * (float(np.max(np.abs(rhs))) + self.scale * float(np.max(np.abs(x))))
        return x if float(np.max(np.abs(residual))) <= bound else None


def _better(Q: np.ndarray, q: np.ndarray, lam: float, r: float, v: np.ndarray, other: np.ndarray | None) -> np.ndarray:
    if other is not None and _gram_objective(Q, q, lam, r, other) <= _gram_objective(Q, q, lam, r, v):
        return other
    return v


@dataclass
class _Model:
    """A multinomial proximal-Newton step's quadratic model, without its gradient: the working set (its
    coordinates' class rows and columns), the weights' Hessian with the intercepts eliminated and the
    damping added (``Q``), and what maps a weight step to its intercept step. A chord step reuses it."""

    rows: np.ndarray
    cols: np.ndarray
    Q: np.ndarray
    HwbP: np.ndarray
    Hbb_pinv: np.ndarray
    Hwb: np.ndarray


def _loss_gradient(
    X: np.ndarray, Y: np.ndarray, eta: np.ndarray, sample_weight: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The class probabilities at ``eta`` (one column, the second class's, for two classes) and the mean
    log-loss's gradient in the weights and the intercepts."""
    if Y.shape[1] == 1:
        from scipy.special import expit

        P = expit(eta)
    else:
        P = np.exp(eta - _log_normalizer(eta)[:, None])
    R = P - Y if sample_weight is None else sample_weight[:, None] * (P - Y)
    return P, R.T @ X / X.shape[0], R.mean(axis=0)


@functools.lru_cache(maxsize=8)
def _centred_basis(K: int) -> np.ndarray:
    """An orthonormal basis (K × (K − 1)) of the vectors whose entries sum to zero (Helmert's)."""
    B = np.zeros((K, K - 1))
    for j in range(1, K):
        B[:j, j - 1] = 1.0
        B[j, j - 1] = -float(j)
        B[:, j - 1] /= math.sqrt(j * (j + 1))
    B.flags.writeable = False
    return B


def _multinomial_step(
    X: np.ndarray,
    Y: np.ndarray,
    W: np.ndarray,
    b: np.ndarray,
    eta: np.ndarray,
    lam: float,
    r: float,
    tol: float,
    damping: float,
    max_iter: int = INNER_MAX_ITER,
    XT: np.ndarray | None = None,
    sample_weight: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, _Model]:
    """The proximal-Newton direction (dW, db) of the multinomial problem, on a working set (``XT``: Xᵀ,
    contiguous, if the caller has it; ``sample_weight``, summing to n, multiplies each row's gradient and
    Hessian terms), and the quadratic model it came from (for :func:`_chord_step`).

    The working set is every non-zero coefficient and every zero one whose gradient is at least
    ``SCREEN``·λr, near the bound λr of its optimality condition (a strong rule in the safe form: it
    contains every violator, so a zero direction on it means the optimality conditions hold
    everywhere); the others stay at zero this step. On it the Hessian of the mean log-loss is
    ``blockdiag_k(X_kᵀ diag(p_k) X_k) − ZᵀZ`` with ``Z = [diag(p_k) X_k]_k`` (one product for all class
    pairs). The unpenalised intercepts are eliminated by a Schur complement (pseudo-inverse: the
    symmetric parametrisation makes their Hessian singular), leaving an elastic net in Gram form for the
    weights. ``damping``·I (relative to the largest curvature) is added to the weights' Hessian,
    Levenberg–Marquardt style: near-separable data make it nearly singular, and undamped steps then
    explode.
    """
    n, K = X.shape[0], Y.shape[1]
    s = sample_weight
    P, G, g_b = _loss_gradient(X, Y, eta, s)
    work = (W != 0) | (np.abs(G) >= SCREEN * lam * r)
    rows, cols = np.nonzero(work)  # row-major: each class's coordinates are contiguous
    XT = np.ascontiguousarray(X.T) if XT is None else XT
    XsT = XT[cols]  # the working set's columns as rows (contiguous copies)
    # With weights s: blockdiag_k(X_kᵀ diag(s·p_k) X_k) − ZᵀZ with Z = [diag(√s·p_k) X_k]_k (WT: the s·p_k
    # rows). Every row is scaled by 1/√n here, so that the products come out as means.
    root = 1 / math.sqrt(n)
    Ps = P if s is None else P * s[:, None]
    PT = np.ascontiguousarray((P if s is None else P * np.sqrt(s)[:, None]).T)
    PT *= root
    ZT = XsT * PT[rows]
    WT = ZT if s is None else XsT * (np.ascontiguousarray(Ps.T)[rows] * root)
    Hbb = (np.diag(Ps.sum(axis=0)) - Ps.T @ P) / n
    # Hbb·1 = 0 and Hwb·1 = 0 exactly: the pseudo-inverse is taken on the complement of that null direction,
    # in an orthonormal basis B of it — Hbb⁺ = CCᵀ with C = B·V·diag(μ)^(-1/2) from BᵀHbbB = V·diag(μ)·Vᵀ
    # (pinv(Hbb) alone would invert its rounding, ~1e-17, and leave Q with eigenvalues of −1e-5 its scale;
    # the square root of an inverse already taken would lose what a nearly singular Hbb has left).
    u = np.full(K, 1 / math.sqrt(K))
    B = _centred_basis(K)
    mu, V = np.linalg.eigh(B.T @ Hbb @ B)
    keep = mu > PINV_RTOL * max(float(np.trace(Hbb)), 1e-300)  # numpy.linalg.pinv's cut, of the largest
    C = (B @ V[:, keep]) / np.sqrt(mu[keep])
    Hbb_pinv = C @ C.T
    Hwb = -(WT @ P) * root
    Hwb[np.arange(rows.size), rows] += WT.sum(axis=1) * root
    Hwb -= np.outer(Hwb @ u, u)
    HwbP = Hwb @ Hbb_pinv
    # Q = Hww − Hwb·Hbb⁺·Hwbᵀ, every term a symmetric product (BLAS's syrk: half a general product's work,
    # and Q exactly symmetric): −(ZᵀZ + LLᵀ) with L = Hwb·C, then each class's block of X_kᵀ diag(s·p_k) X_k
    # added, in place.
    L = Hwb @ C
    Q = ZT @ ZT.T
    Q += L @ L.T
    np.negative(Q, out=Q)
    roots = np.sqrt(np.ascontiguousarray(Ps.T) / n)
    bounds = np.searchsorted(rows, np.arange(K + 1))
    for k in range(K):
        lo, hi = int(bounds[k]), int(bounds[k + 1])
        if hi > lo:
            Sk = XsT[lo:hi] * roots[k]
            Q[lo:hi, lo:hi] += Sk @ Sk.T
    Q[np.diag_indices_from(Q)] += damping * max(float(np.max(np.diag(Q), initial=0.0)), 1e-12)
    model = _Model(rows, cols, Q, HwbP, Hbb_pinv, Hwb)
    d_W, d_b = _model_direction(model, W, G, g_b, lam, r, tol, max_iter)
    return d_W, d_b, model


def _model_direction(
    model: _Model, W: np.ndarray, G: np.ndarray, g_b: np.ndarray, lam: float, r: float, tol: float, max_iter: int
) -> tuple[np.ndarray, np.ndarray]:
    """The step (dW, db) that minimises ``model`` with the gradient (G, g_b) plus the penalty."""
    rows, cols = model.rows, model.cols
    g = G[rows, cols] - model.HwbP @ g_b
    w = W[rows, cols]
    v = _enet_gram(model.Q, model.Q @ w - g, lam, r, w, tol, max_iter)
    d_w = v - w
    d_W = np.zeros_like(W)
    d_W[rows, cols] = d_w
    d_b = -model.Hbb_pinv @ (model.Hwb.T @ d_w + g_b)
    return d_W, d_b


def _chord_step(
    X: np.ndarray,
    Y: np.ndarray,
    W: np.ndarray,
    eta: np.ndarray,
    lam: float,
    r: float,
    tol: float,
    model: _Model,
    sample_weight: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray] | None:
    """A step with the previous full step's quadratic model and the gradient here (a chord, or simplified,
    Newton step: no Hessian to build, a full step's main cost); None when a coordinate outside that
    model's working set now violates its optimality condition (its gradient has reached λr: the working
    set would no longer hold every violator). Near the optimum, after a short full step, the Hessian has
    barely moved, and the chord step converges almost as a full one would. Its model is positive
    definite, so its direction descends and the line search and the optimality check after it are the
    same as for a full step."""
    _, G, g_b = _loss_gradient(X, Y, eta, sample_weight)
    # W's non-zero coefficients are inside: the model's working set held those of the point it was built
    # at, and its step moved only coordinates of that set.
    outside = np.ones(W.shape, dtype=bool)
    outside[model.rows, model.cols] = False
    if np.any(np.abs(G[outside]) >= lam * r):
        return None
    return _model_direction(model, W, G, g_b, lam, r, tol, INNER_MAX_ITER)


def _line_search(
    f: float,
    eta: np.ndarray,
    delta: np.ndarray,
    W: np.ndarray,
    d_W: np.ndarray,
    Y: np.ndarray,
    lam: float,
    r: float,
    binary: bool,
    sample_weight: np.ndarray | None = None,
) -> tuple[float, float] | None:
    """Backtrack from the full Newton step; the accepted (t, objective), or None if nothing decreases."""
    t = 1.0
    while t >= 1e-6:
        f_try = _loss(eta + t * delta, Y, binary, sample_weight) + _penalty(W + t * d_W, lam, r)
        if f_try <= f + 1e-12 * max(1.0, abs(f)):
            return t, f_try
        t *= 0.5
    return None


@on_one_blas_thread
def fit_ridge_lbfgs(
    X: np.ndarray,
    y: np.ndarray,
    classes: np.ndarray,
    lam: float,
    *,
    tol: float,
    coef_init: np.ndarray | None = None,
    intercept_init: np.ndarray | None = None,
    max_iter: int = 2_000,
    sample_weight: np.ndarray | None = None,
) -> LogisticSolution:
    """Fit ``mean log-loss + λ/2·‖W‖²`` (intercepts unpenalised) by SciPy's L-BFGS-B with the stopping rules
    of scikit-learn's lbfgs solver (the largest gradient entry at most ``tol``, a relative decrease of the
    objective below 64 machine epsilons, ``max_iter`` iterations), without scikit-learn: for a model whose
    Newton Hessian costs more than these iterations (:func:`regtune.models.logistic.ridge_by_lbfgs`).
    ``sample_weight`` as in :func:`fit_logistic_enet`. Converged as scikit-learn judges it (L-BFGS-B's
    status 0), or when its line search stopped (status 2, rounding) with the gradient within ``tol``."""
    from scipy.optimize import minimize
    from scipy.special import expit

    n, p = X.shape
    Y, binary, s = _targets(y, classes, sample_weight)
    k = Y.shape[1]
    W = np.zeros((k, p)) if coef_init is None else np.array(coef_init, dtype=np.float64)
    b = _null_intercept(Y, binary, s) if intercept_init is None else np.array(intercept_init, dtype=np.float64)

    picked = Y.astype(bool)

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        W, b = theta[: k * p].reshape(k, p), theta[k * p :]
        eta = X @ W.T + b
        if binary:  # log(1 + e^η) − yη, and p − y
            e = eta[:, 0]
            rows = np.logaddexp(0.0, e) - np.where(picked[:, 0], e, 0.0)
            R = (expit(e) - Y[:, 0])[:, None]
        else:  # log Σ e^η − η_y, and softmax(η) − y: one exponential of η
            top = eta.max(axis=1)
            E = np.exp(eta - top[:, None])
            total = E.sum(axis=1)
            rows = top + np.log(total) - eta[picked]
            R = E / total[:, None] - Y
        if s is not None:
            rows, R = s * rows, s[:, None] * R
        value = float(rows.mean()) + 0.5 * lam * float(np.sum(W * W))
        return value, np.concatenate([(R.T @ X / n + lam * W).ravel(), R.mean(axis=0)])

    found = minimize(
        objective,
        np.concatenate([W.ravel(), b]),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": max_iter, "maxls": 50, "gtol": tol, "ftol": 64 * np.finfo(float).eps},
    )
    theta = found.x
    converged = found.status == 0 or (found.status == 2 and float(np.max(np.abs(found.jac))) <= tol)
    return LogisticSolution(theta[: k * p].reshape(k, p).copy(), theta[k * p :].copy(), converged, found.nit)


def kkt_violation(
    X: np.ndarray,
    Y: np.ndarray,
    W: np.ndarray,
    eta: np.ndarray,
    lam: float,
    r: float,
    sample_weight: np.ndarray | None = None,
) -> float:
    """The largest violation of the optimality conditions at (W, b) — ``eta = XWᵀ + b`` — for
    ``mean log-loss + λ(r‖W‖₁ + (1 − r)/2‖W‖²)``: the gradient in each intercept is zero; for a non-zero
    coefficient, ``g + λ(1 − r)w + λr·sign(w) = 0``; for a zero one, ``|g| ≤ λr``."""
    _, G, g_b = _loss_gradient(X, Y, eta, sample_weight)
    G = G + lam * (1 - r) * W
    active = W != 0
    on = np.abs(G[active] + lam * r * np.sign(W[active]))
    off = np.maximum(np.abs(G[~active]) - lam * r, 0.0)
    return float(max(np.max(on, initial=0.0), np.max(off, initial=0.0), np.max(np.abs(g_b))))


@on_one_blas_thread
def fit_logistic_enet(
    X: np.ndarray,
    y: np.ndarray,
    classes: np.ndarray,
    lam: float,
    r: float,
    *,
    tol: float = 1e-4,
    coef_init: np.ndarray | None = None,
    intercept_init: np.ndarray | None = None,
    max_iter: int = 200,
    sample_weight: np.ndarray | None = None,
) -> LogisticSolution:
    """Fit the penalised logistic model (BLAS on one thread: :mod:`regtune.models._threads`).

    Converged when the optimality conditions hold to ``tol`` relative to the penalty's scale: the largest
    KKT violation (:func:`kkt_violation`) is at most ``tol·max(λ·max(r, 0.05), 1e-3·λ_max)``. So a fit
    warm-started from a nearby λ always moves (its KKT conditions are violated by about |Δλ|·r), and two
    λ more than ``tol`` apart (relatively) never return the same solution unless it really is the same.
    When a Newton direction fails to decrease the objective before that, the inner solve is tightened and
    the step tried again; a fit that cannot reach the conditions is reported as not converged.
    ``sample_weight`` (≥ 0, rescaled to sum to n): the loss is the weighted mean of the rows' log-losses.
    """
    from scipy.special import expit

    p = X.shape[1]
    Y, binary, s = _targets(y, classes, sample_weight)
    gmax = null_gradient_max(X, Y, s)
    if r > 0 and lam * r >= gmax * (1 - NULL_RTOL):
        # λ ≥ λ_max: the null model (every coefficient exactly zero) is the optimum.
        return LogisticSolution(np.zeros((Y.shape[1], p)), _null_intercept(Y, binary, s), True, 0)
    W = np.zeros((Y.shape[1], p)) if coef_init is None else np.array(coef_init, dtype=np.float64)
    b = _null_intercept(Y, binary, s) if intercept_init is None else np.array(intercept_init, dtype=np.float64)

    eta = X @ W.T + b
    f = _loss(eta, Y, binary, s) + _penalty(W, lam, r)
    inner_tol = tol * INNER_TOL
    damping = 1e-8
    kkt_tol = tol * max(lam * max(r, 0.05), 1e-3 * gmax)
    previous = math.inf
    current = math.inf if binary else kkt_violation(X, Y, W, eta, lam, r, s)
    XT = None if binary else np.ascontiguousarray(X.T)
    model: _Model | None = None  # the last full multinomial step's quadratic model (None once chorded)
    built: _Model | None = None  # the last one built (returned with the solution)
    for it in range(1, max_iter + 1):
        chord: tuple[np.ndarray, np.ndarray] | None = None
        if binary:
            prob = expit(eta[:, 0])
            w = np.maximum(prob * (1 - prob), MIN_WEIGHT)
            z = eta[:, 0] + (Y[:, 0] - prob) / w
            beta, b0 = _weighted_enet(X, w if s is None else w * s, z, lam, r, W[0], inner_tol, damping)
            d_W, d_b = (beta - W[0])[None, :], np.array([b0 - b[0]])
        else:
            if model is not None and current <= CHORD * kkt_tol:
                chord = _chord_step(X, Y, W, eta, lam, r, inner_tol, model, s)
                model = None  # one chord step per model: if it does not finish, a full step follows
            if chord is not None:
                d_W, d_b = chord
            else:
                # Far from the optimum an inexact Newton direction does as well as an exact one.
                far = current > FAR * kkt_tol and inner_tol >= tol * INNER_TOL
                sweeps = EARLY_SWEEPS if far else INNER_MAX_ITER
                d_W, d_b, model = _multinomial_step(X, Y, W, b, eta, lam, r, inner_tol, damping, sweeps, XT, s)
                built = model
        delta = X @ d_W.T + d_b
        accepted = _line_search(f, eta, delta, W, d_W, Y, lam, r, binary, s)
        if accepted is None:  # no decrease along this direction: at the optimum, or an inexact direction
            if kkt_violation(X, Y, W, eta, lam, r, s) <= kkt_tol:
                return LogisticSolution(W, b, True, it, built)
            if chord is not None:  # the old model's direction: a full step next, with the same settings
                continue
            if inner_tol <= MIN_INNER_TOL:
                return LogisticSolution(W, b, False, it, built)
            inner_tol = max(inner_tol * 1e-2, MIN_INNER_TOL)
            damping = min(damping * 10, 1.0)
            model = None  # a rejected model is not reused: the next step builds one with the new damping
            continue
        t, f = accepted
        if chord is None:
            damping = max(damping / 10, 1e-10) if t == 1.0 else min(damping * 10, 1.0)
        W, b, eta = W + t * d_W, b + t * d_b, eta + t * delta
        violation = current = kkt_violation(X, Y, W, eta, lam, r, s)
        if violation <= kkt_tol:
            return LogisticSolution(W, b, True, it, built)
        if violation > 0.5 * previous and chord is None:
            # Newton has stalled at the inner solve's precision: solve the next subproblem more exactly.
            inner_tol = max(inner_tol * 1e-2, MIN_INNER_TOL)
        previous = violation
    return LogisticSolution(W, b, False, max_iter, built)
