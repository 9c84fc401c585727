"""``tune`` on ``--engine dask``: the statistics from the cluster, then regtune's own search on them.

The folds are :class:`~regtune.scale.stats.StatsFold` objects and the family is
:class:`~regtune.scale.stats.StatsLeastSquares`, or for a binary target
:class:`~regtune.scale.logistic.StatsLogistic` (its fits are passes over the rows the workers hold); from
there the path is the local one —
:class:`regtune.cv.Evaluator`, :func:`regtune.search.run_search` (the same opening points, TPE and
hypergradient steps), :func:`regtune.policy.lambda_ranges` and :func:`regtune.assemble.assemble` — so the
same fold ids and the same (mean) imputation give the same study as ``--engine local``.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from regtune.errors import ConfigError, DataError, named
from regtune.scale.stats import StatsLeastSquares

if TYPE_CHECKING:
    import numpy as np

    from regtune.config import TuneConfig
    from regtune.cv import Start
    from regtune.models import Family
    from regtune.refit import Refit
    from regtune.result import DatasetInfo, TuneResult
    from regtune.scale.stats import Layout, StatsFold
    from regtune.search import ProgressFn
    from regtune.select import Point


class EngineLeastSquares(StatsLeastSquares):
    """The statistics family with the whole table's fold (``full``: every row as training rows), whose
    λ_max, curvature and target scale :func:`regtune.policy.lambda_ranges` reads."""

    def __init__(self, task: str, full: StatsFold, seed: int = 0) -> None:
        super().__init__(task, seed=seed)
        self.full = full

    def lambda_max(
        self, X: np.ndarray, y: np.ndarray, l1_ratio: float = 1.0, sample_weight: np.ndarray | None = None
    ) -> float:
        import numpy as np

        _, xy = self.full.gram()
        return float(np.max(np.abs(xy), initial=0.0)) / (self.full.n_train * max(l1_ratio, 1e-3))

    def curvature(self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> np.ndarray:
        s, _, _ = self.full.svd()
        eigs: np.ndarray = (s * s)[::-1] / self.full.n_train
        return eigs

    def mixing_scale(self, y: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
        import math

        sd = math.sqrt(max(self.full.yy_centred, 0.0) / self.full.n_train)
        return sd if sd > 0 else 1.0


def tune_dask(source: Any, config: TuneConfig, *, progress: ProgressFn | None = None) -> TuneResult:
    """Cross-validate penalty × λ of least squares, or of binary logistic regression, on a table read by a
    dask cluster (``config.engine`` dask)."""
    from contextlib import ExitStack

    from regtune.scale import parse_categories
    from regtune.scale.cluster import (
        check_sums_fit,
        client,
        first_pass,
        plan,
        read_source,
        second_pass,
    )
    from regtune.scale.hashfolds import fold_order
    from regtune.scale.stats import Layout

    start = time.perf_counter()
    if not isinstance(source, str | os.PathLike):
        raise ConfigError(
            f"{named('engine')} dask reads files (a Parquet directory or glob, CSV globs), not a"
            f" {type(source).__name__}: write the table to Parquet, or use {named('engine')} local"
        )
    given = parse_categories(config.categories) if config.categories else {}
    with ExitStack() as stack:
        made = stack.enter_context(client(config.scheduler))
        frame = read_source(str(source), config.sep)
        the_plan = plan(frame, config)
        find = [c for c in the_plan.categorical if c not in given]
        levels, (shifts, y_shift) = first_pass(made, frame, the_plan, find)
        if the_plan.fold_column is not None:
            the_plan.fold_order = fold_order(levels["\0folds"])
            the_plan.k = len(the_plan.fold_order)
            if the_plan.k < 2:
                raise DataError(f"{named('fold_column')} {the_plan.fold_column!r} holds one fold id: give two or more")
        if the_plan.text_target:
            the_plan.classes = tuple(sorted(levels["\0target"]))
            _check_classes(the_plan, len(the_plan.classes))
        categorical = []
        for col in the_plan.categorical:
            found = sorted(given[col]) if col in given else sorted(levels[col])
            if len(found) > config.max_categories:
                raise DataError(
                    f"categorical column {col!r} has more than {config.max_categories} distinct values"
                    f" ({named('max_categories')}): leave it out with {named('drop')}, or raise it"
                )
            categorical.append((col, tuple(found)))
        layout = Layout(tuple(the_plan.numeric), tuple(categorical), shifts, y_shift)
        check_sums_fit(made, layout.width, the_plan.k)
        stats = second_pass(made, frame, the_plan, layout)
        classes = _classes(the_plan, stats)
        if classes is None:
            stack.close()  # least squares needs nothing more of the cluster
            return _least_squares(source, config, the_plan, layout, stats, start, progress)
        if the_plan.classes is None:  # a numeric target's sums, as 0/1
            stats = stats.as_binary(float(classes[0]), float(classes[1]), layout.y_shift)
            layout = replace(layout, y_shift=0.0)
        return _logistic(source, config, made, frame, the_plan, layout, stats, classes, start, progress)
    raise AssertionError("unreachable")  # pragma: no cover - the with block returns


def _check_classes(the_plan: Any, count: int) -> None:
    if count > 2:
        raise ConfigError(
            f"target {the_plan.target!r} has more than two classes: {named('engine')} dask fits binary logistic"
            f" regression only so far (use {named('engine')} local for multinomial)"
        )
    if count < 2:
        raise DataError(
            f"target {the_plan.target!r} has one class in every row: there is nothing to predict; choose another"
            f" {named('target')}"
        )


def _classes(the_plan: Any, stats: Any) -> np.ndarray | None:
    """The classes of a classification target (sorted as numpy sorts them), None for a regression."""
    import numpy as np

    if the_plan.classes is not None:
        return np.array(the_plan.classes, dtype=object).astype(str)
    from regtune.data import MAX_CLASSES_AUTO

    values = sorted(stats.targets)
    integral = all(float(v).is_integer() for v in values)
    if the_plan.task == "auto":
        # The local engine's rule (data._detect_task): two integer values, or up to MAX_CLASSES_AUTO of
        # them with about 5 rows each, make a classification.
        few = len(values) <= MAX_CLASSES_AUTO and 5 * len(values) <= stats.total().n
        if not integral or not (len(values) == 2 or few):
            return None
        if len(values) > 2:
            raise ConfigError(
                f"target {the_plan.target!r} holds {len(values)} integer values, which the local engine takes for"
                f" classes: {named('engine')} dask fits binary logistic regression only so far; give"
                f" {named('task')} regression to treat them as numbers, or use {named('engine')} local"
            )
        the_plan.task = "classification"
    if the_plan.task != "classification":
        return None
    _check_classes(the_plan, len(values))
    if the_plan.target_dtype.startswith(("int", "uint", "Int", "UInt")):
        return np.array([int(v) for v in values])
    return np.array(values, dtype=np.float64)


def _folds(stats: Any, layout: Layout, k: int) -> tuple[list[StatsFold], StatsFold]:
    """The K folds of the sums (each refused as the local engine refuses it) and the whole table's."""
    from regtune.scale.stats import check_varies, stats_fold

    folds = []
    for i in range(k):
        train, test = stats.without(i), stats.fold(i)
        if test.n == 0 or train.n == 0:
            raise DataError(
                f"fold {i + 1} of {k} has no {'test' if test.n == 0 else 'training'} rows: use fewer {named('folds')},"
                " or more rows"
            )
        fold = stats_fold(i, train, test, layout)
        check_varies(fold)
        folds.append(fold)
    return folds, stats_fold(-1, stats.total(), None, layout)


