"""What a model family provides."""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from regtune.folds import Fold


def penalty_l1_ratio(penalty: str, l1_ratio: float | None = None) -> float:
    """The l1_ratio of a penalty: 1 for ``l1``, 0 for ``l2``, the searched value for ``elasticnet``."""
    if penalty == "l1":
        return 1.0
    if penalty == "l2":
        return 0.0
    if l1_ratio is None:
        raise ValueError("elasticnet needs an l1_ratio")
    return float(l1_ratio)


@dataclass
class FitOutcome:
    """A fitted estimator for one fold (usable by any scikit-learn scorer) and how the fit went."""

    model: Any
    coef: np.ndarray
    intercept: np.ndarray
    converged: bool
    n_nonzero: int


def solve_sym(M: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve ``M x = rhs`` for a symmetric positive (semi-)definite M: Cholesky, least squares if singular."""
    import numpy as np
    from scipy.linalg import LinAlgError, solve

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ill-conditioning: the least-squares answer is fine
        try:
            result: np.ndarray = solve(M, rhs, assume_a="pos", check_finite=False)
        except (LinAlgError, ValueError):
            result = np.linalg.lstsq(M, rhs, rcond=None)[0]
    return result


@dataclass
class Jacobian:
    """How a fold's solution moves with the hyperparameters (implicit differentiation at the optimum).

    ``d_log_lambda`` = (d coef / d log λ, d intercept / d log λ), with the shapes of
    :attr:`FitOutcome.coef` and :attr:`FitOutcome.intercept`; ``d_l1_ratio`` the same for the elastic
    net's l1_ratio (None for the other penalties).
    """

    d_log_lambda: tuple[np.ndarray, np.ndarray]
    d_l1_ratio: tuple[np.ndarray, np.ndarray] | None = None


@contextmanager
def catch_convergence() -> Iterator[list[warnings.WarningMessage]]:
    """Record ConvergenceWarnings of the fits inside instead of printing them."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("ignore")
        warnings.simplefilter("always", ConvergenceWarning)
        yield caught


class Family(ABC):
    """A model family: estimator construction, λ mapping, λ_max and a fast one-fold fit."""

    #: Short name shown in the table and the JSON.
    name: str
    #: Whether fold matrices should be centred on the training mean (valid for any model with an intercept).
    center_folds: bool = True
    #: Whether :meth:`jacobian` is implemented (the gradient phases of the search need it).
    has_jacobian: bool = False
    #: Whether a fold's fit should start from the nearest λ already solved there. Right for fits solved
    #: to tolerance (the start changes the time, not the answer); not where the answer depends on it.
    warm_starts: bool = True

    @abstractmethod
    def lambda_max(self, X: np.ndarray, y: np.ndarray, l1_ratio: float = 1.0) -> float:
        """The smallest λ at which the L1 part sets every coefficient to zero (on preprocessed X)."""

    @abstractmethod
    def native(self, penalty: str, lam: float, l1_ratio: float, n: int) -> dict[str, float]:
        """The estimator's own parameters for λ (``alpha``, ``C``...), with ``n`` training rows."""

    def default_lambda_range(self, penalty: str, lmax: float, ratio: float) -> tuple[float, float] | None:
        """The family's own default λ range from the data's ``lmax``, or None for the glmnet rule."""
        return None

    def describe(self) -> dict[str, Any]:
        """What was tuned, for the table and the JSON ``model`` key (type, estimator, settings)."""
        return {"type": "linear"}

    @abstractmethod
    def estimator(self, penalty: str, lam: float, l1_ratio: float, n: int, tol: float) -> Any:
        """An unfitted scikit-learn estimator that minimises the λ objective on ``n`` rows."""

    @abstractmethod
    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        penalty: str,
        lam: float,
        l1_ratio: float,
        tol: float,
        warm: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> FitOutcome:
        """Fit the λ objective on (X, y), starting from ``warm`` = (coef, intercept) when given."""

    def prepare_fold(self, fold: Fold) -> None:  # noqa: B027 - optional hook, no-op by default
        """Build the fold's caches now (before worker processes fork, so they share them)."""

    def fit_fold(
        self,
        fold: Fold,
        penalty: str,
        lam: float,
        l1_ratio: float,
        tol: float,
        warm: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> FitOutcome:
        """Fit one fold's training rows, starting from ``warm`` = (coef, intercept) when given.

        Families override this to use the fold's caches (Gram matrix, SVD).
        """
        return self.fit(fold.X_train, fold.y_train, penalty, lam, penalty_l1_ratio(penalty, l1_ratio), tol, warm)

    def jacobian(self, fold: Fold, outcome: FitOutcome, penalty: str, lam: float, l1_ratio: float) -> Jacobian | None:
        """The derivative of the fold's solution ``outcome`` with respect to log λ (and l1_ratio), or
        None where the family has no such math (then the search falls back to TPE alone)."""
        return None
