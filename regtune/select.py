"""CV curves and the choice of λ: λ.min and λ.1se (glmnet's rules), from the trials' fold scores.

Scores are "greater is better". For one configuration with fold scores ``s₁…s_K`` (K·R with repeats)
the CV mean is their mean and SE = sd(s, ddof=1)/√K. λ.min maximises the mean; λ.1se is the **largest**
λ of the same penalty whose mean is ≥ (best mean − SE of the best).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class Point:
    """One evaluated configuration (one trial) on the CV curve."""

    trial: int
    penalty: str
    lam: float
    l1_ratio: float
    fold_scores: list[float]
    state: str = "complete"
    converged: bool = True
    n_nonzero: float | None = None
    error: str | None = None
    #: d (CV mean of the hypergradient quantity) / d log λ, and / d l1_ratio (elastic net), when known.
    d_log_lambda: float | None = None
    d_l1_ratio: float | None = None
    #: "explore", "gradient" or "refine": which phase of the search proposed this point.
    phase: str = "explore"
    mean: float = field(init=False)
    se: float = field(init=False)

    def __post_init__(self) -> None:
        self.mean, self.se = mean_se(self.fold_scores)

    @property
    def usable(self) -> bool:
        return self.state == "complete" and math.isfinite(self.mean)


def mean_se(scores: Sequence[float]) -> tuple[float, float]:
    """Mean and standard error (sd with ddof=1 over √K) of fold scores; NaN where undefined."""
    k = len(scores)
    if k == 0:
        return math.nan, math.nan
    mean = math.fsum(scores) / k
    if k == 1:
        return mean, math.nan
    # (s - mean) * (s - mean), not ** 2: a huge score then gives an infinite SE, not an OverflowError.
    var = math.fsum((s - mean) * (s - mean) for s in scores) / (k - 1)
    return mean, math.sqrt(var / k)


@dataclass
class Selection:
    """The best point overall (λ.min), the 1-SE point, and the best point of each penalty."""

    best: Point
    one_se: Point
    per_penalty: dict[str, Point]


def candidates(points: Sequence[Point]) -> list[Point]:
    """Points eligible for selection: complete, finite, and converged where any converged point exists."""
    usable = [p for p in points if p.usable]
    converged = [p for p in usable if p.converged]
    return converged if converged else usable


def select(points: Sequence[Point]) -> Selection | None:
    """λ.min, λ.1se and each penalty's best among ``points``; None when no point is usable."""
    pool = candidates(points)
    if not pool:
        return None
    per_penalty: dict[str, Point] = {}
    for p in pool:
        current = per_penalty.get(p.penalty)
        if current is None or p.mean > current.mean:
            per_penalty[p.penalty] = p
    best = max(per_penalty.values(), key=lambda p: p.mean)
    return Selection(best=best, one_se=one_se_point(pool, best), per_penalty=per_penalty)


def one_se_point(pool: Sequence[Point], best: Point) -> Point:
    """The largest λ of ``best``'s penalty whose mean is within one SE of the best mean."""
    se = best.se if math.isfinite(best.se) else 0.0
    threshold = best.mean - se
    within = [p for p in pool if p.penalty == best.penalty and p.mean >= threshold]
    return max(within, key=lambda p: (p.lam, p.mean))
