"""Linear models trained by stochastic gradient descent: scikit-learn's SGDRegressor / SGDClassifier.

Objective (the shared convention): ``mean loss + λ·(l1_ratio·‖w‖₁ + (1 − l1_ratio)/2·‖w‖²)`` with the
squared loss ``½(y − Xw − b)²`` (SGDRegressor) or the log-loss (SGDClassifier, ``loss="log_loss"``):
scikit-learn's ``alpha`` *is* λ, with the same penalty as ElasticNet. A multiclass SGDClassifier fits
one binary (one-vs-rest) model per class, each with this objective.

SGD has no tolerance on the optimum: it stops when the training loss has not improved by ``SGD_TOL``
for ``n_iter_no_change`` (5) epochs, or at ``SGD_MAX_ITER`` epochs. A fit is *converged* when that
stopping rule fired before ``SGD_MAX_ITER`` (no ConvergenceWarning). The learning-rate schedules are
scikit-learn's defaults; ``average`` stays off (with L1 / elastic net it drifts from the optimum).
Every fit uses ``random_state = seed``, so one seed gives one answer.

Warm starts are off by default (``warm_start=True`` turns them on: ``coef_init`` / ``intercept_init`` = the
solution of the nearest λ already fitted on the fold). SGD does not reach the optimum, so where it starts
changes where it ends; and it restarts its learning-rate schedule and waits ``n_iter_no_change`` epochs
whatever the start, so a warm start saves no time. Measured by ``benchmarks/sgd_warm_start.py``
(breast_cancer, 60 trials, seed 0): with warm starts the chosen λ's CV mean was −0.0722, but −0.0845
when its folds are fitted from zero as the final model is (selection on start-dependent noise); without,
−0.0725 both ways, in the same time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from regtune.models._base import Family, FitOutcome, Penalty, catch_convergence, count_nonzero

if TYPE_CHECKING:
    import numpy as np

#: scikit-learn's defaults: stop when the loss improved by less than SGD_TOL for 5 epochs.
SGD_TOL = 1e-3
SGD_MAX_ITER = 1000


class SGDLinear(Family):
    """SGDRegressor (squared loss) for regression, SGDClassifier (log-loss) for classification."""

    model = "sgd"
    rank = 1
    tasks = ("regression", "classification")
    summary = "sgd (SGDRegressor / SGDClassifier)"
    loadable_types = frozenset(
        {
            "sklearn.linear_model._stochastic_gradient.SGDClassifier",
            "sklearn.linear_model._stochastic_gradient.SGDRegressor",
        }
    )
    warm_starts = False  # see the module docstring
    weights_reason = "sample weights are wired through --model linear only; use --model linear"

    def __init__(self, task: str, *, seed: int = 0, warm_start: bool | None = None) -> None:
        from regtune.models.least_squares import LeastSquares
        from regtune.models.logistic import Logistic

        super().__init__(task, seed=seed)
        if warm_start is not None:
            self.warm_starts = warm_start
        self.name = "sgd_regressor" if task == "regression" else "sgd_classifier"
        self._linear: Family = LeastSquares(task) if task == "regression" else Logistic(task)

    def lambda_max(self, X: np.ndarray, y: np.ndarray, l1_ratio: float = 1.0) -> float:
        """The linear model's λ_max: SGD minimises the same objective."""
        return self._linear.lambda_max(X, y, l1_ratio)

    def curvature(self, X: np.ndarray, y: np.ndarray) -> np.ndarray | None:
        """The linear model's: SGD minimises the same objective."""
        return self._linear.curvature(X, y)

    def mixing_scale(self, y: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
        return self._linear.mixing_scale(y, sample_weight)

    def native(self, penalty: Penalty, n: int) -> dict[str, float]:
        native = {"alpha": penalty.lam}
        if penalty.kind == "elasticnet":
            native["l1_ratio"] = penalty.l1_ratio
        return native

    def describe(self) -> dict[str, Any]:
        estimator = "SGDRegressor" if self.task == "regression" else "SGDClassifier"
        return {"type": "sgd", "estimator": estimator, "max_iter": SGD_MAX_ITER, "tol": SGD_TOL, "seed": self.seed}

    def label(self) -> str:
        info = self.describe()
        return f"{info['estimator']} (max_iter {info['max_iter']}, tol {info['tol']:g})"

    def estimator(self, penalty: Penalty, n: int, tol: float) -> Any:
        from sklearn.linear_model import SGDClassifier, SGDRegressor

        settings = {
            "penalty": penalty.kind,
            "alpha": self.native(penalty, n)["alpha"],
            "l1_ratio": penalty.l1_ratio,
            "max_iter": SGD_MAX_ITER,
            "tol": SGD_TOL,
            "random_state": self.seed,
        }
        if self.task == "regression":
            return SGDRegressor(**settings)
        return SGDClassifier(loss="log_loss", **settings)

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        penalty: Penalty,
        tol: float,
        warm: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> FitOutcome:
        import numpy as np

        model = self.estimator(penalty, X.shape[0], tol)
        # SGD writes into coef_init: pass copies, so the stored warm start stays as it was.
        init = {} if warm is None else {"coef_init": warm[0].copy(), "intercept_init": warm[1].copy()}
        with catch_convergence() as caught:
            model.fit(X, y, **init)
        coef = np.asarray(model.coef_, dtype=np.float64)
        intercept = np.atleast_1d(np.asarray(model.intercept_, dtype=np.float64))
        converged = not caught and model.n_iter_ < SGD_MAX_ITER
        return FitOutcome(model, coef, intercept, converged, count_nonzero(coef))
