"""regtune's L1 / elastic-net logistic solver against scikit-learn's saga, at the same tolerance.

For each dataset (standardized) and λ: wall time and the objective reached
``mean log-loss + λ·(r‖W‖₁ + (1 − r)/2‖W‖²)`` (lower is better; saga often stops early).
Run: `.venv/bin/python benchmarks/logistic_solver.py`.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.preprocessing import StandardScaler

from regtune.models._logistic_solver import fit_logistic_enet


def objective(X, y, coef, intercept, lam, r, classes) -> float:  # type: ignore[no-untyped-def]
    eta = X @ coef.T + intercept
    if coef.shape[0] == 1:
        p = 1 / (1 + np.exp(-eta[:, 0]))
        proba = np.c_[1 - p, p]
    else:
        proba = np.exp(eta - eta.max(axis=1, keepdims=True))
        proba /= proba.sum(axis=1, keepdims=True)
    penalty = lam * (r * np.abs(coef).sum() + 0.5 * (1 - r) * (coef**2).sum())
    return float(log_loss(y, proba, labels=classes) + penalty)


def main() -> None:
    print("| data | λ | r | regtune s | regtune objective | saga s | saga objective |")
    print("|---|---|---|---|---|---|---|")
    for loader in (load_breast_cancer, load_wine, load_digits):
        X, y = loader(return_X_y=True)
        X = StandardScaler().fit_transform(X)
        n, classes = len(y), np.unique(y)
        for lam in (1e-2, 1e-3, 1e-4):
            for r in (1.0, 0.5):
                t = time.perf_counter()
                sol = fit_logistic_enet(X, y, classes, lam, r, tol=1e-4)
                ours = time.perf_counter() - t
                t = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    saga = LogisticRegression(C=1 / (n * lam), l1_ratio=r, solver="saga", max_iter=5000, tol=1e-4)
                    saga.fit(X, y)
                theirs = time.perf_counter() - t
                print(
                    f"| {loader.__name__[5:]} | {lam:g} | {r:g} | {ours:.3f} |"
                    f" {objective(X, y, sol.coef, sol.intercept, lam, r, classes):.6f} | {theirs:.3f} |"
                    f" {objective(X, y, saga.coef_, saga.intercept_, lam, r, classes):.6f} |"
                )


if __name__ == "__main__":
    main()
