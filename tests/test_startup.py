"""What a run imports: a linear model's or a network's run needs no scikit-learn (≈2 s of start-up),
and the refit pipeline it did not build is built, equal to the fitted model, when asked for."""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from regtune.models._logistic_solver import _gram_violation, _on_support

SCRIPT = r"""
import json, sys
import numpy as np, pandas as pd
rng = np.random.default_rng(3)
n = 300
frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "zone": rng.choice(["n", "s", "e"], n)})
frame.loc[::17, "a"] = np.nan
frame["visits"] = rng.poisson(np.exp(0.4 + 0.5 * frame["a"].fillna(0) - 0.3 * (frame["zone"] == "s")))
import regtune
result = regtune.tune(frame, target="visits", family="poisson", n_trials=12, folds=3, seed=1)
before = sorted(m for m in sys.modules if m.split(".")[0] == "sklearn")
pipeline = result.model
X = frame.drop(columns="visits")
print(json.dumps({
    "sklearn_before": before,
    "sklearn_after": "sklearn" in sys.modules,
    "coefficients": len(result.coefficients),
    "predict": pipeline.predict(X.iloc[:5]).tolist(),
    "by_hand": np.exp(
        np.column_stack([X["a"].fillna(X["a"].median()), X["b"], *(X["zone"] == z for z in "ens")])[:5]
        @ np.array([c for _, c in result.original.coefficients])
        + result.original.intercepts[0][2]
    ).tolist(),
}))
"""


def test_a_poisson_run_imports_no_scikit_learn_until_its_model_is_asked_for() -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True).stdout
    doc = json.loads(out.strip().splitlines()[-1])
    assert doc["sklearn_before"] == []
    assert doc["sklearn_after"] is True
    assert doc["coefficients"] == 5  # a, b and one column per zone
    np.testing.assert_allclose(doc["predict"], doc["by_hand"], rtol=1e-10)


