"""TuneResult: everything a run found, and its ``regtune.result/2`` JSON document (DESIGN.md §4).

The facts about the data, the cross-validation and the study are typed records (:class:`DatasetInfo`,
:class:`CVInfo`, :class:`StudyInfo`), built once by :func:`regtune.tune` or :func:`regtune.show`; each
serialises to its JSON object with :meth:`to_dict` (stable keys, in a stable order) and can also be read
like that object (``result.dataset["task"]``).
"""

from __future__ import annotations

import math
import platform
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from regtune.refit import OriginalScale
from regtune.select import Point

if TYPE_CHECKING:
    from regtune.data import Dataset
    from regtune.evaluate import HeldOut, Nested
    from regtune.models import Family

#: Version 2 (regtune 0.2): regression is scored by mean squared error by default, with R² beside it
#: (``cv_r2``); coefficients on the original scale with the intercept; per-penalty verdicts.
SCHEMA = "regtune.result/2"


def _num(x: float | None) -> float | None:
    """JSON has no NaN: non-finite numbers become null."""
    if x is None:
        return None
    return float(x) if math.isfinite(x) else None


class _Record:
    """A dataclass that also reads like its JSON object (``info["task"]``)."""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.to_dict().get(key, default)


@dataclass(frozen=True)
class DatasetInfo(_Record):
    """The table tuned on: where it came from, its target and task, its shape."""

    source: str
    target: str
    task: str
    task_reason: str
    n_rows: int
    n_features: int
    n_columns_encoded: int | None
    #: The numeric and categorical feature columns (None for a stored study: its data is not read).
    numeric: list[str] | None
    categorical: list[str] | None
    rows_dropped: int | None
    n_classes: int | None
    #: The column of row weights (``--weights``; ``sample_weight`` from the estimators), None without.
    weights: str | None = None

    @classmethod
    def of(cls, dataset: Dataset, n_columns_encoded: int) -> DatasetInfo:
        return cls(
            source=dataset.source,
            target=dataset.target,
            task=dataset.task,
            task_reason=dataset.task_reason,
            n_rows=dataset.n_rows,
            n_features=dataset.n_features,
            n_columns_encoded=n_columns_encoded,
            numeric=dataset.numeric,
            categorical=dataset.categorical,
            rows_dropped=dataset.rows_dropped,
            n_classes=dataset.n_classes,
            weights=dataset.weights_column,
        )

    @classmethod
    def stored(cls, identity: dict[str, Any]) -> DatasetInfo:
        """What a stored study's identity says of its data."""
        n_rows, n_features = identity["shape"]
        return cls(
            source=identity["source"],
            target=identity["target"],
            task=identity["task"],
            task_reason="as stored in the study",
            n_rows=n_rows,
            n_features=n_features,
            n_columns_encoded=identity.get("n_columns_encoded"),
            numeric=None,
            categorical=None,
            rows_dropped=identity.get("rows_dropped"),
            n_classes=identity.get("n_classes"),
            weights=(identity.get("weights") or {}).get("column"),
        )


@dataclass(frozen=True)
class CVInfo(_Record):
    """How the configurations were scored and searched."""

    folds: int
    repeats: int
    scoring: str
    seed: int
    groups: str | None
    fold_column: str | None
    #: Fold fits run by this process (None for a stored study).
    n_fold_fits: int | None
    #: The search mode used (None for a stored study).
    search: str | None
    #: The quantity each trial's hypergradient differentiates (None: the family has none).
    hypergradient_quantity: str | None
    #: Var(y) over all rows (1/n), for regression: R² = 1 − MSE / Var(y) beside a mean squared error.
    target_variance: float | None = None
    #: The scale s of the elastic net's mix (``regtune.policy.SearchSpace``): glmnet's α of an l1_ratio r
    #: is r / (s(1 − r) + r).
    mixing_scale: float | None = None

    def mixing(self, penalty: str, l1_ratio: float) -> float | None:
        """glmnet's mixing alpha of an elastic-net point (None for the other penalties)."""
        if penalty != "elasticnet":
            return None
        s = self.mixing_scale or 1.0
        return l1_ratio / (s * (1.0 - l1_ratio) + l1_ratio)

    #: The mean deviance of the intercept-only model over all rows, when the score is a deviance: the
    #: fraction of deviance explained (glmnet's dev.ratio) = 1 − deviance / null_deviance.
    null_deviance: float | None = None

    def r2(self, mean: float | None) -> float | None:
        """R² of a CV mean when the score is the mean squared error (None otherwise)."""
        if self.scoring != "neg_mean_squared_error" or not self.target_variance or mean is None:
            return None
        return _num(1.0 + mean / self.target_variance)

    def dev_ratio(self, mean: float | None) -> float | None:
        """The fraction of deviance explained by a CV mean when the score is a deviance (None otherwise)."""
        if not self.null_deviance or mean is None:
            return None
        return _num(1.0 + mean / self.null_deviance)


