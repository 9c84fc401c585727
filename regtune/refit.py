"""The chosen model fitted on all rows: preprocessing and estimator in one scikit-learn Pipeline.

The preprocessing is fitted on every row (the folds fitted theirs on their training rows), and the
family fits the chosen penalty with the same λ convention as in the folds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from regtune.data import Dataset
    from regtune.models import Family, Penalty


@dataclass
class Refit:
    """The refit pipeline (None for a stored study), the estimator's own parameters, its non-zeros."""

    pipeline: Any
    native: dict[str, float]
    n_nonzero: int


def refit(dataset: Dataset, family: Family, penalty: Penalty, tol: float) -> Refit:
    """Fit preprocessing and model on all rows of ``dataset`` at ``penalty``."""
    from sklearn.pipeline import Pipeline

    from regtune.preprocess import make_preprocessor

    pre = make_preprocessor(dataset.numeric, dataset.categorical)
    X = pre.fit_transform(dataset.X)
    outcome = family.fit(X, dataset.y, penalty, tol)
    pipeline = Pipeline([("preprocess", pre), ("model", outcome.model)])
    return Refit(pipeline, family.native(penalty, dataset.n_rows), outcome.n_nonzero)


def coefficient_names(pipeline: Any) -> list[str]:
    """Names of the model's coefficients, in the order of ``coef_.ravel()`` (``feature [class]`` per class
    row when the model has one row of coefficients per class); none for a neural network."""
    import numpy as np

    model = pipeline[-1]
    if not hasattr(model, "coef_"):  # a neural network: no coefficient per feature
        return []
    names = [str(n).split("__", 1)[-1] for n in pipeline[:-1].get_feature_names_out()]
    rows = np.atleast_2d(np.asarray(model.coef_)).shape[0]
    if rows == 1:
        return names
    classes = [str(c) for c in model.classes_]
    return [f"{name} [{classes[k]}]" for k in range(rows) for name in names]


def coefficients(pipeline: Any) -> list[tuple[str, float]]:
    """(name, value) of every coefficient of the pipeline's model; none for a neural network."""
    import numpy as np

    if pipeline is None or not hasattr(pipeline[-1], "coef_"):
        return []
    values = np.asarray(pipeline[-1].coef_, dtype=np.float64).ravel()
    return [(n, float(v)) for n, v in zip(coefficient_names(pipeline), values, strict=True)]