@pytest.mark.parametrize(("p", "r", "seed"), [(8, 1.0, 0), (19, 1.0, 1), (30, 0.5, 2), (12, 0.1, 3)])
def test_feature_sign_search_from_zero_solves_the_gram_problem_exactly(p: int, r: float, seed: int) -> None:
    """From zero (a cold start), the active-set search reaches the exact optimum, which scikit-learn's
    coordinate descent reaches to its tolerance."""
    from sklearn.linear_model import ElasticNet

    rng = np.random.default_rng(seed)
    n = 5 * p
    X = rng.normal(size=(n, p)) @ rng.normal(size=(p, p)) * 0.3 + rng.normal(size=(n, p))
    y = X[:, : p // 3] @ rng.normal(size=p // 3) + rng.normal(size=n)
    X, y = X - X.mean(axis=0), y - y.mean()
    Q, q = X.T @ X / n, X.T @ y / n
    lam = 0.05 * float(np.max(np.abs(q))) / r
    ours = _on_support(Q, q, lam, r, np.zeros(p))
    assert ours is not None
    assert _gram_violation(Q, q, lam, r, ours) <= 1e-10
    theirs = ElasticNet(alpha=lam, l1_ratio=r, fit_intercept=False, tol=1e-14, max_iter=100_000).fit(X, y).coef_
    np.testing.assert_allclose(ours, theirs, atol=1e-7)


PREDICT = r"""
import sys
from typer.testing import CliRunner
from regtune.cli import app
result = CliRunner().invoke(app, ["predict", sys.argv[1], sys.argv[2]])
assert result.exit_code == 0, result.output
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"sklearn", "skops", "scipy"})
print(",".join(heavy) or "none")
print(result.stdout.splitlines()[1])
"""


def _same_as_pipeline(pipeline: Any, X: Any, predicted: Any, proba: Any, regression: bool) -> None:
    """A model file's plain-number predictions against its pipeline's."""
    if regression:
        np.testing.assert_allclose(predicted, pipeline.predict(X), rtol=1e-12)
        assert proba is None
    else:
        assert predicted.tolist() == pipeline.predict(X).tolist()
        np.testing.assert_allclose(proba, pipeline.predict_proba(X), rtol=1e-12, atol=1e-15)


def _predict_command(model: Path, data: Path, predicted: Any, regression: bool) -> str:
    """``regtune predict`` in a fresh process: its first row equals ``predicted[0]``; the heavy modules
    it imported ("none", or their names)."""
    out = subprocess.run(
        [sys.executable, "-c", PREDICT, str(model), str(data)], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    first = out[1].split(",")[0]  # the first row's prediction, through the command
    if regression:
        assert float(first) == pytest.approx(float(predicted[0]), rel=1e-12)
    else:
        assert first == str(predicted[0])
    return out[0]


@pytest.mark.parametrize("family", ["gaussian", "poisson", "binomial", "multinomial"])
def test_predict_from_a_linear_model_file_imports_neither_scikit_learn_nor_skops(family: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``regtune predict`` computes a linear model's predictions from its linear.json, the same as the
    pipeline's (to rounding)."""
    import pandas as pd

    import regtune
    from regtune.data import load_dataset
    from regtune.modelfile import load_model, predict_linear, save_model

    rng = np.random.default_rng(5)
    n = 240
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "zone": rng.choice(["n", "s", "e"], n)})
    frame.loc[::13, "zone"] = np.nan
    eta = frame["a"] - 0.5 * frame["b"]
    kinds = {"gaussian": eta + rng.normal(size=n), "poisson": rng.poisson(np.exp(eta / 2))}
    kinds["binomial"] = np.where(eta + rng.logistic(size=n) > 0, "yes", "no")
    kinds["multinomial"] = np.array(["lo", "mid", "hi"])[np.digitize(eta + rng.normal(size=n), [-0.5, 0.5])]
    frame["y"] = kinds[family]
    data = tmp_path / "d.csv"
    frame.to_csv(data, index=False)
    extra = {"family": "poisson"} if family == "poisson" else {}
    result = regtune.tune(str(data), target="y", n_trials=6, folds=3, **extra)
    model = tmp_path / "m.regtune"
    save_model(result, model)
    saved = load_model(model)
    assert saved.linear is not None
    X = load_dataset(str(data), target="y").X
    predicted, proba = predict_linear(saved.linear, X)
    regression = family in ("gaussian", "poisson")
    _same_as_pipeline(saved.pipeline, X, predicted, proba, regression)
    assert _predict_command(model, data, predicted, regression) == "none"


RUN = r"""
import sys
import numpy as np, pandas as pd
import regtune
rng = np.random.default_rng(11)
n = 400
frame = pd.DataFrame(rng.normal(size=(n, 6)), columns=list("abcdef"))
frame["zone"] = rng.choice(["n", "s", "e"], n)
eta = frame["a"] - 0.7 * frame["b"] + 0.3 * (frame["zone"] == "s")
kind = sys.argv[1]
if kind == "gaussian":
    frame["y"] = eta + rng.normal(size=n)
elif kind == "binomial":
    frame["y"] = np.where(eta + rng.logistic(size=n) > 0, "yes", "no")
else:
    frame["y"] = np.array(["lo", "mid", "hi"])[np.digitize(eta + rng.normal(size=n), [-0.6, 0.6])]
result = regtune.tune(frame, target="y", n_trials=20, seed=2)
print(sorted(m for m in sys.modules if m.split(".")[0] == "sklearn"), result.chosen.point.penalty)
"""


@pytest.mark.parametrize("kind", ["gaussian", "binomial", "multinomial"])
def test_least_squares_and_logistic_runs_import_no_scikit_learn(kind: str) -> None:
    """Least squares (n > p) and logistic regression (a small model) fit every penalty with regtune's own
    solvers, split the folds in NumPy and score with regtune's scorers."""
    out = subprocess.run([sys.executable, "-c", RUN, kind], capture_output=True, text=True, check=True).stdout
    assert out.startswith("[] "), out


def test_a_lasso_with_exactly_collinear_columns_is_solved_without_coordinate_descent() -> None:
    """Every level of a categorical, standardized, sums to a constant: the Gram matrix is singular and the
    Lasso at a small λ is not unique; the plain search ends on a singular support. A vanishing ridge picks one
    of its solutions (optimal to rounding), so a table with categoricals needs no scikit-learn."""
    import pandas as pd

    from regtune.models._logistic_solver import _feature_sign
    from regtune.preprocess import Encoder

    rng = np.random.default_rng(0)
    n = 800
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    for column, k in (("u", 5), ("v", 7)):
        frame[column] = rng.choice([f"{column}{i}" for i in range(k)], n).astype(object)
    X = Encoder(["a", "b"], ["u", "v"]).fit_transform(frame)
    y = X @ rng.normal(size=X.shape[1]) + rng.normal(size=n)
    Q, q = X.T @ X / n, X.T @ (y - y.mean()) / n
    assert np.linalg.eigvalsh(Q)[0] < 1e-12  # singular
    lam = 1e-3 * float(np.max(np.abs(q)))
    start = np.zeros(X.shape[1])
    assert _feature_sign(Q, q, lam, 1.0, start) is None  # the case: the plain search does not settle
    found = _on_support(Q, q, lam, 1.0, start)
    assert found is not None
    assert _gram_violation(Q, q, lam, 1.0, found) <= 1e-10


NETWORK = r"""
import json, sys
import numpy as np, pandas as pd
rng = np.random.default_rng(4)
n = 240
frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "zone": rng.choice(["n", "s"], n)})
frame["y"] = np.sin(2 * frame["a"]) + frame["b"] * (frame["zone"] == "s") + 0.2 * rng.normal(size=n)
if sys.argv[1] == "classification":
    frame["y"] = np.where(frame["y"] > 0, "up", "down")
import regtune
result = regtune.tune(frame, target="y", model="mlp", hidden=(6,), n_trials=4, folds=3, seed=0)
before = sorted(m for m in sys.modules if m.split(".")[0] == "sklearn")
pipeline = result.model
print(json.dumps({"before": before, "step": type(pipeline[-1]).__name__,
                  "predict": pipeline.predict(frame.drop(columns="y").iloc[:4]).tolist()}))
"""


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_a_network_run_imports_no_scikit_learn_until_its_model_is_asked_for(task: str) -> None:
    """``--model mlp`` trains its networks in NumPy (``models/_adam.py``); scikit-learn's estimator is built
    for the refit pipeline only when it is asked for."""
    out = subprocess.run([sys.executable, "-c", NETWORK, task], capture_output=True, text=True, check=True).stdout
    doc = json.loads(out)
    assert doc["before"] == []
    assert doc["step"] == ("TransformedTargetRegressor" if task == "regression" else "LogLossStoppingMLPClassifier")
    assert len(doc["predict"]) == 4


@pytest.mark.parametrize("task", ["regression", "binary", "multiclass"])
def test_predict_from_a_network_model_file_imports_neither_scikit_learn_nor_skops(task: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``regtune predict`` of a ``--model mlp`` file runs the network from its network.json in NumPy: the
    pipeline's predictions, without scikit-learn or skops (a binary network's logistic output is SciPy's
    ``expit``, as scikit-learn's)."""
    import pandas as pd

    import regtune
    from regtune.data import load_dataset
    from regtune.modelfile import load_model, predict_network, save_model

    rng = np.random.default_rng(8)
    n = 210
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "zone": rng.choice(["n", "s", "e"], n)})
    frame.loc[::11, "a"] = np.nan
    eta = np.sin(2 * frame["a"].fillna(0)) - 0.5 * frame["b"] * (frame["zone"] == "s")
    frame["y"] = {
        "regression": 50 + 10 * (eta + 0.3 * rng.normal(size=n)),
        "binary": np.where(eta + rng.logistic(size=n) > 0, "yes", "no"),
        "multiclass": np.array(["lo", "mid", "hi"])[np.digitize(eta + 0.5 * rng.normal(size=n), [-0.4, 0.4])],
    }[task]
    data = tmp_path / "d.csv"
    frame.to_csv(data, index=False)
    result = regtune.tune(str(data), target="y", model="mlp", hidden=(5, 3), n_trials=3, folds=3)
    model = tmp_path / "m.regtune"
    save_model(result, model)
    saved = load_model(model)
    assert saved.network is not None and saved.linear is None
    X = load_dataset(str(data), target="y").X
    predicted, proba = predict_network(saved.network, X)
    _same_as_pipeline(saved.pipeline, X, predicted, proba, task == "regression")
    assert _predict_command(model, data, predicted, task == "regression") == ("scipy" if task == "binary" else "none")


