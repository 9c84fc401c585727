"""Study storages that are mistyped, damaged or wedged, and secrets in storage URLs.

Nothing here may hang (a resume waiting forever for a trial nobody runs), create files it was only asked
to read, or print a password.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
from hostile_support import FAST, assert_done, assert_refused, cli

from regtune import search
from regtune.storage import _rdb_reason, mask_url, open_storage, worker_id

SECRET = "Pw-S3cret@tail99"


@pytest.fixture
def data(tmp_path: Path) -> Path:
    rng = np.random.default_rng(2)
    d = pd.DataFrame(rng.normal(size=(60, 3)), columns=["a", "b", "c"])
    d["y"] = d["a"] + rng.normal(scale=0.5, size=60)
    path = tmp_path / "data.csv"
    d.to_csv(path, index=False)
    return path


@pytest.fixture
def journal(data: Path, tmp_path: Path) -> Path:
    path = tmp_path / "s.journal"
    assert_done(cli(["tune", str(data), "-y", "y", "--storage", str(path), *FAST]))
    return path


# --- reading never creates -------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["show", "studies"])
def test_a_mistyped_journal_is_an_error_and_creates_nothing(command: str, tmp_path: Path) -> None:
    typo = tmp_path / "stdy.journal"
    assert_refused(cli([command, "--storage", str(typo)]), 1, rf"Error: no study storage at {typo}: the file does not")
    assert not typo.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["show", "studies"])
def test_a_mistyped_sqlite_file_is_an_error_and_creates_nothing(command: str, tmp_path: Path) -> None:
    typo = tmp_path / "stdy.db"
    assert_refused(cli([command, "--storage", f"sqlite:///{typo}"]), 1, r"Error: no study storage at sqlite:///")
    assert list(tmp_path.iterdir()) == []


# --- damaged journals ----------------------------------------------------------------------------------


def _records(journal: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in journal.read_text().splitlines()]


def _rewrite(journal: Path, records: list[dict[str, object]]) -> None:
    journal.write_text("".join(json.dumps(r) + "\n" for r in records))


def test_an_unknown_operation_is_one_line(journal: Path, data: Path) -> None:
    records = _records(journal)
    records[5]["op_code"] = 99
    _rewrite(journal, records)
    assert_refused(
        cli(["show", "--storage", str(journal)]),
        1,
        r"Error: journal file .* is corrupt at line 6: unknown operation 99",
    )
    refused = cli(["tune", str(data), "-y", "y", "--storage", str(journal), *FAST])
    assert_refused(refused, 1, r"Error: journal file .* is corrupt at line 6")


def test_a_record_without_its_trial_is_one_line(journal: Path) -> None:
    records = _records(journal)
    at = next(i for i, r in enumerate(records) if "trial_id" in r)
    del records[at]["trial_id"]
    _rewrite(journal, records)
    assert_refused(
        cli(["studies", "--storage", str(journal)]),
        1,
        rf"Error: journal file .* is corrupt at line {at + 1}: the record lacks 'trial_id'",
    )


def test_deleted_lines_never_hang(journal: Path, data: Path) -> None:
    """Every way of deleting one line ends in a resumed run or a one-line refusal (the alarm of the
    hostile suite turns a hang into a failure)."""
    lines = journal.read_text().splitlines(keepends=True)
    outcomes = set()
    for k in range(0, len(lines), max(1, len(lines) // 12)):
        journal.write_text("".join(lines[:k] + lines[k + 1 :]))
        outcome = cli(["tune", str(data), "-y", "y", "--storage", str(journal), "-n", "8"])
        if outcome.code == 0:
            assert_done(outcome)
        else:
            assert_refused(outcome, 1, r"Error: journal file .* is corrupt at line \d+: ")
        outcomes.add(outcome.code)
    assert 0 in outcomes and 1 in outcomes


# --- wedged studies ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["journal", "sqlite"])
def test_a_trial_left_running_without_a_worker_does_not_wedge_the_resume(
    kind: str, data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that ask()ed for a trial and died: the trial stays RUNNING with no worker attribute."""
    storage = str(tmp_path / "w.journal") if kind == "journal" else f"sqlite:///{tmp_path / 'w.db'}"
    assert_done(cli(["tune", str(data), "-y", "y", "--storage", storage, "-n", "5"]))
    study = optuna.load_study(study_name="regtune", storage=open_storage(storage))
    stray = study.ask()  # and never told
    monkeypatch.setattr(search, "STRAY_TRIAL_GRACE_S", 0.5)
    # -n 6: done (5) + running (the stray) reach the budget, so the run waits for the stray: it must not wait forever
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        outcome = cli(["tune", str(data), "-y", "y", "--storage", storage, "-n", "6", "--json", "-"])
    assert_done(outcome)
    assert not [w for w in caught if issubclass(w.category, optuna.exceptions.ExperimentalWarning)]
    trials = optuna.load_study(study_name="regtune", storage=open_storage(storage)).get_trials(deepcopy=False)
    assert next(t for t in trials if t.number == stray.number).state.name == "FAIL"
    assert not [t for t in trials if t.state.name == "RUNNING"]
    counts = json.loads(outcome.stdout)["study"]
    assert counts["complete"] + counts["pruned"] >= 6


