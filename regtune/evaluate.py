"""An honest error for the tuned model: rows the search never saw.

- ``holdout``: a seeded share of the rows (stratified for classification) is put aside before the folds
  are drawn; ``test``: a second table with the same columns. The refit models at λ.min and λ.1se are
  scored on those rows with the run's scorer (:func:`held_out`).
- ``nested``: the whole tuning — search, selection, refit — runs inside each training part of an outer
  K-fold, and its chosen model is scored on the outer fold it never saw; the mean and SE of those
  scores estimate the error of the procedure (:func:`nested_cv`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from regtune.errors import ConfigError, DataError, named

if TYPE_CHECKING:
    import numpy as np

    from regtune.config import TuneConfig
    from regtune.data import Dataset
    from regtune.models import Family
    from regtune.result import TuneResult


@dataclass(frozen=True)
class HeldOutScore:
    """A refit model's score on rows the search never saw (and R² beside an MSE)."""

    score: float
    r2: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"score": _num(self.score), "r2": _num(self.r2)}


@dataclass(frozen=True)
class HeldOut:
    """The scores of the refit models at λ.min and λ.1se on held-out rows (``--holdout`` / ``--test``)."""

    source: str
    n_rows: int
    scoring: str
    min: HeldOutScore
    one_se: HeldOutScore

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "n_rows": self.n_rows,
            "scoring": self.scoring,
            "min": self.min.to_dict(),
            "one_se": self.one_se.to_dict(),
        }


@dataclass(frozen=True)
class Nested:
    """The outer scores of the whole tuning procedure (``--nested K``), per outer fold."""

    folds: int
    scoring: str
    rule: str
    #: The outer fold scores of the refit models at λ.min and at λ.1se of each inner tuning.
    min_scores: list[float] = field(default_factory=list)
    one_se_scores: list[float] = field(default_factory=list)
    #: The penalty each inner tuning chose (by the rule).
    chosen: list[str] = field(default_factory=list)

    def summary(self, which: str) -> tuple[float, float]:
        from regtune.select import mean_se

        return mean_se(self.min_scores if which == "min" else self.one_se_scores)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"folds": self.folds, "scoring": self.scoring, "rule": self.rule, "chosen": self.chosen}
        for which, scores in (("min", self.min_scores), ("one_se", self.one_se_scores)):
            mean, se = self.summary(which)
            out[which] = {"mean": _num(mean), "se": _num(se), "fold_scores": [_num(s) for s in scores]}
        return out


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def split_holdout(dataset: Dataset, fraction: float, seed: int) -> tuple[Dataset, Dataset]:
    """(the rows for the search, the held-out rows): a seeded split, stratified for classification."""
    import numpy as np
    from sklearn.model_selection import train_test_split

    rows = np.arange(dataset.n_rows)
    stratify = dataset.y if dataset.task == "classification" else None
    try:
        train, test = train_test_split(rows, test_size=fraction, random_state=seed, stratify=stratify)
    except ValueError as exc:
        raise DataError(
            f"cannot hold out {fraction:g} of {dataset.n_rows} rows ({exc}): use a larger table or another"
            f" {named('holdout')}"
        ) from None
    train, test = np.sort(train), np.sort(test)
    return dataset.subset(train), dataset.subset(test, source=f"holdout {fraction:g} of {dataset.source}")


