"""Studies that last: journal files, SQLite, PostgreSQL; resume, identity, workers, CI features."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import regtune
from regtune.cli import app
from regtune.storage import mask_url

runner = CliRunner()
PG_URL = os.environ.get("REGTUNE_TEST_PG_URL")
if PG_URL is None and os.environ.get("REGTUNE_REQUIRE_PG"):
    raise RuntimeError("REGTUNE_REQUIRE_PG is set but REGTUNE_TEST_PG_URL is not: the PostgreSQL server did not start")
needs_pg = pytest.mark.skipif(PG_URL is None, reason="REGTUNE_TEST_PG_URL not set (.ci/run starts PostgreSQL)")


def test_resume_runs_only_what_is_missing(tmp_path: Path) -> None:
    journal = str(tmp_path / "study.journal")
    first = regtune.tune("builtin:diabetes", n_trials=8, storage=journal, study_name="s")
    assert first.study["n_trials"] == 8 and not first.study["resumed"]
    again = regtune.tune("builtin:diabetes", n_trials=8, storage=journal, study_name="s")
    assert again.study["n_trials"] == 8 and again.study["resumed"]
    assert again.cv["n_fold_fits"] == 0
    more = regtune.tune("builtin:diabetes", n_trials=12, storage=journal, study_name="s")
    assert more.study["n_trials"] == 12
    assert [p.lam for p in more.curve[:8]] == [p.lam for p in first.curve]


def test_reusing_a_study_with_other_settings_names_the_differences(tmp_path: Path) -> None:
    journal = str(tmp_path / "study.journal")
    runner.invoke(app, ["tune", "builtin:diabetes", "-n", "6", "--storage", journal])
    result = runner.invoke(app, ["tune", "builtin:diabetes", "-n", "6", "--storage", journal, "--folds", "3"])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: study 'regtune' holds trials of other data or settings — folds (5 ≠ 3)")
    assert result.stderr.rstrip().endswith("use another --study-name, or the same data and settings")


def test_show_and_studies_report_the_stored_study(tmp_path: Path) -> None:
    journal = str(tmp_path / "s.journal")
    tuned = runner.invoke(app, ["tune", "builtin:diabetes", "-n", "10", "--storage", journal, "--json", "-"])
    assert tuned.exit_code == 0, tuned.output
    shown = runner.invoke(app, ["show", "--storage", journal, "--json", "-"])
    assert shown.exit_code == 0, shown.output
    a, b = json.loads(tuned.stdout), json.loads(shown.stdout)
    for key in ("penalty", "lambda", "l1_ratio", "cv_mean", "cv_se", "trial"):
        assert a["chosen"][key] == b["chosen"][key]
    assert a["curve"] == b["curve"]
    listed = runner.invoke(app, ["studies", "--storage", journal, "--json"])
    rows = json.loads(listed.stdout)
    assert rows[0]["name"] == "regtune" and rows[0]["n_trials"] == 10
    missing = runner.invoke(app, ["show", "--storage", journal, "--study-name", "nope"])
    assert missing.exit_code == 1
    assert missing.stderr.startswith("Error: no study 'nope' in ")


def test_corrupt_and_truncated_journals_are_refused(tmp_path: Path) -> None:
    journal = tmp_path / "s.journal"
    regtune.tune("builtin:diabetes", n_trials=4, storage=str(journal))
    data = journal.read_bytes()
    truncated = tmp_path / "t.journal"
    truncated.write_bytes(data[:-20])
    result = runner.invoke(app, ["tune", "builtin:diabetes", "-n", "4", "--storage", str(truncated)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: journal file {truncated} is truncated (its last line is incomplete)")
    corrupt = tmp_path / "c.journal"
    corrupt.write_bytes(b"this is not json\n" + data)
    result = runner.invoke(app, ["show", "--storage", str(corrupt)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: journal file {corrupt} is corrupt at line 1")
    assert journal.read_bytes() == data


def test_sqlite_storage(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    result = regtune.tune("builtin:diabetes", n_trials=6, storage=url, study_name="q")
    assert result.study["storage"] == url and result.study["n_trials"] == 6


def test_passwords_never_appear(tmp_path: Path) -> None:
    assert mask_url("postgresql://me:s3cret@db:5432/x") == "postgresql://me:***@db:5432/x"
    url = "postgresql+psycopg://me:s3cret-pw@127.0.0.1:9/x"
    result = runner.invoke(app, ["tune", "builtin:diabetes", "-n", "4", "--storage", url])
    assert result.exit_code == 1
    assert "s3cret-pw" not in result.output
    assert result.stderr.startswith("Error: cannot open the study storage (postgresql at 127.0.0.1:9): ")
    assert len(result.stderr.strip().splitlines()) == 1


def test_fail_under_exits_3_after_printing_and_summary_md_appends(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("# before\n")
    out = tmp_path / "r.json"
    result = runner.invoke(
        app,
        [
            "tune",
            "builtin:diabetes",
            "-n",
            "6",
            "--fail-under",
            "-100",
            "--summary-md",
            str(summary),
            "--json",
            str(out),
        ],
    )
    assert result.exit_code == 3
    assert "λ.min" in result.stdout
    assert "Error: quality gate failed: CV mean" in result.stderr
    assert json.loads(out.read_text())["schema"] == "regtune.result/2"
    text = summary.read_text()
    assert text.startswith("# before\n### regtune — builtin:diabetes → target")
    assert "| penalty | best λ |" in text and "quality gate: failed" in text
    ok = runner.invoke(app, ["tune", "builtin:diabetes", "-n", "6", "--fail-under", "-5000"])  # MSE under 5000
    assert ok.exit_code == 0


def test_config_file_flags_override_and_unknown_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[tool.regtune]\nn-trials = 7\npenalty = ["l2"]\nseed = 4\n')
    result = runner.invoke(app, ["tune", "builtin:diabetes", "--seed", "5", "--json", "-"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["study"]["n_trials"] == 7 and doc["cv"]["seed"] == 5
    assert {c["penalty"] for c in doc["curve"]} == {"l2"}
    (tmp_path / "other.toml").write_text("foldz = 3\n")
    bad = runner.invoke(app, ["tune", "builtin:diabetes", "--config", "other.toml"])
    assert bad.exit_code == 1
    assert bad.stderr.startswith("Error: unknown key 'foldz' in other.toml (did you mean folds?)")


def test_env_var_storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    journal = tmp_path / "env.journal"
    monkeypatch.setenv("REGTUNE_STORAGE", str(journal))
    result = runner.invoke(app, ["tune", "builtin:diabetes", "-n", "4"])
    assert result.exit_code == 0, result.output
    assert journal.exists()


def _slow_csv(tmp_path: Path) -> Path:
    """A classification table whose trials take a noticeable time (so a worker can be killed mid-trial)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 40))
    y = (X[:, :5].sum(axis=1) + rng.normal(size=3000) > 0).astype(int)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(40)])
    frame["y"] = np.where(y == 1, "yes", "no")
    path = tmp_path / "slow.csv"
    frame.to_csv(path, index=False)
    return path


