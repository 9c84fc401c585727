"""``tune()``: the whole path from a source to the chosen penalty, as one library call."""

from __future__ import annotations

import math
import platform
import time
from typing import TYPE_CHECKING, Any, TextIO

from regtune.config import L1_RATIO_RANGE, TuneConfig
from regtune.errors import ConfigError, DataError, Interrupted
from regtune.result import ChosenPoint, PenaltySummary, RefitContext, TuneResult
from regtune.storage import mask_url

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
    """The searched λ range of each penalty, from the data (glmnet's λ_max) or the user's bounds.

    A family without a λ_max of its own (the MLP) sets its default range from the linear λ_max.
    """
    lmax = family.lambda_max(X, y, 1.0)
    if not (math.isfinite(lmax) and lmax > 0):
        lmax = 1.0
    ratio = RATIO_N_GT_P if X.shape[0] > X.shape[1] else RATIO_N_LE_P
    ranges = {}
    for penalty in penalties:
        own = family.default_lambda_range(penalty, lmax, ratio)
        if own is not None:
            lo, hi = own
        else:
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


def study_identity(
    dataset: Dataset,
    config: TuneConfig,
    scoring: str,
    family: Family,
    splits: list[tuple[np.ndarray, np.ndarray]],
    space: SearchSpace,
    n_encoded: int,
) -> dict[str, Any]:
    """What a stored study is about: reusing it with other data or settings is refused.

    The model family is part of it (``model``, and for ``sgd`` / ``mlp`` also ``model_settings``:
    estimator, layers, early stopping, max_iter, tol).
    """
    import hashlib

    from regtune import __version__

    folds = hashlib.sha256()
    for _, test in splits:
        folds.update(test.astype("int64").tobytes())
        folds.update(b"|")
    identity = {
        "source": dataset.source,
        "data_hash": dataset.fingerprint(),
        "shape": [dataset.n_rows, dataset.n_features],
        "columns": [str(c) for c in dataset.X.columns],
        "target": dataset.target,
        "task": dataset.task,
        "scoring": scoring,
        "folds": config.folds,
        "repeats": config.repeats,
        "seed": config.seed,
        "groups": config.groups,
        "fold_column": config.fold_column,
        "fold_assignment": folds.hexdigest()[:16],
        "penalties": list(config.penalties),
        "lambda_ranges": {p: [float(f"{lo:.10g}"), float(f"{hi:.10g}")] for p, (lo, hi) in space.ranges.items()},
        "model": family.name,
        "regtune_version": __version__,
        "n_columns_encoded": n_encoded,
        "rows_dropped": dataset.rows_dropped,
        "n_classes": len(set(dataset.y.tolist())) if dataset.task == "classification" else None,
    }
    if config.model != "linear":  # linear studies keep the 0.1 identity, so they still resume
        identity["model_settings"] = family.describe()
    return identity


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


