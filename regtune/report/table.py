"""The terminal table of a TuneResult (rich): one row per penalty, the chosen row highlighted."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import RenderableType

    from regtune.result import ChosenPoint, StudyInfo, TuneResult


def fmt_num(x: float | None, digits: int = 4) -> str:
    if x is None or not math.isfinite(x):
        return "—"
    return f"{x:.{digits}g}"


def fmt_native(native: dict[str, float]) -> str:
    return ", ".join(f"{k}={fmt_num(v)}" for k, v in native.items())


#: How a "neg_" scorer's loss is named when it is shown as a positive number.
LOSS_NAMES = {
    "neg_mean_squared_error": "MSE",
    "neg_root_mean_squared_error": "RMSE",
    "neg_mean_absolute_error": "MAE",
    "neg_median_absolute_error": "MedAE",
    "neg_log_loss": "log-loss",
    "neg_mean_poisson_deviance": "Poisson deviance",
    "neg_mean_gamma_deviance": "Gamma deviance",
    "neg_mean_tweedie_deviance": "Tweedie deviance",
}


def score_label(scoring: str) -> str:
    """The name a table gives the CV score: a loss by its own name (``MSE``), a score by the scorer's."""
    if scoring.startswith("neg_"):
        return LOSS_NAMES.get(scoring, scoring.removeprefix("neg_"))
    return scoring


def score_value(scoring: str, mean: float | None) -> float | None:
    """A CV mean as shown: losses positive (scikit-learn's scorers negate them)."""
    if mean is None:
        return None
    return -mean if scoring.startswith("neg_") else mean


def score_text(scoring: str, mean: float | None, se: float | None) -> str:
    return f"{fmt_num(score_value(scoring, mean))} ± {fmt_num(se, 2)}"


def r2_text(result: TuneResult, mean: float | None) -> str | None:
    """R² = 1 − MSE / Var(y) of the same CV mean, when the score is the mean squared error; the fraction of
    deviance explained (glmnet's dev.ratio: 1 − deviance / null deviance) when it is a deviance."""
    if mean is None or not math.isfinite(mean):
        return None
    value = result.cv.r2(mean) if result.cv.null_deviance is None else result.cv.dev_ratio(mean)
    return None if value is None else f"{value:.4f}"


def r2_name(result: TuneResult) -> str:
    """What :func:`r2_text` shows: ``R²``, or ``dev.ratio`` for a deviance."""
    return "R²" if result.cv.null_deviance is None else "dev.ratio"


def _choice_line(result: TuneResult, label: str, point: ChosenPoint) -> str:
    p = point.point
    scoring = result.cv.scoring
    ratio = f", l1_ratio={p.l1_ratio:.3g}" if p.penalty == "elasticnet" else ""
    edge = f"  [on the {point.boundary} edge of the λ range]" if point.boundary else ""
    r2 = r2_text(result, p.mean)
    return (
        f"{label}: {p.penalty}  λ={fmt_num(p.lam)}{ratio}  ({fmt_native(point.native)})  "
        f"CV {score_label(scoring)} {score_text(scoring, p.mean, p.se)}{f' ({r2_name(result)} {r2})' if r2 else ''}"
        f"  non-zero {point.n_nonzero}  trial #{p.trial}{edge}"
    )


def hypergradient_line(point: ChosenPoint) -> str | None:
    """The derivative at λ.min and what it says, e.g. ``d r2 / d log λ = +2.1e-07 — interior optimum …``."""
    h = point.hypergradient
    if not h:
        return None
    quantity = h["quantity"] + ("" if h["exact"] else " (the model's loss; the scorer has no derivative)")
    text = f"d {quantity} / d log λ at λ.min = {h['d_log_lambda']:+.2g}"
    if h.get("d_l1_ratio") is not None:
        text += f", d / d l1_ratio = {h['d_l1_ratio']:+.2g}"
    if h.get("message"):
        text += f" — {h['message']}"
    return text


