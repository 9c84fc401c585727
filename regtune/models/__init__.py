"""Model families: each maps the shared λ convention to its estimator and fits one fold fast.

The λ convention (DESIGN.md §4): every family minimises ``mean loss(y, Xw + b) + λ·P(w)`` with
``P(w) = l1_ratio·‖w‖₁ + (1 − l1_ratio)/2·‖w‖₂²``.
"""

from __future__ import annotations

from regtune.models._base import Family, FitOutcome, penalty_l1_ratio
from regtune.models.least_squares import LeastSquares
from regtune.models.logistic import Logistic
from regtune.models.mlp import MLP
from regtune.models.sgd import SGDLinear

__all__ = ["MLP", "Family", "FitOutcome", "LeastSquares", "Logistic", "SGDLinear", "get_family", "penalty_l1_ratio"]


def get_family(
    task: str,
    model: str = "linear",
    *,
    hidden: tuple[int, ...] = (),
    seed: int = 0,
    early_stopping: bool = True,
) -> Family:
    """The family of ``model`` for a task.

    ``linear``: least squares (regression) or logistic regression (classification), solved exactly;
    ``sgd``: SGDRegressor / SGDClassifier; ``mlp``: MLPRegressor / MLPClassifier trained by Adam, with
    ``hidden`` layer sizes (default 100), seeded with ``seed``.
    """
    if model == "sgd":
        return SGDLinear(task, seed=seed)
    if model == "mlp":
        return MLP(task, hidden=hidden, seed=seed, early_stopping=early_stopping)
    if model != "linear":
        raise ValueError(f"unknown model {model!r}")
    if task == "regression":
        return LeastSquares()
    return Logistic()
