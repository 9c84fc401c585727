"""The plain Optuna script: TPE over penalty × log λ (× l1_ratio), `cross_val_score` of a Pipeline
(preprocessing + estimator) per trial, the same folds and number of trials as regtune.

Estimators with their default solver settings, as a user writes them. Prints the choice as JSON.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import optuna
from _common import args, folds, load, preprocessor
from sklearn.linear_model import ElasticNet, Lasso, LogisticRegression, Ridge
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import Pipeline

warnings.simplefilter("ignore")
optuna.logging.set_verbosity(optuna.logging.WARNING)
path, target, task, n_trials = args()
frame, y = load(path, target, task)
cv = folds(y, task)
n_train = float(np.mean([len(tr) for tr, _ in cv]))
scoring = "r2" if task == "regression" else "neg_log_loss"


def estimator(penalty: str, lam: float, ratio: float):  # type: ignore[no-untyped-def]
    if task == "regression":
        if penalty == "l1":
            return Lasso(alpha=lam)
        if penalty == "l2":
            return Ridge(alpha=lam * n_train)
        return ElasticNet(alpha=lam, l1_ratio=ratio)
    if penalty == "l2":
        return LogisticRegression(C=1 / (n_train * lam))
    return LogisticRegression(C=1 / (n_train * lam), l1_ratio=ratio, solver="saga")


def objective(trial: optuna.Trial) -> float:
    penalty = trial.suggest_categorical("penalty", ["l1", "l2", "elasticnet"])
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
