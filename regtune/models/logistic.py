"""Logistic regression (binary and multinomial) with L1, L2 and elastic-net penalties: ``--model linear``
for classification.

scikit-learn minimises ``C·Σ log-loss + (1 − l1_ratio)/2·‖w‖² + l1_ratio·‖w‖₁``; dividing by ``C·n``
gives the shared convention ``mean log-loss + λ·P(w)`` with ``C = 1/(n·λ)``. The scikit-learn 1.9 API
is used: ``l1_ratio`` (0 = L2, 1 = L1) and ``C``, never the deprecated ``penalty=``. Every fit uses
regtune's proximal-Newton solver (``_logistic_solver``; for L2 plain Newton), which reaches a lower
objective than saga in a fraction of its time — except an L2 model with more than MAX_NEWTON_PARAMS
coefficients (a large multinomial), fitted by L-BFGS (SciPy's; scikit-learn is not imported for a
fold's fit). A fold's model is a light
:class:`LogisticFit`; a refit pipeline ends in a fitted ``LogisticRegression`` whose coefficients come
from the solver.

Hypergradients (:meth:`Logistic.jacobian`): at the optimum, the gradient of the mean log-loss plus
``λ(r·sign(w) + (1 − r)·w)`` vanishes on the active coefficients, and the gradient in the (unpenalised)
intercepts vanishes. Differentiating in λ (implicit function theorem) gives one Hessian solve:
``(H + λ(1 − r)·I_w)·dθ/dλ = −(r·sign(w) + (1 − r)·w, 0)``, θ = (active coefficients, intercepts),
H the Hessian of the mean log-loss there; the same matrix with right-hand side ``−λ(sign(w) − w, 0)``
gives dθ/dr. With K classes the intercepts can all move by one constant without changing any
probability: that direction is removed from the solve. A large solve (digits: 10 classes, hundreds of
active coefficients) is refined from an approximate Hessian with the exact one's products
(:func:`implicit_jacobian`): building the dense Hessian was the cost.
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING, Any, ClassVar, TypeAlias

from regtune.models._base import (
    Family,
    FitOutcome,
    Jacobian,
    LightClassifier,
    Penalty,
    count_nonzero,
    normalized_weights,
    solve_sym,
    squared_singular_values,
)
from regtune.models._threads import on_one_blas_thread

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy as np

    from regtune.folds import Fold


MAX_ITER_LBFGS = 2_000
MAX_ITER_SAGA = 5_000
MAX_ITER_NEWTON = 200
#: L2 fits use Newton to ``tol × NEWTON_TOL_FACTOR``: quadratic convergence makes the extra digits one
#: more step, and the CV curve (and its hypergradient) is then free of solver noise. A model of more than
#: MAX_NEWTON_PARAMS coefficients (its Hessian gets costly: e.g. digits, 10 × 65) is fitted by L-BFGS
#: (:func:`regtune.models._logistic_solver.fit_ridge_lbfgs`), to the same ``tol × NEWTON_TOL_FACTOR``:
#: at ``tol`` (measured with scikit-learn's lbfgs, which stops by the same rules) its warm-started digits
#: fits left the CV log-loss up to 1.1e-3 from the optimum's (half the gap between digits' best L2 and
#: best elastic net), and on a variant of digits two starts 1e-11 apart gave CV scores 5e-4 apart; at the
#: tighter tolerance the error was 2e-6, for 27 % more L2 fitting time (12 λ, warm-started, 5 folds).
NEWTON_TOL_FACTOR = 1e-2
MAX_NEWTON_PARAMS = 400
#: A logistic Jacobian with at least this many unknowns is solved by refinement (:func:`implicit_jacobian`):
#: at most REFINE_MAX corrections, until one is below REFINE_RTOL of the solution; a correction above
#: REFINE_STALL of the one before gives up (digits: 2–10 corrections, each at most 0.14 of the last,
#: median 0.008).
REFINE_SIZE = 150
REFINE_MAX = 10
REFINE_RTOL = 1e-10
REFINE_STALL = 0.5

#: An (approximate) solve with a Hessian: a right-hand side matrix to the solution.
Solve: TypeAlias = "Callable[[np.ndarray], np.ndarray]"


def ridge_by_lbfgs(n_classes: int, n_features: int) -> bool:
    """Whether the model's ridge is fitted by L-BFGS (``fit_ridge_lbfgs``): more than MAX_NEWTON_PARAMS
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
        classes = fold.classes()
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


