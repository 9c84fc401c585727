"""Least squares with L1 (Lasso), L2 (ridge) and elastic-net penalties: ``--model linear`` for regression.

Objective: ``‖y − Xw − b‖²/(2n) + λ·(l1_ratio·‖w‖₁ + (1 − l1_ratio)/2·‖w‖²)``. Hence λ is scikit-learn's
``alpha`` for Lasso and ElasticNet, and Ridge's ``alpha`` is ``n·λ``.

Per fold, ridge is solved exactly for any λ from one thin SVD of the centred training matrix
(``w = V diag(s/(s² + nλ)) Uᵀ(y − ȳ)``, ``b = ȳ``); Lasso and elastic net run coordinate descent on the
fold's cached Gram matrix (when n > p), warm-started from the nearest λ solved on that fold.

Hypergradients (:meth:`LeastSquares.jacobian`): ridge differentiates the SVD formula,
``dw/dλ = −V diag(n·s/(s² + nλ)²) Uᵀ(y − ȳ)``; Lasso and elastic net differentiate the optimality
conditions on the active set A (implicit function theorem, Bertrand et al. 2020):
``(X_AᵀX_A/n + λ(1 − r)I)·dw_A/dλ = −(r·sign(w_A) + (1 − r)·w_A)`` and
``(…)·dw_A/dr = −λ·(sign(w_A) − w_A)``; coefficients outside A stay at zero. On centred folds the
intercept is ȳ and does not move.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from regtune.models._base import (
    Family,
    FitOutcome,
    Jacobian,
    LightRegressor,
    LinearFit,
    Penalty,
    catch_convergence,
    count_nonzero,
    normalized_weights,
    solve_sym,
    squared_singular_values,
)

if TYPE_CHECKING:
    import numpy as np

    from regtune.folds import Fold

MAX_ITER = 10_000
#: λ·r within this relative distance below λ_max still gives the null model (see ``_logistic_solver``):
#: at λ_max the KKT condition holds with equality and coordinate descent can leave a rounding-size coefficient.
NULL_RTOL = 1e-10


#: When a solve leaves the KKT conditions violated beyond the target, it is repeated from where it stopped
#: with a tolerance this much tighter, at most MAX_TIGHTENINGS times.
TIGHTEN = 1e-2
MAX_TIGHTENINGS = 4
#: scikit-learn's duality-gap test (gap < tol·‖y‖²) is far looser than the KKT target near a warm start:
#: the first solve already asks for this much more (measured: on diamonds 253 of 285 fold fits needed two
#: tightenings, on diabetes 211 of 300 one).
INITIAL_TIGHTENING = 1e-4


def kkt_violation(grad: np.ndarray, w: np.ndarray, penalty: Penalty) -> float:
    """The largest violation of the optimality conditions given the gradient of the mean squared loss:
    ``g + λ(1 − r)w + λr·sign(w) = 0`` for a non-zero coefficient, ``|g + λ(1 − r)w| ≤ λr`` for a zero one."""
    import numpy as np

    smooth = grad + penalty.l2 * w
    active = w != 0
    on = np.abs(smooth[active] + penalty.l1 * np.sign(w[active]))
    off = np.maximum(np.abs(smooth[~active]) - penalty.l1, 0.0)
    return float(max(np.max(on, initial=0.0), np.max(off, initial=0.0)))


def kkt_target(penalty: Penalty, xy_max: float, n: int, tol: float) -> float:
    """How far from the optimality conditions a solution may be: ``tol`` relative to the penalty's scale
    (λ·max(r, 0.05), floored at 1e-3·λ_max). A fit warm-started from a λ more than ``tol`` away (relatively)
    violates them by about |Δλ|·r, so it always moves: no stale solutions."""
    return tol * max(penalty.lam * max(penalty.l1_ratio, 0.05), 1e-3 * xy_max / n)


def _null_is_optimal(xy_max: float, n: int, penalty: Penalty) -> bool:
    """Whether every coefficient is exactly zero at the optimum: λ·r ≥ max|Xᵀ(y − ȳ)|/n (centred X)."""
    return not penalty.is_l2 and penalty.l1 >= xy_max / n * (1 - NULL_RTOL)


def regression_score_derivative(
    quantity: str, fold: Fold, outcome: FitOutcome, d_coef: np.ndarray, d_intercept: np.ndarray
) -> float | None:
    """d (fold test ``r2``, ``neg_mean_squared_error`` or ``neg_root_mean_squared_error``) for a change
    (d_coef, d_intercept) of a linear prediction ``Xw + b`` (weighted by the test rows' weights, if any);
    from the fold's validation statistics when it has them (:func:`validation_stats`)."""
    import numpy as np

    b = float(outcome.intercept[0])
    stats = validation_stats(fold)
    if stats is not None:
        inner = stats.residual_inner(outcome.coef, b, d_coef, float(d_intercept[0]))
        total_w, sse, ss_tot = stats.n, max(stats.sse(outcome.coef, b), 0.0), stats.total_ss()
    else:  # a small fold: a pass over its rows
        X, y = fold.X_test, fold.y_test
        w = np.ones(len(y)) if fold.weight_test is None else fold.weight_test
        total_w = float(w.sum())
        resid = y - (X @ outcome.coef + b)
        inner = float((w * resid) @ (X @ d_coef + d_intercept[0]))
        centred = y - float(w @ y) / total_w
        sse, ss_tot = float((w * resid) @ resid), float((w * centred) @ centred)
    if quantity == "r2":
        return 2.0 * inner / ss_tot if ss_tot > 0 else 0.0
    if quantity == "neg_mean_squared_error":
        return 2.0 * inner / total_w
    if quantity == "neg_root_mean_squared_error":
        rmse = math.sqrt(sse / total_w)
        return inner / (total_w * rmse) if rmse > 0 else 0.0
    return None


#: From this many validation rows (and 20 per encoded column) a least-squares fold is scored from its
#: validation statistics (:class:`TestStats`, computed once): each trial's score and hypergradient are then
#: quadratic forms in p + 1 numbers instead of passes over the rows (65,400 rows × 84 columns: a score takes
#: 0.014 ms instead of 5–10 ms).
STATS_ROWS = 10_000


@dataclass
class TestStats:
    """A fold's validation rows in the fold's encoded coordinates ``[x; 1]``: ``Σ w x xᵀ``, ``Σ w x y``,
    ``Σ w y²`` and ``n = Σ w`` (w = 1 without weights), the target less ``y_shift`` (its training mean,
    so the sums do not cancel)."""

    Q: np.ndarray
    q: np.ndarray
    yy: float
    n: float
    #: What was subtracted from the target before the sums.
    y_shift: float = 0.0

    @classmethod
    def of_rows(cls, X: np.ndarray, y: np.ndarray, weights: np.ndarray | None, y_shift: float) -> TestStats:
        import numpy as np

        X1 = np.column_stack([X, np.ones(len(y))])
        yc = y - y_shift
        wX1 = X1 if weights is None else X1 * weights[:, None]
        wy = yc if weights is None else yc * weights
        Q = wX1.T @ X1
        n = float(len(y)) if weights is None else float(weights.sum())
        return cls((Q + Q.T) / 2, X1.T @ wy, float(wy @ yc), n, y_shift)

    def sse(self, coef: np.ndarray, intercept: float) -> float:
        import numpy as np

        theta = np.append(coef, intercept - self.y_shift)
        return float(self.yy - 2.0 * theta @ self.q + theta @ self.Q @ theta)

    def residual_inner(self, coef: np.ndarray, intercept: float, d_coef: np.ndarray, d_intercept: float) -> float:
        """``Σ w (y − xᵀw − b)(xᵀdw + db)`` over the validation rows."""
        import numpy as np

        theta = np.append(coef, intercept - self.y_shift)
        return float(np.append(d_coef, d_intercept) @ (self.q - self.Q @ theta))

    def total_ss(self) -> float:
        """``Σ w (y − ȳ)²`` of the validation rows (ȳ their own weighted mean)."""
        mean = float(self.q[-1]) / self.n
        return self.yy - self.n * mean * mean


def validation_stats(fold: Fold) -> TestStats | None:
    """The fold's validation statistics: its own (a fold of the Dask engine), or, for a fold of at least
    :data:`STATS_ROWS` validation rows and 20 per encoded column, computed from them once; None for a
    smaller fold (it is scored from its rows)."""
    if fold.test_stats is None:
        n, p = fold.X_test.shape
        if n < max(STATS_ROWS, 20 * (p + 1)):
            return None
        fold.test_stats = TestStats.of_rows(fold.X_test, fold.y_test, fold.weight_test, fold.y_mean())
    return fold.test_stats


class StatsPrediction(LightRegressor):
    """A fold's fitted linear model with the fold's validation statistics: :class:`SquaredError` computes
    the fold's squared error from them; any other scorer predicts the rows with the model."""

    def __init__(self, model: Any, stats: TestStats) -> None:
        self.model = model
        self.stats = stats

    def predict(self, X: Any) -> np.ndarray:
        prediction: np.ndarray = self.model.predict(X)
        return prediction

    def sse(self) -> float:
        import numpy as np

        return self.stats.sse(np.asarray(self.model.coef_, dtype=np.float64), float(self.model.intercept_))


class SquaredError:
    """``neg_mean_squared_error``, ``neg_root_mean_squared_error`` or ``r2`` of a fold: from its validation
    statistics when the family scores it by them (a :class:`StatsPrediction`), else from its rows
    (weighted by the rows' weights, as scikit-learn's scorers: equal to them to rounding)."""

    NAMES = ("neg_mean_squared_error", "neg_root_mean_squared_error", "r2")

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, model: Any, X: Any = None, y: Any = None, sample_weight: np.ndarray | None = None) -> float:
        import numpy as np

        if isinstance(model, StatsPrediction):
            sse, n, ss_tot = max(model.sse(), 0.0), model.stats.n, model.stats.total_ss()
        else:
            w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
            n = float(w.sum())
            resid = y - model.predict(X)
            centred = y - float(w @ y) / n
            sse, ss_tot = float((w * resid) @ resid), float((w * centred) @ centred)
        if self.name == "neg_mean_squared_error":
            return -sse / n
        if self.name == "neg_root_mean_squared_error":
            return -math.sqrt(sse / n)
        if ss_tot <= 0:
            return 1.0 if sse == 0 else 0.0
        return 1.0 - sse / ss_tot


