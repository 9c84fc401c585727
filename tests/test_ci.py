"""What a CI job needs from a run: a study name that follows the data (``--study-name auto``), ``--add-trials``,
what resuming did, progress a log can show, and a summary that names its artifact."""

from __future__ import annotations

import json
import re
import shutil
from io import StringIO
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import regtune
from regtune.cli import app
from regtune.errors import ConfigError
from regtune.report.markdown import summary_markdown
from regtune.report.progress import ProgressLines, progress_display, progress_line
from regtune.search import SearchState, auto_study_name, list_studies

runner = CliRunner()
AUTO = re.compile(r"regtune-[0-9a-f]{12}")


def flat(text: str) -> str:
    """``text`` with its line wrapping undone (the table wraps long lines at the console's width)."""
    return " ".join(text.split())


def test_auto_study_name_resumes_unchanged_data_and_starts_a_new_study_for_changed_data(
    reg_csv: Path, tmp_path: Path
) -> None:
    journal = str(tmp_path / "s.journal")
    first = regtune.tune(str(reg_csv), target="y", n_trials=6, storage=journal, study_name="auto")
    name = first.study["name"]
    assert AUTO.fullmatch(name) and not first.study["resumed"]
    assert (first.study["stored"], first.study["new"]) == (0, 6)
    # The same data read from another path resumes the same study (the path is not part of the name).
    copy = tmp_path / "elsewhere.csv"
    shutil.copy(reg_csv, copy)
    again = regtune.tune(str(copy), target="y", add_trials=3, storage=journal, study_name="auto")
    assert again.study["name"] == name and again.study["resumed"]
    assert (again.study["stored"], again.study["new"], again.study["n_trials"]) == (6, 3, 9)
    # One value changed: another name, a new study in the same storage (no refusal).
    frame = pd.read_csv(reg_csv)
    frame.loc[0, "x0"] += 1.0
    frame.to_csv(copy, index=False)
    changed = regtune.tune(str(copy), target="y", n_trials=6, storage=journal, study_name="auto")
    assert AUTO.fullmatch(changed.study["name"]) and changed.study["name"] != name
    assert not changed.study["resumed"]
    assert sorted(r["name"] for r in list_studies(journal)) == sorted([name, changed.study["name"]])
    # Other settings change the name too; the run's budget does not.
    assert regtune.tune(str(reg_csv), target="y", n_trials=4, folds=3, storage=journal, study_name="auto").study[
        "name"
    ] not in (name, changed.study["name"])


def test_auto_study_name_is_a_hash_of_what_the_identity_compares() -> None:
    identity = {"data_hash": "abc", "folds": 5, "source": "a.csv", "regtune_version": "0.1.0"}
    name = auto_study_name(identity)
    assert AUTO.fullmatch(name)
    assert auto_study_name({**identity, "source": "b.csv", "regtune_version": "0.2.0"}) == name
    assert auto_study_name({**identity, "data_hash": "abd"}) != name
    assert auto_study_name({**identity, "folds": 10}) != name


def test_cli_prints_the_auto_name_and_what_resuming_did(reg_csv: Path, tmp_path: Path) -> None:
    journal = str(tmp_path / "s.journal")
    args = ["tune", str(reg_csv), "-y", "y", "--storage", journal, "--study-name", "auto"]
    first = runner.invoke(app, [*args, "-n", "6"])
    assert first.exit_code == 0, first.output
    name = AUTO.search(first.stderr)
    assert name is not None
    assert f"study {name.group()} (new) in {journal}: 6 trials to run" in first.stderr
    assert f"study {name.group()} in {journal} — new study: 6 trials" in flat(first.stdout)
    more = runner.invoke(app, [*args, "--add-trials", "4", "--json", str(tmp_path / "r.json")])
    assert more.exit_code == 0, more.output
    assert f"study {name.group()} (resumed) in {journal}: 6 stored trials, 4 to run" in more.stderr
    assert "resumed: 6 stored trials, 4 new" in flat(more.stdout)
    study = json.loads((tmp_path / "r.json").read_text())["study"]
    assert {k: study[k] for k in ("name", "resumed", "stored", "new", "n_trials", "budget", "add_trials")} == {
        "name": name.group(),
        "resumed": True,
        "stored": 6,
        "new": 4,
        "n_trials": 10,
        "budget": 10,
        "add_trials": 4,
    }
    listed = runner.invoke(app, ["studies", "--storage", journal])
    assert name.group() in listed.stdout  # the whole name, to give to --study-name
    # --n-trials is a total: run again, nothing is left to do, and the table says how to run more.
    same = runner.invoke(app, [*args, "-n", "10"])
    assert same.exit_code == 0, same.output
    assert "resumed: 10 stored trials, 0 new (it already held the --n-trials total, 10: --add-trials N runs" in flat(
        same.stdout
    )