class LogLossHessian:
    """The Hessian of a (multinomial) logistic model's mean log-loss in θ = (for each class row, its
    ``active`` coefficients then its intercept), at (coef, intercept) on the rows X (weights ``s`` summing
    to n, or None): built dense (:meth:`dense`, O(n·|θ|²)), or applied to vectors (:meth:`times`,
    O(n·p·K) each)."""

    def __init__(
        self, X: np.ndarray, coef: np.ndarray, intercept: np.ndarray, active: list[np.ndarray], s: np.ndarray | None
    ) -> None:
        import numpy as np
        from scipy.special import expit, softmax

        self.X, self.s, self.k_rows = X, s, coef.shape[0]
        sizes = [a.size + 1 for a in active]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
        self.columns = np.concatenate([np.append(a, X.shape[1]) for a in active]).astype(int)
        self.row_class = np.repeat(np.arange(self.k_rows), sizes)
        eta = X @ coef.T + intercept
        self.P = expit(eta) if self.k_rows == 1 else softmax(eta, axis=1)
        #: Two classes: each row's curvature s·p(1 − p) (None with more).
        self.curvature = None
        if self.k_rows == 1:
            p1 = self.P[:, 0]
            self.curvature = p1 * (1 - p1) if s is None else s * p1 * (1 - p1)

    @property
    def size(self) -> int:
        return int(self.offsets[-1])

    def dense(self, dtype: Any = None) -> np.ndarray:
        """The matrix, its products and the result in ``dtype`` (float64 unless given)."""
        import numpy as np

        X, s, P, n = self.X, self.s, self.P, self.X.shape[0]
        dtype = np.float64 if dtype is None else dtype
        DT = np.vstack([X.T, np.ones((1, n))]).astype(dtype, copy=False)[self.columns]  # θ's columns of [X, 1], as rows
        if self.curvature is not None:
            H = (DT * self.curvature.astype(dtype)) @ DT.T
        else:
            # The log-loss Hessian, block (k, m) = Dₖᵀ diag(s·pₖ(δₖₘ − pₘ)) Dₘ / n, is
            # blockdiag_k(Dₖᵀ diag(s·pₖ) Dₖ) − ZᵀZ with Z = [diag(√s·pₖ) Dₖ]ₖ: one product for all class pairs.
            ZT = DT * (P if s is None else P * np.sqrt(s)[:, None]).T.astype(dtype)[self.row_class]
            WT = ZT if s is None else DT * (P * s[:, None]).T.astype(dtype)[self.row_class]
            H = -(ZT @ ZT.T)
            for k in range(self.k_rows):
                lo, hi = int(self.offsets[k]), int(self.offsets[k + 1])
                H[lo:hi, lo:hi] += WT[lo:hi] @ DT[lo:hi].T
        H /= n
        result: np.ndarray = H
        return result

    def times(self, x: np.ndarray) -> np.ndarray:
        """The matrix times ``x`` (|θ| × m), exactly (float64)."""
        import numpy as np

        X, s, P, K = self.X, self.s, self.P, self.k_rows
        (n, p), m = X.shape, x.shape[1]
        V = np.zeros((p + 1, K, m))
        V[self.columns, self.row_class] = x
        V = V.reshape(p + 1, K * m)
        E = (X @ V[:p] + V[p]).reshape(n, K, m)  # each row's change of η
        if self.curvature is not None:
            M = self.curvature[:, None, None] * E
        else:
            M = P[:, :, None] * (E - np.einsum("ik,ikm->im", P, E)[:, None, :])
            if s is not None:
                M *= s[:, None, None]
        M = M.reshape(n, K * m)
        G = np.vstack([X.T @ M, M.sum(axis=0)]).reshape(p + 1, K, m) / n
        result: np.ndarray = G[self.columns, self.row_class]
        return result