def _coefficients(pipeline: Any) -> list[tuple[str, float]]:
    import numpy as np

    if not hasattr(pipeline[-1], "coef_"):
        return []
    values = np.asarray(pipeline[-1].coef_, dtype=np.float64).ravel()
    return [(n, float(v)) for n, v in zip(coefficient_names(pipeline), values, strict=True)]


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
    from regtune.cv import Evaluator, hyper_quantity, resolve_scorer
    from regtune.data import load_dataset
    from regtune.folds import assign_folds, build_folds
    from regtune.models import get_family
    from regtune.preprocess import make_preprocessor
    from regtune.search import SearchSpace, run_search

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
    family = get_family(
        dataset.task, config.model, hidden=config.hidden, seed=config.seed, early_stopping=config.early_stopping
    )
    splits = assign_folds(dataset, config)
    folds = build_folds(dataset, splits, center=family.center_folds)

    X_all = make_preprocessor(dataset.numeric, dataset.categorical).fit_transform(dataset.X)
    space = SearchSpace(
        penalties=config.penalties,
        ranges=lambda_ranges(family, X_all, dataset.y, config.penalties, config.lambda_min, config.lambda_max),
    )

    identity = study_identity(dataset, config, scoring, family, splits, space, int(folds[0].X_train.shape[1]))
    hyper = hyper_quantity(scoring, dataset.task) if family.has_jacobian else None
    with Evaluator(folds, family, scorer, config.tol, n_jobs=config.n_jobs, hyper=hyper) as evaluator:
        outcome = run_search(
            evaluator,
            space,
            n_trials=config.n_trials,
            seed=config.seed,
            timeout=config.timeout,
            progress=progress,
            prune=config.prune,
            storage=config.storage,
            study_name=config.study_name,
            identity=identity,
            search=config.search,
        )
    n_encoded = int(folds[0].X_train.shape[1])
    dataset_info = {
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
    }
    cv_info = {
        "folds": len(splits) // config.repeats,
        "repeats": config.repeats,
        "scoring": scoring,
        "seed": config.seed,
        "groups": config.groups,
        "fold_column": config.fold_column,
        "n_fold_fits": evaluator.fits,
        # Families without a hypergradient (sgd, mlp) are searched with TPE whatever --search says.
        "search": config.search if hyper else "tpe",
        "hypergradient_quantity": hyper,
    }
    study_info = {
        "name": outcome.study.study_name if config.storage else None,
        "storage": mask_url(config.storage) if config.storage else None,
        "resumed": not outcome.created,
        "converged": outcome.converged,
    }

    def refit(point: Point) -> tuple[Any, dict[str, float], int]:
        return _refit(dataset, family, point, config.tol)

    result = assemble(
        outcome.points,
        space,
        family,
        config.rule,
        dataset_info,
        cv_info,
        study_info,
        refit,
        interrupted=outcome.interrupted,
        start=start,
    )
    result.refit_context = RefitContext(dataset=dataset, family=family, tol=config.tol)
    if hyper is None and config.search != "tpe":
        result.warnings.append(f"--model {config.model} has no hypergradient: λ was searched with tpe")
    return result


def assemble(
    points: list[Point],
    space: SearchSpace,
    family: Family,
    rule: str,
    dataset_info: dict[str, Any],
    cv_info: dict[str, Any],
    study_info: dict[str, Any],
    refit: Any,
    *,
    interrupted: bool,
    start: float,
) -> TuneResult:
    """Select λ.min and λ.1se from the curve, refit them (``refit(point)`` → pipeline or None, native
    parameters, non-zeros), and gather the result."""
    from regtune.search import certify
    from regtune.select import candidates, select

    n_rows = int(dataset_info["n_rows"])
    for penalty in space.penalties:  # the range as searched, also by other workers or earlier runs
        lams = [p.lam for p in points if p.penalty == penalty]
        if lams:
            lo0, hi0 = space.ranges[penalty]
            wider = (min(lo0, *lams), max(hi0, *lams))
            if wider != (lo0, hi0):
                space.widened[penalty] = wider
    selection = select(points)
    if selection is None:
        errors = [p.error for p in points if p.error]
        if interrupted:
            raise Interrupted("interrupted before any trial completed: nothing to report")
        first = f" (first error: {errors[0]})" if errors else ""
        raise DataError(f"every trial failed{first}: check the data and the scorer, or try --debug")

    refits: dict[int, tuple[Any, dict[str, float], int]] = {}
    for point in (selection.best, selection.one_se):
        if point.trial not in refits:
            refits[point.trial] = refit(point)

    quantity = cv_info.get("hypergradient_quantity")
    verdict = certify(points, selection.best, space) if quantity else None

    def chosen_point(point: Point, rule: str | None = None) -> ChosenPoint:
        _, native, nnz = refits[point.trial]
        hyper = None
        if quantity and point.d_log_lambda is not None:
            hyper = {
                "quantity": quantity,
                "exact": quantity == cv_info["scoring"],
                "d_log_lambda": point.d_log_lambda,
                "d_l1_ratio": point.d_l1_ratio,
            }
            if point is selection.best and verdict is not None:
                hyper.update(verdict)
        return ChosenPoint(point, native, nnz, rule=rule, boundary=space.edge(point), hypergradient=hyper)

    best = chosen_point(selection.best)
    one_se = chosen_point(selection.one_se)
    chosen_src = selection.best if rule == "min" else selection.one_se
    chosen = chosen_point(chosen_src, rule=rule)
    pipeline = refits[chosen_src.trial][0]

    notes: list[str] = []
    unconverged = [p for p in points if p.usable and not p.converged]
    if unconverged:
        ignored = " (not chosen)" if len(candidates(points)) < len([p for p in points if p.usable]) else ""
        notes.append(f"{len(unconverged)} trial(s) had fold fits that did not converge{ignored}")
    failed = [p for p in points if p.state == "failed"]
    if failed:
        reason = failed[0].error or "stopped before it finished (interrupted, or its worker died)"
        notes.append(f"{len(failed)} trial(s) failed: {reason}")
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
    if verdict is not None and verdict["verdict"] == "not_converged":
        notes.append(f"λ.min is not certified — {verdict['message']}")
    if interrupted:
        notes.append("interrupted: the result covers the trials completed before the interruption")

    per_penalty = []
    for penalty in space.penalties:
        mine = [p for p in points if p.penalty == penalty]
        top = selection.per_penalty.get(penalty)
        per_penalty.append(
            PenaltySummary(
                penalty=penalty,
                best=top,
                native=family.native(penalty, top.lam, top.l1_ratio, n_rows) if top else {},
                boundary=space.edge(top) if top else None,
                n_trials=len(mine),
                n_complete=sum(p.state == "complete" for p in mine),
                lambda_range=space.bounds(penalty),
                widened=penalty in space.widened and space.widened[penalty] != space.ranges[penalty],
            )
        )

    states = [p.state for p in points]
    return TuneResult(
        dataset=dataset_info,
        cv=cv_info,
        chosen=chosen,
        min=best,
        one_se=one_se,
        per_penalty=per_penalty,
        curve=points,
        study={
            **study_info,
            "n_trials": len(points),
            "complete": states.count("complete"),
            "pruned": states.count("pruned"),
            "failed": states.count("failed"),
            "unconverged": len(unconverged),
        },
        model=pipeline,
        coefficients=_coefficients(pipeline) if pipeline is not None else [],
        warnings=notes,
        elapsed_s=time.perf_counter() - start,
        versions=versions(),
        family=family.name,
        model_info=family.describe(),
        interrupted=interrupted,
    )


