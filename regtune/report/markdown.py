"""A Markdown summary of a result — for ``$GITHUB_STEP_SUMMARY`` and CI logs."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from regtune.report._output import Output, OutputContext, output_setting
from regtune.report.table import (
    fmt_native,
    fmt_num,
    honest_lines,
    hypergradient_line,
    score_label,
    score_text,
    study_line,
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
    d, cv = result.dataset, result.cv
    chosen = result.chosen
    lines = [
        f"### regtune — {d['source']} → {d['target']}",
        "",
        f"{d['n_rows']} rows × {d['n_features']} features · {d['task']} ({result.family}) · {cv['scoring']}"
        f" · {cv['folds']}-fold CV · {result.study['n_trials']} trials",
        "",
        f"| penalty | best λ | native | CV {score_label(cv['scoring'])} ± SE | non-zero | trials |",
        "|---|---|---|---|---|---|",
    ]
    for s in result.per_penalty:
        b = s.best
        mark = " **(chosen)**" if b is not None and b.penalty == chosen.point.penalty else ""
        if b is None:
            lines.append(f"| {s.penalty} | — | — | no complete trial | — | {s.n_trials} |")
            continue
        lines.append(
            f"| {s.penalty}{mark} | {fmt_num(b.lam)} | {fmt_native(s.native)}"
            f" | {score_text(cv['scoring'], b.mean, b.se)} | {fmt_num(b.n_nonzero, 3)} | {s.n_complete}/{s.n_trials} |"
        )
    lines += [
        "",
        f"- **chosen ({chosen.rule})**: {chosen.point.penalty}, λ = {fmt_num(chosen.point.lam)}"
        f" ({fmt_native(chosen.native)}), CV {score_label(cv['scoring'])}"
        f" {score_text(cv['scoring'], chosen.point.mean, chosen.point.se)}",
        f"- λ.min = {fmt_num(result.min.point.lam)} ({result.min.point.penalty}),"
        f" λ.1se = {fmt_num(result.one_se.point.lam)} ({result.one_se.point.penalty})",
    ]
    if (line := hypergradient_line(result.min)) is not None:
        lines.append(f"- {line}")
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
