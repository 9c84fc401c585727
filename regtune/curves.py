"""The data behind the pictures of a result: each penalty's CV curve and the search history.

Computed here (and tested), drawn by :mod:`regtune.report.plots` and :mod:`regtune.report.sketch`.
A point's *kind* says how it is drawn: ``complete`` (a converged trial), ``unconverged`` (complete,
but some fold fit did not converge), ``pruned`` (stopped after a few folds: its mean is over those
folds) and ``failed`` (no score; not drawn, but counted).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from regtune.select import Point, candidates, one_se_point

if TYPE_CHECKING:
    from regtune.result import TuneResult

KINDS: tuple[str, ...] = ("complete", "unconverged", "pruned", "failed")


def kind(point: Point) -> str:
    """How a point is drawn: complete, unconverged, pruned or failed."""
    if point.state == "complete" and math.isfinite(point.mean):
        return "complete" if point.converged else "unconverged"
    if point.state == "pruned" and math.isfinite(point.mean):
        return "pruned"
    return "failed"


@dataclass
class PenaltyCurve:
    """One penalty's CV curve: its trials sorted by λ, with the λ.min and λ.1se of that penalty."""

    penalty: str
    trials: list[int]
    lambdas: list[float]
    l1_ratios: list[float]
    means: list[float]  # NaN for failed trials
    ses: list[float]  # NaN where undefined (one fold, failed)
    n_nonzero: list[float | None]
    kinds: list[str]
    #: The penalty's best λ and its 1-SE λ (None when it has no complete trial).
    lambda_min: float | None
    lambda_1se: float | None
    #: Whether this penalty holds the chosen point.
    chosen: bool
    lambda_range: tuple[float, float]

    def count(self, which: str) -> int:
        return self.kinds.count(which)

    def nonzero_ticks(self, max_ticks: int = 7) -> list[tuple[float, int]]:
        """The labels of the plot's top axis (as ``cv.glmnet``'s): (λ, non-zero count) pairs of complete
        points, thinned so that labels never collide: neighbours at least 1/``max_ticks`` of the λ span
        apart (in log λ; at least a tenth of a decade)."""
        pairs = [
            (lam, round(nnz))
            for lam, nnz, k in zip(self.lambdas, self.n_nonzero, self.kinds, strict=True)
            if k in ("complete", "unconverged") and nnz is not None
        ]
        if not pairs:
            return []
        logs = [math.log10(lam) for lam, _ in pairs]
        gap = max((max(logs) - min(logs)) / max_ticks, 0.1)
        picked = [pairs[0]]
        last = logs[0]
        for pair, at in zip(pairs[1:], logs[1:], strict=True):
            if at - last >= gap:
                picked.append(pair)
                last = at
        return picked


def cv_curves(result: TuneResult) -> list[PenaltyCurve]:
    """The CV curve of each searched penalty, in the order of ``result.per_penalty``."""
    pool = candidates(result.curve)
    curves = []
    for summary in result.per_penalty:
        mine = sorted((p for p in result.curve if p.penalty == summary.penalty), key=lambda p: (p.lam, p.trial))
        best = summary.best
        one_se = one_se_point(pool, best) if best is not None else None
        curves.append(
            PenaltyCurve(
                penalty=summary.penalty,
                trials=[p.trial for p in mine],
                lambdas=[p.lam for p in mine],
                l1_ratios=[p.l1_ratio for p in mine],
                means=[p.mean for p in mine],
                ses=[p.se for p in mine],
                n_nonzero=[p.n_nonzero for p in mine],
                kinds=[kind(p) for p in mine],
                lambda_min=best.lam if best is not None else None,
                lambda_1se=one_se.lam if one_se is not None else None,
                chosen=summary.penalty == result.chosen.point.penalty,
                lambda_range=summary.lambda_range,
            )
        )
    return curves


@dataclass
class SearchHistory:
    """The study trial by trial: each trial's CV mean and the best mean of the complete trials so far."""

    trials: list[int]
    penalties: list[str]
    means: list[float]
    kinds: list[str]
    best_so_far: list[float]  # NaN until the first complete trial


def search_history(result: TuneResult) -> SearchHistory:
    points = sorted(result.curve, key=lambda p: p.trial)
    best = math.nan
    best_so_far = []
    for p in points:
        if p.usable and (math.isnan(best) or p.mean > best):
            best = p.mean
        best_so_far.append(best)
    return SearchHistory(
        trials=[p.trial for p in points],
        penalties=[p.penalty for p in points],
        means=[p.mean for p in points],
        kinds=[kind(p) for p in points],
        best_so_far=best_so_far,
    )
