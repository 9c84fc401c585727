"""The chosen model fitted on all rows: preprocessing and estimator in one scikit-learn Pipeline.

The preprocessing is fitted on every row (the folds fitted theirs on their training rows), and the
family fits the chosen penalty with the same λ convention as in the folds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from regtune.data import Dataset
    from regtune.models import Family, Penalty
    from regtune.preprocess import Encoder


@dataclass
class Refit:
    """The chosen model refit on all rows: the estimator's own parameters, its non-zeros, its coefficients
    (with the encoding they are on), and the scikit-learn pipeline, built on first use of :attr:`pipeline`
    (a run that writes no model file never imports scikit-learn for it)."""

    native: dict[str, float]
    #: None for a stored study (no refit).
    n_nonzero: int | None
    #: The encoding fitted on all rows, and the family's fitted model on its columns (None: a stored study).
    encoder: Encoder | None = None
    model: Any = None
    build: Callable[[], Any] | None = field(default=None, repr=False)
    _pipeline: Any = field(default=None, init=False, repr=False)

    @property
    def pipeline(self) -> Any:
        """The refit scikit-learn Pipeline (preprocessing, then the estimator); None for a stored study."""
        if self._pipeline is None and self.build is not None:
            self._pipeline = self.build()
        return self._pipeline


def refit(
    dataset: Dataset,
    family: Family,
    penalty: Penalty,
    tol: float,
    *,
    encoded: tuple[Encoder, np.ndarray] | None = None,
    warm: tuple[np.ndarray, np.ndarray] | None = None,
) -> Refit:
    """Fit preprocessing and model on all rows of ``dataset`` at ``penalty``; ``encoded`` is the encoder
    already fitted on them and its matrix (one encoding of the whole table serves every refit); ``warm`` a
    start (coef, intercept), used when its coefficients have one per encoded column (the fit reaches the
    same optimality conditions from any start; a near one saves steps) and the family's fit takes it (a
    logistic fit wants a row per class of these rows)."""
    from regtune.models._base import with_offset, with_weights
    from regtune.preprocess import Encoder

    if encoded is None:
        encoder = Encoder(dataset.numeric, dataset.categorical, dataset.impute)
        X = encoder.fit_transform(dataset.X, dataset.weights)
    else:
        encoder, X = encoded
    if warm is not None and warm[0].shape[-1] != X.shape[1]:
        warm = None
    outcome = family.fit(
        X, dataset.y, penalty, tol, warm, **with_offset(dataset.offset), **with_weights(dataset.weights)
    )

    def build() -> Any:
        from sklearn.pipeline import Pipeline

        estimator = family.estimator_of(outcome, penalty, dataset.n_rows, tol)
        return Pipeline([("preprocess", encoder.to_sklearn(dataset.X)), ("model", estimator)])

    return Refit(family.native(penalty, dataset.n_rows), outcome.n_nonzero, encoder, outcome.model, build)


def _parts(source: Any) -> tuple[list[str], Any, Any, Any] | None:
    """(encoded column names, fitted model, their means, their scales) of a :class:`Refit` or a refit
    pipeline; None when there is no linear model (a stored study, a neural network)."""
    from regtune.preprocess import Encoder

    if source is None:
        return None
    if isinstance(source, Refit):
        encoder, model = source.encoder, source.model
    else:
        model = source[-1]
        encoder = Encoder.from_sklearn(source[0]) if hasattr(model, "coef_") else None
    if encoder is None or not hasattr(model, "coef_"):
        return None
    assert encoder.mean is not None and encoder.scale is not None
    names = [n.split("__", 1)[-1] for n in encoder.get_feature_names_out()]
    return names, model, encoder.mean, encoder.scale


def coefficient_names(source: Any) -> list[str]:
    """Names of the model's coefficients (of a :class:`Refit` or a refit pipeline), in the order of
    ``coef_.ravel()`` (``feature [class]`` per class row when the model has one row of coefficients per
    class); none for a neural network."""
    import numpy as np

    parts = _parts(source)
    if parts is None:  # a neural network: no coefficient per feature
        return []
    names, model = parts[0], parts[1]
    rows = np.atleast_2d(np.asarray(model.coef_)).shape[0]
    if rows == 1:
        return names
    classes = [str(c) for c in model.classes_]
    return [f"{name} [{classes[k]}]" for k in range(rows) for name in names]


def coefficients(source: Any) -> list[tuple[str, float]]:
    """(name, value) of every coefficient of the model (of a :class:`Refit` or a refit pipeline), on the
    standardized encoded columns it was fitted on; none for a neural network."""
    import numpy as np

    parts = _parts(source)
    if parts is None:
        return []
    values = np.asarray(parts[1].coef_, dtype=np.float64).ravel()
    return [(n, float(v)) for n, v in zip(coefficient_names(source), values, strict=True)]


@dataclass
class OriginalScale:
    """The model's coefficients on the original scale of each input column (a numeric column's units, a
    dummy's 0/1), and its intercepts on both scales — what glmnet's ``coef(cvfit)`` reports."""

    coefficients: list[tuple[str, float]]
    #: (name, intercept on the standardized columns, intercept on the original scale), one per class row.
    intercepts: list[tuple[str, float, float]]


def original_arrays(source: Any) -> tuple[Any, Any, Any]:
    """The linear model (of a :class:`Refit` or a refit pipeline) on the original scale of each encoded
    column: (β/scale, b − Σ β·mean/scale, b) with a row per class (β 2-D, the intercepts 1-D), b the
    intercepts as fitted."""
    import numpy as np

    parts = _parts(source)
    assert parts is not None, "a linear model"
    _, model, mean, scale = parts
    coef = np.atleast_2d(np.asarray(model.coef_, dtype=np.float64))
    intercept = np.atleast_1d(np.asarray(model.intercept_, dtype=np.float64))
    original = coef / scale
    return original, intercept - original @ mean, intercept


def original_scale(source: Any) -> OriginalScale:
    """β/scale for every coefficient, and b − Σ β·mean/scale for each intercept (per class row), of a
    :class:`Refit` or a refit pipeline."""
    parts = _parts(source)
    if parts is None:
        return OriginalScale([], [])
    model = parts[1]
    original, shifted, intercept = original_arrays(source)
    names = coefficient_names(source)
    rows = original.shape[0]
    labels = ["(intercept)"] if rows == 1 else [f"(intercept) [{c}]" for c in model.classes_]
    return OriginalScale(
        [(n, float(v)) for n, v in zip(names, original.ravel(), strict=True)],
        [(label, float(b), float(b0)) for label, b, b0 in zip(labels, intercept, shifted, strict=True)],
    )