def _regtune_cmd() -> list[str]:
    return [sys.executable, "-m", "regtune"]


def _workers_with_one_killed(tmp_path: Path, storage: str, name: str) -> None:
    import optuna

    from regtune.search import load_stored

    data = _slow_csv(tmp_path)
    n = 24
    base = [*_regtune_cmd(), "tune", str(data), "-y", "y", "--penalty", "l1,elasticnet", "--no-prune",
            "-n", str(n), "--storage", storage, "--study-name", name]  # fmt: skip
    # Create the study once before the workers start (DESIGN.md: concurrent schema creation collides).
    subprocess.run([*base[:-6], "-n", "1", "--storage", storage, "--study-name", name], check=True, capture_output=True)
    env = {**os.environ, "NO_COLOR": "1"}
    procs = [
        subprocess.Popen(
            [*base, "--json", str(tmp_path / f"w{i}.json")], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        for i in range(3)
    ]
    victim = procs[0]
    study, _ = load_stored(storage, name)
    deadline = time.monotonic() + 120
    killed_trial = None
    while time.monotonic() < deadline and killed_trial is None:
        for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
            # Mid-trial: the victim's trial has its whole configuration and is fitting the folds.
            penalty = t.params.get("penalty")
            drawn = f"lambda_{penalty}" in t.params and (penalty != "elasticnet" or "mixing" in t.params)
            if str(t.user_attrs.get("worker", "")).endswith(f":{victim.pid}") and t.number > 2 and drawn:
                os.kill(victim.pid, signal.SIGKILL)
                killed_trial = t.number
                break
        time.sleep(0.02)
    assert killed_trial is not None, "the victim never started a trial"
    victim.wait()
    for proc in procs[1:]:
        _, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err.decode()
    study, _ = load_stored(storage, name)
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    others = [(t.number, t.state.name, t.user_attrs, t.params) for t in trials if t not in complete]
    assert len(complete) == n, others
    assert not [t for t in trials if t.state == optuna.trial.TrialState.RUNNING]
    killed = next(t for t in trials if t.number == killed_trial)
    assert killed.state == optuna.trial.TrialState.FAIL
    retried = [
        t
        for t in complete
        if t.system_attrs.get("failed_trial") == killed_trial or t.user_attrs.get("retry_of") == killed_trial
    ]
    assert len(retried) == 1, "the killed worker's trial was not run again exactly once"
    assert retried[0].params == killed.params
    shown = json.loads(subprocess.run([*_regtune_cmd(), "show", "--storage", storage, "--study-name", name,
                                       "--json", "-"], capture_output=True, check=True).stdout)  # fmt: skip
    assert shown["study"]["complete"] == n
    for i in (1, 2):
        text = (tmp_path / f"w{i}.json").read_text()
        password = storage.split("://", 1)[1].split("@", 1)[0].partition(":")[2] if "@" in storage else ""
        assert not password or password not in text
        worker = json.loads(text)
        assert worker["chosen"]["lambda"] == shown["chosen"]["lambda"]
        assert worker["chosen"]["cv_mean"] == shown["chosen"]["cv_mean"]


def test_three_workers_on_a_journal_file_one_killed(tmp_path: Path) -> None:
    _workers_with_one_killed(tmp_path, str(tmp_path / "shared.journal"), "journal-workers")


@needs_pg
def test_three_workers_on_postgresql_one_killed(tmp_path: Path) -> None:
    assert PG_URL is not None
    _workers_with_one_killed(tmp_path, PG_URL, f"pg-workers-{os.getpid()}-{int(time.time())}")


def test_sigterm_keeps_completed_trials_and_prints_the_partial_result(tmp_path: Path) -> None:
    data = _slow_csv(tmp_path)
    journal = tmp_path / "int.journal"
    out = tmp_path / "r.json"
    proc = subprocess.Popen(
        [*_regtune_cmd(), "tune", str(data), "-y", "y", "-n", "200", "--no-prune", "--storage", str(journal),
         "--json", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "NO_COLOR": "1"},
    )  # fmt: skip
    from regtune.search import load_stored

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if journal.exists():
            try:
                study, _ = load_stored(str(journal), None)
                if sum(t.state.name == "COMPLETE" for t in study.get_trials(deepcopy=False)) >= 3:
                    break
            except Exception:
                pass
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr.decode()
    assert "λ.min" in stdout.decode()
    doc = json.loads(out.read_text())
    assert doc["interrupted"] is True
    study, _ = load_stored(str(journal), None)
    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    assert len(complete) >= 3
    assert doc["study"]["complete"] == len(complete)


def test_disk_full_while_writing_the_json_is_an_error_and_the_study_keeps_its_trials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    journal = str(tmp_path / "s.journal")
    real = Path.write_text

    def full(self: Path, *args: object, **kwargs: object) -> int:
        if self.name.endswith(".regtune-tmp"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "write_text", full)
    out = tmp_path / "r.json"
    result = runner.invoke(app, ["tune", "builtin:diabetes", "-n", "5", "--storage", journal, "--json", str(out)])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1].startswith(f"Error: cannot write {out}: No space left on device")
    assert not out.exists()
    assert regtune.tune("builtin:diabetes", n_trials=5, storage=journal).cv["n_fold_fits"] == 0


