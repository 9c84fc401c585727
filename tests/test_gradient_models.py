"""The gradient-trained families (``--model sgd`` and ``--model mlp``): λ mapping, penalties, seeds.

SGD's ``alpha`` is λ with ElasticNet's penalty; the MLP's ``alpha`` is λ·B (B the minibatch size). Both
are checked against an exactly solved model at the same λ, with the optimiser run long enough to
reach it (scikit-learn's own stopping rule stops SGD far earlier, by design).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import ElasticNet, LogisticRegression, Ridge

import regtune
from regtune.cli._common import flag_namer
from regtune.config import TuneConfig
from regtune.errors import ConfigError
from regtune.models import Penalty, get_family
from regtune.models.mlp import MLP
from regtune.models.sgd import SGDLinear


def _data(n: int = 200, p: int = 6, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    y = 2 * X[:, 0] - X[:, 1] + 0.5 * X[:, 2] + rng.normal(size=n) + 3.0
    labels = (X[:, 0] - X[:, 1] + rng.logistic(size=n) > 0).astype(int)
    return X, y, labels


@pytest.mark.parametrize("penalty,r", [("l1", 1.0), ("elasticnet", 0.5), ("l2", 0.0)])
@pytest.mark.parametrize("lam", [0.05, 0.5])
def test_sgd_regressor_alpha_is_lambda(penalty: str, r: float, lam: float) -> None:
    X, y, _ = _data()
    est = SGDLinear("regression").estimator(Penalty.of(penalty, lam, r), len(y), 1e-4)
    assert est.alpha == lam
    est.set_params(tol=None, max_iter=400, eta0=0.005).fit(X, y)  # run long, small steps: near the optimum
    ref = ElasticNet(alpha=lam, l1_ratio=r, tol=1e-12, max_iter=100_000).fit(X, y)
    np.testing.assert_allclose(est.coef_, ref.coef_, atol=5e-3)
    # a wrong mapping would be far off: n·λ (Ridge's alpha) shrinks everything to ~0
    assert np.max(np.abs(ref.coef_)) > 1.0


@pytest.mark.parametrize("penalty,r", [("l1", 1.0), ("elasticnet", 0.5), ("l2", 0.0)])
@pytest.mark.parametrize("lam", [0.01, 0.1])
def test_sgd_classifier_alpha_is_lambda(penalty: str, r: float, lam: float) -> None:
    X, _, labels = _data()
    n = len(labels)
    est = SGDLinear("classification").estimator(Penalty.of(penalty, lam, r), n, 1e-4)
    est.set_params(tol=None, max_iter=1000).fit(X, labels)
    ref = LogisticRegression(C=1 / (n * lam), l1_ratio=r, solver="saga", tol=1e-12, max_iter=1_000_000)
    ref.fit(X, labels)
    np.testing.assert_allclose(est.coef_, ref.coef_, atol=2e-3)
    np.testing.assert_allclose(est.intercept_, ref.intercept_, atol=2e-3)


@pytest.mark.parametrize("lam", [0.05, 0.5])
def test_mlp_without_hidden_layer_is_ridge_on_the_standardized_target(lam: float) -> None:
    """No hidden layer, full batch (n ≤ 200, no early stopping): the network is ridge with alpha = n·λ."""
    X, y, _ = _data()
    family = MLP("regression", hidden=(0,), early_stopping=False)  # --hidden 0
    est = family.estimator(Penalty.of("l2", lam, 0.0), len(y), 1e-4)
    assert est.regressor.batch_size == len(y) and est.regressor.alpha == pytest.approx(lam * len(y))
    assert est.regressor.hidden_layer_sizes == ()
    est.set_params(
        regressor__max_iter=3000,
        regressor__tol=1e-12,
        regressor__learning_rate_init=0.01,
    ).fit(X, y)
    ref = Ridge(alpha=len(y) * lam).fit(X, (y - y.mean()) / y.std())
    np.testing.assert_allclose(est.regressor_.coefs_[0].ravel(), ref.coef_, atol=2e-3)


def test_mlp_classifier_without_hidden_layer_is_logistic_regression() -> None:
    X, _, labels = _data()
    n, lam = len(labels), 0.05
    est = MLP("classification", early_stopping=False).estimator(Penalty.of("l2", lam, 0.0), n, 1e-4)
    est.set_params(hidden_layer_sizes=(), max_iter=3000, tol=1e-12, learning_rate_init=0.01).fit(X, labels)
    ref = LogisticRegression(C=1 / (n * lam), tol=1e-12).fit(X, labels)
    np.testing.assert_allclose(est.coefs_[0].ravel(), ref.coef_[0], atol=2e-3)


def test_mlp_reported_loss_is_the_lambda_objective_computed_by_hand() -> None:
    """With a hidden layer and a full batch, scikit-learn's ``loss_`` at convergence equals
    ``mean ½(y_s − f)² + λ/2·Σ‖W‖²``: so alpha = λ·B (B = n here)."""
    X, y, _ = _data(n=120)
    lam = 0.02
    family = MLP("regression", hidden=(8,), early_stopping=False)
    est = family.estimator(Penalty.of("l2", lam, 0.0), len(y), 1e-4)
    est.set_params(regressor__max_iter=4000, regressor__tol=1e-12, regressor__learning_rate_init=0.01).fit(X, y)
    net = est.regressor_
    ys = (y - y.mean()) / y.std()
    f = net.predict(X)
    penalty = 0.5 * lam * sum(float(np.sum(w * w)) for w in net.coefs_)
    objective = float(np.mean(0.5 * (ys - f) ** 2)) + penalty
    assert penalty > 0.2 * objective  # the penalty matters: a wrong scale would show
    assert net.loss_ == pytest.approx(objective, rel=1e-3)


def test_mlp_batch_size_and_native_alpha() -> None:
    assert MLP("regression").batch_size(100) == 90  # 10 rows kept for early stopping
    assert MLP("regression").batch_size(1000) == 200
    assert MLP("regression", early_stopping=False).batch_size(150) == 150
    assert MLP("classification").native(Penalty.of("l2", 0.01, 0.0), 1000) == {
        "alpha": pytest.approx(2.0),
        "batch_size": 200,
    }
    assert SGDLinear("regression").native(Penalty.of("elasticnet", 0.3, 0.4), 100) == {"alpha": 0.3, "l1_ratio": 0.4}
    with pytest.raises(ValueError, match="L2 only"):
        MLP("regression").estimator(Penalty.of("l1", 0.1, 1.0), 100, 1e-4)


def test_model_settings_are_validated() -> None:
    assert TuneConfig(model="mlp").penalties == ("l2",)
    assert TuneConfig(model="sgd").penalties == ("l1", "l2", "elasticnet")
    assert TuneConfig.of(model="mlp", hidden=[0]).model_settings["hidden"] == (0,)
    with pytest.raises(ConfigError) as info:
        TuneConfig(model="mlp", penalties=("l1", "l2"))
    # The library names the settings; the command line names their flags.
    assert str(info.value) == (
        "model mlp supports penalties l2 only (scikit-learn's MLP alpha is an L2 penalty), not l1:"
        " use penalties l2, or model sgd for L1 / elastic net"
    )
    assert info.value.render(flag_namer()) == (
        "--model mlp supports --penalty l2 only (scikit-learn's MLP alpha is an L2 penalty), not l1:"
        " use --penalty l2, or --model sgd for L1 / elastic net"
    )
    with pytest.raises(ConfigError, match="hidden sets the layers of model mlp"):
        TuneConfig.of(model="sgd", hidden=(8,))
    with pytest.raises(ConfigError, match="unknown model 'tree'"):
        TuneConfig(model="tree")


@pytest.mark.parametrize("model", ["sgd", "mlp"])
def test_a_seed_gives_one_fit_and_another_seed_another(model: str) -> None:
    X, y, _ = _data(n=120)
    fits = [
        get_family("regression", model, hidden=(4,), seed=seed).fit(X, y, Penalty.of("l2", 0.01, 0.0), 1e-4)
        for seed in (0, 0, 1)
    ]
    np.testing.assert_array_equal(fits[0].coef, fits[1].coef)
    assert not np.array_equal(fits[0].coef, fits[2].coef)


def test_sgd_warm_start_leaves_the_stored_solution_alone() -> None:
    """Warm starts are off by default (they change SGD's answer, not its time); on request they work."""
    assert not SGDLinear("regression").warm_starts and not MLP("regression").warm_starts
    X, y, _ = _data()
    family = SGDLinear("regression", warm_start=True)
    assert family.warm_starts
    first = family.fit(X, y, Penalty.of("l1", 0.1, 1.0), 1e-4)
    kept = first.coef.copy(), first.intercept.copy()
    second = family.fit(X, y, Penalty.of("l1", 0.05, 1.0), 1e-4, warm=(first.coef, first.intercept))
    np.testing.assert_array_equal(first.coef, kept[0])
    np.testing.assert_array_equal(first.intercept, kept[1])
    assert second.converged and not np.array_equal(second.coef, first.coef)


def _key(result: regtune.TuneResult) -> list[tuple[object, ...]]:
    return [(p.trial, p.penalty, p.lam, p.l1_ratio, p.fold_scores, p.state) for p in result.curve]


@pytest.mark.parametrize(
    "source,settings",
    [
        ("builtin:diabetes", {"model": "sgd", "n_trials": 10}),
        # ~10-25 s: networks train for hundreds of epochs (the seed test above covers one MLP fit quickly)
        pytest.param("small", {"model": "mlp", "hidden": (3,), "n_trials": 3, "folds": 3}, marks=pytest.mark.slow),
    ],
)
def test_same_command_same_answer_and_fold_workers_agree(
    source: str, settings: dict[str, object], tmp_path: Path
) -> None:
    """Seeds and -j 2 fold workers: the same study, trial by trial, fold score by fold score."""
    if source == "small":  # networks train for hundreds of epochs: a small table keeps this fast
        import pandas as pd

        X, y, _ = _data(n=60, p=4)
        source = str(tmp_path / "small.csv")
        pd.DataFrame({**{f"x{j}": X[:, j] for j in range(4)}, "y": y}).to_csv(source, index=False)
        settings = {**settings, "target": "y"}
    a = regtune.tune(source, seed=3, **settings)
    b = regtune.tune(source, seed=3, **settings)
    c = regtune.tune(source, seed=3, n_jobs=2, **settings)
    assert _key(a) == _key(b) == _key(c)
    assert a.chosen.point.lam == c.chosen.point.lam
    assert a.to_dict()["model"]["type"] == settings["model"]


def test_sgd_cv_scores_are_those_of_a_fit_from_zero() -> None:
    """No warm starts for SGD: a trial's fold scores are what the same λ gets fitted from zero (as the
    final model is), whatever was fitted before it."""
    from regtune.cv import Evaluator, resolve_scorer
    from regtune.data import load_dataset
    from regtune.folds import assign_folds, build_folds

    result = regtune.tune("builtin:diabetes", model="sgd", n_trials=8, seed=0)
    ds = load_dataset("builtin:diabetes")
    folds = build_folds(ds, assign_folds(ds, TuneConfig()), center=True)
    _, scorer = resolve_scorer(None, ds.task)
    ev = Evaluator(folds, SGDLinear(ds.task), scorer, 1e-4)
    p = result.chosen.point
    assert ev.evaluate(Penalty.of(p.penalty, p.lam, p.l1_ratio)).fold_scores == p.fold_scores


def test_mlp_classifier_stops_early_on_the_validation_log_loss() -> None:
    """scikit-learn's MLPClassifier stops on the validation accuracy, long before its probabilities
    are fitted; regtune's watches the log-loss (negated), and reaches a far better held-out log-loss."""
    from sklearn.datasets import load_wine
    from sklearn.metrics import log_loss
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler

    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    order = np.random.default_rng(0).permutation(len(y))
    train, test = order[:140], order[140:]
    family, penalty = MLP("classification", hidden=(8,)), Penalty.of("l2", 1e-3, 0.0)
    outcome = family.fit(X[train], y[train], penalty, 1e-4)
    ours = family.estimator_of(outcome, penalty, len(train), 1e-4)
    assert max(ours.validation_scores_) <= 0  # a negative log-loss, not an accuracy in [0, 1]
    stock = MLPClassifier(**ours.get_params()).fit(X[train], y[train])
    assert stock.n_iter_ < ours.n_iter_
    assert log_loss(y[test], ours.predict_proba(X[test])) < 0.5 * log_loss(y[test], stock.predict_proba(X[test]))
