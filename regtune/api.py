"""``tune()``, ``show()`` and ``studies()``: the whole path from a source to the chosen penalty, as library
calls. Each step lives in its own module; this one only strings them together."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO

from regtune.config import RULES, TuneConfig
from regtune.errors import ConfigError, named
from regtune.result import CVInfo, DatasetInfo, RefitContext, StudyInfo, TuneResult
from regtune.storage import mask_url

#: Folds with fewer test rows than this make a fold-averaged R² unstable (a warning says so).
SMALL_FOLD = 30

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import numpy as np

    from regtune.cv import Start
    from regtune.data import Dataset
    from regtune.evaluate import HeldOut
    from regtune.folds import Fold
    from regtune.models import Family
    from regtune.policy import SearchSpace
    from regtune.refit import Refit
    from regtune.search import ProgressFn
    from regtune.select import Point


def tune(
    source: Any,
    y: Any = None,
    config: TuneConfig | None = None,
    *,
    progress: ProgressFn | None = None,
    stdin: TextIO | BinaryIO | None = None,
    **settings: Any,
) -> TuneResult:
    """Cross-validate penalty × λ on ``source`` and return the chosen penalty and the refit model.

    Parameters
    ----------
    source : str, path, DataFrame or array-like
        The data: a CSV path (``.csv`` / ``.csv.gz``), ``"-"`` for standard input, or ``"builtin:NAME"``;
        a table in memory (a pandas DataFrame, a pyarrow Table, or anything with ``__arrow_c_stream__`` or
        ``__dataframe__``, e.g. a polars DataFrame) holding the ``target`` column; or the features ``X``
        (an array, a sparse matrix, made dense, or a DataFrame) when ``y`` is given.
    y : array-like, optional
        The target of features ``source``; its name is ``target`` if given, else the Series' name, else
        ``y``.
    config : TuneConfig, optional
        The settings; keyword ``settings`` (the TuneConfig fields, and the model's own settings such as
        ``hidden``) build one when it is omitted, or change it when it is given.
    progress : callable, optional
        Called when the search starts and after each trial as ``progress(trials_done, trials_total,
        best_mean_or_None)``; a callable that accepts a ``state`` keyword also gets ``state=``, a
        :class:`regtune.search.SearchState` (the best configuration, the elapsed time, the remaining time).
    stdin : text stream, optional
        Read instead of ``sys.stdin`` when ``source`` is ``"-"``.

    Returns
    -------
    TuneResult
        λ.min, λ.1se, the chosen point (per ``config.rule``), the CV curve, and the refit pipeline.

    Raises
    ------
    RegtuneError
        Bad data or settings, with a one-line message that says how to fix them.
    """
    from regtune.data import load_dataset
    from regtune.evaluate import load_test, split_holdout
    from regtune.models import distribution_task

    start = time.perf_counter()
    if isinstance(y, TuneConfig):  # tune(source, config): the config in the place of y, as before y existed
        if config is not None:
            raise ConfigError("two configs given (the second argument and config=): give one")
        y, config = None, y
    if config is not None and not isinstance(config, TuneConfig):
        raise ConfigError(f"config must be a TuneConfig, got {type(config).__name__}: pass settings as keywords")
    if config is None:
        config = TuneConfig.of(**settings)
    elif settings:
        config = config.with_(**settings)

    if config.engine == "dask":  # the table stays on the cluster: the statistics come back, never the rows
        from regtune.scale.tune import tune_dask

        if y is not None:
            raise ConfigError(f"{named('engine')} dask reads the target from the files: give its column as target")
        return tune_dask(source, config, progress=progress)
    task = config.task
    if config.family is not None and task == "auto":  # the distribution says what the target is
        task = distribution_task(config.model, config.family)
    dataset = load_dataset(
        source,
        y=y,
        target=config.target,
        features=config.features,
        drop=config.drop,
        categorical=config.categorical,
        task=task,
        groups=config.groups,
        fold_column=config.fold_column,
        offset=config.offset,
        exposure=config.exposure,
        weights=config.weights,
        stdin=stdin,
        max_categories=config.max_categories,
        sep=config.sep,
        source_column=config.source_column,
    )
    if task != config.task:
        dataset.task_reason = f"set by --family {config.family}"
    if config.nested:
        return _nested(dataset, config, progress, start)
    held = None
    if config.holdout:
        dataset, held = split_holdout(dataset, config.holdout, config.seed)
    elif config.test:
        held = load_test(config.test, dataset, config)
    result = tune_dataset(dataset, config, progress=progress, start=start)
    if held is not None:
        result.held_out = _score_held_out(result, held)
    result.elapsed_s = time.perf_counter() - start
    return result


def tune_dataset(
    dataset: Dataset,
    config: TuneConfig,
    *,
    progress: ProgressFn | None = None,
    start: float | None = None,
    splits: list[tuple[np.ndarray, np.ndarray]] | None = None,
) -> TuneResult:
    """The tuning of :func:`tune` on a loaded :class:`~regtune.data.Dataset` (no held-out rows).

    ``splits`` are the (train, test) row positions of the folds when they do not come from the config's
    fold settings (a scikit-learn splitter of :class:`regtune.RegTuneRegressor`)."""
    from regtune.cv import resolve_scorer
    from regtune.data import check_memory, invalid_target_message, looks_like_counts
    from regtune.errors import DataError
    from regtune.folds import assign_folds, build_folds
    from regtune.models import Penalty, get_family
    from regtune.models.least_squares import LeastSquares, SquaredError
    from regtune.policy import SearchSpace, lambda_ranges
    from regtune.preprocess import Encoder
    from regtune.refit import refit
    from regtune.search import study_identity

    start = time.perf_counter() if start is None else start
    if config.engine != "local":
        raise ConfigError(f"a table in memory is tuned by {named('engine')} local: give {named('engine')} dask a file")
    if config.impute is not None and config.impute != dataset.impute:
        dataset = replace(dataset, impute=config.impute)
    family = get_family(dataset.task, config.model, seed=config.seed, family=config.family, **config.model_settings)
    if dataset.weights is not None and not family.weights:
        raise ConfigError(
            f"{named('weights')} does not apply to {family.label()}: {family.weights_reason or 'it takes no weights'}"
        )
    bad = family.invalid_target(dataset.y)
    if bad is not None:
        raise DataError(invalid_target_message(dataset, family.name, bad))
    scoring, scorer = resolve_scorer(config.scoring, dataset.task, family)
    splits = assign_folds(dataset, config) if splits is None else splits
    folds: Sequence[Fold] | None = None
    if isinstance(family, LeastSquares) and scoring in SquaredError.NAMES:
        from regtune.scale.stats import folds_from_sums

        check_memory(dataset, 0)  # the table's own encoding; the folds are sums
        folds = folds_from_sums(dataset, splits)  # a large table: one pass of sums, no encoded copies
    if folds is None:
        check_memory(dataset, len(splits))
        folds = build_folds(dataset, splits, center=family.center_folds, n_jobs=config.n_jobs)
    n_encoded = int(folds[0].X_train.shape[1])

    full = Encoder(dataset.numeric, dataset.categorical, dataset.impute)
    X_all = full.fit_transform(dataset.X, dataset.weights)  # the λ ranges' and the refits' (read only)
    X_all.setflags(write=False)
    scale = family.mixing_scale(dataset.y, dataset.weights)
    ranges = lambda_ranges(
        family,
        X_all,
        dataset.y,
        config.penalties,
        config.lambda_min,
        config.lambda_max,
        scale,
        dataset.offset,
        dataset.weights,
    )
    space = SearchSpace(penalties=config.penalties, ranges=ranges, mixing_scale=scale)

    identity = study_identity(dataset, config, scoring, family, splits, space, n_encoded)

    def refit_point(point: Point, start: Start | None) -> Refit:
        penalty = Penalty.of(point.penalty, point.lam, point.l1_ratio)
        return refit(dataset, family, penalty, config.tol, encoded=(full, X_all), warm=start)

    result = search_and_assemble(
        folds,
        family,
        scorer,
        scoring,
        space,
        config,
        identity,
        DatasetInfo.of(dataset, n_encoded),
        refit_point,
        n_folds=len(splits) // config.repeats,
        progress=progress,
        start=start,
    )
    hyper = result.cv.hypergradient_quantity
    result.refit_context = RefitContext(dataset=dataset, family=family, tol=config.tol)
    result.read_as = dict(dataset.source_dtypes)
    if hyper is None and config.search != "tpe":
        result.warnings.append(f"--model {config.model} has no hypergradient: λ was searched with tpe")
    if config.family is None and dataset.task == "regression" and looks_like_counts(dataset.y):
        result.warnings.append(
            "the target looks like counts (non-negative integers, long right tail): --family poisson"
            " models it as counts"
        )
    smallest = min(len(test) for _, test in splits)
    if scoring == "r2" and smallest < SMALL_FOLD:
        result.warnings.append(
            f"R² averaged over folds of {smallest} rows is unstable (one bad fold dominates the mean and the SE):"
            " --scoring neg_mean_squared_error (the default) chooses on the pooled squared error"
        )
    return result


def search_and_assemble(
    folds: Sequence[Fold],
    family: Family,
    scorer: Any,
    scoring: str,
    space: SearchSpace,
    config: TuneConfig,
    identity: dict[str, Any],
    info: DatasetInfo,
    refit_point: Callable[[Point, Start | None], Refit],
    *,
    n_folds: int,
    progress: ProgressFn | None,
    start: float,
) -> TuneResult:
    """The search on prepared folds and the result it gives, for either engine: the trials (in the
    config's storage, under the study ``identity`` names), then λ.min, λ.1se and their refits
    (``refit_point``, given a start from the folds' solutions there: :meth:`Evaluator.start_for`). A family
    without a hypergradient is searched with TPE whatever ``config.search``."""
    from regtune.assemble import assemble
    from regtune.cv import Evaluator
    from regtune.models import Penalty
    from regtune.scale.stats import StatsFold
    from regtune.search import resolve_study_name, run_search

    hyper = family.hyper_quantity(scoring) if family.has_jacobian else None
    # Folds of sums (no rows: a large least-squares table, the Dask engine) fit in about a millisecond;
    # worker processes would only add their start-up and their messages.
    n_jobs = 1 if folds and all(isinstance(fold, StatsFold) for fold in folds) else config.n_jobs
    with Evaluator(list(folds), family, scorer, config.tol, n_jobs=n_jobs, hyper=hyper) as evaluator:
        outcome = run_search(
            evaluator,
            space,
            n_trials=config.n_trials,
            add_trials=config.add_trials,
            seed=config.seed,
            timeout=config.timeout,
            progress=progress,
            prune=config.prune,
            storage=config.storage,
            study_name=resolve_study_name(config.study_name, identity),
            identity=identity,
            search=config.search,
            scoring=scoring,
        )
    cv = CVInfo(
        folds=n_folds,
        repeats=config.repeats,
        scoring=scoring,
        seed=config.seed,
        groups=config.groups,
        fold_column=config.fold_column,
        n_fold_fits=evaluator.fits,
        search=config.search if hyper else "tpe",
        hypergradient_quantity=hyper,
        target_variance=identity["target_variance"],
        mixing_scale=space.mixing_scale,
        null_deviance=identity.get("null_deviance"),
    )
    study = StudyInfo(
        name=outcome.study.study_name if config.storage else None,
        storage=mask_url(config.storage) if config.storage else None,
        resumed=not outcome.created,
        converged=outcome.converged,
        stored=outcome.stored,
        new=outcome.new,
        budget=outcome.budget,
        add_trials=config.add_trials,
    )

    def refit_from_folds(point: Point) -> Refit:
        return refit_point(point, evaluator.start_for(Penalty.of(point.penalty, point.lam, point.l1_ratio)))

    return assemble(
        outcome.points, space, family, config.rule, info, cv, study, refit_from_folds,
        interrupted=outcome.interrupted, start=start,
    )  # fmt: skip


def _score_held_out(result: TuneResult, held: Dataset) -> HeldOut:
    from regtune.cv import resolve_scorer
    from regtune.evaluate import score_refits
    from regtune.models import Penalty
    from regtune.refit import refit

    context = result.refit_context
    assert context is not None

    def refit_at(point: Point) -> Any:
        penalty = Penalty.of(point.penalty, point.lam, point.l1_ratio)
        return refit(context.dataset, context.family, penalty, context.tol).pipeline

    _, scorer = resolve_scorer(result.cv.scoring, held.task, context.family)  # the same scorer as the folds
    return score_refits(result, held, refit_at, scorer, context.family)


def _nested(dataset: Dataset, config: TuneConfig, progress: ProgressFn | None, start: float) -> TuneResult:
    """The tuning inside each outer training part, scored on its outer fold; then on all rows."""
    from regtune.evaluate import Nested, outer_splits

    assert config.nested is not None
    inner_config = config.with_(nested=None)
    record = Nested(folds=config.nested, scoring="", rule=config.rule)
    for train, test in outer_splits(dataset, config.nested, config.seed):
        inner = tune_dataset(dataset.subset(train), inner_config)
        held = _score_held_out(inner, dataset.subset(test, source="outer fold"))
        record.min_scores.append(held.min.score)
        record.one_se_scores.append(held.one_se.score)
        record.chosen.append(inner.chosen.point.penalty)
    result = tune_dataset(dataset, inner_config, progress=progress, start=start)
    result.nested = replace(record, scoring=result.cv.scoring)
    result.elapsed_s = time.perf_counter() - start
    return result


def show(storage: str, study_name: str | None = None, *, rule: str = "min") -> TuneResult:
    """The result of a stored study, from its trials alone: no data is read and no trial is run.

    The chosen points are not refit, so their refit non-zero counts are None (the mean over the folds
    stays their point's ``n_nonzero``) and the result carries no model.
    """
    from regtune.assemble import assemble
    from regtune.models import Penalty, get_family, model_settings
    from regtune.policy import SearchSpace
    from regtune.refit import Refit
    from regtune.search import load_stored, points_from_trials

    start = time.perf_counter()
    if rule not in RULES:
        raise ConfigError(f"unknown rule {rule!r}: use min or 1se")
    study, identity = load_stored(storage, study_name)
    stored = identity.get("model_settings") or {}
    model = stored.get("type", "linear")
    own = {
        s.name: tuple(stored[s.name]) if isinstance(stored[s.name], list) else stored[s.name]
        for s in model_settings(model)
        if s.name in stored
    }
    family = get_family(identity["task"], model, seed=identity["seed"], family=identity.get("family"), **own)
    space = SearchSpace(
        penalties=tuple(identity["penalties"]),
        ranges={p: (float(lo), float(hi)) for p, (lo, hi) in identity["lambda_ranges"].items()},
        mixing_scale=float(identity.get("mixing_scale") or 1.0),
    )
    dataset = DatasetInfo.stored(identity)
    cv = CVInfo(
        folds=identity["folds"],
        repeats=identity["repeats"],
        scoring=identity["scoring"],
        seed=identity["seed"],
        groups=identity["groups"],
        fold_column=identity["fold_column"],
        n_fold_fits=None,
        search=None,
        hypergradient_quantity=family.hyper_quantity(identity["scoring"]) if family.has_jacobian else None,
        target_variance=identity.get("target_variance"),
        mixing_scale=identity.get("mixing_scale"),
        null_deviance=identity.get("null_deviance"),
    )
    info = StudyInfo(name=study.study_name, storage=mask_url(storage), resumed=True)

    def from_folds(point: Point) -> Refit:
        # No refit: its non-zero count is unknown (the fold mean stays the point's n_nonzero).
        return Refit(family.native(Penalty.of(point.penalty, point.lam, point.l1_ratio), dataset.n_rows), None)

    return assemble(
        points_from_trials(study.get_trials(deepcopy=False)),
        space,
        family,
        rule,
        dataset,
        cv,
        info,
        from_folds,
        interrupted=False,
        start=start,
    )


def studies(storage: str) -> list[dict[str, Any]]:
    """The studies in ``storage`` with their trial counts and best CV means."""
    from regtune.search import list_studies

    return list_studies(storage)