def test_a_trial_stopped_before_its_lambda_was_drawn_is_left_out_of_the_curve() -> None:
    import optuna

    from regtune.search import points_from_trials

    dist = optuna.distributions.CategoricalDistribution(["l1", "elasticnet"])
    partial = optuna.trial.create_trial(
        state=optuna.trial.TrialState.FAIL, params={"penalty": "elasticnet"}, distributions={"penalty": dist}
    )
    assert points_from_trials([partial]) == []


def test_a_waiting_trial_counts_before_a_fresh_one_created_while_it_waited() -> None:
    """Workers agree on which trials are over the budget: by trial number, a queued trial (a retry of a dead
    worker's trial, a proposal) included. A fresh trial created while a retry waited, then the retry popped
    after it, used to run both (25 complete trials for a budget of 24 in the three-workers test)."""
    import optuna
    from optuna.trial import TrialState, create_trial

    from regtune.search import Objective

    n = 4
    study = optuna.create_study(direction="maximize")
    for i in range(n - 1):
        study.add_trial(create_trial(value=float(i), state=TrialState.COMPLETE))
    study.enqueue_trial({}, user_attrs={"retry_of": 99})  # number n − 1, waiting
    # Another worker's fresh trial, created while the retry still waits (its number comes after).
    fresh_id = study._storage.create_new_trial(study._study_id)
    fresh = optuna.Trial(study, fresh_id)
    objective = Objective(evaluator=None, space=None, n_trials=n)  # type: ignore[arg-type]
    assert fresh.number == n
    assert objective._surplus(fresh)
    fresh.set_user_attr("surplus", True)
    study.tell(fresh, state=TrialState.FAIL)
    retry = study.ask()
    assert retry.user_attrs.get("retry_of") == 99
    assert not objective._surplus(retry)
    # A trial already marked surplus does not count before a later one.
    study.tell(retry, state=TrialState.FAIL)  # as if its worker died: it will be queued again
    study.enqueue_trial({}, user_attrs={"retry_of": retry.number})
    again = study.ask()
    assert not objective._surplus(again)


