"""TuneResult: everything a run found, and its ``regtune.result/1`` JSON document (DESIGN.md §4)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from regtune.select import Point

SCHEMA = "regtune.result/1"


def _num(x: float | None) -> float | None:
    """JSON has no NaN: non-finite numbers become null."""
    if x is None:
        return None
    return float(x) if math.isfinite(x) else None


@dataclass
class ChosenPoint:
    """A selected configuration with its refit facts (native parameters for all rows, non-zeros)."""

    point: Point
    native: dict[str, float]
    n_nonzero: int
    rule: str | None = None
    #: "lower" or "upper" when λ sits on an edge of the (possibly widened) range; None inside.
    boundary: str | None = None
    #: d CV score / d log λ (and / d l1_ratio) at this point, the quantity differentiated, and for λ.min a
    #: verdict ("interior", "boundary", "not_converged", "unknown") with a sentence; None if not computed.
    hypergradient: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        p = self.point
        data: dict[str, Any] = {}
        if self.rule is not None:
            data["rule"] = self.rule
        data.update(
            {
                "penalty": p.penalty,
                "lambda": p.lam,
                "l1_ratio": p.l1_ratio,
                "native": self.native,
                "cv_mean": _num(p.mean),
                "cv_se": _num(p.se),
                "n_nonzero": self.n_nonzero,
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

    def to_dict(self) -> dict[str, Any]:
        b = self.best
        return {
            "penalty": self.penalty,
            "lambda": b.lam if b else None,
            "l1_ratio": b.l1_ratio if b else None,
            "native": self.native,
            "cv_mean": _num(b.mean) if b else None,
            "cv_se": _num(b.se) if b else None,
            "n_nonzero": _num(b.n_nonzero) if b and b.n_nonzero is not None else None,
            "trial": b.trial if b else None,
            "n_trials": self.n_trials,
            "n_complete": self.n_complete,
            "lambda_range": list(self.lambda_range),
            "range_widened": self.widened,
            "boundary": self.boundary,
        }


@dataclass
class RefitContext:
    """The data and model family a result was refit with: enough to fit it again at another λ."""

    dataset: Any
    family: Any
    tol: float


@dataclass
class TuneResult:
    """The outcome of :func:`regtune.tune`: the choice, the curve it came from, and the refit model."""

    dataset: dict[str, Any]
    cv: dict[str, Any]
    chosen: ChosenPoint
    min: ChosenPoint
    one_se: ChosenPoint
    per_penalty: list[PenaltySummary]
    curve: list[Point]
    study: dict[str, Any]
    model: Any = field(repr=False)
    coefficients: list[tuple[str, float]]
    warnings: list[str]
    elapsed_s: float
    versions: dict[str, str]
    family: str
    interrupted: bool = False
    #: What refitting needs (the data, the family, the tolerance): set by :func:`regtune.tune`, None for
    #: a stored study (``show``). The coefficient path (:func:`regtune.paths.coefficient_path`) uses it.
    refit_context: RefitContext | None = field(default=None, repr=False)
    #: The model tuned: ``type`` (linear, sgd, mlp), ``estimator`` and its fixed settings.
    model_info: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The ``regtune.result/1`` document (stable keys; new keys are added, never renamed)."""
        return {
            "schema": SCHEMA,
            "dataset": self.dataset,
            "cv": self.cv,
            "model": {"family": self.family, **self.model_info},
            "chosen": self.chosen.to_dict(),
            "min": self.min.to_dict(),
            "one_se": self.one_se.to_dict(),
            "per_penalty": [s.to_dict() for s in self.per_penalty],
            "curve": [
                {
                    "trial": p.trial,
                    "penalty": p.penalty,
                    "lambda": p.lam,
                    "l1_ratio": p.l1_ratio,
                    "fold_scores": [_num(s) for s in p.fold_scores],
                    "cv_mean": _num(p.mean),
                    "cv_se": _num(p.se),
                    "state": p.state,
                    "converged": p.converged,
                    "n_nonzero": _num(p.n_nonzero) if p.n_nonzero is not None else None,
                    "d_log_lambda": _num(p.d_log_lambda),
                    "d_l1_ratio": _num(p.d_l1_ratio),
                    "phase": p.phase,
                }
                for p in self.curve
            ],
            "study": self.study,
            "coefficients": [{"name": n, "value": v} for n, v in self.coefficients],
            "warnings": self.warnings,
            "elapsed_s": round(self.elapsed_s, 3),
            "interrupted": self.interrupted,
            "versions": self.versions,
        }
