"""The terminal report of a TuneResult (rich): one row per penalty, the chosen row marked, and the lines
under it; the rows and pieces here are shared by the Markdown summary and the HTML report."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderableType
    from rich.table import Table

    from regtune.result import ChosenPoint, PenaltySummary, StudyInfo, TuneResult


def fmt_num(x: float | None, digits: int = 4) -> str:
    """``x`` with (at most) ``digits`` significant digits, as ``%g`` without its trailing zeros: plain with
    thousands separators from 0.001 up to ten million (``0.004857``, ``2,972``, ``1,279,000``), in exponent
    notation outside (``1.2e-05``); ``—`` for a missing or non-finite number. The numbers of the table, the
    reports and the summary go through it."""
    if x is None or not math.isfinite(x):
        return "—"
    if x == 0:
        return "0"
    exponent = math.floor(math.log10(abs(x)))
    if -3 <= exponent < 7:
        decimals = digits - 1 - exponent
        if decimals <= 0:
            return f"{round(x, decimals):,.0f}"
        return f"{x:,.{decimals}f}".rstrip("0").rstrip(".")
    mantissa, _, power = f"{x:.{digits - 1}e}".partition("e")
    if "." in mantissa:
        mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(power):+03d}"


def fmt_count(n: int | None) -> str:
    """A count with thousands separators (``53,940``)."""
    return "—" if n is None else f"{n:,}"


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


#: The marks of the penalty table; :func:`legend` says what those shown mean.
CHOSEN_MARK = "✓"
EDGE_MARKS = {"lower": "⇤", "upper": "⇥"}
UNPINNED_MARK = "?"
#: λ.min and λ.1se in plain words (cv.glmnet's), under the table.
LAMBDA_WORDS = (
    "λ.min: the λ with the best CV score",
    "λ.1se: the largest λ within one standard error of it (a simpler model)",
)


@dataclass
class PenaltyRow:
    """One penalty's row, as text, the same in the terminal, the Markdown summary and the HTML report."""

    penalty: str
    chosen: bool
    #: The best λ of the penalty and its mark (an edge of the searched range, or not pinned yet).
    lam: str
    mark: str
    native: str
    l1_ratio: str
    #: ``CV mean ± SE`` (``no complete trial`` without one), and R² / dev.ratio of the mean ("" if none).
    score: str
    r2: str
    #: Non-zero coefficients at that λ: the mean over the folds.
    nz_mean: str
    #: complete / all trials of the penalty (pruned and failed ones counted).
    trials: str


def _row_mark(summary: PenaltySummary) -> str:
    if summary.boundary:
        return EDGE_MARKS[summary.boundary]
    if summary.verdict and summary.verdict.get("verdict") == "not_converged":
        return UNPINNED_MARK
    return ""


def penalty_rows(result: TuneResult) -> list[PenaltyRow]:
    """The rows of the per-penalty table, in the order of ``result.per_penalty``."""
    scoring = result.cv.scoring
    rows = []
    for summary in result.per_penalty:
        best = summary.best
        trials = f"{summary.n_complete:,}/{summary.n_trials:,}"
        if best is None:
            rows.append(PenaltyRow(summary.penalty, False, "—", "", "—", "—", "no complete trial", "", "—", trials))
            continue
        rows.append(
            PenaltyRow(
                penalty=summary.penalty,
                chosen=best.penalty == result.chosen.point.penalty,
                lam=fmt_num(best.lam),
                mark=_row_mark(summary),
                native=fmt_num(next(iter(summary.native.values()), None)),
                l1_ratio=fmt_num(best.l1_ratio),
                score=score_text(scoring, best.mean, best.se),
                r2=r2_text(result, best.mean) or "",
                nz_mean=fmt_num(best.n_nonzero, 3),
                trials=trials,
            )
        )
    return rows


def legend(rows: list[PenaltyRow]) -> str:
    """What the marks of ``rows`` and the terse columns mean, in one line."""
    marks = {r.mark for r in rows}
    parts = [f"{CHOSEN_MARK} chosen"]
    for side, mark in EDGE_MARKS.items():
        if mark in marks:
            parts.append(f"{mark} best λ on the {side} edge of the searched range")
    if UNPINNED_MARK in marks:
        parts.append(f"{UNPINNED_MARK} optimum not pinned yet (more trials would move it)")
    parts.append("nz mean: non-zero coefficients, mean over the folds")
    parts.append("trials: complete/all")
    return " · ".join(parts)


