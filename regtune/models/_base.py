"""What a model family is: the penalty value object, the family base class, and what a fit returns.

A family is one module under ``regtune/models/`` with one :class:`Family` subclass per task it serves.
The class *declares* what the rest of regtune reads from the registry (:mod:`regtune.models`): its
``model`` name (the ``--model`` value), ``tasks``, ``penalties``, model ``settings`` (with their
validation), the estimator types a model file may load (``loadable_types``), the table label of its
native parameter — and *implements* the λ mapping once (:meth:`Family.native`, which
:meth:`Family.estimator` uses), the fold fit, and, where the math allows, the hypergradient.
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar

from regtune.errors import ConfigError, named

if TYPE_CHECKING:
    import numpy as np

    from regtune.folds import Fold
    from regtune.settings import Setting

#: Every penalty regtune knows, in the order the table shows them.
PENALTIES: tuple[str, ...] = ("l1", "l2", "elasticnet")


@dataclass(frozen=True)
class Penalty:
    """A penalty of the shared convention: ``λ·(l1_ratio·‖w‖₁ + (1 − l1_ratio)/2·‖w‖²)``.

    ``kind`` is ``l1`` (l1_ratio 1), ``l2`` (l1_ratio 0) or ``elasticnet`` (l1_ratio searched in between).
    """

    kind: str
    lam: float
    l1_ratio: float

    @classmethod
    def of(cls, kind: str, lam: float, l1_ratio: float | None = None) -> Penalty:
        """The penalty ``kind`` at ``lam``; ``l1_ratio`` is needed (and used) only for the elastic net."""
        if kind == "l1":
            return cls(kind, float(lam), 1.0)
        if kind == "l2":
            return cls(kind, float(lam), 0.0)
        if kind != "elasticnet":
            raise ValueError(f"unknown penalty {kind!r}")
        if l1_ratio is None:
            raise ValueError("elasticnet needs an l1_ratio")
        return cls(kind, float(lam), float(l1_ratio))

    @property
    def is_l2(self) -> bool:
        """Pure L2 (ridge): no L1 part, so no λ_max and no sparsity."""
        return self.kind == "l2"

    @property
    def l1(self) -> float:
        """The weight of ``‖w‖₁``: λ·l1_ratio."""
        return self.lam * self.l1_ratio

    @property
    def l2(self) -> float:
        """The weight of ``½‖w‖²``: λ·(1 − l1_ratio)."""
        return self.lam * (1.0 - self.l1_ratio)

    def at(self, lam: float) -> Penalty:
        """The same penalty at another λ."""
        return replace(self, lam=float(lam))


def penalty_l1_ratio(penalty: str, l1_ratio: float | None = None) -> float:
    """The l1_ratio of a penalty: 1 for ``l1``, 0 for ``l2``, the searched value for ``elasticnet``."""
    return Penalty.of(penalty, 1.0, l1_ratio).l1_ratio


@dataclass
class FitOutcome:
    """A fitted estimator for one fold (usable by any scikit-learn scorer) and how the fit went."""

    model: Any
    coef: np.ndarray
    intercept: np.ndarray
    converged: bool
    n_nonzero: int
    #: What the solver leaves for the family's :meth:`Family.jacobian` (the logistic solver: its last Newton
    #: step's quadratic model, a preconditioner for the Jacobian's solve), or None.
    solver_model: Any = None


class LightRegressor:
    """What a fold's light model (or a wrapper binding offsets) needs to be scored by a scikit-learn scorer
    without being a scikit-learn estimator: its tags say "regressor" (scikit-learn is imported only when a
    scorer asks for them)."""

    def __sklearn_tags__(self) -> Any:
        from sklearn.utils import RegressorTags, Tags, TargetTags

        return Tags(estimator_type="regressor", target_tags=TargetTags(required=True), regressor_tags=RegressorTags())


class LightClassifier:
    """:class:`LightRegressor`'s counterpart for a classifier's fold model: tagged "classifier"."""

    def __sklearn_tags__(self) -> Any:
        from sklearn.utils import ClassifierTags, Tags, TargetTags

        return Tags(
            estimator_type="classifier", target_tags=TargetTags(required=True), classifier_tags=ClassifierTags()
        )


class LinearFit(LightRegressor):
    """A fold's fitted linear model ``Xw + b``: what its scorer calls ``predict`` on. The family builds the
    scikit-learn estimator only for a refit pipeline (:meth:`Family.estimator_of`)."""

    def __init__(self, coef: np.ndarray, intercept: float) -> None:
        self.coef_ = coef
        self.intercept_ = intercept

    def predict(self, X: Any) -> np.ndarray:
        import numpy as np

        prediction: np.ndarray = np.asarray(X, dtype=np.float64) @ self.coef_ + self.intercept_
        return prediction


@dataclass
class Jacobian:
    """How a fold's solution moves with the hyperparameters (implicit differentiation at the optimum).

    ``d_log_lambda`` = (d coef / d log λ, d intercept / d log λ), with the shapes of
    :attr:`FitOutcome.coef` and :attr:`FitOutcome.intercept`; ``d_l1_ratio`` the same for the elastic
    net's l1_ratio (None for the other penalties).
    """

    d_log_lambda: tuple[np.ndarray, np.ndarray]
    d_l1_ratio: tuple[np.ndarray, np.ndarray] | None = None


#: Up to this size a positive-definite solve uses NumPy's Cholesky (no ``scipy.linalg`` import, ≈0.2 s on a
#: small machine); a larger one SciPy's, whose triangular solves are cheaper than NumPy's general ones.
SMALL_SOLVE = 96


def solve_pd(M: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve ``M x = rhs`` by Cholesky for a symmetric positive-definite M; ``numpy.linalg.LinAlgError``
    (which is SciPy's too) when M is not (above SMALL_SOLVE also when its lower triangle, the one read,
    holds a value that is not finite).

    Above SMALL_SOLVE, LAPACK's ``posv`` itself (factor and solve in one call, no condition estimate):
    ``scipy.linalg.solve(assume_a="pos")`` took 1.5 ms for a 400 × 400 system where ``posv`` takes 1.0
    (one BLAS thread; the multinomial solver's active-set searches make thousands of these)."""
    import numpy as np

    if M.shape[0] <= SMALL_SOLVE:
        L = np.linalg.cholesky(M)
        result: np.ndarray = np.linalg.solve(L.T, np.linalg.solve(L, rhs))
        return result
    from scipy.linalg import get_lapack_funcs

    (posv,) = get_lapack_funcs(("posv",), (M, rhs))
    _, result, info = posv(M, rhs, lower=True)
    if info != 0 or not np.all(np.isfinite(result)):  # OpenBLAS's Cholesky lets a NaN through with info 0
        if info == 0 and np.all(np.isfinite(M)):
            return result  # a finite system whose right-hand side is not: as a solve gives it
        raise np.linalg.LinAlgError(f"the matrix is not positive definite (LAPACK posv: info {info})")
    return result


