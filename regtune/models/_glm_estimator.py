"""The estimator a log-link GLM's pipeline ends in: a scikit-learn regressor fitted by regtune's solver.

Kept apart from :mod:`regtune.models._glm` so that the registry (read by ``regtune --help``) does not
import scikit-learn: this module is imported only when a model is fitted or loaded.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin

from regtune.models._glm import linear_predictor, response
from regtune.models._glm_solver import fit_glm_enet


class LogLinkRegressor(RegressorMixin, BaseEstimator):  # type: ignore[misc]
    """``½·mean deviance(y, μ) + alpha·(l1_ratio·‖w‖₁ + (1 − l1_ratio)/2·‖w‖²)``, ``μ = exp(Xw + b + offset)``.

    Tweedie ``power``: 1 Poisson, 2 Gamma, in between compound Poisson–Gamma. ``alpha`` is λ (glum's
    ``alpha``; scikit-learn's ``PoissonRegressor(alpha)`` for ``l1_ratio`` 0). ``predict(X, offset)`` is the
    mean on the response scale; without ``offset``, at offset 0 (exposure 1).
    """

    def __init__(
        self, power: float = 1.0, alpha: float = 1.0, l1_ratio: float = 0.0, tol: float = 1e-4, max_iter: int = 200
    ) -> None:
        self.power = power
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.tol = tol
        self.max_iter = max_iter

    def fit(self, X: Any, y: Any, offset: Any = None, sample_weight: Any = None) -> LogLinkRegressor:
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        solution = fit_glm_enet(
            X,
            y,
            self.power,
            self.alpha,
            self.l1_ratio,
            offset=None if offset is None else np.asarray(offset, dtype=np.float64),
            tol=self.tol,
            max_iter=self.max_iter,
            sample_weight=None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64),
        )
        self.coef_, self.intercept_ = solution.coef, solution.intercept
        self.n_iter_, self.converged_ = solution.n_iter, solution.converged
        self.n_features_in_ = X.shape[1]
        return self

    def linear_predictor(self, X: Any, offset: Any = None) -> np.ndarray:
        return linear_predictor(self.coef_, self.intercept_, X, offset)

    def predict(self, X: Any, offset: Any = None) -> np.ndarray:
        return response(self.linear_predictor(X, offset))