def test_a_signal_during_a_fold_report_waits_for_its_storage_write(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fold fits stop at once on Ctrl-C, but the report of a fold's score between them is a storage
    write: a signal arriving inside it is kept until the write is done (a journal's lock cut in its
    release once made a SIGINT end as a storage failure, exit 1, instead of an interruption, exit 130)."""
    import optuna

    from regtune.interrupts import handled
    from regtune.models import Penalty
    from regtune.search import Objective

    class Space:
        def __init__(self) -> None:
            self.penalties = ("l2",)
            self.ranges = {"l2": (0.1, 1.0)}

    class Evaluator:
        def evaluate(self, penalty: Penalty, report: Any) -> None:
            report(0.5, 0)
            raise AssertionError("the interruption should have stopped the fits")

    study = optuna.create_study(direction="maximize")
    storage = study._storage
    original = storage.set_trial_intermediate_value
    written: list[int] = []

    def write(trial_id: int, step: int, value: float) -> None:
        os.kill(os.getpid(), signal.SIGINT)  # arrives in the middle of the write
        original(trial_id, step, value)
        written.append(step)

    monkeypatch.setattr(storage, "set_trial_intermediate_value", write)
    objective = Objective(Evaluator(), Space())  # type: ignore[arg-type]
    trial = study.ask()
    with pytest.raises(KeyboardInterrupt), handled():
        objective(trial)
    assert written == [0]
    assert study.trials[0].intermediate_values == {0: 0.5}
