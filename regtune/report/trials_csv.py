"""``--trials-csv PATH|-``: the CV curve as CSV, one row per trial with a column per fold score."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any

from regtune.report._output import Output, OutputContext, output_setting

if TYPE_CHECKING:
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
    "n_nonzero_mean",
    "d_log_lambda",
    "d_l1_ratio",
    "phase",
)


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


class TrialsCSV(Output):
    setting = output_setting(
        "trials_csv", "Write the CV curve (one row per trial) as CSV to PATH or -.", metavar="PATH|-"
    )
    order = 20

    def render(self, result: TuneResult, value: Any, context: OutputContext) -> str:
        return curve_csv(result)


OUTPUT = TrialsCSV()