def implicit_jacobian(
    H: np.ndarray | LogLossHessian,
    coef: np.ndarray,
    active: list[np.ndarray],
    offsets: np.ndarray,
    penalty: Penalty,
    solver_model: Any = None,
) -> Jacobian:
    """dθ/d log λ (and dθ/d l1_ratio for the elastic net) from ``H``, the Hessian of the mean log-loss in
    θ = (for each class row, its ``active`` coefficients then its intercept; ``offsets`` where each row's
    block starts), by one solve (the implicit function theorem: see the module's docstring).

    ``H`` a :class:`LogLossHessian` with at least REFINE_SIZE unknowns: the solve is refined — residuals
    from the exact Hessian's products, corrections from an approximation of it, until a correction is below
    REFINE_RTOL of the solution (mixed-precision iterative refinement: the answer is the direct solve's, to
    rounding). The approximation is ``solver_model`` (the solver's last Newton model, built near the
    solution: no product to build), else the Hessian built in float32 (half the time of float64); the
    dense float64 solve when neither converges. On digits' 300 fold fits (a fixed replay of 60 trials) the
    hypergradients took 2.0–2.1 s where the dense solve took 3.7–4.3 s; the answers agreed to 2e-11."""
    import numpy as np

    k_rows = coef.shape[0]
    lam, r = penalty.lam, penalty.l1_ratio
    coef_idx = np.concatenate([offsets[k] + np.arange(active[k].size) for k in range(k_rows)]).astype(int)
    b_idx = offsets[1:] - 1
    w_act = np.concatenate([coef[k, active[k]] for k in range(k_rows)])
    sign = np.sign(w_act)
    rhs = np.zeros((offsets[-1], 2 if penalty.kind == "elasticnet" else 1))
    rhs[coef_idx, 0] = -(r * sign + (1 - r) * w_act)
    if penalty.kind == "elasticnet":
        rhs[coef_idx, 1] = -lam * (sign - w_act)
    ridge = lam * (1 - r)
    sol = None
    if isinstance(H, LogLossHessian) and H.size >= REFINE_SIZE:
        exact = H

        def times(x: np.ndarray) -> np.ndarray:
            out = exact.times(x)
            out[coef_idx] += ridge * x[coef_idx]
            return out

        # The exact Hessian's null space, held at zero after each correction (the dense solve's answer has
        # none of it): with several classes, every intercept + c; without a ridge, also each coefficient
        # active in every class + c (the probabilities do not change: a Lasso's Hessian is then singular).
        groups = b_idx[None, :]  # (directions, classes): θ's indices of each free direction
        if k_rows > 1 and ridge == 0:
            common = functools.reduce(np.intersect1d, active)
            where = [offsets[k] + np.searchsorted(active[k], common) for k in range(k_rows)]
            groups = np.vstack([groups, np.array(where, dtype=int).T.reshape(common.size, k_rows)])
        approximations: list[Callable[[], Solve | None]] = [
            lambda: None if solver_model is None else model_preconditioner(solver_model, exact, coef_idx, b_idx, ridge),
            lambda: _dense_preconditioner(exact, coef_idx, b_idx, ridge),
        ]
        for approximation in approximations:
            approx = approximation()
            if approx is None:
                continue

            def solve(res: np.ndarray, approx: Solve = approx) -> np.ndarray:
                x = approx(res)
                if k_rows > 1:
                    x[groups] -= x[groups].mean(axis=1, keepdims=True)
                return x

            if (sol := refined_solve(solve, rhs, times)) is not None:
                break
    if sol is None:
        M = H.dense() if isinstance(H, LogLossHessian) else H.copy()
        sol = solve_sym(_regularised(M, coef_idx, b_idx, ridge), rhs)

    def unpack(col: int, factor: float) -> tuple[np.ndarray, np.ndarray]:
        d_coef = np.zeros_like(coef)
        for k in range(k_rows):
            d_coef[k, active[k]] = factor * sol[offsets[k] : offsets[k] + active[k].size, col]
        return d_coef, factor * sol[b_idx, col]

    return Jacobian(unpack(0, lam), unpack(1, 1.0) if penalty.kind == "elasticnet" else None)


