"""scikit-learn estimators over regtune's engine: :class:`RegTuneRegressor` and :class:`RegTuneClassifier`.

They are a front door, not a second implementation: ``fit`` turns ``X, y`` into a
:class:`~regtune.data.Dataset` (:func:`regtune.data.load_dataset`, as ``regtune.tune(X, y)`` does) and runs
:func:`regtune.api.tune_dataset` — the folds, the λ ranges, the search, the selection and the refit of the
command line. The constructor only stores its arguments (scikit-learn's contract), so the estimators clone,
pickle, and sit inside ``Pipeline``, ``cross_val_score`` and ``GridSearchCV``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_y, check_is_fitted, column_or_1d, validate_data

from regtune.errors import ConfigError, DataError, RegtuneError


class EstimatorDataError(DataError, ValueError):
    """A :class:`~regtune.errors.DataError` raised by an estimator: also a ``ValueError``, as scikit-learn
    expects of bad input."""


class EstimatorConfigError(ConfigError, ValueError):
    """A :class:`~regtune.errors.ConfigError` raised by an estimator: also a ``ValueError``, as scikit-learn
    expects of a bad parameter."""


def _as_value_error(exc: RegtuneError) -> ValueError:
    kind = EstimatorConfigError if isinstance(exc, ConfigError) else EstimatorDataError
    return kind(*exc.args)


class _RegTune(BaseEstimator):  # type: ignore[misc]
    """What both estimators share: the parameters, the validation, ``fit`` and the fitted attributes."""

    _task = ""

    def __init__(
        self,
        *,
        penalties: str | Iterable[str] | None = None,
        cv: Any = 5,
        scoring: str | None = None,
        n_trials: int = 60,
        search: str = "hybrid",
        rule: str = "min",
        random_state: Any = 0,
        n_jobs: int = 1,
        model: str = "linear",
        family: str | None = None,
        lambda_min: float | None = None,
        lambda_max: float | None = None,
        tol: float = 1e-4,
        prune: bool = True,
        categorical: Iterable[str] | None = None,
        max_categories: int = 100,
        model_params: dict[str, Any] | None = None,
    ) -> None:
        self.penalties = penalties
        self.cv = cv
        self.scoring = scoring
        self.n_trials = n_trials
        self.search = search
        self.rule = rule
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.model = model
        self.family = family
        self.lambda_min = lambda_min
        self.lambda_max = lambda_max
        self.tol = tol
        self.prune = prune
        self.categorical = categorical
        self.max_categories = max_categories
        self.model_params = model_params

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # imputed inside every fold, as the command line does
        tags.input_tags.sparse = True  # made dense: the folds are dense matrices
        tags.input_tags.string = True  # text columns of a DataFrame are one-hot encoded
        tags.input_tags.categorical = True
        tags.non_deterministic = self.random_state is None
        return tags

    # --- the parameters as a TuneConfig -------------------------------------------------------------

    def _config(self) -> Any:
        from sklearn.utils import check_random_state

        from regtune.config import TuneConfig

        penalties = (self.penalties,) if isinstance(self.penalties, str) else tuple(self.penalties or ())
        folds = self.cv if isinstance(self.cv, int | np.integer) and not isinstance(self.cv, bool) else 5
        if isinstance(self.random_state, int | np.integer) and not isinstance(self.random_state, bool):
            seed = int(self.random_state)
        else:
            seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        return TuneConfig.of(
            task=self._task,
            penalties=penalties,
            folds=int(folds),
            scoring=self.scoring,
            n_trials=self.n_trials,
            search=self.search,
            rule=self.rule,
            seed=seed,
            n_jobs=self.n_jobs,
            model=self.model,
            family=self.family,
            lambda_min=self.lambda_min,
            lambda_max=self.lambda_max,
            tol=self.tol,
            prune=self.prune,
            categorical=tuple(self.categorical or ()),
            max_categories=self.max_categories,
            **dict(self.model_params or {}),
        )

    # --- data ---------------------------------------------------------------------------------------

    def _frame(self, X: Any, *, reset: bool) -> Any:
        """``X`` as the DataFrame the engine reads (array columns named ``x0``, ``x1``, …), validated as
        scikit-learn validates (shape, number and names of the features, ±inf in arrays)."""
        import pandas as pd

        from regtune.data import as_frame

        frame = None if isinstance(X, np.ndarray) else as_frame(X)
        if frame is not None:
            validate_data(self, X=frame, reset=reset, skip_check_array=True)
            if frame.shape[0] == 0 or frame.shape[1] == 0:
                raise ValueError(f"X has {frame.shape[0]} rows and {frame.shape[1]} columns: a fit needs both")
            frame = frame.copy(deep=False).reset_index(drop=True)
            frame.columns = [str(c) for c in frame.columns]
            return frame
        values = validate_data(
            self, X=X, reset=reset, accept_sparse=("csr", "csc", "coo"), ensure_all_finite="allow-nan", dtype="numeric"
        )
        if hasattr(values, "toarray"):
            values = values.toarray()
        return pd.DataFrame(np.asarray(values, dtype=np.float64), columns=[f"x{i}" for i in range(values.shape[1])])

    def _target_name(self, frame: Any) -> str:
        name, i = "y", 0
        while name in frame.columns:
            i += 1
            name = f"y_{i}"
        return name

    def _splits(self, frame: Any, y: np.ndarray, groups: Any) -> list[tuple[np.ndarray, np.ndarray]] | None:
        """The folds of a scikit-learn splitter or an iterable of (train, test); None for an int (the
        engine's own folds: shuffled K-fold, stratified for a classifier, GroupKFold with groups)."""
        if isinstance(self.cv, int | np.integer) and not isinstance(self.cv, bool):
            return None
        from sklearn.model_selection import check_cv

        splitter = check_cv(self.cv, y, classifier=self._task == "classification")
        return [(np.asarray(tr), np.asarray(te)) for tr, te in splitter.split(frame, y, groups)]

    def _fit(self, X: Any, y: Any, sample_weight: Any, groups: Any) -> Any:
        from dataclasses import replace

        from regtune.api import tune_dataset
        from regtune.data import load_dataset

        try:
            config = self._config()
            frame = self._frame(X, reset=True)
            y = self._prepare_y(y)
            if len(y) != frame.shape[0]:
                raise ValueError(f"X has {frame.shape[0]} rows but y has {len(y)}: give one target per row")
            if frame.shape[0] < 2:
                raise ValueError(f"n_samples={frame.shape[0]}: cross-validation needs at least 2 rows")
            dataset = load_dataset(
                frame,
                y=y,
                target=self._target_name(frame),
                task=self._task,
                categorical=config.categorical,
                max_categories=config.max_categories,
            )
            if groups is not None:
                groups = column_or_1d(groups)
                if len(groups) != dataset.n_rows:
                    raise ValueError(f"groups has {len(groups)} values for {dataset.n_rows} rows")
                dataset = replace(dataset, groups=groups)
            if sample_weight is not None:
                dataset = replace(
                    dataset, weights=self._weights(sample_weight, dataset.n_rows), weights_column="sample_weight"
                )
            result = tune_dataset(dataset, config, splits=self._splits(frame, y, groups))
        except RegtuneError as exc:
            raise _as_value_error(exc) from None
        self._set_fitted(result)
        return self

    @staticmethod
    def _weights(sample_weight: Any, n_rows: int) -> np.ndarray:
        """The rows' weights, checked as ``--weights`` is (numbers ≥ 0, not all 0): regtune's error if not."""
        import pandas as pd

        from regtune.data import weight_values

        values = np.asarray(sample_weight)
        if values.ndim != 1 or len(values) != n_rows:
            raise ValueError(f"sample_weight has shape {values.shape}: give one weight per row ({n_rows},)")
        return weight_values(pd.Series(values, name="sample_weight"), "sample_weight", None)

    def _prepare_y(self, y: Any) -> np.ndarray:  # pragma: no cover - each estimator has its own
        raise NotImplementedError

    def _set_fitted(self, result: Any) -> None:
        chosen = result.chosen
        self.result_ = result
        self.best_estimator_ = result.model
        self.penalty_ = chosen.point.penalty
        self.lambda_ = float(chosen.point.lam)
        self.l1_ratio_ = float(chosen.point.l1_ratio)
        self.lambda_min_ = float(result.min.point.lam)
        self.lambda_1se_ = float(result.one_se.point.lam)
        self.best_score_ = float(chosen.point.mean)
        for name in ("alpha", "C"):
            if name in chosen.native:
                setattr(self, f"{name}_", float(chosen.native[name]))
        self.cv_results_ = cv_results(result.curve)
        model = result.model[-1]
        if hasattr(model, "coef_"):
            self.coef_, self.intercept_ = original_coefficients(result.model, self._task)

    # --- prediction ---------------------------------------------------------------------------------

    def _predict_raw(self, X: Any, method: str) -> Any:
        from regtune.preprocess import quiet_unknown_categories

        check_is_fitted(self, "best_estimator_")
        frame = self._frame(X, reset=False)
        with quiet_unknown_categories():
            return getattr(self.best_estimator_, method)(frame)


class RegTuneRegressor(RegressorMixin, _RegTune):  # type: ignore[misc]
    """A regressor whose penalty and strength λ are chosen by regtune's cross-validated search.

    ``fit`` runs the same engine as ``regtune tune``: K-fold cross-validation over the penalties (L1, L2,
    elastic net) and λ, searched with Optuna and hypergradients, λ.min and λ.1se selected, and the model
    refit on all rows at the chosen point. The features are preprocessed inside every fold as the command
    line does (median / most-frequent imputation, one-hot encoding of text and categorical columns,
    standardization), so ``X`` may hold missing values and, in a DataFrame, text columns.

    Parameters
    ----------
    penalties : str or sequence of str, default=None
        Penalties to choose from: ``"l1"``, ``"l2"``, ``"elasticnet"``; None: every penalty the model fits.
    cv : int, cross-validation splitter or iterable, default=5
        An int: that many shuffled folds (seeded by ``random_state``; ``GroupKFold`` when ``fit`` gets
        ``groups``), as ``regtune tune --folds``. A splitter (``KFold``, ``GroupKFold``, …) or an iterable of
        (train, test) index arrays: those folds.
    scoring : str, default=None
        A scikit-learn scorer name; None: ``neg_mean_squared_error`` (the deviance for a log-link family).
    n_trials : int, default=60
        Configurations (penalty, λ, l1_ratio) evaluated.
    search : {"hybrid", "tpe", "gradient"}, default="hybrid"
        How λ is searched (``regtune tune --search``).
    rule : {"min", "1se"}, default="min"
        Which λ is used: the best CV mean, or the largest λ within one standard error of it.
    random_state : int, RandomState instance or None, default=0
        Seed of the folds, the sampler and the models: the same seed gives the same λ.
    n_jobs : int, default=1
        Worker processes fitting the folds of a trial.
    model : str, default="linear"
        Model family: ``linear``, ``sgd`` or ``mlp`` (``regtune tune --model``).
    family : str, default=None
        Distribution of the target for ``model="linear"``: ``gaussian``, ``poisson``, ``gamma``, ``tweedie:P``.
    lambda_min, lambda_max : float, default=None
        Bounds of the λ range; None: from the data.
    tol : float, default=1e-4
        Tolerance of every fit.
    prune : bool, default=True
        Stop trials that are clearly worse after a few folds.
    categorical : sequence of str, default=None
        Numeric columns (of a DataFrame) to treat as categorical.
    max_categories : int, default=100
        Refuse a categorical column with more distinct values.
    model_params : dict, default=None
        The model's own settings, e.g. ``{"hidden": (32,)}`` for ``model="mlp"``.

    Attributes
    ----------
    penalty_ : str
        The chosen penalty.
    lambda_ : float
        The chosen λ (by ``rule``), on glmnet's scale: the weight of the penalty in
        ``mean loss + λ·(l1_ratio·‖w‖₁ + (1 − l1_ratio)/2·‖w‖₂²)``.
    l1_ratio_ : float
        The chosen mix of the elastic net (1 for L1, 0 for L2).
    lambda_min_, lambda_1se_ : float
        λ.min (best CV mean) and λ.1se (largest λ of the same penalty within one SE).
    alpha_ : float
        The chosen λ as the estimator's own ``alpha`` (Lasso, ElasticNet: λ; Ridge: n·λ).
    best_score_ : float
        The CV mean score (greater is better) of the chosen configuration.
    best_estimator_ : Pipeline
        The refit scikit-learn Pipeline: regtune's preprocessing, then the model at the chosen point.
    coef_ : ndarray of shape (n_columns,)
        Coefficients on the original scale of each encoded column (the input columns when all are numeric),
        so that ``X @ coef_ + intercept_`` predicts rows without missing values. Not set for ``model="mlp"``.
    intercept_ : float
        The intercept on the original scale.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during fit, when ``X`` has column names.
    cv_results_ : dict of ndarray
        One entry per trial, as ``GridSearchCV.cv_results_``: ``param_penalty``, ``param_lambda``,
        ``param_l1_ratio``, ``params``, ``mean_test_score``, ``std_test_score``, ``se_test_score``,
        ``split{k}_test_score``, ``rank_test_score``, ``state``, ``trial``.
    result_ : TuneResult
        The whole result, as :func:`regtune.tune` returns it (the curve, the per-penalty summaries, ...).

    See Also
    --------
    RegTuneClassifier : The same for class labels.
    regtune.tune : The function behind the command line, on a path, a DataFrame or X, y.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from regtune import RegTuneRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = RegTuneRegressor(n_trials=12, cv=5, random_state=0).fit(X, y)
    >>> reg.penalty_ in ("l1", "l2", "elasticnet")
    True
    >>> reg.lambda_ > 0 and reg.lambda_1se_ >= reg.lambda_min_
    True
    >>> reg.predict(X[:3]).shape
    (3,)
    >>> round(reg.score(X, y), 2) > 0.4
    True

    Row weights (the loss is Σ wᵢℓᵢ / Σ wᵢ; integer weights act as repeated rows):

    >>> import numpy as np
    >>> w = np.where(y > 150, 2.0, 1.0)
    >>> weighted = RegTuneRegressor(n_trials=12, cv=5, random_state=0).fit(X, y, sample_weight=w)
    >>> weighted.result_.dataset["weights"]
    'sample_weight'
    """

    _task = "regression"

    def fit(self, X: Any, y: Any, sample_weight: Any = None, groups: Any = None) -> RegTuneRegressor:
        """Choose the penalty and λ by cross-validation, then refit on all rows.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)
            The features; a DataFrame may hold text and categorical columns and missing values.
        y : array-like of shape (n_samples,)
            The target.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights (≥ 0, not all 0): the loss is Σ wᵢℓᵢ / Σ wᵢ in the fits, λ_max, the standardization
            and each fold's score (a weighted mean, as ``cv.glmnet`` does); ``--weights`` on the command line.
        groups : array-like of shape (n_samples,), default=None
            Group labels: each group stays within one fold.

        Returns
        -------
        self : RegTuneRegressor
        """
        return self._fit(X, y, sample_weight, groups)  # type: ignore[no-any-return]

    def _prepare_y(self, y: Any) -> np.ndarray:
        values: np.ndarray = _check_y(y, y_numeric=True, estimator=self).astype(np.float64)
        return values

    def predict(self, X: Any) -> np.ndarray:
        """The refit model's predictions for ``X``."""
        prediction: np.ndarray = self._predict_raw(X, "predict")
        return prediction


class RegTuneClassifier(ClassifierMixin, _RegTune):  # type: ignore[misc]
    """A classifier whose penalty and strength λ are chosen by regtune's cross-validated search.

    The same engine as ``regtune tune`` on class labels: stratified K-fold cross-validation over the
    penalties and λ (log-loss by default), λ.min and λ.1se, the model refit on all rows. The parameters are
    those of :class:`RegTuneRegressor`; the default ``scoring`` is ``neg_log_loss``, ``model="linear"`` is
    logistic regression (``C = 1/(n·λ)``), multinomial for more than two classes.

    Parameters
    ----------
    penalties, cv, scoring, n_trials, search, rule, random_state, n_jobs, model, family, lambda_min, \
lambda_max, tol, prune, categorical, max_categories, model_params
        As for :class:`RegTuneRegressor`; ``cv`` as an int gives stratified folds.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    penalty_, lambda_, l1_ratio_, lambda_min_, lambda_1se_, best_score_, best_estimator_, \
n_features_in_, feature_names_in_, cv_results_, result_
        As for :class:`RegTuneRegressor`.
    C_ : float
        The chosen λ as logistic regression's ``C`` (``1/(n·λ)``).
    coef_ : ndarray of shape (1, n_columns) or (n_classes, n_columns)
        Coefficients on the original scale of each encoded column, as ``LogisticRegression.coef_``.
    intercept_ : ndarray of shape (1,) or (n_classes,)
        The intercepts on the original scale.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.model_selection import cross_val_score
    >>> from regtune import RegTuneClassifier
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> clf = RegTuneClassifier(penalties="l2", n_trials=8, cv=3).fit(X, y)
    >>> clf.classes_
    array([0, 1])
    >>> clf.predict_proba(X[:2]).shape
    (2, 2)
    >>> scores = cross_val_score(RegTuneClassifier(penalties="l2", n_trials=6, cv=3), X, y, cv=3)
    >>> bool(scores.mean() > 0.9)
    True
    """

    _task = "classification"

    def fit(self, X: Any, y: Any, sample_weight: Any = None, groups: Any = None) -> RegTuneClassifier:
        """Choose the penalty and λ by stratified cross-validation, then refit on all rows.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)
            The features; a DataFrame may hold text and categorical columns and missing values.
        y : array-like of shape (n_samples,)
            The class labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights (≥ 0, not all 0): the loss is Σ wᵢℓᵢ / Σ wᵢ in the fits, λ_max, the standardization
            and each fold's score (a weighted mean, as ``cv.glmnet`` does); ``--weights`` on the command line.
        groups : array-like of shape (n_samples,), default=None
            Group labels: each group stays within one fold.

        Returns
        -------
        self : RegTuneClassifier
        """
        return self._fit(X, y, sample_weight, groups)  # type: ignore[no-any-return]

    def _prepare_y(self, y: Any) -> np.ndarray:
        labels = _check_y(y, estimator=self)
        check_classification_targets(labels)
        self.classes_, codes = np.unique(labels, return_inverse=True)
        # The engine reads numbers and text as the command line does; other labels (booleans, mixed
        # objects) go in as their codes, so that best_estimator_ still orders the classes as classes_.
        self._codes = not (labels.dtype.kind in "iuf" or all(isinstance(v, str) for v in self.classes_))
        return codes if self._codes else labels

    def _labels(self, raw: np.ndarray) -> np.ndarray:
        if self._codes:
            result: np.ndarray = self.classes_[np.asarray(raw, dtype=np.intp)]
            return result
        return np.asarray(raw, dtype=self.classes_.dtype)

    def predict(self, X: Any) -> np.ndarray:
        """The class of each row of ``X``."""
        return self._labels(self._predict_raw(X, "predict"))

    def predict_proba(self, X: Any) -> np.ndarray:
        """The probability of each class (columns in the order of ``classes_``)."""
        proba: np.ndarray = self._predict_raw(X, "predict_proba")
        return proba

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """The log of :meth:`predict_proba`."""
        with np.errstate(divide="ignore"):
            result: np.ndarray = np.log(self.predict_proba(X))
        return result

    def _has_decision_function(self) -> bool:
        check_is_fitted(self, "best_estimator_")
        return hasattr(self.best_estimator_[-1], "decision_function")

    @available_if(_has_decision_function)  # type: ignore[untyped-decorator]
    def decision_function(self, X: Any) -> np.ndarray:
        """The linear predictor of each row (one column per class beyond two)."""
        result: np.ndarray = self._predict_raw(X, "decision_function")
        return result


def cv_results(curve: list[Any]) -> dict[str, Any]:
    """The CV curve as ``GridSearchCV.cv_results_``: one entry per trial (pruned and failed trials too,
    their missing folds NaN)."""
    from scipy.stats import rankdata

    n_splits = max((len(p.fold_scores) for p in curve), default=0)
    splits = np.full((len(curve), n_splits), np.nan)
    for i, point in enumerate(curve):
        splits[i, : len(point.fold_scores)] = point.fold_scores
    means = np.array([p.mean for p in curve], dtype=np.float64)
    with np.errstate(invalid="ignore"):
        std = np.array([np.std(p.fold_scores) if p.fold_scores else np.nan for p in curve])
    ranks = rankdata(np.where(np.isfinite(means), -means, np.inf), method="min").astype(np.int32)
    results: dict[str, Any] = {
        "trial": np.array([p.trial for p in curve], dtype=np.int64),
        "param_penalty": np.array([p.penalty for p in curve], dtype=object),
        "param_lambda": np.array([p.lam for p in curve], dtype=np.float64),
        "param_l1_ratio": np.array([p.l1_ratio for p in curve], dtype=np.float64),
        "params": [{"penalty": p.penalty, "lambda": p.lam, "l1_ratio": p.l1_ratio} for p in curve],
        "mean_test_score": means,
        "std_test_score": std,
        "se_test_score": np.array([p.se for p in curve], dtype=np.float64),
        "rank_test_score": ranks,
        "state": np.array([p.state for p in curve], dtype=object),
    }
    for k in range(n_splits):
        results[f"split{k}_test_score"] = splits[:, k]
    return results


def original_coefficients(pipeline: Any, task: str) -> tuple[Any, Any]:
    """The model's coefficients and intercepts on the original scale of each encoded column, shaped as
    scikit-learn's linear models shape them (a regressor: (p,) and a float; a classifier: (k, p), (k,))."""
    from regtune.refit import original_arrays

    original, shifted, _ = original_arrays(pipeline)
    if task == "regression":
        return original.ravel(), float(shifted[0])
    return original, shifted
