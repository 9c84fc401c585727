"""What a run imports: a log-link GLM run needs no scikit-learn (≈2 s of start-up), and the refit pipeline
it did not build is built, equal to the fitted model, when asked for."""

import json
import subprocess
import sys

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