def show(storage: str, study_name: str | None = None, *, rule: str = "min") -> TuneResult:
    """The result of a stored study, from its trials alone: no data is read and no trial is run.

    The chosen points are not refit, so their non-zero counts are the mean over the folds and the
    result carries no model.
    """
    from regtune.cv import hyper_quantity
    from regtune.models import get_family
    from regtune.search import SearchSpace, load_stored, points_from_trials

    start = time.perf_counter()
    if rule not in ("min", "1se"):
        raise ConfigError(f"unknown rule {rule!r}: use min or 1se")
    study, identity = load_stored(storage, study_name)
    settings = identity.get("model_settings") or {}
    family = get_family(
        identity["task"],
        settings.get("type", "linear"),
        hidden=tuple(settings.get("hidden") or ()),
        seed=identity["seed"],
        early_stopping=settings.get("early_stopping", True),
    )
    space = SearchSpace(
        penalties=tuple(identity["penalties"]),
        ranges={p: (float(lo), float(hi)) for p, (lo, hi) in identity["lambda_ranges"].items()},
    )
    n_rows, n_features = identity["shape"]
    dataset_info = {
        "source": identity["source"],
        "target": identity["target"],
        "task": identity["task"],
        "task_reason": "as stored in the study",
        "n_rows": n_rows,
        "n_features": n_features,
        "n_columns_encoded": identity.get("n_columns_encoded"),
        "numeric": None,
        "categorical": None,
        "rows_dropped": identity.get("rows_dropped"),
        "n_classes": identity.get("n_classes"),
    }
    cv_info = {
        "folds": identity["folds"],
        "repeats": identity["repeats"],
        "scoring": identity["scoring"],
        "seed": identity["seed"],
        "groups": identity["groups"],
        "fold_column": identity["fold_column"],
        "n_fold_fits": None,
        "search": None,
        "hypergradient_quantity": hyper_quantity(identity["scoring"], identity["task"])
        if family.has_jacobian
        else None,
    }
    study_info = {"name": study.study_name, "storage": mask_url(storage), "resumed": True}

    def from_folds(point: Point) -> tuple[Any, dict[str, float], int]:
        nnz = round(point.n_nonzero) if point.n_nonzero is not None else 0
        return None, family.native(point.penalty, point.lam, point.l1_ratio, n_rows), nnz

    return assemble(
        points_from_trials(study.trials),
        space,
        family,
        rule,
        dataset_info,
        cv_info,
        study_info,
        from_folds,
        interrupted=False,
        start=start,
    )


def studies(storage: str) -> list[dict[str, Any]]:
    """The studies in ``storage`` with their trial counts and best CV means."""
    from regtune.search import list_studies

    return list_studies(storage)
