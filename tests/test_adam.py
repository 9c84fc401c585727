"""regtune's Adam training of ``--model mlp`` (``models/_adam.py``) against scikit-learn's own.

The fold fits and the refit train the network in NumPy; the claim is that they are scikit-learn's
``MLPRegressor`` (in its ``TransformedTargetRegressor``) and ``LogLossStoppingMLPClassifier`` fitted
with the same settings, to the last bit: the same weights, epochs, validation scores and training
losses, and the same predictions from the estimator a saved model holds.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from regtune.models import Penalty, _adam, mlp
from regtune.models.mlp import MLP


def _table(n: int, p: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    signal = np.tanh(X[:, 0] * X[:, 1]) + X[:, 2] - 0.5 * X[:, 3] ** 2
    return X, signal + 0.3 * rng.normal(size=n)


def _sklearn_fit(family: MLP, X: np.ndarray, y: np.ndarray, penalty: Penalty) -> tuple[object, bool]:
    """scikit-learn's estimator fitted, and whether it warned that it did not converge."""
    est = family.estimator(penalty, X.shape[0], 1e-4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        est.fit(X, y)
    return est, not any(issubclass(w.category, ConvergenceWarning) for w in caught)


def _same_network(ours: object, theirs: object) -> None:
    for name in ("coefs_", "intercepts_"):
        for a, b in zip(getattr(ours, name), getattr(theirs, name), strict=True):
            assert a.shape == b.shape and np.array_equal(a, b)
    for name in (
        "n_iter_",
        "t_",
        "loss_",
        "loss_curve_",
        "validation_scores_",
        "best_validation_score_",
        "best_loss_",
        "n_layers_",
        "n_outputs_",
        "out_activation_",
    ):
        assert getattr(ours, name) == getattr(theirs, name), name


@pytest.mark.parametrize(
    "hidden,early_stopping,n,lam",
    [
        ((16,), True, 260, 1e-2),
        ((16,), False, 180, 1e-2),
        ((0,), True, 260, 1e-3),  # no hidden layer
        ((8, 4), True, 430, 1e-1),  # two layers; 430 rows: batches of 200, 187
        ((8, 4), False, 90, 1e-4),  # one batch, no early stopping
    ],
)
def test_regression_network_is_scikit_learns_to_the_bit(
    hidden: tuple[int, ...], early_stopping: bool, n: int, lam: float
) -> None:
    X, y = _table(n, 5, seed=n)
    y = 40 + 12 * y  # the target's scale: the network is fitted to it standardized
    family = MLP("regression", seed=3, hidden=hidden, early_stopping=early_stopping)
    penalty = Penalty.of("l2", lam, 0.0)
    outcome = family.fit(X, y, penalty, 1e-4)
    theirs, converged = _sklearn_fit(family, X, y, penalty)
    ours = family.estimator_of(outcome, penalty, n, 1e-4)
    _same_network(ours.regressor_, theirs.regressor_)  # type: ignore[attr-defined]
    assert outcome.converged == converged
    for name in ("mean_", "var_", "scale_"):
        assert np.array_equal(getattr(ours.transformer_, name), getattr(theirs.transformer_, name))  # type: ignore[attr-defined]
    X_new, _ = _table(50, 5, seed=99)
    assert np.array_equal(outcome.model.predict(X_new), theirs.predict(X_new))  # type: ignore[attr-defined]
    assert np.array_equal(ours.predict(X_new), theirs.predict(X_new))  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "labels,hidden,early_stopping,n",
    [
        (np.array([0, 1]), (16,), True, 301),  # binary: the inner split is stratified
        (np.array(["no", "yes"]), (0,), False, 150),
        (np.array(["a", "b", "c"]), (12,), True, 333),  # three classes: softmax, no stratification
        (np.array([2, 5, 7, 9]), (6, 3), True, 240),
    ],
)
def test_classification_network_is_scikit_learns_to_the_bit(
    labels: np.ndarray, hidden: tuple[int, ...], early_stopping: bool, n: int
) -> None:
    X, score = _table(n, 6, seed=n)
    cuts = np.quantile(score, np.linspace(0, 1, len(labels) + 1)[1:-1] ** 1.3)  # unequal classes
    y = labels[np.searchsorted(cuts, score)]
    family = MLP("classification", seed=1, hidden=hidden, early_stopping=early_stopping)
    penalty = Penalty.of("l2", 1e-3, 0.0)
    outcome = family.fit(X, y, penalty, 1e-4)
    theirs, converged = _sklearn_fit(family, X, y, penalty)
    ours = family.estimator_of(outcome, penalty, n, 1e-4)
    _same_network(ours, theirs)
    assert outcome.converged == converged
    assert np.array_equal(ours.classes_, theirs.classes_)  # type: ignore[attr-defined]
    X_new, _ = _table(60, 6, seed=7)
    for model in (outcome.model, ours):
        assert np.array_equal(model.predict_proba(X_new), theirs.predict_proba(X_new))  # type: ignore[attr-defined]
        assert np.array_equal(model.predict(X_new), theirs.predict(X_new))  # type: ignore[attr-defined]


