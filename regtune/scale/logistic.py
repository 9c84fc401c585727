"""Binary logistic regression on ``--engine dask``: every fold's model advanced together, one pass over the
rows per Newton step.

The rows stay on the workers as raw vectors ``r`` (:func:`~regtune.scale.stats.raw_rows`), their 0/1
target and fold id (:func:`partition_rows`, persisted by the cluster). Fold k's encoded row is
``[x; 1] = M_k r`` (its training part's preprocessing, :func:`~regtune.scale.stats.encoding`), so its
linear predictor at θ = (w, b) is ``r · M_kᵀθ``: one product ``R B`` per partition gives every fold's
predictors at once. A pass (:func:`partition_pass`) returns, per fold, the training rows' log-loss,
``Σ p(1 − p) r rᵀ`` and ``Σ (p − y) r`` — the Hessian and the gradient, ``M_k(·)M_kᵀ / n`` away — and the
validation rows' log-loss, correct predictions and gradient (the score and its hypergradient).

On the client, :func:`fit_together` runs regtune's proximal Newton (:mod:`regtune.models._logistic_solver`:
the same subproblem solver ``_enet_gram``, the same optimality conditions and tolerance) on each fold from
those sums: the intercept eliminated, the step of the penalised quadratic model, a backtracking line
search whose trial points are the next pass's points. A full step (the usual case) needs no pass of its
own: the pass that checks its objective returns the Hessian there. So a trial of K folds costs as many
passes as its slowest fold takes Newton steps, whatever K.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from regtune.cv import FoldResult
from regtune.models._base import FitOutcome, Jacobian, Penalty, count_nonzero
from regtune.models.logistic import Logistic, LogisticFit, implicit_jacobian

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from regtune.folds import Fold
    from regtune.scale.stats import Layout, StatsFold

#: Newton steps of one fold's fit before it is reported as not converged (as the local solver).
MAX_STEPS = 200
#: The line search gives up below this step length (as the local solver's).
MIN_STEP = 1e-6
#: Solutions kept per fold as starting points (each holds its fold's Hessian: p² numbers).
KEEP_SOLVED = 32
#: The scorers a fold's pass sums can give.
SCORERS = ("neg_log_loss", "accuracy")


@dataclass
class Rows:
    """A partition's rows as the passes read them: the raw vectors' columns that are not zero in every row
    (``used``: a numeric column's missing mask where it has no gap, the levels the partition lacks are left
    out — a table without gaps has half the raw columns), the 0/1 target, the fold ids."""

    r: np.ndarray
    y: np.ndarray
    ids: np.ndarray
    used: np.ndarray


def partition_rows(frame: pd.DataFrame, target: str, positive: Any, folds: np.ndarray, layout: Layout) -> Rows:
    """A partition's :class:`Rows`: those with a target, ``y`` 1 where it is the class ``positive``."""
    import numpy as np

    from regtune.scale.stats import raw_rows

    y = binary_target(frame[target], positive)
    keep = ~np.isnan(y)
    r, used = raw_rows(frame[keep], layout)
    return Rows(r, y[keep], np.asarray(folds)[keep].astype(np.int64), used)


def binary_target(column: pd.Series, positive: Any) -> np.ndarray:
    """A binary target as 1.0 (the class ``positive``; a text class compared as text), 0.0 (the other) and
    NaN (missing)."""
    import numpy as np

    present = column.notna().to_numpy()
    compared = (column.astype(str) if isinstance(positive, str) else column).eq(positive)
    hit = compared.to_numpy(dtype=bool, na_value=False)  # a nullable column: NA compares as NA
    result: np.ndarray = np.where(present, hit.astype(np.float64), np.nan)
    return result


