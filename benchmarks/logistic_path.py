"""regtune's multinomial L1 / elastic-net solver over a λ path on digits, cold and warm-started.

digits (1,150 rows drawn with seed 0, its 61 non-constant columns standardized, 10 classes); for l1_ratio
1 and 0.5, twelve λ from 0.9·λ_max down to 3e-4·λ_max, each fitted from zero ("cold") and from the
previous λ's solution ("warm", as the search's warm starts do). Prints the process CPU time of each fit,
its Newton steps, non-zeros and objective; run it with one BLAS thread and compare two revisions by the
totals and the objectives (equal to ~1e-11 when both converge).
Run: `OMP_NUM_THREADS=1 .venv/bin/python benchmarks/logistic_path.py`.
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler

from regtune.models._logistic_solver import _loss, _penalty, fit_logistic_enet, null_gradient_max


def main() -> None:
    X, y = load_digits(return_X_y=True)
    rows = np.random.default_rng(0).permutation(len(y))[:1150]
    X, y = X[rows], y[rows]
    X = StandardScaler().fit_transform(X[:, X.std(axis=0) > 0])
    classes = np.unique(y)
    Y = (y[:, None] == classes).astype(np.float64)
    lam_max = null_gradient_max(X, Y)
    total = 0.0
    for r in (1.0, 0.5):
        for mode in ("cold", "warm"):
            warm: tuple[np.ndarray, np.ndarray] | None = None
            spent = 0.0
            lines = []
            for lam in lam_max / r * np.logspace(-0.05, -3.5, 12):
                start = time.process_time()
                sol = fit_logistic_enet(
                    X,
                    y,
                    classes,
                    lam,
                    r,
                    tol=1e-4,
                    coef_init=None if warm is None else warm[0],
                    intercept_init=None if warm is None else warm[1],
                )
                took = time.process_time() - start
                spent += took
                if mode == "warm":
                    warm = (sol.coef, sol.intercept)
                objective = _loss(X @ sol.coef.T + sol.intercept, Y, False) + _penalty(sol.coef, lam, r)
                lines.append(
                    f"  λ/λ_max·r = {lam * r / lam_max:.2e}  {took:.3f} s  steps {sol.n_iter}"
                    f"  non-zero {np.count_nonzero(sol.coef)}  objective {objective:.10f}"
                    + ("" if sol.converged else "  NOT CONVERGED")
                )
            total += spent
            print(f"l1_ratio {r:g}, {mode}: {spent:.2f} s CPU")
            print("\n".join(lines))
    print(f"total {total:.2f} s CPU")


if __name__ == "__main__":
    main()