def refined_solve(solve: Solve, rhs: np.ndarray, times: Solve) -> np.ndarray | None:
    """x with ``times(x) = rhs``, from the approximate inverse ``solve`` by iterative refinement; None when
    a correction stays above REFINE_RTOL of x after REFINE_MAX of them, when the corrections stop
    shrinking (more than REFINE_STALL of the last, from the third on: they would not get there — an
    approximation too far from the exact Hessian, or a singular direction left free), or when x is not
    finite."""
    import numpy as np

    x: np.ndarray = solve(rhs)
    last = math.inf
    for i in range(REFINE_MAX):
        d = solve(rhs - times(x))
        x += d
        if not np.all(np.isfinite(x)):
            return None
        size = np.max(np.abs(d), axis=0)
        if np.all(size <= REFINE_RTOL * np.max(np.abs(x), axis=0)):
            return x
        if i >= 2 and float(np.max(size)) > REFINE_STALL * last:
            return None
        last = float(np.max(size))
    return None


def _cholesky_solver(M: np.ndarray) -> Solve | None:
    """A solve with the symmetric positive-definite M (LAPACK's potrf once, potrs per call) in M's precision
    (float32 or float64; the answer in float64), or None when M is not positive definite."""
    import numpy as np
    from scipy.linalg import get_lapack_funcs

    potrf, potrs = get_lapack_funcs(("potrf", "potrs"), (M,))
    c, info = potrf(M, lower=True, clean=False)
    if info != 0 or not np.all(np.isfinite(np.diag(c))):
        return None

    def solve(b: np.ndarray) -> np.ndarray:
        result: np.ndarray = potrs(c, b.astype(M.dtype, copy=False), lower=True)[0].astype(np.float64, copy=False)
        return result

    return solve


def _dense_preconditioner(
    hessian: LogLossHessian, coef_idx: np.ndarray, b_idx: np.ndarray, ridge: float
) -> Solve | None:
    """The solve with the Hessian built and factored in float32 (:func:`_regularised`), or None: the
    refinement's residuals are float64, so its answer is still the float64 solve's (on digits' replay of
    60 trials these preconditioners took 0.61 s factored in float32, 0.71 s in float64)."""
    import numpy as np

    return _cholesky_solver(_regularised(hessian.dense(np.float32), coef_idx, b_idx, ridge))


def _regularised(H: np.ndarray, coef_idx: np.ndarray, b_idx: np.ndarray, ridge: float) -> np.ndarray:
    """The log-loss Hessian ``H`` (changed in place) made the Jacobian's matrix: the ridge on the
    coefficients; with several classes the free direction "every intercept + c" removed (the right-hand
    side is orthogonal to it) by adding the mean curvature along it."""
    import numpy as np

    H[coef_idx, coef_idx] += ridge
    if b_idx.size > 1:
        H[np.ix_(b_idx, b_idx)] += float(np.mean(np.diag(H))) / b_idx.size
    return H


