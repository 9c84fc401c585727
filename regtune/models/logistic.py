"""Logistic regression (binary and multinomial) with L1, L2 and elastic-net penalties: ``--model linear``
for classification.

scikit-learn minimises ``C·Σ log-loss + (1 − l1_ratio)/2·‖w‖² + l1_ratio·‖w‖₁``; dividing by ``C·n``
gives the shared convention ``mean log-loss + λ·P(w)`` with ``C = 1/(n·λ)``. The scikit-learn 1.9 API
is used: ``l1_ratio`` (0 = L2, 1 = L1) and ``C``, never the deprecated ``penalty=``. Every fit uses
regtune's proximal-Newton solver (``_logistic_solver``; for L2 plain Newton), which reaches a lower
objective than saga in a fraction of its time — except an L2 model with more than MAX_NEWTON_PARAMS
coefficients (a large multinomial), fitted by scikit-learn's lbfgs. A fold's model is a light
:class:`LogisticFit`; a refit pipeline ends in a fitted ``LogisticRegression`` whose coefficients come
from the solver.

Hypergradients (:meth:`Logistic.jacobian`): at the optimum, the gradient of the mean log-loss plus
``λ(r·sign(w) + (1 − r)·w)`` vanishes on the active coefficients, and the gradient in the (unpenalised)
intercepts vanishes. Differentiating in λ (implicit function theorem) gives one Hessian solve:
``(H + λ(1 − r)·I_w)·dθ/dλ = −(r·sign(w) + (1 − r)·w, 0)``, θ = (active coefficients, intercepts),
H the Hessian of the mean log-loss there; the same matrix with right-hand side ``−λ(sign(w) − w, 0)``
gives dθ/dr. With K classes the intercepts can all move by one constant without changing any
probability: that direction is removed from the solve.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from regtune.models._base import (
    Family,
    FitOutcome,
    Jacobian,
    LightClassifier,
    Penalty,
    catch_convergence,
    count_nonzero,
    normalized_weights,
    solve_sym,
    squared_singular_values,
)
from regtune.models._threads import on_one_blas_thread

if TYPE_CHECKING:
    import numpy as np

    from regtune.folds import Fold


MAX_ITER_LBFGS = 2_000
MAX_ITER_SAGA = 5_000
MAX_ITER_NEWTON = 200
#: L2 fits use Newton to ``tol × NEWTON_TOL_FACTOR``: quadratic convergence makes the extra digits one
#: more step, and the CV curve (and its hypergradient) is then free of solver noise — unless the model has
#: more than MAX_NEWTON_PARAMS coefficients (its Hessian gets costly: e.g. digits, 10 × 65), where
#: scikit-learn's lbfgs solves to ``tol``.
NEWTON_TOL_FACTOR = 1e-2
MAX_NEWTON_PARAMS = 400


def ridge_by_lbfgs(n_classes: int, n_features: int) -> bool:
    """Whether the model's ridge is fitted by scikit-learn's lbfgs: more than MAX_NEWTON_PARAMS
    coefficients (one row of them for two classes, one per class for more)."""
    rows = 1 if n_classes <= 2 else n_classes
    return rows * (n_features + 1) > MAX_NEWTON_PARAMS


def log_loss_derivative(fold: Fold, outcome: FitOutcome, d_coef: np.ndarray, d_intercept: np.ndarray) -> float | None:
    """d (fold test ``neg_log_loss``) for a change (d_coef, d_intercept) of a (multinomial) logistic
    model; None when the test fold has a label the model never saw (the log-loss is then not
    differentiable here). Weighted by the test rows' weights, if any."""
    import numpy as np
    from scipy.special import expit, softmax

    X, y = fold.X_test, fold.y_test
    classes = getattr(outcome.model, "classes_", None)
    if classes is None:
        classes = np.unique(fold.y_train)
    idx = np.searchsorted(classes, y)
    if np.any(idx >= len(classes)) or np.any(classes[np.minimum(idx, len(classes) - 1)] != y):
        return None
    eta = X @ outcome.coef.T + outcome.intercept
    d_eta = X @ d_coef.T + d_intercept
    if outcome.coef.shape[0] == 1:
        per_row = ((idx == 1) - expit(eta[:, 0])) * d_eta[:, 0]
    else:
        P = softmax(eta, axis=1)
        per_row = d_eta[np.arange(len(y)), idx] - (P * d_eta).sum(axis=1)
    return float(np.average(per_row, weights=fold.weight_test))