@dataclass
class PassSums:
    """What a pass returns for m models (sums over the partitions): the training rows' log-loss ``loss``,
    ``G = Σ p(1 − p) r rᵀ`` and ``g = Σ (p − y) r``; the validation rows' log-loss (probabilities clipped as
    scikit-learn's scorer clips them), correct predictions and ``Σ (p − y) r``."""

    loss: np.ndarray
    G: np.ndarray
    g: np.ndarray
    val_loss: np.ndarray
    val_correct: np.ndarray
    val_g: np.ndarray

    def __add__(self, other: PassSums) -> PassSums:
        return PassSums(
            self.loss + other.loss,
            self.G + other.G,
            self.g + other.g,
            self.val_loss + other.val_loss,
            self.val_correct + other.val_correct,
            self.val_g + other.val_g,
        )


def partition_pass(rows: Rows, B: np.ndarray, held: np.ndarray) -> PassSums:
    """One partition's :class:`PassSums` for the models whose raw coefficients are the columns of ``B``
    (d × m); model j trains on the rows whose fold id is not ``held[j]`` (−1: every row) and is validated
    on the others."""
    import numpy as np
    from scipy.linalg.blas import dsyrk
    from scipy.special import expit, log_expit

    d, m = B.shape
    loss, val_loss, val_correct = np.zeros(m), np.zeros(m), np.zeros(m)
    G, g, val_g = np.zeros((m, d, d)), np.zeros((m, d)), np.zeros((m, d))
    eps = np.finfo(np.float64).eps
    used = rows.used
    block = np.ix_(used, used)
    eta = rows.r @ B[used]
    for j in range(m):
        test = rows.ids == held[j]
        train = ~test
        r, y, e = rows.r[train], rows.y[train], eta[train, j]
        if len(y):
            p = expit(e)
            loss[j] = float(-(y @ log_expit(e)) - (1 - y) @ log_expit(-e))
            weighted = r * np.sqrt(p * (1 - p))[:, None]
            upper = dsyrk(1.0, weighted.T, trans=0, lower=0)
            G[j][block] = upper + np.triu(upper, 1).T
            g[j, used] = r.T @ (p - y)
        r, y, e = rows.r[test], rows.y[test], eta[test, j]
        if len(y):
            p = expit(e)
            picked = np.clip(np.where(y == 1, p, 1 - p), eps, 1 - eps)
            val_loss[j] = float(-np.log(picked).sum())
            val_correct[j] = float(((e > 0) == (y == 1)).sum())
            val_g[j, used] = r.T @ (p - y)
    return PassSums(loss, G, g, val_loss, val_correct, val_g)


#: ``run(B, held)``: the :class:`PassSums` of every partition for those models, summed (on the cluster).
Runner = Callable[["np.ndarray", "np.ndarray"], PassSums]


@dataclass
class Point:
    """A model's coefficients θ = (w, b) in its fold's encoded columns, and what a pass said there."""

    w: np.ndarray
    b: float
    #: The training rows' mean log-loss (NaN until a pass evaluates the point).
    loss: float = math.nan
    #: The mean log-loss's gradient and Hessian in θ (the intercept last).
    grad: np.ndarray | None = None
    hessian: np.ndarray | None = None
    val_loss: float = 0.0
    val_correct: float = 0.0
    #: ``Σ (p − y)[x; 1]`` over the validation rows.
    val_grad: np.ndarray | None = None

    def objective(self, lam: float, r: float) -> float:
        return self.loss + _penalty(self.w, lam, r)


@dataclass
class Model:
    """One fold's fit in progress (the whole table's for the refit: ``held`` −1)."""

    fold: StatsFold
    held: int
    M: np.ndarray
    current: Point
    candidate: Point | None = None
    step: tuple[np.ndarray, float] | None = None
    t: float = 1.0
    steps: int = 0
    done: bool = False
    converged: bool = True
    inner_tol: float = 0.0
    damping: float = 1e-8
    previous: float = math.inf
    kkt_tol: float = 0.0
    #: λ·r ≥ λ_max: the null model is the solution (one pass for its validation sums).
    null: bool = False


