"""Warm starts for SGD: do they save time, and is the chosen λ's CV score what a cold fit gets?

For each dataset, regtune.tune(model="sgd") with the family's warm starts off (the default) and on; the
chosen λ is then scored again on the same folds with every fit started from zero — as the final model
is refit. Prints one line per (dataset, setting): time, choice, regtune's CV mean and the cold re-score.

    .venv/bin/python benchmarks/sgd_warm_start.py builtin:breast_cancer builtin:diabetes
"""

from __future__ import annotations

import sys
import time
from unittest import mock

import numpy as np

import regtune
from regtune.config import TuneConfig
from regtune.cv import Evaluator, resolve_scorer
from regtune.data import load_dataset
from regtune.folds import assign_folds, build_folds
from regtune.models import Penalty
from regtune.models.sgd import SGDLinear


def main() -> None:
    for source in sys.argv[1:] or ["builtin:breast_cancer", "builtin:diabetes"]:
        ds = load_dataset(source)
        folds = build_folds(ds, assign_folds(ds, TuneConfig()), center=True)
        _, scorer = resolve_scorer(None, ds.task)
        for warm in (False, True):
            with mock.patch.object(SGDLinear, "warm_starts", warm):  # the families tune() builds
                start = time.perf_counter()
                result = regtune.tune(source, model="sgd", seed=0)
                elapsed = time.perf_counter() - start
            p = result.chosen.point
            cold = Evaluator(folds, SGDLinear(ds.task), scorer, 1e-4).evaluate(Penalty.of(p.penalty, p.lam, p.l1_ratio))
            print(
                f"{source} warm_starts={warm}: {elapsed:.1f} s, {p.penalty} λ={p.lam:.3g},"
                f" regtune CV {p.mean:.5f}, cold re-score {np.mean(cold.fold_scores):.5f}"
            )


if __name__ == "__main__":
    main()