def implicit_jacobian(
    H: np.ndarray, coef: np.ndarray, active: list[np.ndarray], offsets: np.ndarray, penalty: Penalty
) -> Jacobian:
    """dθ/d log λ (and dθ/d l1_ratio for the elastic net) from ``H``, the Hessian of the mean log-loss in
    θ = (for each class row, its ``active`` coefficients then its intercept; ``offsets`` where each row's
    block starts), by one solve (the implicit function theorem: see the module's docstring)."""
    import numpy as np

    k_rows = coef.shape[0]
    lam, r = penalty.lam, penalty.l1_ratio
    H = H.copy()  # its diagonal gets the ridge part
    rhs = np.zeros((offsets[-1], 2))
    coef_idx = np.concatenate([offsets[k] + np.arange(active[k].size) for k in range(k_rows)]).astype(int)
    b_idx = offsets[1:] - 1
    w_act = np.concatenate([coef[k, active[k]] for k in range(k_rows)])
    sign = np.sign(w_act)
    H[coef_idx, coef_idx] += lam * (1 - r)
    rhs[coef_idx, 0] = -(r * sign + (1 - r) * w_act)
    rhs[coef_idx, 1] = -lam * (sign - w_act)
    if k_rows > 1:  # remove the free direction "every intercept + c" (rhs is orthogonal to it)
        scale = float(np.mean(np.diag(H)))
        H[np.ix_(b_idx, b_idx)] += scale / k_rows
    sol = solve_sym(H, rhs)

    def unpack(col: int, factor: float) -> tuple[np.ndarray, np.ndarray]:
        d_coef = np.zeros_like(coef)
        for k in range(k_rows):
            d_coef[k, active[k]] = factor * sol[offsets[k] : offsets[k] + active[k].size, col]
        return d_coef, factor * sol[b_idx, col]

    return Jacobian(unpack(0, lam), unpack(1, 1.0) if penalty.kind == "elasticnet" else None)