def honest_lines(result: TuneResult) -> list[str]:
    """The scores on rows the search never saw (``holdout``/``test``) and of the procedure (``nested``)."""
    scoring = result.cv.scoring
    label = score_label(scoring)
    lines = []
    if (held := result.held_out) is not None:

        def one(score: Any) -> str:
            r2 = f" (R² {score.r2:.4f})" if score.r2 is not None else ""
            return f"{label} {fmt_num(score_value(scoring, score.score))}{r2}"

        lines.append(f"held out ({held.n_rows} rows, {held.source}): λ.min {one(held.min)} · λ.1se {one(held.one_se)}")
    if (nested := result.nested) is not None:
        parts = []
        for which, name in (("min", "λ.min"), ("one_se", "λ.1se")):
            mean, se = nested.summary(which)
            parts.append(f"{name} {label} {score_text(scoring, mean, se)}")
        chose = ", ".join(nested.chosen)
        lines.append(f"nested {nested.folds}-fold CV of the whole tuning: {' · '.join(parts)} (chose {chose})")
    return lines


def study_line(study: StudyInfo) -> str | None:
    """What a run did with its stored study: ``study nightly in s.journal — resumed: 140 stored trials, 60
    new`` (None without a storage, and for a stored study shown by ``show``)."""
    if study.storage is None or study.stored is None or study.new is None:
        return None
    if study.resumed:
        text = f"resumed: {study.stored} stored trials, {study.new} new"
    else:
        text = f"new study: {study.new} trials"
    others = study.n_trials - study.stored - study.new
    if others > 0:
        text += f", {others} from other workers"
    counted = study.complete + study.pruned
    if study.new == 0 and study.add_trials is None and study.budget is not None and counted >= study.budget:
        text += f" (it already held the --n-trials total, {study.budget}: --add-trials N runs N more)"
    return f"study {study.name} in {study.storage} — {text}"


def _verdict_mark(boundary: str | None, verdict: dict[str, Any] | None) -> str:
    """What the best λ of a penalty is: on an edge of its range, or not yet its optimum."""
    if boundary:
        return f" ({boundary} edge)"
    if verdict and verdict.get("verdict") == "not_converged":
        return " (not pinned)"
    return ""


def _footer(result: TuneResult) -> str:
    d, cv = result.dataset, result.cv
    dropped = f", {d['rows_dropped']} rows dropped (missing target)" if d["rows_dropped"] else ""
    repeats = f" × {cv['repeats']}" if cv["repeats"] > 1 else ""
    return (
        f"{d['n_rows']} rows × {d['n_features']} features ({d['n_columns_encoded']} encoded){dropped}"
        f" · {d['task']} ({result.family}) · {cv['scoring']} · {cv['folds']}-fold{repeats} CV"
        f" · {result.elapsed_s:.1f} s"
    )