def nonzero_text(point: ChosenPoint) -> str:
    """The non-zero coefficients of a chosen point: the refit's count, or — for a stored study, which has no
    refit — the mean over the folds, said so."""
    if point.n_nonzero is not None:
        return f"{point.n_nonzero:,} non-zero at the refit"
    return f"{fmt_num(point.point.n_nonzero, 3)} non-zero (fold mean; no refit)"


def choice_parts(result: TuneResult, point: ChosenPoint) -> list[str]:
    """λ.min or λ.1se in pieces: ``l1 λ=0.7735 (alpha=0.7735)``, ``CV MSE 2,972 ± 130``, ``R² 0.4988``,
    the non-zero count, the trial, and the edge when it is on one."""
    p = point.point
    scoring = result.cv.scoring
    ratio = f", l1_ratio={fmt_num(p.l1_ratio)}" if p.penalty == "elasticnet" else ""
    parts = [
        f"{p.penalty} λ={fmt_num(p.lam)}{ratio} ({fmt_native(point.native)})",
        f"CV {score_label(scoring)} {score_text(scoring, p.mean, p.se)}",
    ]
    if (r2 := r2_text(result, p.mean)) is not None:
        parts.append(f"{r2_name(result)} {r2}")
    parts += [nonzero_text(point), f"trial #{p.trial}"]
    if point.boundary:
        parts.append(f"on the {point.boundary} edge of the λ range")
    return parts


def chosen_text(result: TuneResult) -> str:
    """``chosen (min): the model at λ.min — l1 λ=0.7735 (alpha=0.7735)``, and how to take the other."""
    chosen = result.chosen
    rule = chosen.rule or "min"
    which = "λ.min" if rule == "min" else "λ.1se"
    other = "--rule 1se takes λ.1se" if rule == "min" else "--rule min takes λ.min"
    p = chosen.point
    return (
        f"chosen ({rule}): the model at {which}, {p.penalty} λ={fmt_num(p.lam)} ({fmt_native(chosen.native)}) · {other}"
    )


def verdict_words(point: ChosenPoint) -> str | None:
    """What the hypergradient at λ.min says, in words (None when there is none)."""
    h = point.hypergradient
    if not h or not h.get("verdict"):
        return None
    verdict = h["verdict"]
    if verdict == "interior":
        return "optimum confirmed: the score is flat at λ.min"
    if verdict == "boundary":
        edge = point.boundary or ("lower" if "lower" in h.get("message", "") else "upper")
        if "flat" in h.get("message", ""):
            return f"λ.min is on the {edge} edge of the searched range, where the score is flat"
        return f"λ.min is on the {edge} edge of the searched range: widen it with --lambda-min/--lambda-max"
    if verdict == "not_converged":
        toward = h.get("lambda_next")
        near = f": a λ near {fmt_num(toward)} would score higher" if toward is not None else ""
        return f"optimum not pinned yet{near} (more trials)"
    return None


def hypergradient_line(point: ChosenPoint) -> str | None:
    """The raw derivative at λ.min (``--verbose`` and the JSON): ``d r2 / d log λ = +2.1e-07``."""
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


def short_path(path: str, width: int) -> str:
    """``path`` in at most ``width`` characters, cut in the middle at a folder (``…/data/diamonds.csv``);
    the file's own name is kept whole, even when that is longer."""
    if len(path) <= width:
        return path
    parts = path.replace("\\", "/").split("/")
    kept = parts[-1]
    for part in reversed(parts[:-1]):
        if len(part) + len(kept) + 3 > width:
            break
        kept = f"{part}/{kept}"
    return f"…/{kept}"


def flow(parts: list[str], width: int, indent: int = 2) -> str:
    """``parts`` joined by `` · ``, broken into lines of at most ``width`` characters between parts (the
    next lines indented); a part longer than a line is left whole for the console to wrap."""
    from rich.cells import cell_len

    lines: list[str] = []
    line = ""
    for part in parts:
        candidate = f"{line} · {part}" if line else part
        if line and cell_len(candidate) > width:
            lines.append(line)
            candidate = " " * indent + part
        line = candidate
    lines.append(line)
    return "\n".join(lines)


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