class LeastSquares(Family):
    model = "linear"
    rank = 0
    tasks = ("regression",)
    summary = "linear (least squares / logistic regression, solved exactly)"
    name = "least_squares"
    distributions = ("gaussian",)
    loadable_types = frozenset(
        {
            "sklearn.linear_model._coordinate_descent.ElasticNet",
            "sklearn.linear_model._coordinate_descent.Lasso",
            "sklearn.linear_model._ridge.Ridge",
        }
    )
    differentiable: ClassVar[tuple[str, ...]] = ("r2", "neg_mean_squared_error", "neg_root_mean_squared_error")
    own_loss = "neg_mean_squared_error"
    weights = True

    def describe(self) -> dict[str, Any]:
        return {"type": "linear", "estimator": "Lasso / Ridge / ElasticNet"}

    def lambda_max(
        self, X: np.ndarray, y: np.ndarray, l1_ratio: float = 1.0, sample_weight: np.ndarray | None = None
    ) -> float:
        return self._xy_max(X, y, sample_weight) / (int(X.shape[0]) * max(l1_ratio, 1e-3))

    def curvature(self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> np.ndarray:
        """Eigenvalues of XᵀWX/n (X centred with the weights W, which sum to n; W = I without weights): d²/n,
        the squared singular values of √W·X over n."""

        Xc, _ = _weighted_centred(X, None, normalized_weights(sample_weight, X.shape[0]))
        eigs: np.ndarray = squared_singular_values(Xc) / X.shape[0]
        return eigs

    def mixing_scale(self, y: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
        """sd(y) (1/n, weighted by ``sample_weight`` if given): the coefficients of least squares grow with the
        target's units."""
        import numpy as np

        sd = float(y.std()) if sample_weight is None else math.sqrt(float(np.cov(y, aweights=sample_weight, bias=True)))
        return sd if sd > 0 else 1.0

    def native(self, penalty: Penalty, n: int) -> dict[str, float]:
        if penalty.is_l2:
            return {"alpha": n * penalty.lam}
        if penalty.kind == "l1":
            return {"alpha": penalty.lam}
        return {"alpha": penalty.lam, "l1_ratio": penalty.l1_ratio}

    def estimator(self, penalty: Penalty, n: int, tol: float) -> Any:
        from sklearn.linear_model import ElasticNet, Lasso, Ridge

        native = self.native(penalty, n)
        if penalty.is_l2:
            return Ridge(**native, tol=tol)
        if penalty.kind == "l1":
            return Lasso(**native, tol=tol, max_iter=MAX_ITER)
        return ElasticNet(**native, tol=tol, max_iter=MAX_ITER)

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        penalty: Penalty,
        tol: float,
        warm: tuple[np.ndarray, np.ndarray] | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> FitOutcome:
        import numpy as np

        n, p = X.shape
        sw = normalized_weights(sample_weight, n)
        if n > p:  # the Gram route: NumPy, no scikit-learn estimator (it is built for a refit pipeline)
            Xc, yc = _weighted_centred(X, y, sw)
            gram, xy = Xc.T @ Xc, Xc.T @ yc
            y_mean = float(np.average(y, weights=sw))
            x_mean = np.average(X, axis=0, weights=sw)
            if penalty.is_l2:
                coef = solve_sym(gram / n + penalty.lam * np.eye(p), xy / n)
                converged = True
            else:
                coef, converged = self._solve_gram(gram, xy, Xc, yc, n, penalty, tol, None if warm is None else warm[0])
            intercept = y_mean - float(x_mean @ coef)
            return FitOutcome(LinearFit(coef, intercept), coef, np.array([intercept]), converged, count_nonzero(coef))
        model = self.estimator(penalty, n, tol)
        if _null_is_optimal(self._xy_max(X, y, sw), n, penalty):
            return self._null(model, float(np.average(y, weights=sw)), p)
        if penalty.is_l2:
            with catch_convergence() as caught:
                model.fit(X, y, sample_weight=sw)
            coef = np.asarray(model.coef_, dtype=np.float64)
            return FitOutcome(model, coef, np.atleast_1d(float(model.intercept_)), not caught, count_nonzero(coef))
        if warm is not None:
            model.set_params(warm_start=True)
            model.coef_ = warm[0].copy()
        Xc, yc = _weighted_centred(X, y, sw)
        target = kkt_target(penalty, self._xy_max(X, y, sw), n, tol)
        cd_tol = tol * INITIAL_TIGHTENING
        for _ in range(MAX_TIGHTENINGS + 1):
            with catch_convergence() as caught:
                model.set_params(tol=cd_tol, warm_start=True).fit(X, y, sample_weight=sw)
            grad = -Xc.T @ (yc - Xc @ model.coef_) / n
            violation = kkt_violation(grad, model.coef_, penalty)
            if violation <= target or caught:
                break
            cd_tol *= TIGHTEN
        model.set_params(tol=tol)
        coef = np.asarray(model.coef_, dtype=np.float64)
        intercepts = np.atleast_1d(np.asarray(model.intercept_, dtype=np.float64))
        return FitOutcome(model, coef, intercepts, not caught and violation <= target, count_nonzero(coef))

    def estimator_of(self, outcome: FitOutcome, penalty: Penalty, n: int, tol: float) -> Any:
        if not isinstance(outcome.model, LinearFit):
            return outcome.model
        model = self.estimator(penalty, n, tol)
        model.coef_, model.intercept_, model.n_features_in_ = (
            outcome.coef,
            float(outcome.intercept[0]),
            outcome.coef.size,
        )
        return model

    @staticmethod
    def _xy_max(X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
        """``max |XᵀW(y − ȳ)|`` (X and y centred with the weights W, which sum to n; W = I without weights)."""
        import numpy as np

        Xc, yc = _weighted_centred(X, y, normalized_weights(sample_weight, X.shape[0]))
        return float(np.max(np.abs(Xc.T @ yc), initial=0.0))

    @staticmethod
    def _null(model: Any, y_mean: float, p: int) -> FitOutcome:
        """The intercept-only solution, exactly (every coefficient zero), in ``model`` (a light
        :class:`LinearFit` when None)."""
        import numpy as np

        coef = np.zeros(p)
        if model is None:
            model = LinearFit(coef, y_mean)
        model.coef_, model.intercept_, model.n_features_in_ = coef, y_mean, p
        return FitOutcome(model, coef, np.array([y_mean]), True, 0)

    def prepare_fold(self, fold: Fold) -> None:
        fold.svd()
        if fold.X_train.shape[0] > fold.X_train.shape[1]:
            fold.gram()
        validation_stats(fold)

    def fit_fold(
        self,
        fold: Fold,
        penalty: Penalty,
        tol: float,
        warm: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> FitOutcome:
        import numpy as np

        n, p = fold.X_train.shape
        if penalty.is_l2:
            s, Vt, Uty = fold.svd()
            coef = Vt.T @ (s / (s * s + n * penalty.lam) * Uty)
            y_mean = fold.y_mean()
            return FitOutcome(LinearFit(coef, y_mean), coef, np.array([y_mean]), True, count_nonzero(coef))
        if n <= p:
            return self.fit(fold.X_train, fold.y_train, penalty, tol, warm, sample_weight=fold.weight_train)
        return self._fit_gram(fold, penalty, tol, warm)

    def _fit_gram(
        self,
        fold: Fold,
        penalty: Penalty,
        tol: float,
        warm: tuple[np.ndarray, np.ndarray] | None,
    ) -> FitOutcome:
        """One λ on the fold's cached Gram matrix: no copy or scan of X per trial."""
        import numpy as np

        gram, xy = fold.gram()
        X_w, y_w = fold.weighted()  # √W·X and √W·(y − ȳ): the weighted problem as an unweighted one
        coef, converged = self._solve_gram(
            gram, xy, X_w, y_w, fold.n_train, penalty, tol, None if warm is None else warm[0]
        )
        y_mean = fold.y_mean()
        return FitOutcome(LinearFit(coef, y_mean), coef, np.array([y_mean]), converged, count_nonzero(coef))

    @staticmethod
    def _solve_gram(
        gram: np.ndarray,
        xy: np.ndarray,
        X_w: np.ndarray,
        y_w: np.ndarray,
        n: int,
        penalty: Penalty,
        tol: float,
        start: np.ndarray | None,
    ) -> tuple[np.ndarray, bool]:
        """The Lasso / elastic-net coefficients of centred (√W-weighted) data from its Gram matrix ``XᵀX``
        and ``Xᵀy``, and whether they meet the KKT target: first the exact feature-sign search from
        ``start`` (or zero), then — when it does not settle — ``enet_path``'s coordinate descent on the same
        Gram matrix (``X_w``, ``y_w`` the data, for its duality gap), tightened until the KKT conditions hold."""
        import numpy as np

        from regtune.models._logistic_solver import _on_support

        xy_max = float(np.max(np.abs(xy), initial=0.0))
        if _null_is_optimal(xy_max, n, penalty):
            return np.zeros(xy.shape[0]), True
        target = kkt_target(penalty, xy_max, n, tol)
        exact = _on_support(
            gram / n, xy / n, penalty.lam, penalty.l1_ratio, np.zeros_like(xy) if start is None else start
        )
        if exact is not None and kkt_violation((gram @ exact - xy) / n, exact, penalty) <= target:
            return exact, True
        from sklearn.linear_model import enet_path

        cd_tol = tol * INITIAL_TIGHTENING
        for _ in range(MAX_TIGHTENINGS + 1):
            with catch_convergence() as caught:
                _, coefs, _, n_iters = enet_path(
                    X_w,
                    y_w,
                    l1_ratio=penalty.l1_ratio,
                    alphas=[penalty.lam],
                    precompute=gram,
                    Xy=xy,
                    coef_init=None if start is None else start.copy(),  # enet_path updates it in place
                    check_input=False,
                    return_n_iter=True,
                    tol=cd_tol,
                    max_iter=MAX_ITER,
                )
            coef = start = np.ascontiguousarray(coefs[:, 0])
            converged = not caught and n_iters[0] < MAX_ITER
            violation = kkt_violation((gram @ coef - xy) / n, coef, penalty)
            if violation <= target or not converged:
                break
            cd_tol *= TIGHTEN  # scikit-learn's gap test is relative to ‖y‖²: too loose near a warm start
        return coef, converged and violation <= target

    def jacobian(self, fold: Fold, outcome: FitOutcome, penalty: Penalty) -> Jacobian | None:
        import numpy as np

        n = fold.n_train
        lam, r = penalty.lam, penalty.l1_ratio
        w = outcome.coef
        zero_b = np.zeros(1)
        if penalty.is_l2:
            s, Vt, Uty = fold.svd()
            d_w = Vt.T @ (-n * s / (s * s + n * lam) ** 2 * Uty)
            return Jacobian((lam * d_w, zero_b))
        active = np.flatnonzero(w)
        d_lam = np.zeros_like(w)
        d_r = np.zeros_like(w)
        if active.size:
            if "gram" in fold.cache:
                G = fold.gram()[0][np.ix_(active, active)]
            else:
                XA = fold.weighted()[0][:, active]
                G = XA.T @ XA
            M = G / n + lam * (1 - r) * np.eye(active.size)
            sign = np.sign(w[active])
            rhs = np.column_stack([-(r * sign + (1 - r) * w[active]), -lam * (sign - w[active])])
            sol = solve_sym(M, rhs)
            d_lam[active] = lam * sol[:, 0]
            d_r[active] = sol[:, 1]
        return Jacobian((d_lam, zero_b), (d_r, zero_b) if penalty.kind == "elasticnet" else None)

    def score_derivative(
        self, quantity: str, fold: Fold, outcome: FitOutcome, d_coef: np.ndarray, d_intercept: np.ndarray
    ) -> float | None:
        return regression_score_derivative(quantity, fold, outcome, d_coef, d_intercept)

    def scorer(self, name: str) -> Any | None:
        return SquaredError(name) if name in SquaredError.NAMES else None

    def scoring_model(self, outcome: FitOutcome, fold: Fold) -> Any:
        stats = validation_stats(fold)
        return outcome.model if stats is None else StatsPrediction(outcome.model, stats)


def _weighted_centred(
    X: np.ndarray, y: np.ndarray | None, sample_weight: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """``(√w·(X − x̄), √w·(y − ȳ))`` with means weighted by ``sample_weight`` (plain centring without weights);
    ``y`` may be None (then the second part is empty)."""
    import numpy as np

    target = np.zeros(X.shape[0]) if y is None else y
    if sample_weight is None:
        return X - X.mean(axis=0), target - target.mean()
    root = np.sqrt(sample_weight)
    Xc = (X - np.average(X, axis=0, weights=sample_weight)) * root[:, None]
    return Xc, (target - np.average(target, weights=sample_weight)) * root
