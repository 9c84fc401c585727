"""`--model sgd|mlp`, `--hidden`, `--early-stopping`: flags, errors, table, JSON, config file, show."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from regtune.cli import app

runner = CliRunner()


@pytest.mark.parametrize(
    "args,message",
    [
        (
            ["--model", "mlp", "--penalty", "l1,l2"],
            "Error: --model mlp supports --penalty l2 only (scikit-learn's MLP alpha is an L2 penalty), not l1:"
            " use --penalty l2, or --model sgd for L1 / elastic net",
        ),
        (
            ["--model", "mlp", "--penalty", "elasticnet"],
            "Error: --model mlp supports --penalty l2 only (scikit-learn's MLP alpha is an L2 penalty),"
            " not elasticnet: use --penalty l2, or --model sgd for L1 / elastic net",
        ),
        (["--hidden", "64,32"], "Error: --hidden sets the layers of --model mlp: add --model mlp, or drop --hidden"),
        (
            ["--model", "sgd", "--hidden", "8"],
            "Error: --hidden sets the layers of --model mlp: add --model mlp, or drop --hidden",
        ),
        (
            ["--model", "mlp", "--hidden", "64,x"],
            "Error: --hidden must be layer sizes such as 64,32, or 0 for no hidden layer, got '64,x'",
        ),
        (
            ["--model", "mlp", "--hidden", "64,0"],
            "Error: --hidden must be layer sizes such as 64,32, or 0 for no hidden layer, got '64,0'",
        ),
        (["--penalty", ""], "Error: --penalty is empty: give one or more of l1, l2, elasticnet"),
        (
            ["--model", "sgd", "--no-early-stopping"],
            "Error: --no-early-stopping applies to --model mlp only: add --model mlp, or drop --no-early-stopping",
        ),
    ],
)
def test_model_settings_errors_are_one_line_and_exit_1(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["tune", "builtin:diabetes", *args, "-n", "2"])
    assert result.exit_code == 1, result.output
    assert result.stderr == message + "\n"


def test_unknown_model_is_a_usage_error() -> None:
    result = runner.invoke(app, ["tune", "builtin:diabetes", "--model", "tree"])
    assert result.exit_code == 2


def test_sgd_end_to_end_table_and_json(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    result = runner.invoke(app, ["tune", "builtin:diabetes", "--model", "sgd", "-n", "8", "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "model: SGDRegressor (max_iter 1000, tol 0.001)" in result.stdout
    doc = json.loads(out.read_text())
    assert doc["model"] == {
        "family": "sgd_regressor",
        "type": "sgd",
        "estimator": "SGDRegressor",
        "max_iter": 1000,
        "tol": 0.001,
        "seed": 0,
    }
    assert doc["chosen"]["native"]["alpha"] == doc["chosen"]["lambda"]
    assert [p["penalty"] for p in doc["per_penalty"]] == ["l1", "l2", "elasticnet"]
    assert doc["coefficients"]


def test_mlp_end_to_end_from_a_config_file_then_show(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "regtune.toml").write_text('model = "mlp"\nhidden = [4]\nn-trials = 2\nfolds = 2\n')
    result = runner.invoke(app, ["tune", "builtin:iris", "--storage", "s.journal", "--json", "r.json"])
    assert result.exit_code == 0, result.output
    assert "model: MLPClassifier (hidden 4, adam, max_iter 500, early stopping)" in result.stdout
    assert "batch_size=" in result.stdout
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["model"]["type"] == "mlp" and doc["model"]["hidden"] == [4]
    assert {p["penalty"] for p in doc["curve"]} == {"l2"}
    n_train = 150
    assert doc["chosen"]["native"]["batch_size"] == min(200, n_train - 15)
    assert doc["chosen"]["native"]["alpha"] == pytest.approx(doc["chosen"]["lambda"] * 135)
    assert doc["coefficients"] == []
    shown = runner.invoke(app, ["show", "--storage", "s.journal"])
    assert shown.exit_code == 0, shown.output
    assert "MLPClassifier (hidden 4" in shown.stdout
    # The same study with other layers is refused: the model settings are part of its identity.
    other = runner.invoke(app, ["tune", "builtin:iris", "--storage", "s.journal", "--hidden", "5"])
    assert other.exit_code == 1
    assert "model_settings" in other.stderr


def test_no_early_stopping_trains_on_every_row(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    args = ["tune", "builtin:iris", "--model", "mlp", "--hidden", "0", "--no-early-stopping", "-n", "2", "--folds", "2"]
    result = runner.invoke(app, [*args, "--json", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert doc["model"]["early_stopping"] is False and doc["model"]["hidden"] == [0]
    assert doc["chosen"]["native"]["batch_size"] == 150  # all rows, one batch
    assert "model: MLPClassifier (hidden none (linear), adam, max_iter 500)" in result.stdout
