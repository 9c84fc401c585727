"""The coefficient path of the chosen penalty: the refit model's coefficients over a λ grid.

As glmnet's path plot: the chosen penalty (and l1_ratio) is refit on all rows, with the preprocessing
fitted for the chosen model, at log-spaced λ spanning the searched range, from the largest λ down, each
fit warm-started from the previous one. The fits use the family's own ``fit``, so λ means what it means
everywhere else (DESIGN.md §4). This costs one fit per grid point: it runs only when asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from regtune.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np

    from regtune.result import TuneResult

#: λ values on the path grid (besides λ.min, λ.1se and the chosen λ, which are always on it).
DEFAULT_POINTS = 30


@dataclass
class CoefPath:
    """Coefficients of the refit model at each λ of a grid (largest λ first)."""

    penalty: str
    l1_ratio: float
    lambdas: np.ndarray  # (m,), decreasing
    coefs: np.ndarray  # (m, n_coefficients): coef_.ravel() of each fit
    intercepts: np.ndarray  # (m, n_intercepts)
    names: list[str]
    n_nonzero: list[int]
    converged: list[bool]
    chosen_lambda: float
    #: λ.min and λ.1se when they are of the chosen penalty (None otherwise).
    lambda_min: float | None
    lambda_1se: float | None


def coefficient_path(result: TuneResult, n_points: int = DEFAULT_POINTS) -> CoefPath:
    """Refit the chosen penalty of ``result`` on all rows over ``n_points`` log-spaced λ spanning the searched
    range of that penalty, plus λ.min, λ.1se and the chosen λ.

    Raises
    ------
    ConfigError
        When ``result`` has no data to refit (a stored study read by ``regtune show``).
    """
    import numpy as np

    from regtune.models import Penalty
    from regtune.models._base import with_offset
    from regtune.refit import coefficient_names

    context = result.refit_context
    if context is None or result.model is None:
        raise ConfigError(
            "this result has no refit model (a stored study): run `regtune tune` for the coefficient path"
        )
    if n_points < 2:
        raise ConfigError(f"the coefficient path needs at least 2 λ values, got {n_points}")
    chosen = result.chosen.point
    summary = next(s for s in result.per_penalty if s.penalty == chosen.penalty)
    lo, hi = summary.lambda_range
    marks = {chosen.lam}
    lam_min = result.min.point.lam if result.min.point.penalty == chosen.penalty else None
    lam_1se = result.one_se.point.lam if result.one_se.point.penalty == chosen.penalty else None
    marks.update(x for x in (lam_min, lam_1se) if x is not None)
    grid = np.unique(np.concatenate([np.geomspace(lo, hi, n_points), np.array(sorted(marks))]))[::-1]

    pipeline = result.model
    X = pipeline.named_steps["preprocess"].transform(context.dataset.X)
    y = context.dataset.y
    coefs, intercepts, nonzero, converged = [], [], [], []
    warm = None
    for lam in grid:
        penalty = Penalty.of(chosen.penalty, float(lam), chosen.l1_ratio)
        outcome = context.family.fit(X, y, penalty, context.tol, warm, **with_offset(context.dataset.offset))
        warm = (outcome.coef, outcome.intercept)
        coefs.append(np.asarray(outcome.coef, dtype=np.float64).ravel())
        intercepts.append(np.atleast_1d(np.asarray(outcome.intercept, dtype=np.float64)).ravel())
        nonzero.append(outcome.n_nonzero)
        converged.append(outcome.converged)
    return CoefPath(
        penalty=chosen.penalty,
        l1_ratio=chosen.l1_ratio,
        lambdas=grid,
        coefs=np.vstack(coefs),
        intercepts=np.vstack(intercepts),
        names=coefficient_names(pipeline),
        n_nonzero=nonzero,
        converged=converged,
        chosen_lambda=chosen.lam,
        lambda_min=lam_min,
        lambda_1se=lam_1se,
    )