PREPARE = r"""
import sys
import numpy as np
from regtune.folds import Fold
from regtune.models.logistic import Logistic
rng = np.random.default_rng(0)
classes, p = int(sys.argv[1]), int(sys.argv[2])
X, y = rng.normal(size=(60, p)), np.arange(60) % classes
Logistic("classification").prepare_fold(Fold(0, np.arange(60), np.arange(0), X, X[:0], y, y[:0]))
print("scipy.optimize" in sys.modules, "sklearn" in sys.modules)
"""


@pytest.mark.parametrize(("classes", "p", "imported"), [(10, 64, True), (2, 500, True), (3, 20, False), (2, 50, False)])
def test_fold_workers_inherit_scipy_optimize_when_their_fits_need_it(classes: int, p: int, imported: bool) -> None:
    """Before ``--n-jobs`` workers fork, a logistic model of more than MAX_NEWTON_PARAMS coefficients (its
    ridge is fitted by L-BFGS) has ``scipy.optimize`` imported once, in the parent; a small one does not;
    neither imports scikit-learn."""
    out = subprocess.run(
        [sys.executable, "-c", PREPARE, str(classes), str(p)], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == [str(imported), "False"]


WIDE = r"""
import sys
import numpy as np
from regtune.folds import Fold
from regtune.models import Penalty
from regtune.models.logistic import Logistic
rng = np.random.default_rng(5)
X = rng.normal(size=(400, 50))
y = np.argmax(X[:, :10] + rng.gumbel(size=(400, 10)), axis=1)
fold = Fold(0, np.arange(400), np.arange(0), X, X[:0], y, y[:0])
family = Logistic("classification")
for kind, r in (("l2", 0.0), ("l1", 1.0), ("elasticnet", 0.5)):
    out = family.fit_fold(fold, Penalty.of(kind, 3e-3, r), 1e-4)
    assert out.converged, kind
print(sorted({m.split(".")[0] for m in sys.modules} & {"sklearn"}) or "none")
"""


def test_a_wide_multinomial_fits_without_scikit_learn() -> None:
    """A 10-class, 50-feature model (510 coefficients): its ridge by L-BFGS, its Lasso and elastic net by
    the proximal-Newton solver, whose subproblems the active-set search does not settle at first — all
    converge, and none imports scikit-learn (≈0.6 s of a run's start-up)."""
    out = subprocess.run([sys.executable, "-c", WIDE], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "none"