def load_test(path: str, dataset: Dataset, config: TuneConfig) -> Dataset:
    """The ``test`` table, read and typed as the training table (same target and feature columns; the weights
    column when the training rows have weights: the held-out score is then their weighted mean; the offset or
    exposure column when the model has one: each test row is predicted at its own)."""
    import pandas as pd

    from regtune.data import coerce_features, offset_values, read_table, weight_values

    frame = read_table(path, sep=config.sep)
    frame.columns = [str(c) for c in frame.columns]
    extra = [c for c in (dataset.weights_column, dataset.offset_column) if c]
    wanted = [*dataset.X.columns, dataset.target, *extra]
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise DataError(
            f"{named('test')} table {path} lacks the column(s) {', '.join(repr(c) for c in missing)}:"
            " give it the columns of the training table"
        )
    frame = frame.loc[frame[dataset.target].notna(), wanted].reset_index(drop=True)
    if frame.empty:
        raise DataError(f"{named('test')} table {path} has no row with a target: add rows")
    X = coerce_features(frame[list(dataset.X.columns)].copy(), dataset.numeric, dataset.categorical)
    y_series = frame[dataset.target]
    if dataset.task == "regression":
        if not pd.api.types.is_numeric_dtype(y_series):
            raise DataError(f"{named('test')} table {path}: target {dataset.target!r} is not numeric")
        y = y_series.to_numpy(dtype="float64")
    else:
        y = y_series.astype(str).to_numpy() if dataset.y.dtype.kind in "OUS" else y_series.to_numpy()
    from dataclasses import replace

    weights = offset = None
    if dataset.weights_column:
        weights = weight_values(frame[dataset.weights_column], f"{named('test')} table's {named('weights')}", None)
    if dataset.offset_column:  # the test rows' own exposures (or offsets), not the training rows'
        kind = dataset.offset_kind or "offset"
        flag = f"{named('test')} table's {named(kind)}"
        offset = offset_values(frame[dataset.offset_column], flag, None, log=kind == "exposure")
    return replace(
        dataset,
        source=path,
        X=X,
        y=y,
        groups=None,
        fold_ids=None,
        rows_dropped=0,
        weights=weights,
        offset=offset,
        row_numbers=None,
    )


def score_refits(result: TuneResult, rows: Dataset, refit_one_se: Any, scorer: Any, family: Family) -> HeldOut:
    """Score the refit models at λ.min and λ.1se of ``result`` on ``rows`` (each row at its own offset,
    :meth:`Family.at_offset`, with the folds' ``scorer``)."""
    import numpy as np

    from regtune.cv import apply_scorer
    from regtune.preprocess import quiet_unknown_categories

    def score(pipeline: Any) -> HeldOutScore:
        model = family.at_offset(pipeline, rows.offset)
        with quiet_unknown_categories():
            value = apply_scorer(scorer, model, rows.X, rows.y, rows.weights)
        r2 = None
        if result.cv.scoring == "neg_mean_squared_error" and len(rows.y) > 1:
            var = (
                float(np.cov(rows.y, aweights=rows.weights, bias=True))
                if rows.weights is not None
                else float(rows.y.var())
            )
            r2 = 1.0 + value / var if var > 0 else None
        return HeldOutScore(value, r2)

    at_min = result.model if result.chosen.point is result.min.point else refit_one_se(result.min.point)
    at_1se = result.model if result.chosen.point is result.one_se.point else refit_one_se(result.one_se.point)
    return HeldOut(rows.source, rows.n_rows, result.cv.scoring, score(at_min), score(at_1se))


def check_settings(config: TuneConfig) -> None:
    """``test``, ``holdout`` and ``nested`` each judge the tuned model once: give at most one; nested
    runs one study per outer fold, so it keeps none in a storage."""
    given = [name for name in ("test", "holdout", "nested") if getattr(config, name)]
    if len(given) > 1:
        raise ConfigError(f"{named(given[0])} and {named(given[1])} both judge the tuned model: give only one")
    if config.nested and config.storage:
        raise ConfigError(
            f"{named('nested')} runs a fresh search in every outer fold, which a stored study cannot resume:"
            f" drop {named('storage')} or {named('nested')}"
        )


def outer_splits(dataset: Dataset, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The outer folds of ``nested``: K-fold (stratified for classification), seeded apart from the inner ones."""
    import numpy as np
    from sklearn.model_selection import KFold, StratifiedKFold

    if dataset.n_rows < 2 * k:
        raise DataError(f"only {dataset.n_rows} rows for {named('nested')} {k}: use fewer outer folds")
    rows = np.arange(dataset.n_rows)
    splitter: Any = (
        StratifiedKFold(n_splits=k, shuffle=True, random_state=seed + 1)
        if dataset.task == "classification"
        else KFold(n_splits=k, shuffle=True, random_state=seed + 1)
    )
    try:
        return list(splitter.split(rows, dataset.y))
    except ValueError as exc:
        raise DataError(f"cannot split for {named('nested')} {k} ({exc}): use fewer outer folds") from None
