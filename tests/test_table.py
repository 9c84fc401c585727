"""The terminal report at 80 and 120 columns and through a pipe: no wrapped cell, no line over the width;
and one meaning per column (non-zero counts, trials) in every format."""

from __future__ import annotations

import io
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

import regtune
from regtune.api import show
from regtune.report.html import render_html
from regtune.report.markdown import summary_markdown
from regtune.report.table import (
    CHOSEN_MARK,
    fmt_num,
    penalty_rows,
    render_table,
    short_path,
    studies_table,
)
from regtune.report.trials_csv import curve_csv
from regtune.select import Point

DATA = Path(__file__).parent / "data"
WIDTHS = (80, 120)


@pytest.fixture(scope="module")
def results() -> dict[str, regtune.TuneResult]:
    """diabetes, a 2,000-row sample of diamonds (53,940-row counts are checked below) and a 1,000-row sample
    of churn (51 states: 71 encoded columns), tuned briefly."""
    return {
        "diabetes": regtune.tune("builtin:diabetes", n_trials=8),
        "diamonds": regtune.tune(str(DATA / "diamonds_2000.csv"), target="price", n_trials=6),
        "churn": regtune.tune(str(DATA / "churn_1000.csv"), target="churn", n_trials=6),
    }


def _render(result: regtune.TuneResult, width: int, verbose: bool = False) -> str:
    console = Console(width=width, file=io.StringIO(), no_color=True, highlight=False, markup=False)
    for part in render_table(result, verbose=verbose):
        console.print(part)
    return console.file.getvalue()  # type: ignore[attr-defined,no-any-return]


def _check_fits(result: regtune.TuneResult, text: str, width: int) -> None:
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= width, max(lines, key=len)
    rows = penalty_rows(result)
    for row in rows:
        # Each penalty's row is one line holding every cell whole: nothing wrapped, nothing cut.
        (line,) = [ln for ln in lines if ln.split() and ln.split()[0] == row.penalty]
        for cell in (row.lam + row.mark, row.score, row.nz_mean, row.trials):
            assert cell in line, (cell, line)
        assert "…" not in line
    header = next(ln for ln in lines if ln.startswith("penalty"))
    assert "trials" in header and "nz mean" in header


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", ["diabetes", "diamonds", "churn"])
def test_table_fits_the_width(results: dict[str, regtune.TuneResult], name: str, width: int) -> None:
    result = results[name]
    text = _render(result, width)
    _check_fits(result, text, width)
    assert f"{CHOSEN_MARK} chosen" in text  # the legend of the marks
    assert "λ.min: the λ with the best CV score" in text
    assert "λ.1se: the largest λ within one standard error of it" in text
    assert "d log λ" not in text  # the raw derivative only with --verbose


def test_table_grows_when_there_is_room(results: dict[str, regtune.TuneResult]) -> None:
    """The native parameter (C) gives way at 80 columns if it must; at 160 every column is there."""
    result = results["churn"]
    wide = _render(result, 160)
    header = next(ln for ln in wide.splitlines() if ln.startswith("penalty"))
    assert header.split()[:4] == ["penalty", "λ", "C", "l1_ratio"]
    assert f"{result.dataset.n_rows:,} rows" in wide


def test_verbose_adds_the_raw_derivative(results: dict[str, regtune.TuneResult]) -> None:
    result = results["diabetes"]
    assert "d log λ at λ.min" in _render(result, 120, verbose=True)
    assert result.to_dict()["min"]["hypergradient"]["d_log_lambda"] is not None  # and always in the JSON


def test_numbers_have_significant_digits_and_thousands_separators() -> None:
    assert [fmt_num(x) for x in (0.004857123, 2972.3, 1279123.4, 0.91964, 22.2, 1.2e-5, 0.0)] == [
        "0.004857", "2,972", "1,279,000", "0.9196", "22.2", "1.2e-05", "0",
    ]  # fmt: skip
    assert fmt_num(131.7, 2) == "130" and fmt_num(math.nan) == "—"


def test_short_path_keeps_the_file_name() -> None:
    path = "/home/someone/projects/shared/data/churn.csv"
    assert short_path(path, 100) == path
    assert short_path(path, 20) == "…/data/churn.csv"
    assert short_path(path, 5) == "…/churn.csv"


