"""The command line: output, JSON, stdin, and every bad input with its exact message and exit code."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from regtune.cli import app

runner = CliRunner()
FAST = ["--n-trials", "8"]


def run(*args: str, input: str | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), input=input)


def test_help_lists_commands_and_exit_codes() -> None:
    result = run("--help")
    assert result.exit_code == 0
    for word in ("tune", "datasets", "Exit codes"):
        assert word in result.output


def test_datasets_lists_the_builtins() -> None:
    result = run("datasets")
    assert result.exit_code == 0, result.output
    for name in ("diabetes", "breast_cancer", "wine", "iris", "digits"):
        assert name in result.output


def test_tune_prints_the_table(reg_csv: Path) -> None:
    result = run("tune", str(reg_csv), "--target", "y", "--coef", "3", *FAST)
    assert result.exit_code == 0, result.output
    out = result.output
    for text in ("penalty", "λ", "CV MSE ± SE", "R²", "nz mean", "λ.min", "λ.1se", "chosen (min)", "120 rows × 7"):
        assert text in out
    assert "✓ chosen" in out  # the legend of the mark
    assert "coefficients" in out
    assert "\x1b[" not in out  # no colour codes when stdout is not a terminal


def test_json_to_stdout_is_only_json_with_the_schema_keys(reg_csv: Path) -> None:
    result = runner.invoke(app, ["tune", str(reg_csv), "-y", "y", "--json", "-", *FAST])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["schema"] == "regtune.result/2"
    assert doc["cv"]["scoring"] == "neg_mean_squared_error"  # the default, as cv.glmnet's
    mse = -doc["chosen"]["cv_mean"]
    assert doc["chosen"]["cv_r2"] == pytest.approx(1 - mse / doc["cv"]["target_variance"])
    for key in (
        "dataset",
        "cv",
        "chosen",
        "min",
        "one_se",
        "per_penalty",
        "curve",
        "study",
        "warnings",
        "elapsed_s",
        "versions",
    ):
        assert key in doc
    for key in ("rule", "penalty", "lambda", "l1_ratio", "native", "cv_mean", "cv_se", "n_nonzero", "trial"):
        assert key in doc["chosen"]
    assert len(doc["curve"]) == 8
    first = doc["curve"][0]
    assert set(first) >= {"trial", "penalty", "lambda", "l1_ratio", "fold_scores", "cv_mean", "cv_se", "state"}
    assert len(first["fold_scores"]) == 5
    assert doc["dataset"]["rows_dropped"] == 0
    assert doc["study"]["n_trials"] == 8


def test_stdin_input_and_trials_csv(reg_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "curve.csv"
    result = runner.invoke(app, ["tune", "-", "-y", "y", "--trials-csv", str(out), *FAST], input=reg_csv.read_text())
    assert result.exit_code == 0, result.output
    curve = pd.read_csv(out)
    assert len(curve) == 8
    assert {"trial", "penalty", "lambda", "cv_mean", "cv_se", "state", "fold_0", "fold_4"} <= set(curve.columns)


def test_json_file_and_penalty_restriction(reg_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    result = run("tune", str(reg_csv), "-y", "y", "--penalty", "l2", "--json", str(out), *FAST)
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert {p["penalty"] for p in doc["curve"]} == {"l2"}
    assert doc["chosen"]["native"]["alpha"] == pytest.approx(120 * doc["chosen"]["lambda"])


def _write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


@pytest.fixture
def bad(tmp_path: Path) -> dict[str, str]:
    """Bad inputs, each a file path."""
    single_class = "a,t\n" + "".join(f"{i},yes\n" for i in range(10))
    single_value = "a,t\n" + "".join(f"{i},3.5\n" for i in range(10))
    text_target = "a,t\n" + "".join(f"{i},{'xy'[i % 2]}\n" for i in range(10))
    few_rows = "a,t\n1,2.5\n2,3.5\n3,1.5\n"
    rare_class = "a,t\n" + "".join(f"{i},{'a' if i < 2 else 'b'}\n" for i in range(20))
    all_missing = "a,b,t\n" + "".join(f"{i},,{i * 1.5}\n" for i in range(10))
    one_fold = "a,f,t\n" + "".join(f"{i},1,{i * 1.5}\n" for i in range(10))
    gz = tmp_path / "broken.csv.gz"
    gz.write_bytes(gzip.compress(b"a,t\n1,2\n" * 20)[:30])
    return {
        "empty": _write(tmp_path / "empty.csv", ""),
        "header": _write(tmp_path / "header.csv", "a,b,price\n"),
        "single_class": _write(tmp_path / "single_class.csv", single_class),
        "single_value": _write(tmp_path / "single_value.csv", single_value),
        "text_target": _write(tmp_path / "text.csv", text_target),
        "few_rows": _write(tmp_path / "few.csv", few_rows),
        "rare_class": _write(tmp_path / "rare.csv", rare_class),
        "all_missing": _write(tmp_path / "all_missing.csv", all_missing),
        "one_fold": _write(tmp_path / "one_fold.csv", one_fold),
        "gz": str(gz),
        "dir": str(tmp_path),
    }


@pytest.mark.parametrize(
    "case,args,message",
    [
        ("missing", ["-y", "t"], "Error: file not found: {path} (check the path, or use - to read standard input)"),
        ("dir", ["-y", "t"], "Error: {path} is a folder, not a CSV file: give the path of a .csv or .csv.gz file"),
        ("empty", ["-y", "t"], "Error: {path} is empty: give a CSV file with a header row and data rows"),
        ("header", ["-y", "price"], "Error: {path} has a header but no data rows: add rows to the file"),
        ("gz", ["-y", "t"], "Error: {path} is not a readable CSV file"),
        (
            "single_class",
            ["-y", "t"],
            "Error: target 't' has the same class ('yes') in every row: there is nothing to predict",
        ),
        (
            "single_value",
            ["-y", "t"],
            "Error: target 't' has the same value (3.5) in every row: there is nothing to predict",
        ),
        (
            "text_target",
            ["-y", "t", "--task", "regression"],
            "Error: target 't' is not numeric (e.g. 'x'), so it cannot be a regression target: "
            "use --task classification or choose a numeric --target",
        ),
        ("few_rows", ["-y", "t"], "Error: only 3 rows for 5 folds: use --folds 3 or fewer, or add rows"),
        (
            "rare_class",
            ["-y", "t"],
            "Error: class 'a' has 2 rows, fewer than the 5 folds of stratified CV: use --folds 2 or fewer, "
            "or drop that class",
        ),
        ("all_missing", ["-y", "t"], "Error: feature column 'b' has no values: drop it with --drop b"),
        (
            "one_fold",
            ["-y", "t", "--fold-column", "f"],
            "Error: --fold-column 'f' has fewer than 2 distinct fold ids: give at least two folds",
        ),
    ],
)
def test_bad_input_gets_one_line_and_exit_1(
    bad: dict[str, str], tmp_path: Path, case: str, args: list[str], message: str
) -> None:
    path = bad.get(case, str(tmp_path / "missing.csv"))
    result = runner.invoke(app, ["tune", path, *args, *FAST])
    assert result.exit_code == 1, result.output
    err = result.stderr.strip()
    assert "Traceback" not in result.output
    assert len(err.splitlines()) == 1, err
    assert err.startswith(message.format(path=path)), err


@pytest.mark.parametrize(
    "args,message",
    [
        (["-y", "pricee"], "Error: target column 'pricee' not found: did you mean 'price'?"),
        (
            ["-y", "price", "--scoring", "r3"],
            "Error: unknown scorer 'r3': use a scikit-learn scorer name for regression (did you mean r2",
        ),
        (
            ["-y", "price", "--scoring", "accuracy"],
            "Error: scorer 'accuracy' does not fit a regression task (it is a classification or clustering metric): "
            "use e.g. neg_mean_squared_error",
        ),
        (
            ["-y", "price", "--lambda-min", "1", "--lambda-max", "0.5"],
            "Error: --lambda-min (1) must be smaller than --lambda-max (0.5): swap them or widen the range",
        ),
        (
            ["-y", "price", "--penalty", "l3"],
            "Error: unknown penalty 'l3': use one or more of l1, l2, elasticnet (comma-separated)",
        ),
        ([], "Error: no target column given: add --target COLUMN (one of: carat, cut, price)"),
    ],
)
def test_bad_settings_get_one_line_and_exit_1(tmp_path: Path, args: list[str], message: str) -> None:
    path = tmp_path / "d.csv"
    pd.DataFrame({"carat": [0.1 * i for i in range(20)], "cut": ["a", "b"] * 10, "price": range(20)}).to_csv(
        path, index=False
    )
    result = runner.invoke(app, ["tune", str(path), *args, *FAST])
    assert result.exit_code == 1, result.output
    assert result.stderr.strip().startswith(message), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_usage_errors_exit_2() -> None:
    result = run("tune", "builtin:diabetes", "--task", "banana")
    assert result.exit_code == 2
    result = run("tune", "builtin:diabetes", "--folds", "many")
    assert result.exit_code == 2


def test_scorer_for_classification_is_checked() -> None:
    result = run("tune", "builtin:iris", "--scoring", "r2", *FAST)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: scorer 'r2' does not fit a classification task")


def test_unwritable_json_path_is_an_error_and_leaves_no_file(tmp_path: Path) -> None:
    target = tmp_path / "no" / "such" / "dir" / "r.json"
    result = run("tune", "builtin:diabetes", "--json", str(target), *FAST)
    assert result.exit_code == 1
    # Checked before the run, not after it.
    assert result.stderr.startswith(f"Error: --json {target}: the folder {target.parent} does not exist")
    assert not target.exists()


def _installed_regtune() -> str:
    found = shutil.which("regtune", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip("regtune is not installed in this environment (run `make test`)")
    return found


def test_installed_command_in_a_subprocess(penguins: Path) -> None:
    exe = _installed_regtune()
    env = {**os.environ, "NO_COLOR": "1"}
    proc = subprocess.run(
        [exe, "tune", str(penguins), "-y", "species", "--drop", "year", "-n", "10", "--json", "-"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["dataset"]["task"] == "classification"
    assert doc["dataset"]["n_classes"] == 3
    assert doc["cv"]["scoring"] == "neg_log_loss"
    proc = subprocess.run([exe, "tune", "nope.csv", "-y", "t"], capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 1
    assert proc.stderr == "Error: file not found: nope.csv (check the path, or use - to read standard input)\n"
    proc = subprocess.run([sys.executable, "-m", "regtune", "--version"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and proc.stdout.startswith("regtune ")


def test_n_jobs_and_no_prune_flags(reg_csv: Path) -> None:
    result = runner.invoke(app, ["tune", str(reg_csv), "-y", "y", "-j", "2", "--no-prune", "--json", "-", *FAST])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["study"]["pruned"] == 0
    assert doc["cv"]["n_fold_fits"] == 8 * 5
    result = run("tune", str(reg_csv), "-y", "y", "--n-jobs", "0")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: --n-jobs must be at least 1, got 0")


def test_the_command_keeps_freed_memory_on_glibc() -> None:
    """glibc's allocator is told to keep freed memory (mallopt accepted both settings)."""
    import platform
    import sys

    from regtune.cli._common import keep_freed_memory

    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        pytest.skip("glibc only")
    assert keep_freed_memory() is True