def test_n_trials_and_add_trials_are_one_or_the_other() -> None:
    with pytest.raises(ConfigError, match=r"^n_trials and add_trials both set the number of trials"):
        regtune.TuneConfig(n_trials=10, add_trials=5)
    result = runner.invoke(app, ["tune", "builtin:diabetes", "-n", "10", "--add-trials", "5"])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: --n-trials and --add-trials both set the number of trials")
    assert regtune.TuneConfig().trial_budget(7) == 60
    assert regtune.TuneConfig(add_trials=5).trial_budget(7) == 12
    assert regtune.TuneConfig(n_trials=20).trial_budget(7) == 20


def test_add_trials_on_a_study_in_memory_runs_that_many() -> None:
    result = regtune.tune("builtin:diabetes", add_trials=5)
    assert result.study["n_trials"] == 5 and result.study["new"] == 5 and result.study["budget"] == 5


def test_show_refuses_auto_with_the_names_it_has(tmp_path: Path) -> None:
    journal = str(tmp_path / "s.journal")
    regtune.tune("builtin:diabetes", n_trials=4, storage=journal, study_name="nightly")
    result = runner.invoke(app, ["show", "--storage", journal, "--study-name", "auto"])
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: --study-name auto is derived from the data, which is not read here (studies in {journal}:"
        " nightly): give the study's name, see `regtune studies`\n"
    )


# --- progress ---------------------------------------------------------------------------------------------


def test_progress_callbacks_old_and_new() -> None:
    old: list[tuple[int, int, float | None]] = []
    states: list[SearchState] = []
    regtune.tune("builtin:diabetes", n_trials=6, progress=lambda d, t, b: old.append((d, t, b)))
    regtune.tune("builtin:diabetes", n_trials=6, progress=lambda d, t, b, *, state: states.append(state))
    assert old[0] == (0, 6, None) and old[-1][:2] == (6, 6) and old[-1][2] is not None
    assert [s.event for s in states] == ["start"] + ["trial"] * 6
    last = states[-1]
    assert (last.done, last.total, last.stored, last.resumed, last.scoring) == (
        6,
        6,
        0,
        False,
        "neg_mean_squared_error",
    )
    assert last.best == old[-1][2] and last.best_penalty in ("l1", "l2", "elasticnet") and last.best_lambda
    assert len(last.trial_seconds) == 6 and last.remaining_s == 0
    middle = states[3]
    assert middle.remaining_s == pytest.approx(3 * sorted(middle.trial_seconds)[1])  # remaining × median


def _state(done: int, elapsed: float, total: int = 60, event: str = "trial", stored: int = 0) -> SearchState:
    return SearchState(
        done=done, total=total, best=-2913.4, best_penalty="l1", best_lambda=0.9712, best_l1_ratio=None,
        stored=stored, elapsed_s=elapsed, trial_seconds=(0.4, 0.5, 0.6), study_name="s", resumed=stored > 0,
        scoring="neg_mean_squared_error", event=event,
    )  # fmt: skip


def test_progress_lines_every_tenth_of_the_trials_or_every_ten_seconds() -> None:
    lines: list[str] = []
    show = ProgressLines(lines.append)
    show(0, 60, None, state=_state(0, 0.0, event="start"))
    for done in range(1, 61):  # fast trials: a line every 6 trials
        show(done, 60, -1.0, state=_state(done, done * 0.1))
    assert [int(re.match(r"trial (\d+)/60", line).group(1)) for line in lines] == list(range(6, 61, 6))  # type: ignore[union-attr]
    slow: list[str] = []
    show = ProgressLines(slow.append)
    show(140, 200, None, state=_state(140, 0.0, total=200, event="start", stored=140))
    for done in range(141, 147):  # 11 s a trial: a line after each
        show(done, 200, -1.0, state=_state(done, (done - 140) * 11.0, total=200, stored=140))
    assert len(slow) == 6
    assert slow[0] == "trial 141/200 · best l1 λ=0.97 CV MSE 2,913 · 11 s · ~30 s left"