def model_preconditioner(
    model: Any, hessian: LogLossHessian, coef_idx: np.ndarray, b_idx: np.ndarray, ridge: float
) -> Solve | None:
    """The solve with the solver's last Newton model (``_logistic_solver._Model``: the weights' Hessian on
    its working set with the intercepts eliminated, Q, and what maps back to them), restricted to θ's
    active coefficients; None when they are not all in its working set or Q is not positive definite
    there. For a residual (r_w, r_b): x_w = Q⁻¹(r_w − Hwb·Hbb⁺·r_b), x_b = Hbb⁺(r_b − Hwbᵀx_w)."""
    import numpy as np

    p = hessian.X.shape[1]
    if hessian.k_rows == 1 or coef_idx.size == 0:
        return None
    keys = model.rows * (p + 1) + model.cols
    mask = np.ones(hessian.size, dtype=bool)
    mask[b_idx] = False
    wanted = hessian.row_class[mask] * (p + 1) + hessian.columns[mask]  # θ's coefficients, in θ's order
    pos = np.searchsorted(keys, wanted)
    if np.any(pos >= keys.size) or np.any(keys[np.minimum(pos, keys.size - 1)] != wanted):
        return None
    Q = model.Q[np.ix_(pos, pos)]
    Q[np.diag_indices_from(Q)] += ridge
    solve_q = _cholesky_solver(Q)
    if solve_q is None:
        return None
    HwbP, Hwb, Hbb_pinv = model.HwbP[pos], model.Hwb[pos], model.Hbb_pinv

    def solve(res: np.ndarray) -> np.ndarray:
        x = np.empty_like(res)
        r_w, r_b = res[coef_idx], res[b_idx]
        x_w = solve_q(r_w - HwbP @ r_b)
        x[coef_idx] = x_w
        x[b_idx] = Hbb_pinv @ (r_b - Hwb.T @ x_w)
        return x

    return solve


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

        from regtune.models._logistic_solver import _targets, null_gradient_max

        Y, _, _ = _targets(y, np.unique(y), None)
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
        its ridge (and the hard subproblems of its Lasso) with SciPy's L-BFGS-B, so ``scipy.optimize`` is
        imported here, once, not by every worker on its first fit (on digits at ``-j 2``, when scikit-learn
        did these fits, the workers' first fits took 1.1 s, later ones 0.05-0.3 s)."""
        if ridge_by_lbfgs(fold.classes().size, fold.X_train.shape[1]):
            import scipy.optimize  # noqa: F401

    def fit_fold(
        self,
        fold: Fold,
        penalty: Penalty,
        tol: float,
        warm: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> FitOutcome:
        return self.fit(
            fold.X_train, fold.y_train, penalty, tol, warm, sample_weight=fold.weight_train, classes=fold.classes()
        )

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        penalty: Penalty,
        tol: float,
        warm: tuple[np.ndarray, np.ndarray] | None = None,
        sample_weight: np.ndarray | None = None,
        classes: np.ndarray | None = None,
    ) -> FitOutcome:
        """Fit (X, y); ``classes``, when given, are ``np.unique(y)`` (a fold's, computed once)."""
        import numpy as np

        from regtune.models._logistic_solver import fit_logistic_enet, fit_ridge_lbfgs

        sw = normalized_weights(sample_weight, X.shape[0])
        classes = np.unique(y) if classes is None else classes
        if warm is not None and warm[0].shape != (1 if len(classes) == 2 else len(classes), X.shape[1]):
            # A refit's start averaged over folds whose training rows held other classes (a class confined
            # to one group of --groups): rows of other classes, not a start for these.
            warm = None
        if penalty.is_l2 and ridge_by_lbfgs(len(classes), X.shape[1]):
            # A large ridge: L-BFGS (a Newton step's Hessian costs more).
            solution = fit_ridge_lbfgs(
                X,
                y,
                classes,
                penalty.lam,
                tol=tol * NEWTON_TOL_FACTOR,
                coef_init=None if warm is None else warm[0],
                intercept_init=None if warm is None else warm[1],
                max_iter=MAX_ITER_LBFGS,
                sample_weight=sw,
            )
        else:
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
        return FitOutcome(model, coef, intercept, solution.converged, count_nonzero(coef), solution.model)

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

        coef = outcome.coef
        # θ: for each class row, its active coefficients then its intercept.
        active = [np.flatnonzero(coef[k]) for k in range(coef.shape[0])]
        hessian = LogLossHessian(fold.X_train, coef, outcome.intercept, active, fold.weight_train)
        return implicit_jacobian(hessian, coef, active, hessian.offsets, penalty, outcome.solver_model)

    def score_derivative(
        self, quantity: str, fold: Fold, outcome: FitOutcome, d_coef: np.ndarray, d_intercept: np.ndarray
    ) -> float | None:
        if quantity != "neg_log_loss":
            return None
        return log_loss_derivative(fold, outcome, d_coef, d_intercept)
