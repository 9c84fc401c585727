"""From the study's CV curve to a :class:`TuneResult`: λ.min and λ.1se, their refits, the verdict on
λ.min, each penalty's summary and the notes a reader needs."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from regtune.errors import DataError, Interrupted
from regtune.models import Family, Penalty
from regtune.refit import Refit, coefficients, original_scale
from regtune.result import ChosenPoint, CVInfo, DatasetInfo, PenaltySummary, StudyInfo, TuneResult, versions

if TYPE_CHECKING:
    from regtune.policy import SearchSpace
    from regtune.select import Point, Selection

RefitFn = Callable[["Point"], Refit]


def assemble(
    points: list[Point],
    space: SearchSpace,
    family: Family,
    rule: str,
    dataset: DatasetInfo,
    cv: CVInfo,
    study: StudyInfo,
    refit: RefitFn,
    *,
    interrupted: bool,
    start: float,
) -> TuneResult:
    """Select λ.min and λ.1se from ``points``, refit them (``refit(point)``), and gather the result."""
    from regtune.policy import certify
    from regtune.select import select

    _record_widening(points, space)
    selection = select(points)
    if selection is None:
        errors = [p.error for p in points if p.error]
        if interrupted:
            raise Interrupted("interrupted before any trial completed: nothing to report")
        first = f" (first error: {errors[0]})" if errors else ""
        raise DataError(f"every trial failed{first}: check the data and the scorer, or try --debug")

    refits: dict[int, Refit] = {}
    for point in (selection.best, selection.one_se):
        if point.trial not in refits:
            refits[point.trial] = refit(point)
    verdict = certify(points, selection.best, space) if cv.hypergradient_quantity else None

    def chosen_point(point: Point, rule: str | None = None) -> ChosenPoint:
        fitted = refits[point.trial]
        hyper = _hypergradient(point, cv, verdict if point is selection.best else None)
        return ChosenPoint(point, fitted.native, fitted.n_nonzero, rule, space.edge(point), hyper)

    chosen_src = selection.best if rule == "min" else selection.one_se
    chosen = chosen_point(chosen_src, rule=rule)
    fitted = refits[chosen_src.trial]
    unconverged = [p for p in points if p.usable and not p.converged]
    states = [p.state for p in points]
    counts = {s: states.count(s) for s in ("complete", "pruned", "failed")}
    return TuneResult(
        dataset=dataset,
        cv=cv,
        chosen=chosen,
        min=chosen_point(selection.best),
        one_se=chosen_point(selection.one_se),
        per_penalty=[
            replace(s, n_nonzero_refit=refits[s.best.trial].n_nonzero if s.best and s.best.trial in refits else None)
            for s in _summaries(points, selection, space, family, dataset.n_rows, bool(cv.hypergradient_quantity))
        ],
        curve=points,
        study=replace(
            study,
            n_trials=len(points),
            complete=counts["complete"],
            pruned=counts["pruned"],
            failed=counts["failed"],
            unconverged=len(unconverged),
        ),
        coefficients=coefficients(fitted),
        original=original_scale(fitted),
        warnings=_notes(points, chosen, space, verdict, interrupted),
        elapsed_s=time.perf_counter() - start,
        versions=versions(),
        family=family.name,
        interrupted=interrupted,
        model_info=family.describe(),
        model_label=family.label(),
        native_name=family.native_name(),
        build_model=None if fitted.build is None else lambda: fitted.pipeline,
    )


def _record_widening(points: list[Point], space: SearchSpace) -> None:
    """The range of each penalty as searched, also by other workers or earlier runs."""
    for penalty in space.penalties:
        lams = [p.lam for p in points if p.penalty == penalty]
        if lams:
            lo0, hi0 = space.ranges[penalty]
            wider = (min(lo0, *lams), max(hi0, *lams))
            if wider != (lo0, hi0):
                space.widened[penalty] = wider


def _hypergradient(point: Point, cv: CVInfo, verdict: dict[str, Any] | None) -> dict[str, Any] | None:
    quantity = cv.hypergradient_quantity
    if not quantity or point.d_log_lambda is None:
        return None
    hyper: dict[str, Any] = {
        "quantity": quantity,
        "exact": quantity == cv.scoring,
        "d_log_lambda": point.d_log_lambda,
        "d_l1_ratio": point.d_l1_ratio,
    }
    if verdict is not None:
        hyper.update(verdict)
    return hyper


def _summaries(
    points: list[Point], selection: Selection, space: SearchSpace, family: Family, n_rows: int, certified: bool
) -> list[PenaltySummary]:
    """Each penalty's own optimum: its best point, native parameters, edge, trial counts and verdict."""
    from regtune.policy import certify

    summaries = []
    for penalty in space.penalties:
        mine = [p for p in points if p.penalty == penalty]
        top = selection.per_penalty.get(penalty)
        summaries.append(
            PenaltySummary(
                penalty=penalty,
                best=top,
                native=family.native(Penalty.of(penalty, top.lam, top.l1_ratio), n_rows) if top else {},
                boundary=space.edge(top) if top else None,
                n_trials=len(mine),
                n_complete=sum(p.state == "complete" for p in mine),
                lambda_range=space.bounds(penalty),
                widened=penalty in space.widened and space.widened[penalty] != space.ranges[penalty],
                verdict=certify(points, top, space) if certified and top else None,
            )
        )
    return summaries


def _notes(
    points: list[Point], chosen: ChosenPoint, space: SearchSpace, verdict: dict[str, Any] | None, interrupted: bool
) -> list[str]:
    """What a reader of the result should know: unconverged and failed trials, widened ranges, a chosen
    λ on an edge, an uncertified λ.min, an interrupted run."""
    from regtune.select import candidates

    notes: list[str] = []
    usable = [p for p in points if p.usable]
    unconverged = [p for p in usable if not p.converged]
    if unconverged:
        ignored = " (not chosen)" if len(candidates(points)) < len(usable) else ""
        notes.append(f"{len(unconverged)} trial(s) had fold fits that did not converge{ignored}")
    failed = [p for p in points if p.state == "failed"]
    if failed:
        reason = failed[0].error or "stopped before it finished (interrupted, or its worker died)"
        notes.append(f"{len(failed)} trial(s) failed: {reason}")
    for penalty, (lo, hi) in space.widened.items():
        if (lo, hi) != space.ranges[penalty]:
            notes.append(
                f"the λ range of {penalty} was widened to [{lo:.3g}, {hi:.3g}] because its best λ was on an edge"
            )
    if chosen.boundary is not None:
        lo, hi = space.bounds(chosen.point.penalty)
        side = "smallest" if chosen.boundary == "lower" else "largest"
        hint = (
            "the data need little or no regularization of this kind"
            if chosen.boundary == "lower"
            else "a simpler model may do as well"
        )
        notes.append(
            f"the chosen λ ({chosen.point.lam:.3g}) is at the {side} λ searched ([{lo:.3g}, {hi:.3g}]):"
            f" {hint}; set --lambda-min/--lambda-max to look further"
        )
    if verdict is not None and verdict["verdict"] == "not_converged":
        toward = verdict.get("lambda_next")
        near = f": a λ near {toward:.4g} would score higher" if toward is not None else ""
        notes.append(f"λ.min is not pinned yet{near}: more trials would pin it (a larger --n-trials, or --add-trials)")
    if interrupted:
        notes.append("interrupted: the result covers the trials completed before the interruption")
    return notes
