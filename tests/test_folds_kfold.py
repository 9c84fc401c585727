"""regtune's own K-fold split is scikit-learn's KFold(shuffle=True), row for row."""

import numpy as np
import pytest
from sklearn.model_selection import KFold

from regtune.folds import kfold


@pytest.mark.parametrize(("n", "k", "seed"), [(10, 2, 0), (11, 3, 7), (442, 5, 0), (1001, 10, 123), (5, 5, 2)])
def test_kfold_is_scikit_learns(n: int, k: int, seed: int) -> None:
    ours = kfold(n, k, seed)
    theirs = list(KFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(n)))
    assert len(ours) == len(theirs) == k
    for (tr, te), (tr2, te2) in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(tr, tr2)
        np.testing.assert_array_equal(te, te2)