def footer_parts(result: TuneResult) -> list[str]:
    """The data and the cross-validation in pieces: ``53,940 rows × 9 features (26 encoded)``, ``regression
    (least_squares)``, ``CV MSE, 5-fold``, the time."""
    d, cv = result.dataset, result.cv
    encoded = f" ({d['n_columns_encoded']:,} encoded)" if d["n_columns_encoded"] is not None else ""
    parts = [f"{d['n_rows']:,} rows × {d['n_features']:,} features{encoded}"]
    if d["rows_dropped"]:
        parts.append(f"{d['rows_dropped']:,} rows dropped (missing target)")
    if d.get("weights"):
        parts.append(f"weighted by {d['weights']}")
    repeats = f" × {cv['repeats']}" if cv["repeats"] > 1 else ""
    parts += [
        f"{d['task']} ({result.family})",
        f"CV {score_label(cv['scoring'])}, {cv['folds']}-fold{repeats}",
        f"{result.elapsed_s:.1f} s",
    ]
    return parts


def counts_parts(result: TuneResult) -> list[str]:
    """How the trials ended and how the search ran, in pieces."""
    s = result.study
    counted = [f"{s['complete']:,} complete"]
    for key in ("pruned", "failed", "unconverged"):
        if s.get(key):
            counted.append(f"{s[key]:,} {key}")
    parts = [f"trials: {s['n_trials']:,} ({', '.join(counted)})"]
    if result.cv.get("search"):
        stopped = " (stopped early: the optimum is pinned)" if s.get("converged") else ""
        parts.append(f"search {result.cv['search']}{stopped}")
    if result.cv.get("n_fold_fits"):
        parts.append(f"{result.cv['n_fold_fits']:,} fold fits")
    return parts


class Fitted:
    """A renderable made for the width it is given: ``make(width)`` returns the renderables."""

    def __init__(self, make: Callable[[int], list[RenderableType]]) -> None:
        self.make = make

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[RenderableType]:
        yield from self.make(options.max_width)


#: The optional columns of the penalty table, in the order they give way when the console is narrow.
OPTIONAL_COLUMNS = ("native", "r2", "l1_ratio")