class LogisticFit(LightClassifier):
    """A fold's fitted logistic model (regtune's solver): what its scorer calls ``predict_proba`` and
    ``predict`` on, as scikit-learn's ``LogisticRegression`` computes them; the estimator itself is built
    for a refit pipeline (:meth:`Logistic.estimator_of`)."""

    def __init__(self, coef: np.ndarray, intercept: np.ndarray, classes: np.ndarray) -> None:
        self.coef_ = coef
        self.intercept_ = intercept
        self.classes_ = classes

    def decision_function(self, X: Any) -> np.ndarray:
        import numpy as np

        scores: np.ndarray = np.asarray(X, dtype=np.float64) @ self.coef_.T + self.intercept_
        return scores[:, 0] if scores.shape[1] == 1 else scores

    def predict_proba(self, X: Any) -> np.ndarray:
        """The classes' probabilities (NumPy only: ``regtune predict`` uses this too, without SciPy)."""
        import numpy as np

        scores = self.decision_function(X)
        if scores.ndim == 1:
            with np.errstate(over="ignore"):  # each tail computed where it cannot overflow
                p = np.where(scores >= 0, 1.0 / (1.0 + np.exp(-scores)), np.exp(scores) / (1.0 + np.exp(scores)))
            proba: np.ndarray = np.vstack([1 - p, p]).T
            return proba
        z = np.exp(scores - scores.max(axis=1, keepdims=True))
        result: np.ndarray = z / z.sum(axis=1, keepdims=True)
        return result

    def predict(self, X: Any) -> np.ndarray:

        scores = self.decision_function(X)
        picked = (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        labels: np.ndarray = self.classes_[picked]
        return labels


class Logistic(Family):
    model = "linear"
    rank = 0
    tasks = ("classification",)
    summary = "linear (least squares / logistic regression, solved exactly)"
    name = "logistic"
    distributions = ("binomial", "multinomial")
    loadable_types = frozenset({"sklearn.linear_model._logistic.LogisticRegression"})
    differentiable: ClassVar[tuple[str, ...]] = ("neg_log_loss",)
    own_loss = "neg_log_loss"
    weights = True
    warm_predictor = True

    def describe(self) -> dict[str, Any]:
        return {"type": "linear", "estimator": "LogisticRegression"}

    def lambda_max(
        self, X: np.ndarray, y: np.ndarray, l1_ratio: float = 1.0, sample_weight: np.ndarray | None = None
    ) -> float:
        """Largest gradient of the mean log-loss at w = 0 (intercepts at their optimum)."""
        import numpy as np

        from regtune.models._logistic_solver import null_gradient_max

        classes = np.unique(y)
        Y = (y[:, None] == classes[None, :]).astype(np.float64)
        if len(classes) == 2:
            Y = Y[:, 1:]
        return null_gradient_max(X, Y, normalized_weights(sample_weight, X.shape[0])) / max(l1_ratio, 1e-3)

    def curvature(self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> np.ndarray:
        """Eigenvalues of the log-loss Hessian at the null model: p̄(1 − p̄)·eig(XᵀWX/n) for two classes;
        for K, the Kronecker product eig(diag(p̄) − p̄p̄ᵀ) ⊗ eig(XᵀWX/n) (X centred, p̄ the class shares; both
        weighted by the rows' weights W, which sum to n, if any)."""
        import numpy as np

        from regtune.models.least_squares import _weighted_centred

        sw = normalized_weights(sample_weight, X.shape[0])
        gram = squared_singular_values(_weighted_centred(X, None, sw)[0]) / X.shape[0]
        classes, which = np.unique(y, return_inverse=True)
        counts = np.bincount(which, weights=sw, minlength=len(classes))
        share = counts / counts.sum()
        if len(share) == 2:
            eigs: np.ndarray = share[0] * share[1] * gram
            return eigs
        classes = np.linalg.eigvalsh(np.diag(share) - np.outer(share, share))
        return np.outer(classes, gram).ravel()

    def native(self, penalty: Penalty, n: int) -> dict[str, float]:
        native = {"C": 1.0 / (n * penalty.lam)}
        if penalty.kind == "elasticnet":
            native["l1_ratio"] = penalty.l1_ratio
        return native

    def estimator(self, penalty: Penalty, n: int, tol: float) -> Any:
        from sklearn.linear_model import LogisticRegression

        C = self.native(penalty, n)["C"]
        if penalty.is_l2:
            return LogisticRegression(C=C, l1_ratio=0.0, tol=tol, max_iter=MAX_ITER_LBFGS)
        return LogisticRegression(C=C, l1_ratio=penalty.l1_ratio, solver="saga", tol=tol, max_iter=MAX_ITER_SAGA)

    def prepare_fold(self, fold: Fold) -> None:
        """Before fold workers fork (``--n-jobs``): a model of more than MAX_NEWTON_PARAMS coefficients fits
        its ridge with scikit-learn's lbfgs (and its Lasso's hard subproblems with scikit-learn's coordinate
        descent), so scikit-learn is imported here, once, not by every worker on its first fit (≈1 s each:
        on digits at ``-j 2`` the workers' first fits took 1.1 s, later ones 0.05-0.3 s)."""
        import numpy as np

        if ridge_by_lbfgs(np.unique(fold.y_train).size, fold.X_train.shape[1]):
            import sklearn.linear_model  # noqa: F401

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

        from regtune.models._logistic_solver import fit_logistic_enet

        sw = normalized_weights(sample_weight, X.shape[0])
        classes = np.unique(y)
        if penalty.is_l2 and ridge_by_lbfgs(len(classes), X.shape[1]):
            # A large multinomial ridge: scikit-learn's lbfgs (a Newton step's Hessian costs more).
            model = self.estimator(penalty, X.shape[0], tol)
            model.set_params(warm_start=True)
            if warm is not None:
                model.coef_, model.intercept_ = warm[0].copy(), warm[1].copy()
            with catch_convergence() as caught:
                model.fit(X, y, sample_weight=sw)
            coef = np.asarray(model.coef_, dtype=np.float64)
            intercept = np.asarray(model.intercept_, dtype=np.float64)
            return FitOutcome(model, coef, intercept, not caught, count_nonzero(coef))
        # regtune's proximal-Newton solver; for L2 plain Newton, to tol × NEWTON_TOL_FACTOR.
        solution = fit_logistic_enet(
            X,
            y,
            classes,
            penalty.lam,
            penalty.l1_ratio,
            tol=tol * NEWTON_TOL_FACTOR if penalty.is_l2 else tol,
            coef_init=None if warm is None else warm[0],
            intercept_init=None if warm is None else warm[1],
            sample_weight=sw,
        )
        coef = np.asarray(solution.coef, dtype=np.float64)
        intercept = np.asarray(solution.intercept, dtype=np.float64)
        model = LogisticFit(coef, intercept, classes)
        return FitOutcome(model, coef, intercept, solution.converged, count_nonzero(coef))

    def estimator_of(self, outcome: FitOutcome, penalty: Penalty, n: int, tol: float) -> Any:
        import numpy as np

        if not isinstance(outcome.model, LogisticFit):
            return outcome.model
        model = self.estimator(penalty, n, tol)
        model.coef_, model.intercept_ = outcome.coef, outcome.intercept
        model.classes_, model.n_features_in_ = outcome.model.classes_, outcome.coef.shape[1]
        model.n_iter_ = np.array([0])
        return model

    @on_one_blas_thread  # small products: threads cost more than they save (as in the solver)
    def jacobian(self, fold: Fold, outcome: FitOutcome, penalty: Penalty) -> Jacobian | None:
        import numpy as np
        from scipy.special import expit, softmax

        X = fold.X_train
        n = X.shape[0]
        coef, intercept = outcome.coef, outcome.intercept
        k_rows = coef.shape[0]
        eta = X @ coef.T + intercept
        # θ: for each class row, its active coefficients then its intercept.
        active = [np.flatnonzero(coef[k]) for k in range(k_rows)]
        sizes = [a.size + 1 for a in active]
        offsets = np.concatenate([[0], np.cumsum(sizes)])
        XT1 = np.vstack([X.T, np.ones((1, n))])  # the design's columns as rows, the intercept's last
        columns = np.concatenate([np.append(a, X.shape[1]) for a in active])
        DT = XT1[columns]
        s = fold.weight_train  # the rows' weights (summing to n), or None
        if k_rows == 1:
            p1 = expit(eta[:, 0])
            curvature = p1 * (1 - p1) if s is None else s * p1 * (1 - p1)
            H = (DT * curvature) @ DT.T / n
        else:
            # The log-loss Hessian, block (k, m) = Dₖᵀ diag(s·pₖ(δₖₘ − pₘ)) Dₘ / n, is
            # blockdiag_k(Dₖᵀ diag(s·pₖ) Dₖ) − ZᵀZ with Z = [diag(√s·pₖ) Dₖ]ₖ: one product for all class pairs.
            P = softmax(eta, axis=1)
            row_class = np.repeat(np.arange(k_rows), sizes)
            ZT = DT * (P if s is None else P * np.sqrt(s)[:, None]).T[row_class]
            WT = ZT if s is None else DT * (P * s[:, None]).T[row_class]
            H = -(ZT @ ZT.T)
            for k in range(k_rows):
                lo, hi = int(offsets[k]), int(offsets[k + 1])
                H[lo:hi, lo:hi] += WT[lo:hi] @ DT[lo:hi].T
            H /= n
        return implicit_jacobian(H, coef, active, offsets, penalty)

    def score_derivative(
        self, quantity: str, fold: Fold, outcome: FitOutcome, d_coef: np.ndarray, d_intercept: np.ndarray
    ) -> float | None:
        if quantity != "neg_log_loss":
            return None
        return log_loss_derivative(fold, outcome, d_coef, d_intercept)
