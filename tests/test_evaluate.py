"""An honest error for the tuned model: held-out rows (--holdout, --test) and nested CV (--nested)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import regtune
from regtune.cli import app
from regtune.data import load_dataset
from regtune.errors import ConfigError

runner = CliRunner()


def test_holdout_rows_are_never_searched_and_score_the_refit_models() -> None:
    result = regtune.tune("builtin:breast_cancer", n_trials=12, holdout=0.25, seed=2)
    held = result.held_out
    assert held is not None and held.n_rows == 143 and result.dataset["n_rows"] == 569 - 143
    # Stratified: the held-out rows have the class shares of the table.
    full = load_dataset("builtin:breast_cancer")
    searched = result.refit_context.dataset
    assert abs(searched.y.mean() - full.y.mean()) < 0.01
    # The score is the scorer's on those rows, for the model refit at λ.min.
    rows = set(map(tuple, full.X.to_numpy().round(12))) - set(map(tuple, searched.X.to_numpy().round(12)))
    assert len(rows) == held.n_rows
    doc = result.to_dict()["test"]
    assert doc["scoring"] == "neg_log_loss" and doc["min"]["score"] == held.min.score < 0


def test_a_test_file_is_scored_like_the_holdout_and_equals_the_pipelines_own_score(tmp_path: Path) -> None:
    from sklearn.metrics import mean_squared_error

    data = load_dataset("builtin:diabetes")
    frame = data.X.assign(target=data.y)
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    frame.iloc[:350].to_csv(train, index=False)
    frame.iloc[350:].to_csv(test, index=False)
    result = regtune.tune(str(train), target="target", n_trials=12, test=str(test))
    held = result.held_out
    assert held is not None and held.n_rows == 92 and held.source == str(test)
    expected = mean_squared_error(
        frame.iloc[350:]["target"], result.model.predict(frame.iloc[350:].drop(columns="target"))
    )
    assert -held.min.score == pytest.approx(expected, rel=1e-12)
    assert held.min.r2 == pytest.approx(1 - expected / frame.iloc[350:]["target"].var(ddof=0), rel=1e-12)
    out = runner.invoke(app, ["tune", str(train), "-y", "target", "-n", "8", "--test", str(test)])
    assert out.exit_code == 0 and "held out (92 rows" in out.stdout
    bad = tmp_path / "bad.csv"
    frame.iloc[350:].drop(columns="bmi").to_csv(bad, index=False)
    out = runner.invoke(app, ["tune", str(train), "-y", "target", "-n", "8", "--test", str(bad)])
    assert out.exit_code == 1 and out.stderr.startswith("Error: --test table") and "'bmi'" in out.stderr


def test_nested_cv_scores_the_procedure_on_outer_folds_it_never_saw() -> None:
    result = regtune.tune("builtin:wine", n_trials=8, nested=3, seed=1)
    nested = result.nested
    assert nested is not None and len(nested.min_scores) == 3 and len(nested.chosen) == 3
    mean, se = nested.summary("min")
    assert mean == pytest.approx(np.mean(nested.min_scores)) and se > 0
    doc = json.loads(json.dumps(result.to_dict()))["nested"]
    assert doc["folds"] == 3 and doc["scoring"] == "neg_log_loss" and len(doc["min"]["fold_scores"]) == 3


@pytest.mark.parametrize(
    "settings,message",
    [
        ({"holdout": 0.2, "nested": 3}, "holdout and nested both judge the tuned model"),
        ({"nested": 3, "storage": "x.journal"}, "nested runs a fresh search in every outer fold"),
        ({"holdout": 1.0}, "holdout must be a share of the rows between 0 and 1"),
        ({"nested": 1}, "nested must be at least 2"),
    ],
)
def test_conflicting_or_bad_honest_settings_are_refused(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        regtune.TuneConfig.of(**settings)


def test_held_out_rows_are_predicted_at_their_own_exposure(tmp_path: Path) -> None:
    """A Poisson rate model scores a test file and held-out rows with each row's exposure, as its folds do
    (the held-out deviance once used the training rows' offsets, or none)."""
    from sklearn.metrics import mean_poisson_deviance

    claims = Path(__file__).resolve().parent.parent / "examples" / "data" / "claims.csv"
    frame = pd.read_csv(claims).drop(columns="cost")
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    frame.iloc[:1400].to_csv(train, index=False)
    frame.iloc[1400:].to_csv(test, index=False)
    settings = {"target": "claims", "family": "poisson", "exposure": "years", "n_trials": 8}
    result = regtune.tune(str(train), test=str(test), **settings)
    held = result.held_out
    assert held is not None and held.n_rows == len(frame) - 1400
    rows = frame.iloc[1400:]
    mean = result.model.predict(rows.drop(columns=["claims", "years"]), offset=np.log(rows["years"].to_numpy()))
    assert -held.min.score == pytest.approx(mean_poisson_deviance(rows["claims"], mean), rel=1e-12)
    at_one_year = result.model.predict(rows.drop(columns=["claims", "years"]))
    assert abs(-held.min.score - mean_poisson_deviance(rows["claims"], at_one_year)) > 1e-3
    # The share held out by --holdout is scored the same way (its rows' own exposures).
    split = regtune.tune(str(claims), drop=("cost",), holdout=0.3, seed=1, **settings)
    assert split.held_out is not None
    # Measured: −0.776 with each row's exposure (CV −0.735); −0.946 when the rows were scored at exposure 1.
    assert split.held_out.min.score > -0.85