def render_table(result: TuneResult, extra: list[RenderableType] | None = None) -> list[RenderableType]:
    """The renderables that make up the terminal report, in order; ``extra`` (e.g. the ``--coef`` table)
    goes before the notes."""
    from rich.table import Table
    from rich.text import Text

    d = result.dataset
    chosen = result.chosen.point
    natives = [s.native for s in result.per_penalty if s.native]
    native_name = next(iter(natives[0])) if natives else result.native_name
    table = Table(
        title=f"regtune — {d['source']} → {d['target']}",
        title_justify="left",
        caption=_footer(result),
        caption_justify="left",
    )
    table.add_column("penalty")
    table.add_column("best λ", justify="right")
    table.add_column(native_name, justify="right")
    table.add_column("l1_ratio", justify="right")
    scoring = result.cv.scoring
    table.add_column(f"CV {score_label(scoring)} ± SE", justify="right")
    with_r2 = r2_text(result, chosen.mean) is not None
    if with_r2:
        table.add_column(r2_name(result), justify="right")
    table.add_column("non-zero", justify="right")
    table.add_column("trials", justify="right")
    for summary in result.per_penalty:
        best = summary.best
        if best is None:
            empty = ["—", "—", "—", "no complete trial", *(["—"] if with_r2 else []), "—", str(summary.n_trials)]
            table.add_row(summary.penalty, *empty)
            continue
        is_chosen = best.penalty == chosen.penalty
        marker = " ◀ chosen" if is_chosen else ""
        trials = f"{summary.n_complete}" + (f"/{summary.n_trials}" if summary.n_complete != summary.n_trials else "")
        table.add_row(
            summary.penalty + marker,
            fmt_num(best.lam) + _verdict_mark(summary.boundary, summary.verdict),
            fmt_num(next(iter(summary.native.values()), None)),
            f"{best.l1_ratio:.3g}",
            score_text(scoring, best.mean, best.se),
            *([r2_text(result, best.mean) or "—"] if with_r2 else []),
            fmt_num(best.n_nonzero, 3),
            trials,
            style="bold green" if is_chosen else None,
        )
    parts: list[RenderableType] = [
        Text(f"task: {d['task']} — {d['task_reason']}", style="dim"),
        Text(f"model: {result.model_label}", style="dim"),
        table,
        Text(_choice_line(result, "λ.min", result.min)),
    ]
    if (line := hypergradient_line(result.min)) is not None:
        parts.append(Text("  " + line, style="dim"))
    parts += [
        Text(_choice_line(result, "λ.1se", result.one_se)),
        Text(
            f"chosen ({result.chosen.rule}): {chosen.penalty} λ={fmt_num(chosen.lam)}"
            f" — {fmt_native(result.chosen.native)}",
            style="bold",
        ),
    ]
    s = result.study
    counts = f"trials: {s['complete']} complete"
    for key in ("pruned", "failed", "unconverged"):
        if s.get(key):
            counts += f", {s[key]} {key}"
    if result.cv.get("search"):
        counts += f" · search {result.cv['search']}"
        if s.get("converged"):
            counts += " (stopped early: the optimum is pinned)"
    if result.cv.get("n_fold_fits"):
        counts += f" · {result.cv['n_fold_fits']} fold fits"
    parts.append(Text(counts, style="dim"))
    if (line := study_line(s)) is not None:
        parts.append(Text(line, style="dim"))
    parts += [Text(line, style="bold") for line in honest_lines(result)]
    parts += extra or []
    for note in result.warnings:
        parts.append(Text(f"note: {note}", style="yellow"))
    return parts


def studies_table(rows: list[dict[str, Any]], title: str) -> RenderableType:
    """The studies of a storage (``regtune studies``)."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    # A name is shown whole (the others give way): it is what --study-name needs, e.g. an auto name.
    table.add_column("name", no_wrap=True, min_width=max((len(r["name"]) for r in rows), default=4))
    for col in ("source", "target", "scoring", "trials", "complete", "pruned", "failed", "best CV mean"):
        table.add_column(col, justify="right" if col not in ("source", "target", "scoring") else "left")
    for r in rows:
        best = "—" if r["best_cv_mean"] is None else f"{r['best_cv_mean']:.5g}"
        table.add_row(
            r["name"], str(r["source"]), str(r["target"]), str(r["scoring"]), str(r["n_trials"]),
            str(r["complete"]), str(r["pruned"]), str(r["failed"]), best,
        )  # fmt: skip
    return table


def datasets_table(builtins: list[tuple[str, str, str]]) -> RenderableType:
    """The datasets bundled with scikit-learn (``regtune datasets``)."""
    from rich.table import Table

    table = Table(title="built-in datasets (use as builtin:NAME)", title_justify="left")
    table.add_column("name")
    table.add_column("task")
    table.add_column("description")
    for name, task, desc in builtins:
        table.add_row(name, task, desc)
    return table
