"""Weight decay, tuned: a linear model with an L2 penalty trained by Adam, and what regtune adds.

The textbook example of regularization in neural networks (as in d2l.ai's "weight decay" chapter): a
linear regression with many more features than training rows, trained by Adam with an L2 penalty on the
weights. Which penalty strength? The textbook tries a few by hand. This script lets regtune choose λ by
5-fold cross-validation on the training rows (``--model mlp --hidden 0 --no-early-stopping``), then
compares on held-out rows:

- no penalty (alpha = 0),
- an untuned penalty: scikit-learn's default ``alpha=1e-4``,
- the λ chosen by regtune (scikit-learn's ``alpha = λ·B``, B the minibatch size),

all three trained the same way (same seed, epochs and minibatches). Run it from the repository root
(about 2 s on 2 cores):

    .venv/bin/python examples/adam_l2.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

import regtune
from regtune.models import Penalty
from regtune.models.mlp import MLP

N_TRAIN, N_TEST, N_FEATURES, SEED = 40, 500, 100, 0


def make_data(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """d2l's synthetic data: y = 0.05 + Σ 0.01·x_j + noise, with few informative rows per feature."""
    X = rng.normal(size=(n, N_FEATURES))
    y = 0.05 + X @ np.full(N_FEATURES, 0.01) + rng.normal(scale=0.01, size=n)
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(N_FEATURES)])
    frame["y"] = y
    return frame


def held_out_r2(lam: float, train: pd.DataFrame, test: pd.DataFrame) -> float:
    """Fit the same Adam-trained linear model on all training rows with penalty λ; R² on the test rows."""
    family = MLP("regression", hidden=(0,), seed=SEED, early_stopping=False)
    X, y = train.drop(columns="y").to_numpy(), train["y"].to_numpy()
    model = family.fit(X, y, Penalty.of("l2", lam, 0.0), 1e-4).model
    Xt, yt = test.drop(columns="y").to_numpy(), test["y"].to_numpy()
    return float(model.score(Xt, yt))


def main() -> None:
    rng = np.random.default_rng(SEED)
    train, test = make_data(rng, N_TRAIN), make_data(rng, N_TEST)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "train.csv"
        train.to_csv(path, index=False)
        result = regtune.tune(
            str(path), target="y", model="mlp", hidden=(0,), early_stopping=False, n_trials=16, folds=4, seed=SEED
        )
    chosen = result.chosen.point.lam
    batch = MLP("regression", early_stopping=False).batch_size(N_TRAIN)
    rows = [
        ("no penalty (alpha=0)", 0.0),
        ("untuned (scikit-learn's alpha=1e-4)", 1e-4 / batch),
        (f"regtune's λ={chosen:.3g} (alpha={chosen * batch:.3g})", chosen),
    ]
    print(f"{N_TRAIN} training rows, {N_FEATURES} features; R² on {N_TEST} held-out rows:")
    for label, lam in rows:
        print(f"  {label:<42} {held_out_r2(lam, train, test):.3f}")
    study, cv = result.study, result.chosen.point.mean
    print(f"(regtune: {study['n_trials']} trials in {result.elapsed_s:.1f} s, CV R² of its choice {cv:.3f})")
    for note in result.warnings:
        print(f"  note: {note}")


if __name__ == "__main__":
    main()
