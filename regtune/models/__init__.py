"""Model families: each maps the shared λ convention to its estimator and fits one fold fast.

The λ convention (DESIGN.md §4): every family minimises ``mean loss(y, Xw + b) + λ·P(w)`` with
``P(w) = l1_ratio·‖w‖₁ + (1 − l1_ratio)/2·‖w‖₂²``.
"""

from __future__ import annotations

from regtune.models._base import Family, FitOutcome, penalty_l1_ratio
from regtune.models.least_squares import LeastSquares
from regtune.models.logistic import Logistic

__all__ = ["Family", "FitOutcome", "LeastSquares", "Logistic", "get_family", "penalty_l1_ratio"]


def get_family(task: str) -> Family:
    """The linear family for a task: least squares for regression, logistic for classification."""
    if task == "regression":
        return LeastSquares()
    return Logistic()
