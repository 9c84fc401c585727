"""Cross-validated evaluation of one (penalty, λ, l1_ratio): fold by fold, on the cached folds."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from regtune.errors import ConfigError

if TYPE_CHECKING:
    from regtune.folds import Fold
    from regtune.models import Family

REGRESSION_MODULE = "sklearn.metrics._regression"
CLASSIFICATION_MODULES = ("sklearn.metrics._classification", "sklearn.metrics._ranking")
DEFAULT_SCORING = {"regression": "r2", "classification": "neg_log_loss"}


def resolve_scorer(name: str | None, task: str) -> tuple[str, Any]:
    """The scorer for ``name`` (default per task), checked to fit the task."""
    from sklearn.metrics import get_scorer, get_scorer_names

    name = name or DEFAULT_SCORING[task]
    if name not in get_scorer_names():
        import difflib

        close = difflib.get_close_matches(name, get_scorer_names(), n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}?" if close else f"e.g. {DEFAULT_SCORING[task]}"
        raise ConfigError(f"unknown scorer {name!r}: use a scikit-learn scorer name ({hint})")
    scorer = get_scorer(name)
    module = getattr(getattr(scorer, "_score_func", None), "__module__", "")
    fits = module == REGRESSION_MODULE if task == "regression" else module in CLASSIFICATION_MODULES
    if not fits:
        kind = "classification" if task == "regression" else "regression"
        raise ConfigError(
            f"scorer {name!r} does not fit a {task} task (it is a {kind} or clustering metric):"
            f" use e.g. {DEFAULT_SCORING[task]}"
        )
    return name, scorer


@dataclass
class Evaluation:
    """Fold scores of one configuration, and how its fits went."""

    fold_scores: list[float]
    converged: bool
    n_nonzero: float
    n_unconverged: int


class Evaluator:
    """Scores configurations on fixed, preprocessed folds with one family and one scorer."""

    def __init__(self, folds: list[Fold], family: Family, scorer: Any, tol: float) -> None:
        self.folds = folds
        self.family = family
        self.scorer = scorer
        self.tol = tol
        self.fits = 0

    def evaluate(
        self,
        penalty: str,
        lam: float,
        l1_ratio: float,
        report: Callable[[float, int], None] | None = None,
    ) -> Evaluation:
        """Fit and score every fold; ``report(score, fold)`` is called after each fold (for pruning).

        A fit that raises propagates; a score that is not finite is returned as NaN.
        """
        scores: list[float] = []
        unconverged = 0
        nonzero = 0
        for fold in self.folds:
            outcome = self.family.fit_fold(fold, penalty, lam, l1_ratio, self.tol)
            self.fits += 1
            score = float(self.scorer(outcome.model, fold.X_test, fold.y_test))
            unconverged += not outcome.converged
            nonzero += outcome.n_nonzero
            scores.append(score if math.isfinite(score) else math.nan)
            if report is not None:
                report(scores[-1], fold.index)
        return Evaluation(scores, unconverged == 0, nonzero / len(self.folds), unconverged)