@pytest.mark.parametrize("width", WIDTHS)
def test_studies_never_cut_a_source_badly(width: int) -> None:
    source = "/work/a/rather/long/folder/of/someone/who/keeps/data/deep/down/shared/data/churn.csv"
    rows = [
        {"name": "regtune-13f53357a71a", "source": source, "target": "churn", "scoring": "neg_log_loss",
         "n_trials": 1200, "complete": 1100, "pruned": 90, "failed": 10, "best_cv_mean": -0.3177},
    ]  # fmt: skip
    console = Console(width=width, file=io.StringIO(), no_color=True)
    console.print(studies_table(rows, "/tmp/studies.journal"))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert max(len(line) for line in text.splitlines()) <= width
    (line,) = [ln for ln in text.splitlines() if ln.startswith("regtune-")]
    assert "regtune-13f53357a71a" in line and "churn.csv" in line and "1,100/1,200" in line and "0.3177" in line


def test_piped_output_is_80_columns_and_never_wraps_a_cell(tmp_path: Path) -> None:
    """Through a pipe with no terminal anywhere (no $COLUMNS): 80 columns, not 120."""
    env = {k: v for k, v in __import__("os").environ.items() if k != "COLUMNS"}
    proc = subprocess.run(
        [sys.executable, "-m", "regtune", "tune", "builtin:diabetes", "-n", "6", "-q"],
        capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, check=False, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "\x1b[" not in proc.stdout
    assert any(line.startswith("elasticnet") for line in lines)


def test_one_meaning_per_column(results: dict[str, regtune.TuneResult]) -> None:
    """Non-zero: the refit's count at λ.min / λ.1se, the fold mean where it says mean; trials complete/all."""
    result = results["diabetes"]
    doc = result.to_dict()
    assert doc["min"]["n_nonzero"] == result.min.n_nonzero and isinstance(doc["min"]["n_nonzero"], int)
    assert doc["min"]["n_nonzero_mean"] == pytest.approx(result.min.point.n_nonzero)
    for s, row in zip(doc["per_penalty"], penalty_rows(result), strict=True):
        assert row.nz_mean == fmt_num(s["n_nonzero_mean"], 3)
        assert row.trials == f"{s['n_complete']}/{s['n_trials']}"
        if s["trial"] == result.min.point.trial:
            assert s["n_nonzero"] == result.min.n_nonzero  # the refit's count
        elif s["trial"] != result.one_se.point.trial:
            assert s["n_nonzero"] is None  # no refit there
    text = _render(result, 120)
    assert f"{result.min.n_nonzero} non-zero at the refit" in text
    markdown = summary_markdown(result)
    html = render_html(result, {})
    for row in penalty_rows(result):
        assert f"| {row.nz_mean} | {row.trials} |" in markdown
        assert f'<td class="num">{row.trials}</td>' in html


def test_a_pruned_trials_mean_is_the_same_in_json_and_csv(results: dict[str, regtune.TuneResult]) -> None:
    result = results["diabetes"]
    done = result.curve[0]
    pruned = Point(trial=99, penalty=done.penalty, lam=done.lam * 3, l1_ratio=done.l1_ratio,
                   fold_scores=done.fold_scores[:2], state="pruned", n_nonzero=4.5)  # fmt: skip
    result.curve.append(pruned)
    try:
        row = next(r for r in result.to_dict()["curve"] if r["trial"] == 99)
        csv_row = next(line for line in curve_csv(result).splitlines() if line.startswith("99,"))
        assert row["cv_mean"] == pytest.approx(pruned.mean)
        assert csv_row.split(",")[4] == str(row["cv_mean"])
        assert json.loads(json.dumps(row))["n_nonzero_mean"] == 4.5
    finally:
        result.curve.remove(pruned)


def test_show_has_no_refit_count(tmp_path: Path) -> None:
    """A stored study has no refit: ``show`` says the fold mean, never a rounded mean posing as a count."""
    journal = str(tmp_path / "s.journal")
    result = regtune.tune("builtin:diabetes", n_trials=6, storage=journal)
    shown = show(journal)
    assert shown.min.n_nonzero is None and shown.to_dict()["min"]["n_nonzero"] is None
    assert shown.to_dict()["min"]["n_nonzero_mean"] == pytest.approx(result.min.point.n_nonzero)
    assert "non-zero (fold mean; no refit)" in _render(shown, 120)
