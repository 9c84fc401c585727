"""Model files: save → predict reproduces the refit pipeline exactly; bad model files are refused."""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import regtune
from regtune.cli import app
from regtune.data import load_dataset
from regtune.modelfile import META, allowed_types, load_model, save_model, types_in

runner = CliRunner()
PENGUINS = str(Path(__file__).resolve().parent.parent / "examples" / "data" / "penguins.csv")
SMALL = {"n_trials": 4, "folds": 3}


def _read(text_or_path: str | Path) -> pd.DataFrame:
    return pd.read_csv(text_or_path)


def test_save_model_then_predict_is_exact_for_regression(reg_csv: Path, tmp_path: Path) -> None:
    model_path = tmp_path / "m.regtune"
    result = runner.invoke(
        app,
        [
            "tune",
            str(reg_csv),
            "-y",
            "y",
            "-n",
            "8",
            "--save-model",
            str(model_path),
            "--json",
            str(tmp_path / "r.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    data = pd.read_csv(reg_csv)
    data.insert(0, "row_id", [f"r{i}" for i in range(len(data))])
    data = data.iloc[::-1]  # any row order is kept
    new = tmp_path / "new.csv"
    data.to_csv(new, index=False)
    out = tmp_path / "pred.csv"
    result = runner.invoke(app, ["predict", str(model_path), str(new), "--id", "row_id", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stderr == "note: ignored 1 column(s) the model does not use: y\n"
    predicted = _read(out)
    assert list(predicted.columns) == ["row_id", "prediction"]
    assert predicted["row_id"].tolist() == data["row_id"].tolist()

    saved = load_model(model_path)
    expected = saved.pipeline.predict(load_dataset(str(new), target="y", drop=("row_id",)).X)
    # To rounding, through the CSV: the command predicts from linear.json in NumPy, the pipeline in scikit-learn.
    np.testing.assert_allclose(predicted["prediction"].to_numpy(), expected, rtol=1e-12, atol=1e-14)
    assert saved.result == json.loads((tmp_path / "r.json").read_text())
    assert saved.meta["columns"][:2] == [
        {"name": "x0", "kind": "numeric", "dtype": "float64"},
        {"name": "x1", "kind": "numeric", "dtype": "float64"},
    ]
    color = next(c for c in saved.meta["columns"] if c["name"] == "color")
    assert color["kind"] == "categorical" and color["dtype"] == "str" and color["read_as"] in ("str", "object")


def test_predict_classification_from_stdin_matches_the_in_process_model(tmp_path: Path) -> None:
    result = regtune.tune(PENGUINS, target="species", drop=("year",), **SMALL)
    model_path = tmp_path / "m.regtune"
    save_model(result, model_path)
    text = Path(PENGUINS).read_text()
    out = runner.invoke(app, ["predict", str(model_path), "-"], input=text)
    assert out.exit_code == 0, out.output
    predicted = _read(io.StringIO(out.stdout))
    classes = list(result.model[-1].classes_)
    assert list(predicted.columns) == ["prediction", *(f"proba_{c}" for c in classes)]
    X = load_dataset(PENGUINS, target="species", drop=("year",)).X
    assert predicted["prediction"].tolist() == result.model.predict(X).tolist()
    np.testing.assert_allclose(predicted.iloc[:, 1:].to_numpy(), result.model.predict_proba(X), rtol=1e-12, atol=1e-14)
    assert out.stderr == "note: ignored 2 column(s) the model does not use: species, year\n"


@pytest.mark.parametrize("model", ["linear", "sgd", "mlp"])
@pytest.mark.parametrize("task", ["regression", "binary", "multiclass"])
def test_every_pipeline_type_is_allowed_and_loads(task: str, model: str) -> None:
    """The pipelines `refit` builds (what --save-model saves), for each model, task and penalty."""
    import skops.io

    from regtune.models import Penalty, get_family
    from regtune.refit import refit

    settings = {
        "regression": {"target": "body_mass_g"},
        "binary": {"target": "sex", "categorical": ("year",)},
        "multiclass": {"target": "species"},
    }[task]
    dataset = load_dataset(PENGUINS, **settings)
    family = get_family(dataset.task, model, hidden=(4,), seed=0)
    penalties = (("l2", 0.0),) if model == "mlp" else (("l1", 1.0), ("l2", 0.0), ("elasticnet", 0.5))
    for penalty, ratio in penalties:
        pipeline = refit(dataset, family, Penalty.of(penalty, 1e-2, ratio), 1e-4).pipeline
        data = skops.io.dumps(pipeline)
        found = types_in(data)
        assert found <= allowed_types(), found - allowed_types()
        loaded = skops.io.loads(data, trusted=sorted(allowed_types()))
        assert type(loaded[-1]) is type(pipeline[-1])
        assert np.array_equal(loaded.predict(dataset.X), pipeline.predict(dataset.X))


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("model") / "m.regtune"
    save_model(regtune.tune("builtin:diabetes", **SMALL), path)
    return path


def _rewrite(source: Path, target: Path, **members: bytes) -> str:
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for name in old.namelist():
            new.writestr(name, members.get(name.replace(".", "_").replace("-", "_"), old.read(name)))
    return str(target)


def test_bad_model_files_are_refused_with_one_line(model_file: Path, tmp_path: Path) -> None:
    import skops.io
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    meta = json.loads(zipfile.ZipFile(model_file).read(META))
    old_version = _rewrite(model_file, tmp_path / "old.regtune", regtune_model_json=json.dumps(
        {**meta, "regtune_version": "0.0.1"}).encode())  # fmt: skip
    forged = skops.io.dumps(Pipeline([("f", FunctionTransformer(np.log1p))]))
    untrusted = _rewrite(model_file, tmp_path / "forged.regtune", pipeline_skops=forged)
    csv = tmp_path / "data.csv"
    csv.write_text("a,b\n1,2\n")
    empty_zip = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty_zip, "w") as archive:
        archive.writestr("x.txt", "x")
    hint = "save one with `regtune tune DATA --save-model PATH`"
    cases = {
        str(tmp_path / "none.regtune"): f"model file not found: {tmp_path / 'none.regtune'} (check the path)",
        str(csv): f"{csv} is not a regtune model file: {hint}",
        str(empty_zip): f"{empty_zip} is not a regtune model file: {hint}",
        old_version: f"{old_version} was saved by regtune 0.0.1, this is regtune {regtune.__version__}: "
        "save the model again with this version",
        # skops names the ufunc by the module numpy defines it in: numpy.log1p, or on numpy < 2.2
        # numpy._core._multiarray_umath.log1p.
        untrusted: f"{re.escape(untrusted)} holds types regtune does not load "
        "\\(numpy\\.(_core\\._multiarray_umath\\.)?log1p, "
        "sklearn\\.preprocessing\\._function_transformer\\.FunctionTransformer\\): "
        "it was not written by regtune, so it is refused",
    }
    for path, message in cases.items():
        before = hashlib.sha256(Path(path).read_bytes()).hexdigest() if Path(path).exists() else None
        result = runner.invoke(app, ["predict", path, str(csv)])
        assert result.exit_code == 1, (path, result.output)
        if path == untrusted:
            assert re.fullmatch(f"Error: {message}\n", result.stderr), result.stderr
        else:
            assert result.stderr == f"Error: {message}\n"
        if before is not None:
            assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == before


def test_predict_checks_the_columns(model_file: Path, tmp_path: Path) -> None:
    frame = load_dataset("builtin:diabetes").X
    short = tmp_path / "short.csv"
    frame.drop(columns=["bmi", "s3"]).to_csv(short, index=False)
    result = runner.invoke(app, ["predict", str(model_file), str(short)])
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: the data lacks the model's column(s) 'bmi', 's3': add them (the model was trained on "
        "age, sex, bmi, bp, s1, s2, s3, s4, s5, s6)\n"
    )
    full = tmp_path / "full.csv"
    frame.to_csv(full, index=False)
    result = runner.invoke(app, ["predict", str(model_file), str(full), "--id", "nope"])
    assert result.exit_code == 1
    assert result.stderr == "Error: --id column 'nope' not found in the data: give one of its columns\n"
    text = frame.astype(object)
    text.loc[2, "bmi"] = "heavy"
    bad = tmp_path / "text.csv"
    text.to_csv(bad, index=False)
    result = runner.invoke(app, ["predict", str(model_file), str(bad)])
    assert result.exit_code == 1
    assert result.stderr == "Error: column 'bmi' should hold numbers but holds 'heavy': fix that column\n"
    result = runner.invoke(app, ["predict", str(model_file), str(tmp_path / "no.csv")])
    assert result.exit_code == 1
    assert (
        result.stderr
        == f"Error: file not found: {tmp_path / 'no.csv'} (check the path, or use - to read standard input)\n"
    )
    result = runner.invoke(app, ["predict", str(model_file), str(full)])
    assert result.exit_code == 0 and result.stderr == ""
    assert len(_read(io.StringIO(result.stdout))) == len(frame)


def test_save_model_to_stdout_is_refused() -> None:
    result = runner.invoke(app, ["tune", "builtin:diabetes", "--save-model", "-"])
    assert result.exit_code == 1
    assert result.stderr == "Error: --save-model needs a file path, not -: e.g. --save-model model.regtune\n"


def test_installed_predict_command_in_a_subprocess(model_file: Path) -> None:
    import shutil
    import subprocess
    import sys

    exe = shutil.which("regtune", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("regtune is not installed in this environment (run `make test`)")
    frame = load_dataset("builtin:diabetes").X
    proc = subprocess.run(
        [exe, "predict", str(model_file), "-"], input=frame.to_csv(index=False), capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    predicted = _read(io.StringIO(proc.stdout))
    expected = load_model(model_file).pipeline.predict(frame)
    np.testing.assert_allclose(predicted["prediction"].to_numpy(), expected, rtol=1e-12, atol=1e-14)


def test_numeric_category_codes_match_training_when_gaps_differ(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    train = pd.DataFrame({"x": rng.normal(size=90), "zone": np.tile([1, 2, 3], 30)})
    train["y"] = train["x"] + 3.0 * train["zone"] + rng.normal(scale=0.1, size=90)
    train["zone"] = train["zone"].astype(float)
    train.loc[0, "zone"] = np.nan  # read back as float64: the codes become "1.0", "2.0", "3.0"
    train_csv = tmp_path / "train.csv"
    train.to_csv(train_csv, index=False)
    result = regtune.tune(str(train_csv), target="y", categorical=("zone",), penalties=("l2",), **SMALL)
    model_path = tmp_path / "m.regtune"
    save_model(result, model_path)
    new = train.iloc[1:].drop(columns="y").astype({"zone": "int64"})  # no gaps: read back as int64
    new_csv = tmp_path / "new.csv"
    new.to_csv(new_csv, index=False)
    assert pd.read_csv(new_csv)["zone"].dtype == np.int64
    out = runner.invoke(app, ["predict", str(model_path), str(new_csv)])
    assert out.exit_code == 0, out.output
    expected = result.model.predict(load_dataset(str(train_csv), target="y", categorical=("zone",)).X.iloc[1:])
    np.testing.assert_allclose(
        _read(io.StringIO(out.stdout))["prediction"].to_numpy(), expected, rtol=1e-12, atol=1e-14
    )
