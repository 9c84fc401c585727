"""The plain Optuna script: TPE over penalty × log λ (× l1_ratio), `cross_val_score` of a Pipeline
(preprocessing + estimator) per trial, the same folds and number of trials as regtune.

argv: CSV TARGET TASK N_TRIALS [MODEL [HIDDEN]] with MODEL linear (default), sgd or mlp.
linear: the estimators with their default solver settings, as a user writes them. sgd / mlp: the same
estimator regtune builds (SGDRegressor / SGDClassifier(log_loss); MLPRegressor on the standardized
target / MLPClassifier stopping on the validation log-loss, adam, early stopping), with the same
seed, max_iter, tol and batch size; no pruning, no warm starts. Prints the choice as JSON (λ in regtune's convention).
"""

from __future__ import annotations

import json
import math
import sys
import warnings

import numpy as np
import optuna
from _common import args, folds, load, preprocessor
from sklearn.compose import TransformedTargetRegressor
from sklearn.linear_model import ElasticNet, Lasso, LogisticRegression, Ridge, SGDClassifier, SGDRegressor
from sklearn.model_selection import cross_val_score
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

warnings.simplefilter("ignore")
optuna.logging.set_verbosity(optuna.logging.WARNING)
path, target, task, n_trials = args()
model = sys.argv[5] if len(sys.argv) > 5 else "linear"
hidden = tuple(int(h) for h in sys.argv[6].split(",")) if len(sys.argv) > 6 and sys.argv[6] else (100,)
frame, y = load(path, target, task)
cv = folds(y, task)
n_train = float(np.mean([len(tr) for tr, _ in cv]))
scoring = "r2" if task == "regression" else "neg_log_loss"
penalties = ["l2"] if model == "mlp" else ["l1", "l2", "elasticnet"]


def linear(penalty: str, lam: float, ratio: float):  # type: ignore[no-untyped-def]
    if task == "regression":
        if penalty == "l1":
            return Lasso(alpha=lam)
        if penalty == "l2":
            return Ridge(alpha=lam * n_train)
        return ElasticNet(alpha=lam, l1_ratio=ratio)
    if penalty == "l2":
        return LogisticRegression(C=1 / (n_train * lam))
    return LogisticRegression(C=1 / (n_train * lam), l1_ratio=ratio, solver="saga")


def sgd(penalty: str, lam: float, ratio: float):  # type: ignore[no-untyped-def]
    settings = {"penalty": penalty, "alpha": lam, "l1_ratio": ratio, "max_iter": 1000, "tol": 1e-3, "random_state": 0}
    return SGDRegressor(**settings) if task == "regression" else SGDClassifier(loss="log_loss", **settings)


class LogLossStoppingMLPClassifier(MLPClassifier):
    """As regtune's: early stopping on the validation log-loss, not the accuracy."""

    def _score(self, X, y, sample_weight=None):  # type: ignore[no-untyped-def]
        proba = np.clip(self.predict_proba(X), 1e-15, 1.0)
        picked = proba[np.arange(len(y)), np.searchsorted(self.classes_, y)]
        return float(np.average(np.log(picked), weights=sample_weight))


def mlp(penalty: str, lam: float, ratio: float):  # type: ignore[no-untyped-def]
    n_fit = int(n_train) - math.ceil(0.1 * int(n_train))  # rows left after the early-stopping split
    batch = min(200, n_fit)
    net = {
        "hidden_layer_sizes": () if hidden == (0,) else hidden,
        "solver": "adam",
        "alpha": lam * batch,
        "batch_size": batch,
        "early_stopping": True,
        "validation_fraction": 0.1,
        "max_iter": 500,
        "tol": 1e-4,
        "random_state": 0,
    }
    if task == "regression":
        return TransformedTargetRegressor(MLPRegressor(**net), transformer=StandardScaler(), check_inverse=False)
    return LogLossStoppingMLPClassifier(**net)


estimator = {"linear": linear, "sgd": sgd, "mlp": mlp}[model]


def objective(trial: optuna.Trial) -> float:
    penalty = trial.suggest_categorical("penalty", penalties)
    lam = trial.suggest_float("lambda", 1e-5, 1e2, log=True)
    fixed = {"l1": 1.0, "l2": 0.0}
    ratio = fixed[penalty] if penalty in fixed else trial.suggest_float("l1_ratio", 0.05, 0.95)
    pipe = Pipeline([("pre", preprocessor(frame)), ("model", estimator(penalty, lam, ratio))])
    return float(np.mean(cross_val_score(pipe, frame, y, cv=cv, scoring=scoring)))


study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0))
study.optimize(objective, n_trials=n_trials)
p = study.best_params
ratio = {"l1": 1.0, "l2": 0.0}.get(p["penalty"], p.get("l1_ratio", 0.5))
print(json.dumps({"penalty": p["penalty"], "lambda": p["lambda"], "l1_ratio": ratio}))