def _penalty_table(result: TuneResult, rows: list[PenaltyRow], left_out: tuple[str, ...]) -> Table:
    from rich import box
    from rich.table import Table

    natives = [s.native for s in result.per_penalty if s.native]
    native_name = next(iter(natives[0])) if natives else result.native_name
    with_r2 = any(r.r2 for r in rows)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 1, 0, 0), header_style="bold")
    columns: list[tuple[str, str, Callable[[PenaltyRow], str]]] = [
        ("penalty", "left", lambda r: f"{r.penalty} {CHOSEN_MARK}" if r.chosen else r.penalty),
        ("λ", "right", lambda r: r.lam + (r.mark or " ")),
        (native_name, "right", lambda r: r.native),
        ("l1_ratio", "right", lambda r: r.l1_ratio),
        (f"CV {score_label(result.cv.scoring)} ± SE", "right", lambda r: r.score),
        (r2_name(result), "right", lambda r: r.r2 or "—"),
        ("nz mean", "right", lambda r: r.nz_mean),
        ("trials", "right", lambda r: r.trials),
    ]
    keys = ["penalty", "lam", "native", "l1_ratio", "score", "r2", "nz", "trials"]
    shown = [(k, c) for k, c in zip(keys, columns, strict=True) if k not in left_out and (k != "r2" or with_r2)]
    for _, (header, justify, _) in shown:
        table.add_column(header, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for row in rows:
        table.add_row(*(cell(row) for _, (_, _, cell) in shown), style="bold green" if row.chosen else None)
    return table


def penalty_table(result: TuneResult) -> RenderableType:
    """The per-penalty table, as wide as it needs and never wider than the console: the optional columns
    (:data:`OPTIONAL_COLUMNS`) give way one by one until it fits. Its cells never wrap."""
    from rich.measure import Measurement

    rows = penalty_rows(result)

    class _Table:
        def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[RenderableType]:
            left_out: tuple[str, ...] = ()
            table = _penalty_table(result, rows, left_out)
            unbounded = options.update_width(10_000)  # Measurement.get clamps to the width it is given
            for column in OPTIONAL_COLUMNS:
                if Measurement.get(console, unbounded, table).maximum <= options.max_width:
                    break
                left_out += (column,)
                table = _penalty_table(result, rows, left_out)
            yield table

    return _Table()


def render_table(
    result: TuneResult, extra: list[RenderableType] | None = None, verbose: bool = False
) -> list[RenderableType]:
    """The renderables that make up the terminal report, in order; ``extra`` (e.g. the ``--coef`` table)
    goes before the notes. Designed for 80 columns, wider when the console is: the table's cells never
    wrap, and the lines under it break between their parts. ``verbose`` adds the raw hypergradient."""
    from rich.text import Text

    d = result.dataset
    rows = penalty_rows(result)

    def head(width: int) -> list[RenderableType]:
        target = f" → {d['target']}"
        room = max(width - len("regtune · ") - len(target), 12)
        return [
            Text(f"regtune · {short_path(str(d['source']), room)}{target}", style="bold"),
            Text(
                flow([f"task: {d['task']} — {d['task_reason']}", f"model: {result.model_label}"], width, indent=0),
                style="dim",
            ),
        ]

    def under(width: int) -> list[RenderableType]:
        lines: list[RenderableType] = [
            Text(flow(legend(rows).split(" · "), width), style="dim"),
            Text(flow(footer_parts(result), width), style="dim"),
            Text(""),
            Text(flow(["λ.min", *choice_parts(result, result.min)], width).replace("λ.min · ", "λ.min  ", 1)),
        ]
        if (words := verdict_words(result.min)) is not None:
            lines.append(Text("  " + words, style="dim"))
        if verbose and (raw := hypergradient_line(result.min)) is not None:
            lines.append(Text("  " + raw, style="dim"))
        lines += [
            Text(flow(["λ.1se", *choice_parts(result, result.one_se)], width).replace("λ.1se · ", "λ.1se  ", 1)),
            Text(flow(list(LAMBDA_WORDS), width, indent=0), style="dim"),
            Text(flow(chosen_text(result).split(" · "), width), style="bold"),
            Text(flow(counts_parts(result), width), style="dim"),
        ]
        if (line := study_line(result.study)) is not None:
            lines.append(Text(line, style="dim"))
        return lines

    parts: list[RenderableType] = [Fitted(head), penalty_table(result), Fitted(under)]
    parts += [Text(line, style="bold") for line in honest_lines(result)]
    parts += extra or []
    for note in result.warnings:
        parts.append(Text(f"note: {note}", style="yellow"))
    return parts


def studies_table(rows: list[dict[str, Any]], storage: str) -> RenderableType:
    """The studies of a storage (``regtune studies``): names whole (what --study-name needs, e.g. an auto
    name), sources cut in the middle at a folder when the console is narrow, never at the file's name;
    trials as complete/all (pruned and failed counted; the JSON has each count)."""
    from rich import box
    from rich.measure import Measurement
    from rich.table import Table
    from rich.text import Text

    def table(source_width: int | None) -> Table:
        out = Table(box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 1, 0, 0), header_style="bold")
        for col in ("name", "source", "target", "score"):
            out.add_column(col, no_wrap=True)
        out.add_column("trials", justify="right", no_wrap=True)
        out.add_column("best", justify="right", no_wrap=True)
        for r in rows:
            source = str(r["source"])
            scoring = str(r["scoring"])
            cells = (
                r["name"], source if source_width is None else short_path(source, source_width), str(r["target"]),
                score_label(scoring), f"{r['complete']:,}/{r['n_trials']:,}",
                fmt_num(score_value(scoring, r["best_cv_mean"])),
            )  # fmt: skip
            out.add_row(*(Text(str(c)) for c in cells))  # text, never markup: a study may be named "[/]"
        return out

    def make(width: int) -> list[RenderableType]:
        from rich.console import Console

        title = Text(f"studies in {short_path(storage, width - len('studies in '))}", style="bold")
        measure = Console(width=10_000, markup=False)
        full = table(None)
        wanted = Measurement.get(measure, measure.options, full).maximum
        if wanted <= width:
            return [title, full]
        longest = max((len(str(r["source"])) for r in rows), default=0)
        return [title, table(max(longest - (wanted - width), 12))]

    return Fitted(make)


def datasets_table(builtins: list[tuple[str, str, str]]) -> RenderableType:
    """The datasets bundled with scikit-learn (``regtune datasets``)."""
    from rich import box
    from rich.table import Table

    table = Table(
        title="built-in datasets (use as builtin:NAME)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        padding=(0, 1, 0, 0),
        header_style="bold",
    )
    table.add_column("name", no_wrap=True)
    table.add_column("task", no_wrap=True)
    table.add_column("description")
    for name, task, desc in builtins:
        table.add_row(name, task, desc)
    return table
