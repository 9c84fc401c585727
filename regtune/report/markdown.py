"""A Markdown summary of a result — for ``$GITHUB_STEP_SUMMARY`` and CI logs."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from regtune.report._output import Output, OutputContext, output_setting
from regtune.report.table import (
    CHOSEN_MARK,
    LAMBDA_WORDS,
    choice_parts,
    chosen_text,
    counts_parts,
    fmt_native,
    footer_parts,
    honest_lines,
    legend,
    penalty_rows,
    r2_name,
    score_label,
    study_line,
    verdict_words,
)

if TYPE_CHECKING:
    from regtune.result import TuneResult


def artifacts_page(env: Mapping[str, str]) -> str | None:
    """The page of a GitHub Actions run that lists its artifacts, from the variables GitHub sets (None
    outside a run)."""
    parts = [env.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")]
    if not all(parts):
        return None
    server, repository, run_id = parts
    return f"{server}/{repository}/actions/runs/{run_id}#artifacts"


def file_lines(links: dict[str, str], artifact: str | None = None, page: str | None = None) -> list[str]:
    """The summary's lines for the files written beside it: relative links, or — in a CI job summary,
    where a relative path is a dead link — the files' names in the artifact ``artifact`` (linked to
    ``page``, the run's artifacts)."""
    if not links:
        return []
    if artifact is None:
        return [f"- {label}: [{path}]({path})" for label, path in links.items()]
    where = f"[{artifact}]({page})" if page else f"**{artifact}**"
    files = ", ".join(f"{label} `{PurePath(path).name}`" for label, path in links.items())
    return [f"- in the artifact {where}: {files}"]


def summary_markdown(
    result: TuneResult,
    gate: str | None = None,
    links: dict[str, str] | None = None,
    artifact: str | None = None,
    page: str | None = None,
) -> str:
    """The summary table and choice; ``links`` (label → path) name the files written beside it (the HTML
    report, the plots, the model), by relative links or as members of the CI artifact ``artifact``
    (:func:`file_lines`)."""
    d = result.dataset
    rows = penalty_rows(result)
    with_r2 = any(r.r2 for r in rows)
    header = ["penalty", "best λ", "native", "l1_ratio", f"CV {score_label(result.cv['scoring'])} ± SE"]
    header += [r2_name(result)] if with_r2 else []
    header += ["nz mean", "trials"]
    lines = [
        f"### regtune — {d['source']} → {d['target']}",
        "",
        " · ".join(footer_parts(result)),
        "",
        "| " + " | ".join(header) + " |",
        "|---|" + "---:|" * (len(header) - 1),
    ]
    for r, s in zip(rows, result.per_penalty, strict=True):
        name = f"**{r.penalty} {CHOSEN_MARK}**" if r.chosen else r.penalty
        cells = [name, r.lam + r.mark, fmt_native(s.native) or "—", r.l1_ratio, r.score]
        cells += [r.r2 or "—"] if with_r2 else []
        cells += [r.nz_mean, r.trials]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        legend(rows),
        "",
        f"- **{chosen_text(result)}**",
        f"- λ.min: {' · '.join(choice_parts(result, result.min))}",
        f"- λ.1se: {' · '.join(choice_parts(result, result.one_se))}",
        f"- {LAMBDA_WORDS[0]}; {LAMBDA_WORDS[1]}",
        f"- {' · '.join(counts_parts(result))}",
    ]
    if (words := verdict_words(result.min)) is not None:
        lines.insert(-3, f"  - {words}")
    if (study := study_line(result.study)) is not None:
        lines.append(f"- {study}")
    lines += [f"- {line}" for line in honest_lines(result)]
    if gate:
        lines.append(f"- quality gate: {gate}")
    lines += [f"- note: {w}" for w in result.warnings]
    lines += file_lines(links or {}, artifact, page)
    return "\n".join(lines) + "\n\n"


class MarkdownSummary(Output):
    """``--summary-md PATH``: appended, e.g. to ``$GITHUB_STEP_SUMMARY``, with links to the files written."""

    setting = output_setting("summary_md", "Append a Markdown summary to PATH (e.g. $GITHUB_STEP_SUMMARY).")
    options = (
        output_setting(
            "summary_artifact",
            "In the --summary-md summary, name the files written (report, plots, model) as members of the CI"
            " artifact NAME, linked to the run's artifacts in GitHub Actions, instead of by relative links"
            " (dead links in a job summary).",
            metavar="NAME",
        ),
    )
    kind = "append"
    stdout = False
    order = 60

    def render(self, result: TuneResult, value: Any, context: OutputContext) -> str:
        artifact = context.values.get("summary_artifact")
        page = artifacts_page(os.environ) if artifact else None
        return summary_markdown(result, context.gate, context.links(), artifact, page)


OUTPUT = MarkdownSummary()
