"""``tune()``: the whole path from a source to the chosen penalty, as one library call."""

from __future__ import annotations

import math
import platform
import time
from typing import TYPE_CHECKING, Any, TextIO

from regtune.config import L1_RATIO_RANGE, TuneConfig
from regtune.errors import ConfigError, DataError
from regtune.result import ChosenPoint, PenaltySummary, TuneResult

if TYPE_CHECKING:
    import numpy as np

    from regtune.data import Dataset
    from regtune.models import Family
    from regtune.search import ProgressFn, SearchSpace
    from regtune.select import Point

#: Ratio λ_min/λ_max of the searched range (glmnet's ``lambda.min.ratio``): n > p and n ≤ p.
RATIO_N_GT_P = 1e-4
RATIO_N_LE_P = 1e-2
#: Pure L2 has no λ_max: its range reaches this factor above the L1 λ_max (as glmnet's ridge path).
L2_UPPER_FACTOR = 1e3


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    from regtune import __version__

    found = {"regtune": __version__, "python": platform.python_version()}
    for name in ("scikit-learn", "optuna", "numpy", "pandas"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:  # pragma: no cover - all are dependencies
            found[name] = "unknown"
    return found


def lambda_ranges(
    family: Family,
    X: np.ndarray,
    y: np.ndarray,
    penalties: tuple[str, ...],
    lambda_min: float | None,
    lambda_max: float | None,
) -> dict[str, tuple[float, float]]:
    """The searched λ range of each penalty, from the data (glmnet's λ_max) or the user's bounds."""
    lmax = family.lambda_max(X, y, 1.0)
    if not (math.isfinite(lmax) and lmax > 0):
        lmax = 1.0
    ratio = RATIO_N_GT_P if X.shape[0] > X.shape[1] else RATIO_N_LE_P
    ranges = {}
    for penalty in penalties:
        hi = {"l1": lmax, "elasticnet": lmax / L1_RATIO_RANGE[0], "l2": lmax * L2_UPPER_FACTOR}[penalty]
        lo = lmax * ratio
        lo = lambda_min if lambda_min is not None else lo
        hi = lambda_max if lambda_max is not None else hi
        if lo >= hi:
            which = "--lambda-min" if lambda_min is not None else "--lambda-max"
            raise ConfigError(
                f"{which} leaves an empty λ range for {penalty} ([{lo:.4g}, {hi:.4g}]):"
                " give both --lambda-min and --lambda-max"
            )
        ranges[penalty] = (lo, hi)
    return ranges


def _coefficients(pipeline: Any) -> list[tuple[str, float]]:
    import numpy as np

    names = [str(n).split("__", 1)[-1] for n in pipeline[:-1].get_feature_names_out()]
    model = pipeline[-1]
    coef = np.atleast_2d(np.asarray(model.coef_, dtype=np.float64))
    if coef.shape[0] == 1:
        return [(n, float(v)) for n, v in zip(names, coef[0], strict=True)]
    classes = [str(c) for c in model.classes_]
    return [
        (f"{names[j]} [{classes[k]}]", float(coef[k, j])) for k in range(coef.shape[0]) for j in range(coef.shape[1])
    ]


def _refit(dataset: Dataset, family: Family, point: Point, tol: float) -> tuple[Any, dict[str, float], int]:
    """Fit preprocessing and model on all rows at ``point``; return pipeline, native params, non-zeros."""
    from sklearn.pipeline import Pipeline

    from regtune.preprocess import make_preprocessor

    pre = make_preprocessor(dataset.numeric, dataset.categorical)
    X = pre.fit_transform(dataset.X)
    outcome = family.fit(X, dataset.y, point.penalty, point.lam, point.l1_ratio, tol)
    pipeline = Pipeline([("preprocess", pre), ("model", outcome.model)])
    return (
        pipeline,
        family.native(point.penalty, point.lam, point.l1_ratio, dataset.n_rows),
        outcome.n_nonzero,
    )


def _boundary(point: Point, space: SearchSpace) -> str | None:
    from regtune.search import EDGE_DECADES

    lo, hi = space.bounds(point.penalty)
    if math.log10(point.lam / lo) < EDGE_DECADES:
        return "lower"
    if math.log10(hi / point.lam) < EDGE_DECADES:
        return "upper"
    return None


def tune(
    source: str,
    config: TuneConfig | None = None,
    *,
    progress: ProgressFn | None = None,
    stdin: TextIO | None = None,
    **settings: Any,
) -> TuneResult:
    """Cross-validate penalty × λ on ``source`` and return the chosen penalty and the refit model.

    Parameters
    ----------
    source : str
        A CSV path (``.csv`` / ``.csv.gz``), ``"-"`` for standard input, or ``"builtin:NAME"``.
    config : TuneConfig, optional
        The settings; keyword ``settings`` (the TuneConfig fields) build one when it is omitted.
    progress : callable, optional
        Called after each trial as ``progress(trials_done, trials_total, best_mean_or_None)``.
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
    from regtune.cv import Evaluator, resolve_scorer
    from regtune.data import load_dataset
    from regtune.folds import assign_folds, build_folds
    from regtune.models import get_family
    from regtune.preprocess import make_preprocessor
    from regtune.search import SearchSpace, run_search
    from regtune.select import candidates, select

    start = time.perf_counter()
    if config is None:
        config = TuneConfig(**settings)
    elif settings:
        config = config.with_(**settings)

    dataset = load_dataset(
        source,
        target=config.target,
        features=config.features,
        drop=config.drop,
        categorical=config.categorical,
        task=config.task,
        groups=config.groups,
        fold_column=config.fold_column,
        stdin=stdin,
    )
    scoring, scorer = resolve_scorer(config.scoring, dataset.task)
    family = get_family(dataset.task)
    splits = assign_folds(dataset, config)
    folds = build_folds(dataset, splits, center=family.center_folds)

    X_all = make_preprocessor(dataset.numeric, dataset.categorical).fit_transform(dataset.X)
    space = SearchSpace(
        penalties=config.penalties,
        ranges=lambda_ranges(family, X_all, dataset.y, config.penalties, config.lambda_min, config.lambda_max),
    )

    with Evaluator(folds, family, scorer, config.tol, n_jobs=config.n_jobs) as evaluator:
        outcome = run_search(
            evaluator,
            space,
            n_trials=config.n_trials,
            seed=config.seed,
            timeout=config.timeout,
            progress=progress,
            prune=config.prune,
        )
    points = outcome.points
    selection = select(points)
    if selection is None:
        errors = [p.error for p in points if p.error]
        if outcome.interrupted:
            raise DataError("interrupted before any trial completed: nothing to report")
        first = f" (first error: {errors[0]})" if errors else ""
        raise DataError(f"every trial failed{first}: check the data and the scorer, or try --debug")

    refits: dict[int, tuple[Any, dict[str, float], int]] = {}
    for point in (selection.best, selection.one_se):
        if point.trial not in refits:
            refits[point.trial] = _refit(dataset, family, point, config.tol)

    def chosen_point(point: Point, rule: str | None = None) -> ChosenPoint:
        _, native, nnz = refits[point.trial]
        return ChosenPoint(point, native, nnz, rule=rule, boundary=_boundary(point, space))

    best = chosen_point(selection.best)
    one_se = chosen_point(selection.one_se)
    chosen_src = selection.best if config.rule == "min" else selection.one_se
    chosen = chosen_point(chosen_src, rule=config.rule)
    pipeline = refits[chosen_src.trial][0]

    notes: list[str] = []
    unconverged = [p for p in points if p.usable and not p.converged]
    if unconverged:
        ignored = " (not chosen)" if len(candidates(points)) < len([p for p in points if p.usable]) else ""
        notes.append(f"{len(unconverged)} trial(s) had fold fits that did not converge{ignored}")
    failed = [p for p in points if p.state == "failed"]
    if failed:
        notes.append(f"{len(failed)} trial(s) failed: {failed[0].error}")
    for penalty, (lo, hi) in space.widened.items():
        lo0, hi0 = space.ranges[penalty]
        if (lo, hi) != (lo0, hi0):
            notes.append(
                f"the λ range of {penalty} was widened to [{lo:.3g}, {hi:.3g}] because its best λ was on an edge"
            )
    if chosen.boundary is not None:
        lo, hi = space.bounds(chosen_src.penalty)
        side = "smallest" if chosen.boundary == "lower" else "largest"
        hint = (
            "the data need little or no regularization of this kind"
            if chosen.boundary == "lower"
            else "a simpler model may do as well"
        )
        notes.append(
            f"the chosen λ ({chosen_src.lam:.3g}) is at the {side} λ searched ([{lo:.3g}, {hi:.3g}]):"
            f" {hint}; set --lambda-min/--lambda-max to look further"
        )
    if outcome.interrupted:
        notes.append("interrupted: the result covers the trials completed before the interruption")

    per_penalty = []
    for penalty in config.penalties:
        mine = [p for p in points if p.penalty == penalty]
        top = selection.per_penalty.get(penalty)
        per_penalty.append(
            PenaltySummary(
                penalty=penalty,
                best=top,
                native=family.native(penalty, top.lam, top.l1_ratio, dataset.n_rows) if top else {},
                boundary=_boundary(top, space) if top else None,
                n_trials=len(mine),
                n_complete=sum(p.state == "complete" for p in mine),
                lambda_range=space.bounds(penalty),
                widened=penalty in space.widened and space.widened[penalty] != space.ranges[penalty],
            )
        )

    n_encoded = int(folds[0].X_train.shape[1])
    states = [p.state for p in points]
    return TuneResult(
        dataset={
            "source": dataset.source,
            "target": dataset.target,
            "task": dataset.task,
            "task_reason": dataset.task_reason,
            "n_rows": dataset.n_rows,
            "n_features": dataset.n_features,
            "n_columns_encoded": n_encoded,
            "numeric": dataset.numeric,
            "categorical": dataset.categorical,
            "rows_dropped": dataset.rows_dropped,
            "n_classes": len(set(dataset.y.tolist())) if dataset.task == "classification" else None,
        },
        cv={
            "folds": len(splits) // config.repeats,
            "repeats": config.repeats,
            "scoring": scoring,
            "seed": config.seed,
            "groups": config.groups,
            "fold_column": config.fold_column,
            "n_fold_fits": evaluator.fits,
        },
        chosen=chosen,
        min=best,
        one_se=one_se,
        per_penalty=per_penalty,
        curve=points,
        study={
            "name": None,
            "storage": None,
            "n_trials": len(points),
            "complete": states.count("complete"),
            "pruned": states.count("pruned"),
            "failed": states.count("failed"),
            "unconverged": len(unconverged),
        },
        model=pipeline,
        coefficients=_coefficients(pipeline),
        warnings=notes,
        elapsed_s=time.perf_counter() - start,
        versions=versions(),
        family=family.name,
        interrupted=outcome.interrupted,
    )
