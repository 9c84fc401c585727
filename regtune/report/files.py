"""Writing results for scripts: the JSON document and the CV curve as CSV."""

from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from regtune.result import TuneResult

CURVE_COLUMNS = (
    "trial",
    "penalty",
    "lambda",
    "l1_ratio",
    "cv_mean",
    "cv_se",
    "state",
    "converged",
    "n_nonzero",
    "d_log_lambda",
    "d_l1_ratio",
    "phase",
)


def to_json(result: TuneResult) -> str:
    return json.dumps(result.to_dict(), indent=2, allow_nan=False) + "\n"


def curve_csv(result: TuneResult) -> str:
    """One row per trial: its configuration, CV mean and SE, state, and one column per fold score."""
    doc = result.to_dict()
    n_folds = max((len(row["fold_scores"]) for row in doc["curve"]), default=0)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*CURVE_COLUMNS, *(f"fold_{i}" for i in range(n_folds))])
    for row in doc["curve"]:
        scores = row["fold_scores"] + [None] * (n_folds - len(row["fold_scores"]))
        writer.writerow(
            ["" if row[c] is None else row[c] for c in CURVE_COLUMNS] + ["" if s is None else s for s in scores]
        )
    return out.getvalue()


def predictions_csv(frame: pd.DataFrame) -> str:
    """Predictions as CSV; floats are written in full (shortest round-trip form), so reading them back
    gives the predicted values exactly."""
    text: str = frame.to_csv(index=False, lineterminator="\n")
    return text