def test_a_fold_fit_skips_the_training_loss_only() -> None:
    """``fit_fold`` does not compute the training loss (early stopping watches the validation score):
    the same weights and epochs as ``fit``, the loss NaN. Without early stopping the loss stops the
    training, so it is computed."""
    from types import SimpleNamespace

    X, y = _table(200, 4, seed=5)
    penalty = Penalty.of("l2", 1e-2, 0.0)
    fold = SimpleNamespace(X_train=X, y_train=y)
    for early_stopping in (True, False):
        family = MLP("regression", hidden=(8,), early_stopping=early_stopping)
        full, light = family.fit(X, y, penalty, 1e-4), family.fit_fold(fold, penalty, 1e-4)  # type: ignore[arg-type]
        assert np.array_equal(full.coef, light.coef) and np.array_equal(full.intercept, light.intercept)
        assert full.model.net.n_iter == light.model.net.n_iter
        assert np.isnan(light.model.net.loss) == early_stopping and not np.isnan(full.model.net.loss)


def test_a_fit_stopped_by_max_iter_is_not_converged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mlp, "MLP_MAX_ITER", 5)
    X, y = _table(120, 4, seed=2)
    family = MLP("regression", hidden=(4,))
    outcome = family.fit(X, y, Penalty.of("l2", 1e-3, 0.0), 1e-4)
    assert not outcome.converged and outcome.model.net.n_iter == 5


@pytest.mark.parametrize("counts", [(40, 9), (7, 7), (3, 120), (51, 50), (10, 11, 12)])
@pytest.mark.parametrize("seed", [0, 17])
def test_the_inner_validation_split_is_train_test_splits(counts: tuple[int, ...], seed: int) -> None:
    """The rows held out for early stopping: scikit-learn's ``train_test_split`` with the network's random
    state, stratified on the one-hot rows (ties in the classes' shares drawn from the same stream)."""
    codes = np.random.default_rng(seed).permutation(np.repeat(np.arange(len(counts)), counts))
    Y = _adam.one_hot(codes, len(counts))
    n = len(codes)
    for stratify in (Y, None):
        ours = _adam.split_validation(n, 0.1, np.random.RandomState(seed), stratify)
        train, test = train_test_split(
            np.arange(n), random_state=np.random.RandomState(seed), test_size=0.1, stratify=stratify
        )
        assert np.array_equal(ours[0], train) and np.array_equal(ours[1], test)


def test_the_fold_models_score_as_scikit_learns_estimators() -> None:
    """A fit's light model answers ``score`` as scikit-learn's estimator does: R² for a regression network
    (on the target's own scale), accuracy for a classifier; with and without row weights."""
    X, y = _table(150, 4, seed=11)
    X_new, y_new = _table(80, 4, seed=12)
    w = np.random.default_rng(0).random(80)
    penalty = Penalty.of("l2", 1e-2, 0.0)
    for task, target, new in (("regression", 5 + 3 * y, 5 + 3 * y_new), ("classification", y > 0, y_new > 0)):
        family = MLP(task, hidden=(6,))
        outcome = family.fit(X, target, penalty, 1e-4)
        theirs = family.estimator_of(outcome, penalty, len(target), 1e-4)
        for weights in (None, w):
            ours = outcome.model.score(X_new, new, sample_weight=weights)
            assert ours == pytest.approx(theirs.score(X_new, new, sample_weight=weights), rel=1e-12)


def test_a_split_too_small_for_every_class_says_how_to_get_one() -> None:
    """scikit-learn refuses a stratified split with a one-row class; so does this one, saying what to change."""
    codes = np.array([0] * 14 + [1])
    with pytest.raises(ValueError, match=r"too few for early stopping's stratified split .* smallest class has 1"):
        _adam.split_validation(15, 0.1, np.random.RandomState(0), _adam.one_hot(codes, 2))
    with pytest.raises(ValueError):
        train_test_split(np.arange(15), test_size=0.1, random_state=0, stratify=_adam.one_hot(codes, 2))
