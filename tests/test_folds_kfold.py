"""regtune's own K-fold splits are scikit-learn's KFold and StratifiedKFold (shuffle=True), row for row."""

import numpy as np
import pytest
from sklearn.model_selection import KFold, StratifiedKFold

from regtune.folds import kfold, stratified_kfold


@pytest.mark.parametrize(("n", "k", "seed"), [(10, 2, 0), (11, 3, 7), (442, 5, 0), (1001, 10, 123), (5, 5, 2)])
def test_kfold_is_scikit_learns(n: int, k: int, seed: int) -> None:
    ours = kfold(n, k, seed)
    theirs = list(KFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(n)))
    assert len(ours) == len(theirs) == k
    for (tr, te), (tr2, te2) in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(tr, tr2)
        np.testing.assert_array_equal(te, te2)


@pytest.mark.parametrize(
    ("labels", "k", "seed"),
    [
        (np.array(["b", "a"] * 10), 2, 0),
        (np.repeat(["x", "y", "z"], [50, 30, 7]), 5, 3),
        (np.random.default_rng(1).choice([3, 1, 2, 9], 503, p=[0.5, 0.3, 0.15, 0.05]), 5, 0),
        (np.random.default_rng(2).integers(0, 10, 1797), 10, 42),
    ],
)
def test_stratified_kfold_is_scikit_learns(labels: np.ndarray, k: int, seed: int) -> None:
    ours = stratified_kfold(labels, k, seed)
    theirs = list(StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(len(labels)), labels))
    assert len(ours) == len(theirs) == k
    for (tr, te), (tr2, te2) in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(tr, tr2)
        np.testing.assert_array_equal(te, te2)