def solve_sym(M: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve ``M x = rhs`` for a symmetric positive (semi-)definite M: Cholesky, least squares if singular."""
    import numpy as np

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ill-conditioning: the least-squares answer is fine
        try:
            result: np.ndarray = solve_pd(M, rhs)
        except np.linalg.LinAlgError:
            result = np.linalg.lstsq(M, rhs, rcond=None)[0]
    return result


def squared_singular_values(X: np.ndarray) -> np.ndarray:
    """The squared singular values of ``X`` (the eigenvalues of XᵀX, descending, ≥ 0). With more rows than
    columns, from the Gram matrix: one BLAS-3 product and a p×p eigensolve (0.04 s on 327,000 × 50 rows,
    where the SVD of the rows takes 0.4 s); eigenvalues within rounding of zero (≈1e-16 of the largest)
    are zero to every reader (:func:`regtune.policy.ridge_range` keeps those above 1e-12 of it)."""
    import numpy as np

    if X.shape[0] > X.shape[1]:
        eigs: np.ndarray = np.maximum(np.linalg.eigvalsh(X.T @ X)[::-1], 0.0)
        return eigs
    s = np.linalg.svd(X, compute_uv=False)
    squared: np.ndarray = s * s
    return squared


@contextmanager
def catch_convergence() -> Iterator[list[warnings.WarningMessage]]:
    """Record ConvergenceWarnings of the fits inside instead of printing them."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("ignore")
        warnings.simplefilter("always", ConvergenceWarning)
        yield caught


#: A coefficient smaller than this share of the largest one counts as zero: exactly collinear columns
#: (the dummies of a many-level categorical sum to the intercept) leave rounding-size values of 1e-12.
NONZERO_RTOL = 1e-8


def with_offset(offset: np.ndarray | None) -> dict[str, Any]:
    """The keyword arguments that hand ``offset`` to a family that takes one (nothing without an offset)."""
    return {} if offset is None else {"offset": offset}


def with_weights(sample_weight: np.ndarray | None) -> dict[str, Any]:
    """The keyword arguments that hand the rows' weights to a family that takes them (nothing without)."""
    return {} if sample_weight is None else {"sample_weight": sample_weight}


def normalized_weights(sample_weight: np.ndarray | None, n: int) -> np.ndarray | None:
    """The weights rescaled to sum to ``n`` (mean 1), as glmnet does: the loss Σ wᵢℓᵢ / Σ wᵢ is then
    Σ wᵢℓᵢ / n, so λ keeps its meaning; None stays None."""
    import numpy as np

    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=np.float64)
    return w * (n / float(w.sum()))


