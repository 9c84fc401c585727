"""The "L1-or-L2 script": scikit-learn's path estimators on the same folds, keeping the better.

Regression: LassoCV, RidgeCV(cv=folds) and ElasticNetCV; classification: LogisticRegressionCV with
l1_ratios=(1.0,) (saga) and (0.0,) (lbfgs). Preprocessing is fitted once on all rows, as such a script
does. Prints the choice as JSON: penalty, lambda (regtune's convention), l1_ratio.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
from _common import args, folds, load, preprocessor
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import ElasticNetCV, LassoCV, LogisticRegressionCV, RidgeCV

warnings.simplefilter("ignore", ConvergenceWarning)
path, target, task, _ = args()
frame, y = load(path, target, task)
X = preprocessor(frame).fit_transform(frame)
cv = folds(y, task)
n_train = float(np.mean([len(tr) for tr, _ in cv]))

if task == "regression":
    lasso = LassoCV(alphas=100, cv=cv).fit(X, y)
    enet = ElasticNetCV(l1_ratio=[0.1, 0.5, 0.9], alphas=100, cv=cv).fit(X, y)
    ridge = RidgeCV(alphas=np.logspace(-3, 5, 100), cv=cv, scoring="neg_mean_squared_error").fit(X, y)
    candidates = [
        (float(lasso.mse_path_.mean(axis=1).min()), "l1", float(lasso.alpha_), 1.0),
        (float(enet.mse_path_.mean(axis=-1).min()), "elasticnet", float(enet.alpha_), float(enet.l1_ratio_)),
        (-float(ridge.best_score_), "l2", float(ridge.alpha_) / n_train, 0.0),
    ]
    _, penalty, lam, ratio = min(candidates)
else:
    common = dict(Cs=20, cv=cv, scoring="neg_log_loss", use_legacy_attributes=False)
    l1 = LogisticRegressionCV(l1_ratios=(1.0,), solver="saga", **common).fit(X, y)
    l2 = LogisticRegressionCV(l1_ratios=(0.0,), **common).fit(X, y)

    def best(model: LogisticRegressionCV) -> tuple[float, float]:
        scores = np.asarray(model.scores_)
        mean = scores.reshape(-1, scores.shape[-1]).mean(axis=0) if scores.ndim > 1 else scores
        return float(np.max(mean)), float(model.C_ if np.ndim(model.C_) == 0 else np.ravel(model.C_)[0])

    (s1, c1), (s2, c2) = best(l1), best(l2)
    penalty, C, ratio = ("l1", c1, 1.0) if s1 >= s2 else ("l2", c2, 0.0)
    lam = 1.0 / (C * n_train)
print(json.dumps({"penalty": penalty, "lambda": lam, "l1_ratio": ratio}))