def test_progress_line_format() -> None:
    assert progress_line(_state(30, 12.3)) == "trial 30/60 · best l1 λ=0.97 CV MSE 2,913 · 12 s · ~15 s left"
    assert progress_line(_state(60, 65.0)) == "trial 60/60 · best l1 λ=0.97 CV MSE 2,913 · 1 min 05 s"


def test_cli_progress_off_a_terminal_and_quiet(tmp_path: Path) -> None:
    journal = str(tmp_path / "s.journal")
    result = runner.invoke(app, ["tune", "builtin:diabetes", "-n", "10", "--storage", journal])
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert lines[0] == f"study regtune (new) in {journal}: 10 trials to run"
    assert len(lines) == 11  # one per tenth of 10 trials
    for line in lines[1:]:
        pattern = r"trial \d+/10 · best (l1|l2|elasticnet) λ=\S+( l1_ratio=\S+)? CV MSE [\d,]+ · \S+ s( · \S+ s left)?"
        assert re.fullmatch(pattern, line)
    quiet = runner.invoke(app, ["tune", "builtin:diabetes", "--add-trials", "3", "--storage", journal, "-q"])
    assert quiet.exit_code == 0, quiet.output
    assert quiet.stderr == f"study regtune (resumed) in {journal}: 10 stored trials, 3 to run\n"
    in_memory = runner.invoke(app, ["tune", "builtin:diabetes", "-n", "4", "--quiet"])
    assert in_memory.exit_code == 0 and in_memory.stderr == ""


def test_progress_bar_in_a_terminal_shows_the_time_left() -> None:
    from rich.console import Console

    out = StringIO()
    console = Console(file=out, force_terminal=True, width=160, color_system=None)
    with progress_display(console, storage="s.journal") as progress:
        progress(140, 200, None, state=_state(140, 0.0, total=200, event="start", stored=140))
        progress(150, 200, -1.0, state=_state(150, 5.0, total=200, stored=140))
    text = out.getvalue()
    assert "study s (resumed) in s.journal: 140 stored trials, 60 to run" in text
    assert "150/200" in text and "best l1 λ=0.97 CV MSE 2,913" in text and "~25 s left" in text


# --- the Markdown summary in a CI job -----------------------------------------------------------------


def test_summary_names_the_artifact_instead_of_dead_relative_links(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = regtune.tune("builtin:diabetes", n_trials=5)
    links = {"HTML report": "out/report.html", "model": "out/m.regtune"}
    plain = summary_markdown(result, links=links)
    assert "- HTML report: [out/report.html](out/report.html)" in plain
    page = "https://github.com/o/r/actions/runs/7#artifacts"
    text = summary_markdown(result, links=links, artifact="regtune-result", page=page)
    assert f"- in the artifact [regtune-result]({page}): HTML report `report.html`, model `m.regtune`" in text
    assert "](out/" not in text
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    monkeypatch.setenv("GITHUB_REPOSITORY", "o/r")
    monkeypatch.setenv("GITHUB_RUN_ID", "7")
    summary = tmp_path / "summary.md"
    args = ["tune", "builtin:diabetes", "-n", "5", "--summary-md", str(summary), "--report", str(tmp_path / "r.html")]
    ran = runner.invoke(app, [*args, "--summary-artifact", "regtune-result"])
    assert ran.exit_code == 0, ran.output
    assert f"- in the artifact [regtune-result]({page}): HTML report `r.html`" in summary.read_text()
    alone = runner.invoke(app, ["tune", "builtin:diabetes", "--summary-artifact", "x"])
    assert alone.exit_code == 1
    assert alone.stderr == (
        "Error: --summary-artifact shapes --summary-md: add --summary-md PATH, or drop --summary-artifact\n"
    )