def null_gradient(fold: StatsFold) -> float:
    """The largest gradient of the mean log-loss at w = 0 (intercept at its optimum): ``max |Xᵀ(y − ȳ)|/n``
    from the fold's least-squares sums of its 0/1 target."""
    import numpy as np

    _, xy = fold.gram()
    return float(np.max(np.abs(xy), initial=0.0)) / fold.n_train


def null_intercept(fold: StatsFold) -> float:
    share = min(max(fold.y_train_mean, 1e-12), 1 - 1e-12)
    return math.log(share / (1 - share))


def _penalty(w: np.ndarray, lam: float, r: float) -> float:
    import numpy as np

    return lam * (r * float(np.abs(w).sum()) + 0.5 * (1 - r) * float(w @ w))


def _violation(point: Point, lam: float, r: float) -> float:
    """The largest violation of the optimality conditions at ``point`` (the local solver's ``kkt_violation``)."""
    import numpy as np

    assert point.grad is not None
    w = point.w
    G = point.grad[:-1] + lam * (1 - r) * w
    on = w != 0
    return float(
        max(
            np.max(np.abs(G[on] + lam * r * np.sign(w[on])), initial=0.0),
            np.max(np.maximum(np.abs(G[~on]) - lam * r, 0.0), initial=0.0),
            abs(float(point.grad[-1])),
        )
    )


def _newton_step(model: Model, lam: float, r: float) -> tuple[np.ndarray, float]:
    """The proximal-Newton direction at ``model.current``: the intercept eliminated (a Schur complement), the
    penalised quadratic model of the weights solved by the local solver's ``_enet_gram``, with its
    Levenberg–Marquardt damping."""
    import numpy as np

    from regtune.models._logistic_solver import INNER_MAX_ITER, _enet_gram

    point = model.current
    assert point.grad is not None and point.hessian is not None
    H, grad = point.hessian, point.grad
    Hbb = max(float(H[-1, -1]), 1e-300)
    Hwb = H[:-1, -1]
    Q = H[:-1, :-1] - np.outer(Hwb, Hwb) / Hbb
    Q = 0.5 * (Q + Q.T)
    Q[np.diag_indices_from(Q)] += model.damping * max(float(np.max(np.diag(Q), initial=0.0)), 1e-12)
    g = grad[:-1] - Hwb * (float(grad[-1]) / Hbb)
    v = _enet_gram(Q, Q @ point.w - g, lam, r, point.w, model.inner_tol, INNER_MAX_ITER)
    d_w = v - point.w
    return d_w, -(float(grad[-1]) + float(Hwb @ d_w)) / Hbb


def _propose(model: Model, lam: float, r: float) -> None:
    d_w, d_b = _newton_step(model, lam, r)
    model.step, model.t = (d_w, d_b), 1.0
    model.candidate = Point(model.current.w + d_w, model.current.b + d_b)


def _read(model: Model, sums: PassSums, j: int, point: Point) -> None:
    """The pass's sums of model ``j`` into ``point`` (in the fold's encoded columns)."""
    M, n = model.M, model.fold.n_train
    point.loss = float(sums.loss[j]) / n
    point.grad = M @ sums.g[j] / n
    H = M @ sums.G[j] @ M.T / n
    point.hessian = 0.5 * (H + H.T)
    point.val_loss, point.val_correct = float(sums.val_loss[j]), float(sums.val_correct[j])
    point.val_grad = M @ sums.val_g[j]


