"""`--family`, `--offset`, `--exposure` on the command line: errors, the table, JSON, model files, predict, show."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from regtune.cli import app

runner = CliRunner()


def claims_frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """Claim counts over exposure years, and a cost per claim (positive)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.uniform(20, 70, n),
            "region": rng.choice(["north", "south", "east"], n),
            "noise": rng.normal(size=n),
            "years": rng.uniform(0.2, 3.0, n),
        }
    )
    rate = np.exp(-1 + 0.03 * (frame["age"] - 45) + 0.6 * (frame["region"] == "south"))
    frame["claims"] = rng.poisson(rate * frame["years"])
    frame["cost"] = rng.gamma(2.0, np.exp(6 + 0.01 * frame["age"]) / 2.0)
    return frame


@pytest.fixture
def claims_csv(tmp_path: Path) -> Path:
    path = tmp_path / "claims.csv"
    claims_frame().to_csv(path, index=False)
    return path


def tune(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["tune", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    "args,message",
    [
        (["--family", "tweedie:2.5"], "Error: --family tweedie:2.5: the power must be a number between 1 and 2"),
        (["--family", "negbin"], "Error: unknown --family 'negbin' for --model linear: use gaussian,"),
        (["--family", "poisson", "--task", "classification"], "Error: --family poisson models a regression target"),
        (["--family", "gaussian", "--exposure", "years"], "Error: --exposure needs a log-link family: add --family"),
        (["--offset", "years"], "Error: --offset needs a log-link family"),
        (
            ["--family", "poisson", "--offset", "years", "--exposure", "years"],
            "Error: --offset and --exposure both set the offset",
        ),
        (["--model", "sgd", "--family", "poisson"], "Error: --family does not apply to --model sgd"),
    ],
)
def test_family_flag_errors(claims_csv: Path, args: list[str], message: str) -> None:
    code, _, err = tune(str(claims_csv), "-y", "claims", "-n", "3", *args)
    assert code == 1, err
    assert err.startswith(message), err
    assert len(err.strip().splitlines()) == 1


def test_bad_targets_and_exposures_name_the_row(tmp_path: Path) -> None:
    frame = claims_frame(60)
    frame.loc[4, "claims"] = -2
    frame.loc[1, "cost"] = 0.0
    frame.loc[7, "years"] = 0.0
    frame.loc[0, "noise"] = np.nan  # a missing feature: fine
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    code, _, err = tune(str(path), "-y", "claims", "--family", "poisson", "--drop", "years,cost", "-n", "3")
    assert code == 1
    assert err.strip() == (
        "Error: target 'claims' must be ≥ 0 for --family poisson: row 5 has -2 (rows count from 1 after the"
        " header); fix or drop such rows, or choose another --family"
    )
    code, _, err = tune(str(path), "-y", "cost", "--family", "gamma", "--drop", "claims,years", "-n", "3")
    assert code == 1 and "target 'cost' must be > 0 for --family gamma: row 2 has 0" in err
    code, _, err = tune(str(path), "-y", "claims", "--family", "tweedie:1.5", "--drop", "cost", "-n", "3")
    assert code == 1 and "target 'claims' must be ≥ 0 for --family tweedie:1.5: row 5 has -2" in err
    frame.loc[4, "claims"] = 1
    frame.to_csv(path, index=False)
    code, _, err = tune(str(path), "-y", "claims", "--family", "poisson", "--exposure", "years", "-n", "3")
    assert code == 1
    assert err.startswith(
        "Error: --exposure column 'years' must be a positive number in every row: row 8 has 0 (rows count"
    )


def test_poisson_with_exposure_end_to_end(claims_csv: Path, tmp_path: Path) -> None:
    """Table and JSON say deviance and the family; the model file carries the exposure column; predict applies
    it (means for each row's exposure) and refuses data without it."""
    out, model = tmp_path / "r.json", tmp_path / "claims.regtune"
    code, stdout, err = tune(
        str(claims_csv), "-y", "claims", "--drop", "cost", "--family", "poisson", "--exposure", "years",
        "-n", "12", "--json", str(out), "--save-model", str(model),
    )  # fmt: skip
    assert code == 0, err
    assert "Poisson deviance" in stdout and "dev.ratio" in stdout and "(poisson)" in stdout
    assert "Poisson GLM, log link" in stdout
    doc = json.loads(out.read_text())
    assert doc["cv"]["scoring"] == "neg_mean_poisson_deviance"
    assert doc["model"]["family"] == "poisson" and doc["model"]["link"] == "log"
    chosen = doc["chosen"]
    assert chosen["cv_dev_ratio"] == pytest.approx(1 + chosen["cv_mean"] / doc["cv"]["null_deviance"])
    assert 0 < chosen["cv_dev_ratio"] < 1
    assert "age" in {c["name"] for c in doc["coefficients"]}
    assert "years" not in {c["name"] for c in doc["coefficients"]}  # the offset is not a feature

    frame = claims_frame()
    result = runner.invoke(app, ["predict", str(model), str(claims_csv)])
    assert result.exit_code == 0, result.stderr
    predicted = pd.read_csv(__import__("io").StringIO(result.stdout))["prediction"].to_numpy()
    doubled = frame.assign(years=2 * frame["years"])
    path2 = tmp_path / "doubled.csv"
    doubled.to_csv(path2, index=False)
    again = runner.invoke(app, ["predict", str(model), str(path2)])
    twice = pd.read_csv(__import__("io").StringIO(again.stdout))["prediction"].to_numpy()
    np.testing.assert_allclose(twice, 2 * predicted, rtol=1e-12)  # the mean count scales with exposure
    assert np.all(predicted > 0)
    assert abs(predicted.sum() - frame["claims"].sum()) / frame["claims"].sum() < 0.05

    path3 = tmp_path / "no_years.csv"
    frame.drop(columns="years").to_csv(path3, index=False)
    missing = runner.invoke(app, ["predict", str(model), str(path3)])
    assert missing.exit_code == 1 and "'years'" in missing.stderr


def test_gamma_and_tweedie_tables(claims_csv: Path) -> None:
    code, stdout, err = tune(str(claims_csv), "-y", "cost", "--drop", "claims,years", "--family", "gamma", "-n", "6")
    assert code == 0, err
    assert "Gamma deviance" in stdout and "(gamma)" in stdout
    code, stdout, err = tune(
        str(claims_csv), "-y", "claims", "--drop", "cost", "--family", "tweedie:1.4", "--offset", "years", "-n", "6"
    )
    assert code == 0, err
    assert "Tweedie deviance" in stdout and "(tweedie:1.4)" in stdout


def test_count_target_suggests_poisson(claims_csv: Path) -> None:
    """--task auto never picks a GLM, but a count target gets a one-line suggestion."""
    code, stdout, err = tune(str(claims_csv), "-y", "claims", "--drop", "cost", "--task", "regression", "-n", "4")
    assert code == 0, err
    text = " ".join(stdout.split())  # the note is wrapped at the console width (80 off a terminal)
    assert "note: the target looks like counts (non-negative integers, long right tail): --family poisson" in text
    code, stdout, _ = tune(str(claims_csv), "-y", "age", "--drop", "cost", "-n", "4")
    assert "looks like counts" not in stdout


def test_show_rebuilds_the_family(claims_csv: Path, tmp_path: Path) -> None:
    storage = tmp_path / "s.journal"
    code, _, err = tune(
        str(claims_csv), "-y", "claims", "--drop", "cost", "--family", "poisson", "--exposure", "years",
        "-n", "6", "--storage", str(storage),
    )  # fmt: skip
    assert code == 0, err
    shown = runner.invoke(app, ["show", "--storage", str(storage)])
    assert shown.exit_code == 0, shown.stderr
    assert "Poisson deviance" in shown.stdout and "dev.ratio" in shown.stdout
