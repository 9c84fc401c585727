"""Early stopping of an MLP classifier: on the validation accuracy (scikit-learn) or log-loss (regtune).

For wine and breast_cancer (standardized, 80 % of the rows to train, 20 % held out, seed 0) and three
λ, fits scikit-learn's MLPClassifier and regtune's LogLossStoppingMLPClassifier with the same settings
(hidden 32, adam, alpha = λ·B, early stopping on 10 % of the training rows) and prints the epochs and
the held-out log-loss.

    .venv/bin/python benchmarks/mlp_early_stopping.py
"""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.metrics import log_loss
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

from regtune.models import Penalty
from regtune.models._mlp_classifier import LogLossStoppingMLPClassifier
from regtune.models.mlp import MLP


def main() -> None:
    for loader in (load_wine, load_breast_cancer):
        X, y = loader(return_X_y=True)
        X = StandardScaler().fit_transform(X)
        order = np.random.default_rng(0).permutation(len(y))
        cut = int(0.8 * len(y))
        train, test = order[:cut], order[cut:]
        for lam in (1e-5, 1e-3, 1e-1):
            params = MLP("classification", hidden=(32,)).estimator(Penalty.of("l2", lam, 0.0), cut, 1e-4).get_params()
            for cls in (MLPClassifier, LogLossStoppingMLPClassifier):
                model = cls(**params).fit(X[train], y[train])
                loss = log_loss(y[test], model.predict_proba(X[test]))
                print(f"{loader.__name__[5:]:<14} λ={lam:<6g} {cls.__name__:<29} {model.n_iter_:>4} epochs  {loss:.3f}")


if __name__ == "__main__":
    main()