def fit_together(
    folds: list[StatsFold],
    held: list[int],
    penalty: Penalty,
    tol: float,
    warms: list[Point | None],
    run: Runner,
) -> list[Model]:
    """Fit ``penalty`` on every fold at once (fold i trains on the rows whose fold id is not ``held[i]``),
    to the local solver's optimality conditions: each pass evaluates every unfinished fold's next point.
    A fold starts from its ``warms`` point (else the null model); one a pass has already evaluated (an
    earlier trial's solution: the log-loss, its gradient and Hessian do not depend on λ) takes its first
    Newton step without a pass."""
    import numpy as np

    from regtune.models._logistic_solver import INNER_TOL, NULL_RTOL
    from regtune.models.logistic import NEWTON_TOL_FACTOR

    lam, r = penalty.lam, penalty.l1_ratio
    tol = tol * NEWTON_TOL_FACTOR if penalty.is_l2 else tol  # as the local family asks its solver
    models = []
    for fold, k, warm in zip(folds, held, warms, strict=True):
        assert fold.encoding is not None
        M = fold.encoding.matrix()
        gmax = null_gradient(fold)
        null = r > 0 and lam * r >= gmax * (1 - NULL_RTOL)
        start = Point(np.zeros(M.shape[0] - 1), null_intercept(fold)) if null or warm is None else warm
        model = Model(fold, k, M, start, candidate=start, inner_tol=tol * INNER_TOL)
        model.kkt_tol = tol * max(lam * max(r, 0.05), 1e-3 * gmax)
        model.null = null
        if start.grad is not None:  # evaluated already: the first step needs no pass
            model.candidate = None
            _advance(model, lam, r)
        models.append(model)
    while True:
        pending = [m for m in models if not m.done]
        if not pending:
            return models
        B = np.column_stack([m.M.T @ np.append(m.candidate.w, m.candidate.b) for m in pending if m.candidate])
        sums = run(B, np.array([m.held for m in pending], dtype=np.int64))
        for j, model in enumerate(pending):
            candidate = model.candidate
            assert candidate is not None
            _read(model, sums, j, candidate)
            if model.current is candidate:  # the start point
                model.done = model.null
                if not model.done:
                    _advance(model, lam, r)
                continue
            f = model.current.objective(lam, r)
            if candidate.objective(lam, r) <= f + 1e-12 * max(1.0, abs(f)):
                full = model.t == 1.0
                model.damping = max(model.damping / 10, 1e-10) if full else min(model.damping * 10, 1.0)
                model.current = candidate
                model.steps += 1
                _advance(model, lam, r)
            else:
                _backtrack(model, lam, r)


def _advance(model: Model, lam: float, r: float) -> None:
    """After a point is accepted: done when its optimality conditions hold (after at least one step, as the
    local solver), else the next Newton step's candidate."""
    from regtune.models._logistic_solver import MIN_INNER_TOL

    violation = _violation(model.current, lam, r)
    if model.steps > 0 and violation <= model.kkt_tol:
        model.done = True
        return
    if model.steps >= MAX_STEPS:
        model.done, model.converged = True, False
        return
    if violation > 0.5 * model.previous:
        # Newton has stalled at the inner solve's precision: solve the next subproblem more exactly.
        model.inner_tol = max(model.inner_tol * 1e-2, MIN_INNER_TOL)
    if model.steps > 0:
        model.previous = violation
    _propose(model, lam, r)


def _backtrack(model: Model, lam: float, r: float) -> None:
    """A candidate that does not lower the objective (NaN neither): half the step; below MIN_STEP, done if
    the current point is optimal, else a more exact (and more damped) Newton step."""
    from regtune.models._logistic_solver import MIN_INNER_TOL

    model.t *= 0.5
    if model.t >= MIN_STEP:
        assert model.step is not None
        d_w, d_b = model.step
        model.candidate = Point(model.current.w + model.t * d_w, model.current.b + model.t * d_b)
    elif _violation(model.current, lam, r) <= model.kkt_tol:
        model.done = True
    elif model.inner_tol <= MIN_INNER_TOL:
        model.done, model.converged = True, False
    else:
        model.inner_tol = max(model.inner_tol * 1e-2, MIN_INNER_TOL)
        model.damping = min(model.damping * 10, 1.0)
        _propose(model, lam, r)