def _info(source: Any, the_plan: Any, stats: Any, n_rows: int, n_encoded: int, task: str, reason: str,
          n_classes: int | None) -> DatasetInfo:  # fmt: skip
    from regtune.result import DatasetInfo

    return DatasetInfo(
        source=str(source),
        target=the_plan.target,
        task=task,
        task_reason=reason,
        n_rows=n_rows,
        n_features=len(the_plan.numeric) + len(the_plan.categorical),
        n_columns_encoded=n_encoded,
        numeric=the_plan.numeric,
        categorical=the_plan.categorical,
        rows_dropped=stats.dropped,
        n_classes=n_classes,
        weights=None,
    )


def _least_squares(
    source: Any,
    config: TuneConfig,
    the_plan: Any,
    layout: Layout,
    stats: Any,
    start: float,
    progress: ProgressFn | None,
) -> TuneResult:
    """The least-squares search on the sums (the cluster no longer needed)."""
    from regtune.api import search_and_assemble
    from regtune.models import Penalty
    from regtune.models.least_squares import SquaredError
    from regtune.policy import SearchSpace, lambda_ranges
    from regtune.scale import DASK_SCORERS

    scoring = config.scoring or "neg_mean_squared_error"
    if scoring not in DASK_SCORERS:
        raise ConfigError(f"{named('scoring')} {scoring} scores a classification: use {', '.join(DASK_SCORERS)}")
    k = the_plan.k
    folds, full = _folds(stats, layout, k)
    n_rows = full.n_train
    family = EngineLeastSquares("regression", full, seed=config.seed)
    scorer = SquaredError(scoring)
    scale = family.mixing_scale(full.X_train[:0, 0])
    ranges = lambda_ranges(
        family, full.X_train, full.X_train[:0, 0], config.penalties, config.lambda_min, config.lambda_max, scale
    )
    space = SearchSpace(penalties=config.penalties, ranges=ranges, mixing_scale=scale)
    n_encoded = int(folds[0].X_train.shape[1])
    identity = _identity(
        source, config, the_plan, stats, scoring, space, n_encoded, n_rows, "regression", full.yy_centred / n_rows
    )
    reason = "least squares on --engine dask"
    info = _info(source, the_plan, stats, n_rows, n_encoded, "regression", reason, None)

    def refit_point(point: Point, start: Start | None) -> Refit:
        return refit_from_stats(full, layout, family, Penalty.of(point.penalty, point.lam, point.l1_ratio), config.tol)

    result = search_and_assemble(
        folds, family, scorer, scoring, space, config, identity, info, refit_point, n_folds=k, progress=progress,
        start=start,
    )  # fmt: skip
    result.read_as = dict(the_plan.read_as)
    return result


