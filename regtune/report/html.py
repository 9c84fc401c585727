"""The HTML report: one self-contained file (images inlined as data: URIs, no scripts, no network).

It holds the data summary, the per-penalty table, λ.min / λ.1se / the chosen point, the pictures, the
coefficients of the chosen model, the warnings and the versions: what a CI job uploads as an artifact.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from html import escape
from typing import TYPE_CHECKING, Any

from regtune.report._output import Output, OutputContext, output_setting
from regtune.report.table import (
    CHOSEN_MARK,
    LAMBDA_WORDS,
    fmt_native,
    fmt_num,
    honest_lines,
    legend,
    penalty_rows,
    r2_name,
    score_label,
    score_text,
    study_line,
    verdict_words,
)

if TYPE_CHECKING:
    from regtune.result import ChosenPoint, TuneResult

CSS = """
:root { color-scheme: light; }
body { font-family: system-ui, sans-serif; line-height: 1.4; margin: 1.5rem auto; max-width: 75rem; color: #222;
       padding: 0 1rem; }
h1 { font-size: 1.5rem; overflow-wrap: anywhere; }
h2 { font-size: 1.2rem; margin-top: 2rem; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th.num, td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.chosen { background: #e8f5e9; font-weight: bold; }
figure { margin: 0 0 1rem; }
img { width: 100%; height: auto; display: block; }
.panels { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 22rem), 1fr)); gap: 1rem; }
.panels.wide { grid-template-columns: repeat(auto-fit, minmax(min(100%, 30rem), 1fr)); }
figcaption { font-size: 0.9rem; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: #f6f6f6; padding: 0.5em; }
.note { color: #8a5a00; }
.dim { color: #555; }
@media (max-width: 30rem) {
  body { padding: 0 0.6rem; }
  th, td { padding: 0.2em 0.35em; }
}
@media print {
  body { max-width: none; margin: 0; padding: 0; font-size: 10pt; }
  .scroll { overflow: visible; }
  h2 { break-after: avoid; }
  figure, tr, pre { break-inside: avoid; }
  .panels { grid-template-columns: repeat(3, 1fr); }
  .panels.wide { grid-template-columns: repeat(2, 1fr); }
  tr.chosen { background: none; }
}
"""

#: Captions of the pictures, by the keys of :func:`regtune.report.plots.render_panels` (``cv_<penalty>``
#: for each penalty's CV curve).
CAPTIONS = {
    "cv": "CV curve of each penalty: mean ± 1 SE of the complete trials against λ (colour: l1_ratio when it"
    " varies), λ.min dotted, λ.1se dashed, pruned trials as ticks along the bottom, non-zero coefficients"
    " (fold mean) on the top axis",
    "path": "Coefficient path of the chosen penalty (the model refit on all rows over a λ grid)",
    "history": "Search history: each complete trial's CV score and the best so far; pruned trials as ticks",
}


def _caption(key: str) -> str:
    if key.startswith("cv_"):
        return f"CV curve of {key.removeprefix('cv_')}"
    return CAPTIONS.get(key, key)


def _table(
    header: list[str], rows: list[list[str]], table_id: str, chosen_row: int | None = None, numeric: str = ""
) -> str:
    """An HTML table in a box that scrolls sideways on a narrow screen (never the page); the columns whose
    letter in ``numeric`` is ``r`` are numbers: right-aligned, in tabular figures. Text is left-aligned."""

    def cls(j: int) -> str:
        return ' class="num"' if j < len(numeric) and numeric[j] == "r" else ""

    head = ""
    if any(header):
        head = "<thead><tr>" + "".join(f"<th{cls(j)}>{escape(h)}</th>" for j, h in enumerate(header)) + "</tr></thead>"
    body = []
    for i, row in enumerate(rows):
        tr = ' class="chosen"' if i == chosen_row else ""
        body.append(f"<tr{tr}>" + "".join(f"<td{cls(j)}>{escape(c)}</td>" for j, c in enumerate(row)) + "</tr>")
    return f'<div class="scroll"><table id="{table_id}">{head}<tbody>{"".join(body)}</tbody></table></div>'


def _run_info(result: TuneResult, command: str | None, when: datetime) -> list[str]:
    """The command line, the date and what ran it (versions; no host, user or folder names)."""
    versions = " · ".join(f"{k} {v}" for k, v in result.versions.items())
    parts = [f'<p id="run">{escape(when.strftime("%Y-%m-%d %H:%M UTC"))} · {escape(versions)}</p>']
    if command:
        parts.append(f'<pre id="command"><code>{escape(command)}</code></pre>')
    return parts


def _choice(label: str, point: ChosenPoint, scoring: str) -> list[str]:
    p = point.point
    return [
        label,
        p.penalty,
        fmt_num(p.lam),
        fmt_num(p.l1_ratio),
        fmt_native(point.native),
        score_text(scoring, p.mean, p.se),
        "—" if point.n_nonzero is None else f"{point.n_nonzero:,}",
        fmt_num(p.n_nonzero, 3),
        f"#{p.trial}",
        f"{point.boundary} edge" if point.boundary else "",
    ]


def render_html(
    result: TuneResult,
    images: dict[str, bytes],
    notes: list[str] | None = None,
    command: str | None = None,
    when: datetime | None = None,
) -> str:
    """The report of ``result`` with the PNG ``images`` (keys as in :func:`regtune.report.plots.render_panels`)
    inlined; ``notes`` are extra lines for the pictures section (e.g. why there is no coefficient path);
    ``command`` the command line that made it, ``when`` the time it was made (default: now)."""
    d, cv, s = result.dataset, result.cv, result.study
    title = f"regtune — {d['source']} → {d['target']}"
    dropped = f", {d['rows_dropped']:,} rows dropped (missing target)" if d.get("rows_dropped") else ""
    encoded = f" ({d['n_columns_encoded']:,} encoded)" if d.get("n_columns_encoded") is not None else ""
    summary = [
        ["source", str(d["source"])],
        ["target", str(d["target"])],
        ["task", f"{d['task']} ({result.family}) — {d['task_reason']}"],
        ["rows × features", f"{d['n_rows']:,} × {d['n_features']:,}{encoded}{dropped}"],
        ["cross-validation", f"{cv['folds']}-fold × {cv['repeats']}, scoring {cv['scoring']}, seed {cv['seed']}"],
        [
            "trials",
            f"{s['n_trials']:,} ({s['complete']:,} complete, {s['pruned']:,} pruned, {s['failed']:,} failed,"
            f" {s.get('unconverged', 0):,} unconverged)",
        ],
        ["time", f"{result.elapsed_s:.1f} s"],
    ]
    if (line := study_line(result.study)) is not None:
        summary.insert(-1, ["study", line.removeprefix("study ")])
    rows = penalty_rows(result)
    with_r2 = any(r.r2 for r in rows)
    penalties = []
    chosen_row = None
    for i, (r, summ) in enumerate(zip(rows, result.per_penalty, strict=True)):
        if r.chosen:
            chosen_row = i
        cells = [r.penalty + (f" {CHOSEN_MARK}" if r.chosen else ""), r.lam + r.mark, fmt_native(summ.native) or "—"]
        cells += [r.l1_ratio, r.score, *([r.r2 or "—"] if with_r2 else []), r.nz_mean, r.trials]
        penalties.append(cells)
    scoring = str(cv["scoring"])
    choices = [
        _choice("λ.min", result.min, scoring),
        _choice("λ.1se", result.one_se, scoring),
        _choice("chosen", result.chosen, scoring),
    ]
    label = f"CV {score_label(scoring)} ± SE"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        *_run_info(result, command, when or datetime.now(UTC)),
        "<h2>Data and cross-validation</h2>",
        _table(["", ""], summary, "summary"),
        "<h2>Penalties</h2>",
        _table(
            [
                "penalty",
                "best λ",
                "native",
                "l1_ratio",
                label,
                *([r2_name(result)] if with_r2 else []),
                "nz mean",
                "trials",
            ],
            penalties,
            "penalties",
            chosen_row,
            numeric="lrlr" + "r" * (len(penalties[0]) - 4) if penalties else "",
        ),
        f'<p class="dim">{escape(legend(rows))}</p>',
        f"<h2>Choice (rule: {escape(str(result.chosen.rule))})</h2>",
        _table(
            ["", "penalty", "λ", "l1_ratio", "native", label, "non-zero (refit)", "nz mean", "trial", "boundary"],
            choices,
            "choices",
            2,
            numeric="llrrlrrrrl",
        ),
    ]
    if (words := verdict_words(result.min)) is not None:
        parts.append(f'<p id="hypergradient">λ.min: {escape(words)}</p>')
    parts.append(f'<p class="dim">{escape(LAMBDA_WORDS[0])}; {escape(LAMBDA_WORDS[1])}</p>')
    parts += [f'<p class="honest">{escape(line)}</p>' for line in honest_lines(result)]
    parts.append("<h2>Pictures</h2>")

    def figure(key: str, png: bytes, captioned: bool = True) -> str:
        data = base64.b64encode(png).decode("ascii")
        caption = escape(_caption(key))
        below = f'<figcaption class="dim">{caption}</figcaption>' if captioned else ""
        return f'<figure><img id="img-{key}" alt="{caption}" src="data:image/png;base64,{data}">{below}</figure>'

    curves = [figure(k, png, captioned=False) for k, png in images.items() if k.startswith("cv_")]
    if curves:
        parts.append(f'<div class="panels">{"".join(curves)}</div>')
        parts.append(f'<p class="dim">{escape(CAPTIONS["cv"])}</p>')
    others = [figure(k, png) for k, png in images.items() if not k.startswith("cv_")]
    if others:
        parts.append(f'<div class="panels wide">{"".join(others)}</div>')
    parts += [f'<p class="dim">{escape(n)}</p>' for n in notes or []]
    parts.append("<h2>Coefficients of the chosen model</h2>")
    if result.coefficients:
        original = dict(result.original.coefficients)
        ordered = sorted(result.coefficients, key=lambda c: -abs(c[1]))
        nonzero = sum(1 for _, v in ordered if v != 0)
        parts.append(
            f'<p class="dim">{nonzero} of {len(ordered)} non-zero, the intercept first, then the largest first: on'
            " the standardized columns the model was fitted on, and on the original scale of each column (a"
            " dummy's 0/1), where the intercept is the prediction's at all columns zero</p>"
        )
        coef_rows = [[n, fmt_num(b), fmt_num(b0)] for n, b, b0 in result.original.intercepts]
        coef_rows += [[n, fmt_num(v), fmt_num(original.get(n, v))] for n, v in ordered]
        parts.append(_table(["", "standardized", "original scale"], coef_rows, "coefficients", numeric="lrr"))
    else:
        parts.append('<p class="dim">no refit model (a stored study): run <code>regtune tune</code> for them</p>')
    parts.append("<h2>Warnings</h2>")
    if result.warnings:
        parts.append("<ul>" + "".join(f'<li class="note">{escape(w)}</li>' for w in result.warnings) + "</ul>")
    else:
        parts.append('<p class="dim">none</p>')
    parts.append("<h2>Versions</h2>")
    parts.append(_table(["package", "version"], [[k, v] for k, v in result.versions.items()], "versions"))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


class HTMLReport(Output):
    """``--report PATH.html``: one self-contained file — what a CI job uploads as an artifact."""

    setting = output_setting(
        "report", "Write a self-contained HTML report (table, choices, pictures, coefficients) to PATH (.html)."
    )
    stdout = False
    suffixes = (".html", ".htm")
    suffix_help = ".html"
    pictures = True
    coefficient_path = True
    link = "HTML report"
    order = 40

    def render(self, result: TuneResult, value: Any, context: OutputContext) -> str:
        from regtune.pictures import html_report

        return html_report(result, context.pictures(result), command=context.command)


OUTPUT = HTMLReport()