def test_a_trial_of_a_reused_process_id_is_recovered(journal: Path, data: Path) -> None:
    """The trial's worker id names a process that is alive, but is not the one that ran it (here: this
    very process, which runs no trial while it looks)."""
    study = optuna.load_study(study_name="regtune", storage=open_storage(str(journal)))
    stray = study.ask()
    stray.set_user_attr("worker", f"{worker_id().rsplit(':', 1)[0]}:{os.getpid()}")
    outcome = cli(["tune", str(data), "-y", "y", "--storage", str(journal), "-n", "8"])
    assert_done(outcome)
    trials = optuna.load_study(study_name="regtune", storage=open_storage(str(journal))).get_trials(deepcopy=False)
    assert next(t for t in trials if t.number == stray.number).state.name == "FAIL"


def test_a_study_named_with_markup_is_shown_as_text(data: Path, tmp_path: Path) -> None:
    journal = str(tmp_path / "m.journal")
    assert_done(cli(["tune", str(data), "-y", "y", "--storage", journal, "--study-name", "[/]", *FAST]))
    listed = cli(["studies", "--storage", journal])
    assert listed.code == 0, listed.stderr
    assert "[/]" in listed.stdout
    shown = cli(["show", "--storage", journal, "--study-name", "[/]"])
    assert_done(shown)


# --- secrets -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://me:s3cret@db:5432/x", "postgresql://me:***@db:5432/x"),
        (f"postgresql://u:{SECRET}@127.0.0.1:5/db", "postgresql://u:***@127.0.0.1:5/db"),
        ("postgresql+psycopg://host/db?user=u&password=p4ssw0rd", "postgresql+psycopg://host/db?user=u&password=***"),
        ("mysql://u:pw@h/db?sslpassword=abcd&x=1", "mysql://u:***@h/db?sslpassword=***&x=1"),
        ("sqlite:///tmp/a@b.db", "sqlite:///tmp/a@b.db"),
        ("a journal at /tmp/study.journal", "a journal at /tmp/study.journal"),
        (f"(postgresql://u:{SECRET}@h/db)", "(postgresql://u:***@h/db)"),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_a_password_with_an_at_sign_leaves_no_tail_in_the_error() -> None:
    url = f"postgresql+psycopg://me:{SECRET}@127.0.0.1:9/x"
    outcome = cli(["tune", "builtin:diabetes", "-n", "4", "--storage", url])
    assert_refused(outcome, 1, r"Error: cannot open the study storage \(postgresql at 127\.0\.0\.1:9\): ")
    for part in (SECRET, "tail99", "S3cret"):
        assert part not in outcome.stderr


def test_a_secret_quoted_by_a_driver_is_masked_anywhere() -> None:
    mask_url(f"postgresql://u:{SECRET}@h/db")
    assert mask_url(f"FATAL: password {SECRET} rejected") == "FATAL: password *** rejected"


def test_every_output_masks_a_password_given_as_a_query_parameter(data: Path, tmp_path: Path) -> None:
    secret = "QuerySecret-77"
    url = f"sqlite:///{tmp_path / 'q.db'}?password={secret}"
    model = tmp_path / "m.regtune"
    tuned = cli(["tune", str(data), "-y", "y", "--storage", url, "--json", "-", "--save-model", str(model), *FAST])
    assert_done(tuned)
    assert json.loads(tuned.stdout)["study"]["storage"].endswith("?password=***")
    shown = cli(["show", "--storage", url, "--json", "-"])
    assert json.loads(shown.stdout)["study"]["storage"].endswith("?password=***")
    listed = cli(["studies", "--storage", url])
    assert "password=***" in listed.stdout
    import zipfile

    with zipfile.ZipFile(model) as archive:
        stored = json.loads(archive.read("result.json"))
    assert stored["study"]["storage"].endswith("?password=***")
    for outcome in (tuned, shown, listed):
        assert secret not in outcome.stdout + outcome.stderr
    assert secret.encode() not in model.read_bytes()


def test_database_hints_fit_the_database() -> None:
    import sqlalchemy.exc

    locked = sqlalchemy.exc.OperationalError("UPDATE", {}, Exception("database is locked"))
    reason = _rdb_reason("sqlite:///study.db", locked)
    assert "database is locked" in reason and "password" not in reason and "host" not in reason
    missing = _rdb_reason("mysql://u:p@h/db", ImportError("No module named 'MySQLdb'"))
    assert "pymysql" in missing and "psycopg" not in missing