def _logistic(
    source: Any,
    config: TuneConfig,
    made: Any,
    frame: Any,
    the_plan: Any,
    layout: Layout,
    stats: Any,
    classes: np.ndarray,
    start: float,
    progress: ProgressFn | None,
) -> TuneResult:
    """Binary logistic regression: the rows held by the workers, every trial's folds fitted together by
    passes over them (:mod:`regtune.scale.logistic`), the refit too."""
    from regtune.api import search_and_assemble
    from regtune.models import Penalty
    from regtune.policy import SearchSpace, lambda_ranges
    from regtune.scale import DASK_CLASS_SCORERS
    from regtune.scale.cluster import logistic_runner, persist_rows
    from regtune.scale.logistic import PassScorer, StatsLogistic

    scoring = config.scoring or "neg_log_loss"
    if scoring not in DASK_CLASS_SCORERS:
        raise ConfigError(
            f"{named('scoring')} {scoring} does not score a classification on {named('engine')} dask: use"
            f" {', '.join(DASK_CLASS_SCORERS)}"
        )
    k = the_plan.k
    folds, full = _folds(stats, layout, k)
    for fold in [*folds, full]:
        ones = round(fold.y_train_mean * fold.n_train)  # the training rows of the second class
        if not 0 < ones < fold.n_train:
            where = "the table" if fold.index < 0 else f"the training rows of fold {fold.index + 1}"
            raise DataError(
                f"{where} hold one class of target {the_plan.target!r}: use fewer {named('folds')}, or more rows"
            )
    positive = the_plan.classes[1] if the_plan.classes is not None else classes[1].item()
    rows = persist_rows(made, frame, the_plan, layout, positive)
    family = StatsLogistic(full, classes, logistic_runner(made, rows), seed=config.seed)
    n_rows = full.n_train
    ranges = lambda_ranges(
        family, full.X_train, full.X_train[:0, 0], config.penalties, config.lambda_min, config.lambda_max, 1.0
    )
    space = SearchSpace(penalties=config.penalties, ranges=ranges, mixing_scale=1.0)
    n_encoded = int(folds[0].X_train.shape[1])
    identity = _identity(source, config, the_plan, stats, scoring, space, n_encoded, n_rows, "classification", None)
    reason = (
        f"set by --family {config.family}"
        if config.family
        else "set by --task"
        if config.task == "classification"
        else "target has two classes"
    )
    info = _info(source, the_plan, stats, n_rows, n_encoded, "classification", reason, 2)

    def refit_point(point: Point, start: Start | None) -> Refit:
        return refit_from_stats(full, layout, family, Penalty.of(point.penalty, point.lam, point.l1_ratio), config.tol)

    result = search_and_assemble(
        folds, family, PassScorer(scoring), scoring, space, config, identity, info, refit_point, n_folds=k,
        progress=progress, start=start,
    )  # fmt: skip
    result.read_as = dict(the_plan.read_as)
    return result