def jacobian(model: Model, penalty: Penalty) -> Jacobian:
    """The fold solution's derivatives in λ (and l1_ratio), from the Hessian its last pass returned."""
    import numpy as np

    point = model.current
    assert point.hessian is not None
    p = point.w.size
    active = np.flatnonzero(point.w)
    columns = np.append(active, p)
    H = point.hessian[np.ix_(columns, columns)]
    return implicit_jacobian(H, point.w[None, :], [active], np.array([0, active.size + 1]), penalty)


class StatsLogistic(Logistic):
    """regtune's logistic regression (binary) on :class:`~regtune.scale.stats.StatsFold` folds whose rows stay
    on the cluster: ``fit_folds_together`` fits a penalty on every fold by passes over them (``run``);
    λ_max and the curvature come from the whole table's sums (``full``), as the local family computes them
    from its rows."""

    tasks = ()  # type: ignore[assignment]
    #: A trial starts from the nearest solution itself, whose gradient and Hessian an earlier pass gave
    #: (one pass fewer per trial), not from one moved along its tangent (a new point: one pass more).
    warm_predictor = False

    def __init__(self, full: StatsFold, classes: np.ndarray, run: Runner, seed: int = 0) -> None:
        super().__init__("classification", seed=seed, distribution="binomial")
        self.full = full
        self.classes = classes
        self.run = run
        #: Each fold's latest solutions with what their passes said (``start``).
        self.solved: dict[int, list[Point]] = {}
        #: Each penalty's fold solutions, averaged as raw coefficients (``Mₖᵀθₖ``): where the refit at that
        #: penalty starts (``refit_start``). A vector of the raw width per trial.
        self.raw_solutions: dict[tuple[float, float], np.ndarray] = {}

    def lambda_max(
        self, X: np.ndarray, y: np.ndarray, l1_ratio: float = 1.0, sample_weight: np.ndarray | None = None
    ) -> float:
        return null_gradient(self.full) / max(l1_ratio, 1e-3)

    def curvature(self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> np.ndarray:
        s, _, _ = self.full.svd()
        share = self.full.y_train_mean
        eigs: np.ndarray = share * (1 - share) * (s * s)[::-1] / self.full.n_train
        return eigs

    def outcome(self, model: Model) -> FitOutcome:
        import numpy as np

        coef, intercept = model.current.w[None, :].copy(), np.array([model.current.b])
        return FitOutcome(LogisticFit(coef, intercept, self.classes), coef, intercept, model.converged,
                          count_nonzero(coef))  # fmt: skip

    def start(self, fold: int, warm: tuple[np.ndarray, np.ndarray] | None) -> Point | None:
        """The point a fit of fold ``fold`` starts from: an earlier solution of it as a pass evaluated it
        (its stats: no pass for the first step), or a new point at ``warm``."""
        import numpy as np

        if warm is None:
            return None
        coef, intercept = np.asarray(warm[0], dtype=np.float64)[0], float(warm[1][0])
        for point in reversed(self.solved.get(fold, [])):
            if point.b == intercept and np.array_equal(point.w, coef):
                return point
        return Point(coef.copy(), intercept)

    def refit_start(self, fold: StatsFold, penalty: Penalty) -> Point | None:
        """Where the fit of ``penalty`` on ``fold`` (the whole table) starts: the folds' solutions at that
        penalty, averaged as raw coefficients and mapped to the fold's encoded columns (least squares of
        ``Mᵀθ = β``: exact when β is a model of these columns) — the whole table's optimum is near theirs, so
        the refit takes a pass or two instead of a cold start's several. None (the null model) without them."""
        import numpy as np

        beta = self.raw_solutions.get((float(penalty.lam), float(penalty.l1_ratio)))
        if beta is None or fold.encoding is None:
            return None
        theta = np.linalg.lstsq(fold.encoding.matrix().T, beta, rcond=None)[0]
        if not np.all(np.isfinite(theta)):
            return None
        return Point(theta[:-1].copy(), float(theta[-1]))

    def fit_fold(
        self, fold: Fold, penalty: Penalty, tol: float, warm: tuple[np.ndarray, np.ndarray] | None = None
    ) -> FitOutcome:
        """The fit on the whole table (the refit; ``fold`` is the whole table's :class:`StatsFold`), from
        ``warm`` or else from the folds' solutions at ``penalty`` (:meth:`refit_start`)."""
        from regtune.scale.stats import StatsFold

        assert isinstance(fold, StatsFold)
        held = fold.index if fold.index >= 0 else -1
        start = self.start(fold.index, warm) if warm is not None else self.refit_start(fold, penalty)
        (model,) = fit_together([fold], [held], penalty, tol, [start], self.run)
        return self.outcome(model)

    def fit_folds_together(
        self,
        folds: list[Fold],
        penalty: Penalty,
        tol: float,
        warms: list[tuple[np.ndarray, np.ndarray] | None],
        scorer: Any,
        hyper: str | None,
    ) -> list[FoldResult]:
        """Every fold's fit, its score (``scorer``, a :class:`PassScorer`) and, with ``hyper``
        (``neg_log_loss``), the hypergradient: the validation rows' gradient times the solution's Jacobian."""
        import numpy as np

        starts = [self.start(f.index, w) for f, w in zip(folds, warms, strict=True)]
        models = fit_together(folds, [f.index for f in folds], penalty, tol, starts, self.run)  # type: ignore[arg-type]
        for model in models:  # the newest KEEP_SOLVED solutions of each fold, for the next trials' starts
            kept = self.solved.setdefault(model.fold.index, [])
            kept.append(model.current)
            del kept[:-KEEP_SOLVED]
        raw = [m.M.T @ np.append(m.current.w, m.current.b) for m in models]
        self.raw_solutions[(float(penalty.lam), float(penalty.l1_ratio))] = np.mean(raw, axis=0)
        results = []
        for model in models:
            outcome = self.outcome(model)
            point = model.current
            n_val = validation_rows(model.fold)
            score = scorer.score(point, n_val)
            grad: tuple[float, float | None] | None = None
            if hyper == "neg_log_loss" and point.val_grad is not None and n_val > 0:
                try:
                    jac = jacobian(model, penalty)
                except (ValueError, ArithmeticError):  # LinAlgError too: the trial stands, without a derivative
                    jac = None
                if jac is not None:
                    # d(neg log-loss) = −Σ (p − y)·dη / n over the validation rows.
                    parts = [
                        -float(point.val_grad @ np.append(d_coef[0], d_int[0])) / n_val
                        for d_coef, d_int in (jac.d_log_lambda, *([jac.d_l1_ratio] if jac.d_l1_ratio else []))
                    ]
                    if all(math.isfinite(v) for v in parts):
                        grad = (parts[0], parts[1] if len(parts) > 1 else None)
            results.append(FoldResult.of(outcome, score, grad))
        return results


def validation_rows(fold: StatsFold) -> float:
    """The number of a fold's validation rows (its validation sums' count)."""
    return float(fold.test_stats.n) if fold.test_stats is not None else 0.0


class PassScorer:
    """A scorer of a fold's validation rows from a pass's sums: ``neg_log_loss`` or ``accuracy``, the numbers
    scikit-learn's scorers give on those rows."""

    def __init__(self, name: str) -> None:
        if name not in SCORERS:
            raise ValueError(name)
        self.name = name

    def score(self, point: Point, n_val: float) -> float:
        if n_val <= 0:
            return math.nan
        if self.name == "accuracy":
            return point.val_correct / n_val
        return -point.val_loss / n_val

    def __call__(self, *args: Any, **kwargs: Any) -> float:
        raise TypeError("a PassScorer scores a fold from its pass's sums (StatsLogistic.fit_folds_together)")
