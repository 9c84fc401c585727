"""The HTML report: one self-contained file (images inlined as data: URIs, no scripts, no network).

It holds the data summary, the per-penalty table, λ.min / λ.1se / the chosen point, the pictures, the
coefficients of the chosen model, the warnings and the versions: what a CI job uploads as an artifact.
"""

from __future__ import annotations

import base64
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
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222; padding: 0 1em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
tr.chosen { background: #e8f5e9; font-weight: bold; }
img { max-width: 100%; display: block; margin: 0.5em 0 1.5em; }
.note { color: #8a5a00; }
.dim { color: #666; }
"""

#: Captions of the pictures, by the keys of :func:`regtune.report.plots.render_panels`.
CAPTIONS = {
    "cv_curves": "CV curve of each penalty: mean ± 1 SE against λ, dotted lines at λ.min and λ.1se, "
    "non-zero coefficients on the top axis",
    "path": "Coefficient path of the chosen penalty (the model refit on all rows over a λ grid)",
    "history": "Search history: each trial's CV mean and the best so far",
}


def _table(header: list[str], rows: list[list[str]], table_id: str, chosen_row: int | None = None) -> str:
    head = "<thead><tr>" + "".join(f"<th>{escape(h)}</th>" for h in header) + "</tr></thead>" if any(header) else ""
    body = []
    for i, row in enumerate(rows):
        cls = ' class="chosen"' if i == chosen_row else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>")
    return f'<table id="{table_id}">{head}<tbody>{"".join(body)}</tbody></table>'


def _choice(label: str, point: ChosenPoint, scoring: str) -> list[str]:
    p = point.point
    return [
        label,
        p.penalty,
        fmt_num(p.lam),
        f"{p.l1_ratio:.3g}",
        fmt_native(point.native),
        score_text(scoring, p.mean, p.se),
        "—" if point.n_nonzero is None else f"{point.n_nonzero:,}",
        fmt_num(p.n_nonzero, 3),
        f"#{p.trial}",
        f"{point.boundary} edge" if point.boundary else "",
    ]


def render_html(result: TuneResult, images: dict[str, bytes], notes: list[str] | None = None) -> str:
    """The report of ``result`` with the PNG ``images`` (keys as in ``CAPTIONS``) inlined; ``notes`` are
    extra lines for the pictures section (e.g. why there is no coefficient path)."""
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
        ),
        f'<p class="dim">{escape(legend(rows))}</p>',
        f"<h2>Choice (rule: {escape(str(result.chosen.rule))})</h2>",
        _table(
            ["", "penalty", "λ", "l1_ratio", "native", label, "non-zero (refit)", "nz mean", "trial", "boundary"],
            choices,
            "choices",
            2,
        ),
    ]
    if (words := verdict_words(result.min)) is not None:
        parts.append(f'<p id="hypergradient">λ.min: {escape(words)}</p>')
    parts.append(f'<p class="dim">{escape(LAMBDA_WORDS[0])}; {escape(LAMBDA_WORDS[1])}</p>')
    parts += [f'<p class="honest">{escape(line)}</p>' for line in honest_lines(result)]
    parts.append("<h2>Pictures</h2>")
    for key, png in images.items():
        data = base64.b64encode(png).decode("ascii")
        caption = CAPTIONS.get(key, key)
        parts.append(f'<figure><img id="img-{key}" alt="{escape(caption)}" src="data:image/png;base64,{data}">')
        parts.append(f"<figcaption class=dim>{escape(caption)}</figcaption></figure>")
    parts += [f'<p class="dim">{escape(n)}</p>' for n in notes or []]
    parts.append("<h2>Coefficients of the chosen model</h2>")
    if result.coefficients:
        original = dict(result.original.coefficients)
        ordered = sorted(result.coefficients, key=lambda c: -abs(c[1]))
        nonzero = sum(1 for _, v in ordered if v != 0)
        parts.append(
            f'<p class="dim">{nonzero} of {len(ordered)} non-zero, largest first: on the standardized columns the'
            " model was fitted on, and on the original scale of each column (a dummy's 0/1)</p>"
        )
        coef_rows = [[n, fmt_num(b), fmt_num(b0)] for n, b, b0 in result.original.intercepts]
        coef_rows += [[n, fmt_num(v), fmt_num(original.get(n, v))] for n, v in ordered]
        parts.append(_table(["", "standardized", "original scale"], coef_rows, "coefficients"))
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

        return html_report(result, context.pictures(result))


OUTPUT = HTMLReport()
