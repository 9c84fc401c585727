"""What the log-link GLM families (``poisson``, ``gamma``, ``tweedie``) share: ``--model linear`` with
``--family poisson|gamma|tweedie:P`` for regression.

Objective: ``½·mean deviance(y, μ) + λ·(l1_ratio·‖w‖₁ + (1 − l1_ratio)/2·‖w‖²)`` with ``μ = exp(Xw + b + o)``,
o the offset (log exposure; coefficient 1, neither standardised nor penalised). Half the mean deviance is
the mean negative log-likelihood up to terms in y alone, so λ is glum's ``alpha`` (and ``l1_ratio``), and
for L2 scikit-learn's ``PoissonRegressor`` / ``GammaRegressor`` / ``TweedieRegressor(link="log")``
``alpha``; glmnet's ``lambda`` for ``family = "poisson"``. Solved to tolerance by regtune's proximal-Newton
solver (:mod:`regtune.models._glm_solver`), warm-started from the nearest λ on the fold.

λ_max is the largest gradient of the mean loss in the coefficients at the intercept-only model (with the
offset), divided by l1_ratio; the L2 range comes from the eigenvalues of the loss's Hessian there,
eig(X̃ᵀ diag(h) X̃ / n) with the null model's IRLS weights h (:meth:`LogLinkGLM.curvature`).

Hypergradients (:meth:`LogLinkGLM.jacobian`): at the optimum the gradient ``Xᵀg/n + λ(r·sign(w) + (1 − r)·w)``
vanishes on the active coefficients and ``Σg`` in the intercept; differentiating in λ (implicit function
theorem) gives one solve with the Hessian ``[X_A 1]ᵀ diag(h) [X_A 1]/n + λ(1 − r)·I_w``: right-hand side
``−(r·sign(w) + (1 − r)·w, 0)`` for dθ/dλ and ``−λ(sign(w) − w, 0)`` for dθ/dr. The scores differentiate as
``d mean deviance_q = mean(2·μ^(1−q)(μ − y)·dη)`` for any Tweedie power q of the scorer (0: squared error).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from regtune.errors import ConfigError, named
from regtune.models._base import Family, FitOutcome, Jacobian, Penalty, count_nonzero, normalized_weights, solve_sym
from regtune.models._threads import on_one_blas_thread, one_blas_thread

if TYPE_CHECKING:
    import numpy as np

    from regtune.folds import Fold

#: Deviance scorers by Tweedie power; ``neg_mean_tweedie_deviance`` is at the family's own power.
DEVIANCE_POWERS: dict[str, float] = {"neg_mean_poisson_deviance": 1.0, "neg_mean_gamma_deviance": 2.0}
TWEEDIE_SCORER = "neg_mean_tweedie_deviance"
ESTIMATOR = "regtune.models._glm_estimator.LogLinkRegressor"


class DevianceScorer:
    """``−mean_tweedie_deviance(y, model.predict(X), power)`` computed with NumPy (scikit-learn's scorers
    validate their inputs on every call, which costs more than a warm fold fit)."""

    def __init__(self, power: float) -> None:
        self.power = power

    def __call__(self, model: Any, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
        from regtune.models._glm_solver import mean_deviance

        with one_blas_thread():
            return -mean_deviance(y, model.predict(X), self.power, sample_weight)


def linear_predictor(coef: np.ndarray, intercept: float, X: Any, offset: Any = None) -> np.ndarray:
    """``Xw + b`` (+ the offset)."""
    import numpy as np

    eta: np.ndarray = np.asarray(X, dtype=np.float64) @ coef + intercept
    return eta if offset is None else eta + np.asarray(offset, dtype=np.float64)


def response(eta: np.ndarray) -> np.ndarray:
    """The mean ``exp(η)`` (inf where it overflows, without a warning)."""
    import numpy as np

    with np.errstate(over="ignore"):
        mean: np.ndarray = np.exp(eta)
    return mean


class FoldFit:
    """A fold's fitted coefficients and what its scorer calls (``predict(X, offset)``): the folds need no
    scikit-learn estimator (:class:`~regtune.models._glm_estimator.LogLinkRegressor` is built for the refit,
    by :meth:`LogLinkGLM.estimator_of`)."""

    def __init__(self, coef: np.ndarray, intercept: float) -> None:
        self.coef_ = coef
        self.intercept_ = intercept

    def predict(self, X: Any, offset: Any = None) -> np.ndarray:
        return response(linear_predictor(self.coef_, self.intercept_, X, offset))


class AtOffset:
    """A fitted model (a fold's, a :class:`LogLinkRegressor`, or a pipeline ending in one) bound to the offsets
    of the rows it will be asked to predict: a fold's test rows, or held-out rows."""

    def __init__(self, model: Any, offset: np.ndarray) -> None:
        self.model = model
        self.offset = offset

    def predict(self, X: Any) -> np.ndarray:
        prediction: np.ndarray = self.model.predict(X, offset=self.offset)
        return prediction


class LogLinkGLM(Family):
    """A penalised GLM with a log link and a Tweedie variance ``μ^power`` (subclasses: one distribution each)."""

    tasks = ("regression",)
    rank = 1  # after least squares: without --family, regression is least squares
    summary = "linear (least squares / logistic regression, solved exactly)"
    loadable_types = frozenset({ESTIMATOR})
    differentiable: ClassVar[tuple[str, ...]] = (*DEVIANCE_POWERS, TWEEDIE_SCORER, "neg_mean_squared_error")
    offsets = True
    weights = True
    #: The Tweedie power of the distribution (1 Poisson, 2 Gamma).
    power: float = 1.0
    #: The distribution in words, for the table.
    title: str = ""

    def __init__(self, task: str, *, seed: int = 0, distribution: str | None = None, **settings: Any) -> None:
        super().__init__(task, seed=seed, distribution=distribution, **settings)
        self.name = self.distributions[0]
        parameter = (self.distribution or "").partition(":")[2]
        if parameter:
            self.set_parameter(parameter)

    def set_parameter(self, text: str) -> None:
        """Take the parameter of ``--family NAME:PARAMETER`` (none by default)."""
        raise ConfigError(f"{named('family')} {self.name} takes no parameter: use {named('family')} {self.name}")

    # --- declarations ------------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        return {"type": "linear", "estimator": "LogLinkRegressor", "link": "log", "power": self.power}

    def label(self) -> str:
        return f"linear ({self.title} GLM, log link; penalised by regtune's proximal-Newton solver)"

    def deviance_power(self, scoring: str) -> float | None:
        """The Tweedie power of a deviance scorer (the family's own for ``neg_mean_tweedie_deviance``)."""
        return self.power if scoring == TWEEDIE_SCORER else DEVIANCE_POWERS.get(scoring)

    def scorer(self, name: str) -> Any | None:
        power = self.deviance_power(name)
        return None if power is None else DevianceScorer(power)

    def null_deviance(
        self,
        scoring: str,
        y: np.ndarray,
        offset: np.ndarray | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> float | None:
        import numpy as np

        from regtune.models._glm_solver import mean_deviance, null_intercept

        power = self.deviance_power(scoring)
        if power is None:
            return None
        eta = null_intercept(y, offset, self.power, sample_weight) + (0.0 if offset is None else offset)
        return mean_deviance(y, np.exp(np.broadcast_to(eta, y.shape)), power, sample_weight)

    # --- the λ convention ----------------------------------------------------------------------------

    def lambda_max(
        self,
        X: np.ndarray,
        y: np.ndarray,
        l1_ratio: float = 1.0,
        offset: np.ndarray | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> float:
        import numpy as np

        from regtune.models._glm_solver import null_gradient

        sw = normalized_weights(sample_weight, X.shape[0])
        top = float(np.max(np.abs(null_gradient(X, y, offset, self.power, sw)), initial=0.0))
        return top / max(l1_ratio, 1e-3)

    def curvature(
        self,
        X: np.ndarray,
        y: np.ndarray,
        offset: np.ndarray | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> np.ndarray:
        from regtune.models._glm_solver import null_curvature

        return null_curvature(X, y, offset, self.power, normalized_weights(sample_weight, X.shape[0]))

    def native(self, penalty: Penalty, n: int) -> dict[str, float]:
        if penalty.kind == "elasticnet":
            return {"alpha": penalty.lam, "l1_ratio": penalty.l1_ratio}
        return {"alpha": penalty.lam}

    def estimator(self, penalty: Penalty, n: int, tol: float) -> Any:
        from regtune.models._glm_estimator import LogLinkRegressor

        return LogLinkRegressor(power=self.power, alpha=penalty.lam, l1_ratio=penalty.l1_ratio, tol=tol)

    # --- fitting -------------------------------------------------------------------------------------

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        penalty: Penalty,
        tol: float,
        warm: tuple[np.ndarray, np.ndarray] | None = None,
        offset: np.ndarray | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> FitOutcome:
        import numpy as np

        from regtune.models._glm_solver import fit_glm_enet

        solution = fit_glm_enet(
            X,
            y,
            self.power,
            penalty.lam,
            penalty.l1_ratio,
            offset=offset,
            tol=tol,
            coef_init=None if warm is None else warm[0],
            intercept_init=None if warm is None else float(warm[1][0]),
            sample_weight=sample_weight,
        )
        coef = solution.coef
        model = FoldFit(coef, solution.intercept)
        return FitOutcome(model, coef, np.array([solution.intercept]), solution.converged, count_nonzero(coef))

    def estimator_of(self, outcome: FitOutcome, penalty: Penalty, n: int, tol: float) -> Any:
        model = self.estimator(penalty, n, tol)
        model.coef_, model.intercept_ = outcome.coef, float(outcome.intercept[0])
        model.converged_, model.n_features_in_ = outcome.converged, outcome.coef.shape[0]
        return model

    def fit_fold(
        self,
        fold: Fold,
        penalty: Penalty,
        tol: float,
        warm: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> FitOutcome:
        return self.fit(
            fold.X_train, fold.y_train, penalty, tol, warm, offset=fold.offset_train, sample_weight=fold.weight_train
        )

    def at_offset(self, model: Any, offset: np.ndarray | None) -> Any:
        return model if offset is None else AtOffset(model, offset)

    # --- hypergradients ------------------------------------------------------------------------------

    @on_one_blas_thread
    def jacobian(self, fold: Fold, outcome: FitOutcome, penalty: Penalty) -> Jacobian | None:
        import numpy as np

        from regtune.models._glm_solver import gradient_curvature

        X, n = fold.X_train, fold.n_train
        w, b = outcome.coef, float(outcome.intercept[0])
        lam, r = penalty.lam, penalty.l1_ratio
        eta = X @ w + b + (0.0 if fold.offset_train is None else fold.offset_train)
        _, h = gradient_curvature(fold.y_train, eta, self.power)
        if fold.weight_train is not None:
            h = h * fold.weight_train
        active = np.flatnonzero(w)
        root = np.sqrt(h)
        design = np.hstack([X[:, active] * root[:, None], root[:, None]])
        H = design.T @ design / n  # [X_A 1]ᵀ diag(h) [X_A 1] / n, as a symmetric rank-k update
        k = active.size
        H[np.arange(k), np.arange(k)] += lam * (1 - r)
        sign, w_act = np.sign(w[active]), w[active]
        rhs = np.zeros((k + 1, 2))
        rhs[:k, 0] = -(r * sign + (1 - r) * w_act)
        rhs[:k, 1] = -lam * (sign - w_act)
        sol = solve_sym(H, rhs)

        def unpack(col: int, factor: float) -> tuple[np.ndarray, np.ndarray]:
            d_w = np.zeros_like(w)
            d_w[active] = factor * sol[:k, col]
            return d_w, np.array([factor * sol[k, col]])

        return Jacobian(unpack(0, lam), unpack(1, 1.0) if penalty.kind == "elasticnet" else None)

    def score_derivative(
        self, quantity: str, fold: Fold, outcome: FitOutcome, d_coef: np.ndarray, d_intercept: np.ndarray
    ) -> float | None:
        import numpy as np

        power = 0.0 if quantity == "neg_mean_squared_error" else self.deviance_power(quantity)
        if power is None:
            return None
        X, y = fold.X_test, fold.y_test
        eta = X @ outcome.coef + outcome.intercept[0] + (0.0 if fold.offset_test is None else fold.offset_test)
        mu = np.exp(eta)
        d_eta = X @ d_coef + d_intercept[0]
        return -float(np.average(2.0 * mu ** (1 - power) * (mu - y) * d_eta, weights=fold.weight_test))

    def invalid_target(self, y: np.ndarray) -> tuple[int, str] | None:
        import numpy as np

        bad = np.flatnonzero(y <= 0) if self.power >= 2 else np.flatnonzero(y < 0)
        if bad.size:
            return int(bad[0]), "> 0" if self.power >= 2 else "≥ 0"
        if not np.any(y > 0):
            return 0, "positive in some row (every value is 0)"
        return None
