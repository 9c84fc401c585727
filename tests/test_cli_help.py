"""The help a person reads: grouped into panels, whole words at 80 columns, every command documented."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from regtune.cli import app

PANELS = ["Input", "Model", "Cross-validation", "Search", "Storage and CI", "Outputs", "Other"]


@pytest.mark.parametrize("command", ["tune", "show", "studies", "predict", "datasets"])
@pytest.mark.parametrize("width", [80, 120])
def test_help_fits_the_terminal_without_cut_words(command: str, width: int) -> None:
    result = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": str(width), "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= width
    assert "…" not in result.output  # rich cuts a cell that does not fit with an ellipsis
    text = " ".join(re.sub(r"[│╭╮╰╯─]", " ", line) for line in lines)
    for word in ("--help", "Show", "this", "message"):
        assert word in text


def test_tune_help_is_grouped_into_panels_with_examples() -> None:
    result = CliRunner().invoke(app, ["tune", "--help"], env={"COLUMNS": "80"})
    positions = [result.output.index(f"─ {panel} ─") for panel in PANELS]
    assert positions == sorted(positions) or len(set(positions)) == len(PANELS)
    assert "Examples:" in result.output and "regtune tune builtin:diabetes" in result.output
    assert "[tool.regtune]" in result.output  # brackets in help texts are text, not markup


def test_shell_completion_is_offered() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "100"})
    assert "--install-completion" in result.output