def count_nonzero(coef: np.ndarray) -> int:
    """Features with a non-zero coefficient (in any class row of a multiclass model), relative to the
    largest coefficient (``NONZERO_RTOL``)."""
    import numpy as np

    c = np.abs(np.atleast_2d(coef))
    top = float(c.max(initial=0.0))
    if top == 0.0:
        return 0
    return int(np.count_nonzero(np.any(c > NONZERO_RTOL * top, axis=0)))


class Family(ABC):
    """A model family: its declarations (class attributes) and a fast, exact fold fit.

    Subclasses that set ``model`` are registered (one per task they serve); the registry builds them
    with ``cls(task, seed=…, **settings)``.
    """

    #: The ``--model`` value this class implements (several classes share one: one per task).
    model: ClassVar[str] = ""
    #: The tasks this class serves ("regression", "classification").
    tasks: ClassVar[tuple[str, ...]] = ()
    #: The penalties it can fit, and why not the others (for the error that refuses them).
    penalties: ClassVar[tuple[str, ...]] = PENALTIES
    penalty_reason: ClassVar[str] = ""
    #: Where to go instead for the penalties it cannot fit (e.g. ``--model sgd for L1 / elastic net``).
    penalty_alternative: ClassVar[str] = ""
    #: One line for ``--model``'s help, and where the model stands in its list (lower first).
    summary: ClassVar[str] = ""
    rank: ClassVar[int] = 100
    #: The model's own settings (``--hidden``); the registry checks that every family sharing a
    #: model declares them alike.
    settings: ClassVar[tuple[Setting, ...]] = ()
    #: Every type (``module.Class``) a saved pipeline of this family may contain besides the preprocessing.
    loadable_types: ClassVar[frozenset[str]] = frozenset()
    #: Scorers whose derivative :meth:`score_derivative` computes exactly; any other is followed through
    #: ``own_loss`` (as a greater-is-better scorer name).
    differentiable: ClassVar[tuple[str, ...]] = ()
    own_loss: ClassVar[str] = ""
    #: Whether fold matrices are centred on the training mean (valid for any model with an intercept).
    center_folds: ClassVar[bool] = True
    #: Whether a fold's fit starts from the nearest λ already solved there. Right for fits solved to
    #: tolerance (the start changes the time, not the answer); not where the answer depends on it.
    warm_starts: bool = True
    #: Whether a warm start is first moved to the new λ along the stored solution's derivatives (the
    #: Jacobian the hypergradient computes): fewer Newton steps where those are costly.
    warm_predictor: ClassVar[bool] = False
    #: The distributions (``--family`` values) this class fits. Without ``--family`` a task gets the first
    #: class of the model (by ``rank``) that serves it; a value may carry a parameter (``tweedie:1.5``).
    distributions: ClassVar[tuple[str, ...]] = ()
    #: Whether ``fit``, ``lambda_max`` and ``curvature`` take an ``offset`` (a column entering the linear
    #: predictor with coefficient 1), and fold fits read ``Fold.offset_train`` / ``offset_test``.
    offsets: ClassVar[bool] = False
    #: Whether ``fit``, ``lambda_max`` and ``curvature`` take a ``sample_weight`` (rows' weights ≥ 0; the loss
    #: is their weighted mean) and fold fits read ``Fold.weight_train``; if not, why (for the error).
    weights: ClassVar[bool] = False
    weights_reason: ClassVar[str] = ""
    #: The scorer used when none is given (empty: the task's default).
    default_scoring: ClassVar[str] = ""

    #: Short name shown in the table and the JSON (``least_squares``, ``mlp_classifier``).
    name: str = ""

    def __init__(self, task: str, *, seed: int = 0, distribution: str | None = None, **settings: Any) -> None:
        self.task = task
        self.seed = seed
        #: The ``--family`` value this instance fits (None for a model without distributions).
        self.distribution = distribution or (self.distributions[0] if self.distributions else None)
        unknown = sorted(set(settings) - {s.name for s in self.settings})
        if unknown:
            raise ConfigError(f"{named(unknown[0])} does not apply to {named('model')} {self.model}")

    # --- declarations derived from the implementation --------------------------------------------

    @property
    def has_jacobian(self) -> bool:
        """Whether :meth:`jacobian` is implemented (the gradient phases of the search need it)."""
        return type(self).jacobian is not Family.jacobian

    def describe(self) -> dict[str, Any]:
        """What was tuned, for the table and the JSON ``model`` key (type, estimator, settings)."""
        return {"type": self.model}

    def label(self) -> str:
        """The tuned model in words, for the table (``linear (Lasso / Ridge / ElasticNet)``)."""
        return f"{self.model} ({self.describe().get('estimator', self.name)})"

    def native_name(self) -> str:
        """The estimator's own strength parameter, as the table's column header (``alpha``, ``C``)."""
        return next(iter(self.native(Penalty.of("l1", 1.0), 100)))

    def settings_values(self) -> Mapping[str, Any]:
        """The values of the model's own settings (they are part of a stored study's identity)."""
        return {}

    # --- the λ convention ----------------------------------------------------------------------

    @abstractmethod
    def lambda_max(self, X: np.ndarray, y: np.ndarray, l1_ratio: float = 1.0) -> float:
        """The smallest λ at which the L1 part sets every coefficient to zero (on preprocessed X)."""

    @abstractmethod
    def native(self, penalty: Penalty, n: int) -> dict[str, float]:
        """The estimator's own parameters for ``penalty`` (``alpha``, ``C``...), with ``n`` training rows:
        the one place where the family's λ mapping is written."""

    def curvature(self, X: np.ndarray, y: np.ndarray) -> np.ndarray | None:
        """The eigenvalues of the Hessian of the mean loss in the coefficients at the null model (the
        intercept-only fit), on preprocessed X: the scale of the L2 penalty, which shrinks each eigen-
        direction by e/(e + λ). None where the family has no such scale (a network)."""
        return None

    def mixing_scale(self, y: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
        """The scale s of the elastic net's mix (``regtune.policy.SearchSpace``): the target's, for a loss
        whose coefficients grow with it (least squares: sd(y), weighted by the rows' weights if any); 1
        where they do not (logistic)."""
        return 1.0

    def invalid_target(self, y: np.ndarray) -> tuple[int, str] | None:
        """The first row (index into ``y``) of a target the distribution cannot model and what it must be
        (``≥ 0``), or None when every value is fine."""
        return None

    def scorer(self, name: str) -> Any | None:
        """A scorer the family computes itself for ``name`` (its own deviance), or None for scikit-learn's."""
        return None

    def null_deviance(
        self,
        scoring: str,
        y: np.ndarray,
        offset: np.ndarray | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> float | None:
        """The mean deviance ``scoring`` measures of the intercept-only model on (y, offset): the
        denominator of the fraction of deviance explained; None when ``scoring`` is not a deviance."""
        return None

    def default_lambda_range(self, penalty: str, lmax: float, ratio: float) -> tuple[float, float] | None:
        """The family's own default λ range from the data's ``lmax``, or None for the glmnet rule."""
        return None

    @abstractmethod
    def estimator(self, penalty: Penalty, n: int, tol: float) -> Any:
        """An unfitted scikit-learn estimator that minimises the λ objective on ``n`` rows (its strength
        parameters from :meth:`native`)."""

    # --- fitting ---------------------------------------------------------------------------------

    @abstractmethod
    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        penalty: Penalty,
        tol: float,
        warm: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> FitOutcome:
        """Fit the λ objective on (X, y), starting from ``warm`` = (coef, intercept) when given."""

    def estimator_of(self, outcome: FitOutcome, penalty: Penalty, n: int, tol: float) -> Any:
        """The scikit-learn estimator of a fit on ``n`` rows (what a refit pipeline ends in): the fit's own
        model, unless the family fits with a lighter object and builds its estimator here."""
        return outcome.model

    def prepare_fold(self, fold: Fold) -> None:  # noqa: B027 - optional hook, no-op by default
        """Build the fold's caches now (before worker processes fork, so they share them)."""

    def fit_fold(
        self,
        fold: Fold,
        penalty: Penalty,
        tol: float,
        warm: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> FitOutcome:
        """Fit one fold's training rows, starting from ``warm`` = (coef, intercept) when given.

        Families override this to use the fold's caches (Gram matrix, SVD).
        """
        return self.fit(fold.X_train, fold.y_train, penalty, tol, warm, **with_weights(fold.weight_train))

    def scoring_model(self, outcome: FitOutcome, fold: Fold) -> Any:
        """What a scorer calls ``predict`` on for the fold's test rows (a model bound to their offset)."""
        return self.at_offset(outcome.model, fold.offset_test)

    def at_offset(self, model: Any, offset: np.ndarray | None) -> Any:
        """``model`` (a fold's estimator or a refit pipeline) bound to the offsets of the rows it will predict:
        for a family with ``offsets``; the others have none and get ``model`` itself."""
        return model

    # --- hypergradients --------------------------------------------------------------------------

    def jacobian(self, fold: Fold, outcome: FitOutcome, penalty: Penalty) -> Jacobian | None:
        """The derivative of the fold's solution ``outcome`` with respect to log λ (and l1_ratio), or
        None where the family has no such math (then the search falls back to TPE alone)."""
        return None

    def score_derivative(
        self,
        quantity: str,
        fold: Fold,
        outcome: FitOutcome,
        d_coef: np.ndarray,
        d_intercept: np.ndarray,
    ) -> float | None:
        """d (fold test score ``quantity``) for a change (d_coef, d_intercept) of the fold's solution;
        None where it is not defined. Families with a :meth:`jacobian` implement it for their
        ``differentiable`` scorers and ``own_loss``."""
        return None

    def hyper_quantity(self, scoring: str) -> str:
        """What the hypergradient differentiates: the scorer itself when the family can, else its own loss."""
        return scoring if scoring in self.differentiable else self.own_loss