def refit_from_stats(full: StatsFold, layout: Layout, family: Family, penalty: Any, tol: float) -> Refit:
    """The chosen model on every row, from the whole table's statistics, as the local engine's refit: an
    :class:`~regtune.preprocess.Encoder` with the statistics it would have fitted (the numeric means, the
    fill levels, the levels, the means and scales of the encoded columns), the family's estimator with the
    coefficients solved on the whole table's Gram matrix, and on first use the same scikit-learn Pipeline."""
    import numpy as np

    from regtune.preprocess import Encoder
    from regtune.refit import Refit

    enc = full.encoding
    assert enc is not None
    numeric = list(layout.numeric)
    categorical = [c for c, _ in layout.categorical]
    encoder = Encoder(numeric, categorical, "mean")
    encoder.medians = np.array(enc.numeric_means) if numeric else None
    encoder.fills = list(enc.fill_levels)
    encoder.levels = [list(levels) for levels in enc.known_levels]
    encoder.kept = [levels[1:] if len(levels) == 2 else list(levels) for levels in encoder.levels]
    encoder.mean, encoder.scale = enc.mean.copy(), enc.scale.copy()
    if len(encoder.get_feature_names_out()) != len(enc.mean):  # the encoder describes the statistics' columns
        raise DataError("the refit's encoded columns do not match the statistics' (a level read differently)")
    outcome = family.fit_fold(full, penalty, tol)

    def build() -> Any:
        import pandas as pd
        from sklearn.pipeline import Pipeline

        # A few rows holding every level fit the scikit-learn steps' shapes and categories; their
        # statistics are then the encoder's (to_sklearn sets the scalers; the imputers are set here).
        rows = max([2, *(len(levels) for levels in encoder.levels)])
        sample: dict[str, Any] = {c: np.zeros(rows) for c in numeric}
        for col, levels in zip(categorical, encoder.levels, strict=True):
            sample[col] = np.array([levels[min(i, len(levels) - 1)] for i in range(rows)], dtype=object)
        pre = encoder.to_sklearn(pd.DataFrame(sample, columns=[*numeric, *categorical]))
        for name, part, _ in pre.transformers_:
            if name == "num":
                part.named_steps["impute"].statistics_ = np.array(enc.numeric_means)
            elif name == "cat":
                part.named_steps["impute"].statistics_ = np.array(enc.fill_levels, dtype=object)
        estimator = family.estimator_of(outcome, penalty, full.n_train, tol)
        return Pipeline([("preprocess", pre), ("model", estimator)])

    return Refit(family.native(penalty, full.n_train), outcome.n_nonzero, encoder, outcome.model, build)


def _identity(
    source: Any,
    config: TuneConfig,
    the_plan: Any,
    stats: Any,
    scoring: str,
    space: Any,
    n_encoded: int,
    n_rows: int,
    task: str,
    target_variance: float | None,
) -> dict[str, Any]:
    """What a stored study is about (as :func:`regtune.search.study_identity`; the data's hash is that of
    its rows' fingerprint, the same from any partitioning on any machine; None when no storage keeps the
    study, which then takes no fingerprint)."""
    from regtune import __version__

    digest = hashlib.sha256(f"{stats.fingerprint}:{stats.total().n}:{stats.dropped}".encode())
    data_hash = digest.hexdigest()[:16] if the_plan.fingerprint else None  # no study kept: not taken
    features = [*the_plan.numeric, *the_plan.categorical]
    folds = f"hash:{the_plan.row_key or 'partition,row'}:{config.seed}" if not config.fold_column else "column"
    return {
        "source": str(source),
        "data_hash": data_hash,
        "shape": [n_rows, len(features)],
        "columns": features,
        "target": the_plan.target,
        "task": task,
        "scoring": scoring,
        "folds": the_plan.k,
        "repeats": 1,
        "seed": config.seed,
        "groups": None,
        "fold_column": config.fold_column,
        "fold_assignment": folds,
        "penalties": list(config.penalties),
        "lambda_ranges": {p: [float(f"{lo:.10g}"), float(f"{hi:.10g}")] for p, (lo, hi) in space.ranges.items()},
        "model": "least_squares" if task == "regression" else "logistic",
        "regtune_version": __version__,
        "n_columns_encoded": n_encoded,
        "rows_dropped": stats.dropped,
        "n_classes": None if task == "regression" else 2,
        "target_variance": target_variance,
        "search_space": 2,
        "mixing_scale": space.mixing_scale,
        "engine": "dask",
        "impute": "mean",
    }