@dataclass(frozen=True)
class StudyInfo(_Record):
    """The Optuna study behind the result, and how many of its trials ended how."""

    name: str | None
    storage: str | None
    resumed: bool
    #: True when a gradient search stopped before the budget (None for a stored study: not recorded).
    converged: bool | None = None
    n_trials: int = 0
    complete: int = 0
    pruned: int = 0
    failed: int = 0
    unconverged: int = 0
    #: Trials the study held when the run started and trials this run added (None for a stored study).
    stored: int | None = None
    new: int | None = None
    #: The counted trials (complete or pruned) the run aimed at, and ``add_trials`` when that set it.
    budget: int | None = None
    add_trials: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        if self.converged is None:
            del data["converged"]
        return data


def versions() -> dict[str, str]:
    """The versions that made a result (regtune, Python and the libraries whose numbers it depends on)."""
    from importlib.metadata import PackageNotFoundError, version

    from regtune import __version__

    found = {"regtune": __version__, "python": platform.python_version()}
    for name in ("scikit-learn", "optuna", "numpy", "pandas"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:  # pragma: no cover - all are dependencies
            found[name] = "unknown"
    return found


@dataclass
class ChosenPoint:
    """A selected configuration with its refit facts (native parameters for all rows, non-zeros)."""

    point: Point
    native: dict[str, float]
    #: Non-zero coefficients of the model refit on all rows (None for a stored study: no refit); the mean
    #: over the folds is ``point.n_nonzero``.
    n_nonzero: int | None
    rule: str | None = None
    #: "lower" or "upper" when λ sits on an edge of the (possibly widened) range; None inside.
    boundary: str | None = None
    #: d CV score / d log λ (and / d l1_ratio) at this point, the quantity differentiated, and for λ.min a
    #: verdict ("interior", "boundary", "not_converged", "unknown") with a sentence; None if not computed.
    hypergradient: dict[str, Any] | None = None

    def to_dict(self, cv: CVInfo | None = None) -> dict[str, Any]:
        p = self.point
        data: dict[str, Any] = {}
        if self.rule is not None:
            data["rule"] = self.rule
        data.update(
            {
                "penalty": p.penalty,
                "lambda": p.lam,
                "l1_ratio": p.l1_ratio,
                "mixing": cv.mixing(p.penalty, p.l1_ratio) if cv is not None else None,
                "native": self.native,
                "cv_mean": _num(p.mean),
                "cv_se": _num(p.se),
                "cv_r2": cv.r2(p.mean) if cv is not None else None,
                "cv_dev_ratio": cv.dev_ratio(p.mean) if cv is not None else None,
                "n_nonzero": self.n_nonzero,
                "n_nonzero_mean": _num(p.n_nonzero) if p.n_nonzero is not None else None,
                "trial": p.trial,
                "boundary": self.boundary,
                "hypergradient": self.hypergradient,
            }
        )
        return data


@dataclass
class PenaltySummary:
    penalty: str
    best: Point | None
    n_trials: int
    n_complete: int
    lambda_range: tuple[float, float]
    widened: bool
    native: dict[str, float] = field(default_factory=dict)
    #: "lower"/"upper" when this penalty's best λ is on an edge of its searched range.
    boundary: str | None = None
    #: Whether this penalty's best is its own optimum (``regtune.policy.certify``): verdict and message.
    verdict: dict[str, Any] | None = None
    #: Non-zero coefficients of the refit at this penalty's best λ when that is λ.min or λ.1se (the only
    #: points refit), else None; the mean over the folds is ``best.n_nonzero``.
    n_nonzero_refit: int | None = None

    def to_dict(self, cv: CVInfo | None = None) -> dict[str, Any]:
        b = self.best
        return {
            "penalty": self.penalty,
            "lambda": b.lam if b else None,
            "l1_ratio": b.l1_ratio if b else None,
            "mixing": cv.mixing(self.penalty, b.l1_ratio) if cv is not None and b else None,
            "native": self.native,
            "cv_mean": _num(b.mean) if b else None,
            "cv_se": _num(b.se) if b else None,
            "cv_r2": cv.r2(b.mean) if cv is not None and b else None,
            "cv_dev_ratio": cv.dev_ratio(b.mean) if cv is not None and b else None,
            "n_nonzero": self.n_nonzero_refit,
            "n_nonzero_mean": _num(b.n_nonzero) if b and b.n_nonzero is not None else None,
            "trial": b.trial if b else None,
            "n_trials": self.n_trials,
            "n_complete": self.n_complete,
            "lambda_range": list(self.lambda_range),
            "range_widened": self.widened,
            "boundary": self.boundary,
            "verdict": self.verdict["verdict"] if self.verdict else None,
            "verdict_message": self.verdict["message"] if self.verdict else None,
        }


@dataclass
class RefitContext:
    """The data and model family a result was refit with: enough to fit it again at another λ."""

    dataset: Dataset
    family: Family
    tol: float


@dataclass
class TuneResult:
    """The outcome of :func:`regtune.tune`: the choice, the curve it came from, and the refit model."""

    dataset: DatasetInfo
    cv: CVInfo
    chosen: ChosenPoint
    min: ChosenPoint
    one_se: ChosenPoint
    per_penalty: list[PenaltySummary]
    curve: list[Point]
    study: StudyInfo
    #: The refit model's coefficients on the standardized encoded columns it was fitted on.
    coefficients: list[tuple[str, float]]
    warnings: list[str]
    elapsed_s: float
    versions: dict[str, str]
    family: str
    interrupted: bool = False
    #: What refitting needs (the data, the family, the tolerance): set by :func:`regtune.tune`, None for
    #: a stored study (``show``). The coefficient path (:func:`regtune.coefpath.coefficient_path`) uses it.
    refit_context: RefitContext | None = field(default=None, repr=False)
    #: The model tuned: ``type`` (linear, sgd, mlp), ``estimator`` and its fixed settings.
    model_info: dict[str, Any] = field(default_factory=dict)
    #: The model in words (``linear (Lasso / Ridge / ElasticNet)``) and its strength parameter's name
    #: (``alpha``, ``C``), for the table.
    model_label: str = ""
    native_name: str = "alpha"
    #: The coefficients on the original scale of each input column, and the intercepts on both scales.
    original: OriginalScale = field(default_factory=lambda: OriginalScale([], []))
    #: Scores on rows the search never saw (``holdout`` / ``test``), and of the procedure (``nested``).
    held_out: HeldOut | None = None
    nested: Nested | None = None
    #: The dtype each feature column was read as: a model file records it for the categorical ones, so that
    #: ``predict`` turns the same codes into the same levels (a column read as float64 gives "3.0").
    read_as: dict[str, str] = field(default_factory=dict)
    #: Builds :attr:`model` on its first use (None: no model, a stored study).
    build_model: Callable[[], Any] | None = field(default=None, repr=False, compare=False)
    _model: Any = field(default=None, init=False, repr=False, compare=False)

    @property
    def model(self) -> Any:
        """The refit model: a scikit-learn Pipeline (regtune's preprocessing, then the estimator at the chosen
        point), built on first use — a run that neither saves nor plots it never imports scikit-learn for
        it; None for a stored study."""
        if self._model is None and self.build_model is not None:
            self._model = self.build_model()
            self.build_model = None
        return self._model

    def __getstate__(self) -> dict[str, Any]:
        self.model  # noqa: B018 - build it: the builder is a closure, and a pickle needs the model itself
        return dict(self.__dict__)

    def to_dict(self) -> dict[str, Any]:
        """The ``regtune.result/2`` document (stable keys; new keys are added, never renamed)."""
        return {
            "schema": SCHEMA,
            "dataset": self.dataset.to_dict(),
            "cv": self.cv.to_dict(),
            "model": {"family": self.family, **self.model_info},
            "chosen": self.chosen.to_dict(self.cv),
            "min": self.min.to_dict(self.cv),
            "one_se": self.one_se.to_dict(self.cv),
            "per_penalty": [s.to_dict(self.cv) for s in self.per_penalty],
            "curve": [
                {
                    "trial": p.trial,
                    "penalty": p.penalty,
                    "lambda": p.lam,
                    "l1_ratio": p.l1_ratio,
                    "mixing": self.cv.mixing(p.penalty, p.l1_ratio),
                    "fold_scores": [_num(s) for s in p.fold_scores],
                    "cv_mean": _num(p.mean),
                    "cv_se": _num(p.se),
                    "cv_r2": self.cv.r2(p.mean),
                    "cv_dev_ratio": self.cv.dev_ratio(p.mean),
                    "state": p.state,
                    "converged": p.converged,
                    # A trial has no refit: both are the mean over its folds (n_nonzero kept for result/2).
                    "n_nonzero": _num(p.n_nonzero) if p.n_nonzero is not None else None,
                    "n_nonzero_mean": _num(p.n_nonzero) if p.n_nonzero is not None else None,
                    "d_log_lambda": _num(p.d_log_lambda),
                    "d_l1_ratio": _num(p.d_l1_ratio),
                    "phase": p.phase,
                }
                for p in self.curve
            ],
            "study": self.study.to_dict(),
            "coefficients": [
                {"name": n, "value": v, "original": o}
                for (n, v), (_, o) in zip(
                    self.coefficients, self.original.coefficients or self.coefficients, strict=True
                )
            ],
            "intercept": [{"name": n, "value": v, "original": o} for n, v, o in self.original.intercepts],
            "test": self.held_out.to_dict() if self.held_out else None,
            "nested": self.nested.to_dict() if self.nested else None,
            "warnings": self.warnings,
            "elapsed_s": round(self.elapsed_s, 3),
            "interrupted": self.interrupted,
            "versions": self.versions,
        }
