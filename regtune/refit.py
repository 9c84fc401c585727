"""The chosen model fitted on all rows: preprocessing and estimator in one scikit-learn Pipeline.

The preprocessing is fitted on every row (the folds fitted theirs on their training rows), and the
family fits the chosen penalty with the same λ convention as in the folds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from regtune.data import Dataset
    from regtune.models import Family, Penalty


@dataclass
class Refit:
    """The refit pipeline (None for a stored study), the estimator's own parameters, its non-zeros."""

    pipeline: Any
    native: dict[str, float]
    #: None for a stored study (no refit).
    n_nonzero: int | None


def refit(dataset: Dataset, family: Family, penalty: Penalty, tol: float) -> Refit:
    """Fit preprocessing and model on all rows of ``dataset`` at ``penalty``."""
    from sklearn.pipeline import Pipeline

    from regtune.models._base import with_offset, with_weights
    from regtune.preprocess import fit_transform, make_preprocessor

    pre = make_preprocessor(dataset.numeric, dataset.categorical, dataset.impute)
    X = fit_transform(pre, dataset.X, dataset.weights)
    outcome = family.fit(X, dataset.y, penalty, tol, **with_offset(dataset.offset), **with_weights(dataset.weights))
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
    """(name, value) of every coefficient of the pipeline's model, on the standardized encoded columns the
    model was fitted on; none for a neural network."""
    import numpy as np

    if pipeline is None or not hasattr(pipeline[-1], "coef_"):
        return []
    values = np.asarray(pipeline[-1].coef_, dtype=np.float64).ravel()
    return [(n, float(v)) for n, v in zip(coefficient_names(pipeline), values, strict=True)]


@dataclass
class OriginalScale:
    """The model's coefficients on the original scale of each input column (a numeric column's units, a
    dummy's 0/1), and its intercepts on both scales — what glmnet's ``coef(cvfit)`` reports."""

    coefficients: list[tuple[str, float]]
    #: (name, intercept on the standardized columns, intercept on the original scale), one per class row.
    intercepts: list[tuple[str, float, float]]


def encoded_scaling(preprocess: Any) -> tuple[np.ndarray, np.ndarray]:
    """The mean and scale the preprocessing subtracted from and divided each encoded column by, in the
    order of its output columns."""
    import numpy as np

    means, scales = [], []
    for _, part, _ in preprocess.transformers_:
        if part == "drop" or part == "passthrough":
            continue
        scaler = part.named_steps["scale"]
        means.append(np.asarray(scaler.mean_, dtype=np.float64))
        scales.append(np.asarray(scaler.scale_, dtype=np.float64))
    return np.concatenate(means), np.concatenate(scales)


def original_arrays(pipeline: Any) -> tuple[Any, Any, Any]:
    """The pipeline's linear model on the original scale of each encoded column: (β/scale, b − Σ β·mean/scale,
    b) with a row per class (β 2-D, the intercepts 1-D), b the intercepts as fitted."""
    import numpy as np

    model = pipeline[-1]
    coef = np.atleast_2d(np.asarray(model.coef_, dtype=np.float64))
    intercept = np.atleast_1d(np.asarray(model.intercept_, dtype=np.float64))
    mean, scale = encoded_scaling(pipeline[0])
    original = coef / scale
    return original, intercept - original @ mean, intercept


def original_scale(pipeline: Any) -> OriginalScale:
    """β/scale for every coefficient, and b − Σ β·mean/scale for each intercept (per class row)."""
    if pipeline is None or not hasattr(pipeline[-1], "coef_"):
        return OriginalScale([], [])
    model = pipeline[-1]
    original, shifted, intercept = original_arrays(pipeline)
    names = coefficient_names(pipeline)
    rows = original.shape[0]
    labels = ["(intercept)"] if rows == 1 else [f"(intercept) [{c}]" for c in model.classes_]
    return OriginalScale(
        [(n, float(v)) for n, v in zip(names, original.ravel(), strict=True)],
        [(label, float(b), float(b0)) for label, b, b0 in zip(labels, intercept, shifted, strict=True)],
    )
