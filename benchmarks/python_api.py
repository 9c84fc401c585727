"""`make bench`'s Python-side table: the scikit-learn estimators' overhead over the engine, and CSV load time.

1. Estimator overhead. On each dataset, in this process, taking turns (median of --runs):
     engine     `data.load_dataset(frame, target=…)` then `api.tune_dataset(dataset, config)` — what
                `regtune tune` runs after reading its file
     estimator  `RegTuneRegressor(...).fit(X, y)` / `RegTuneClassifier(...).fit(X, y)` with the same settings
   Both must choose the same penalty and λ (the script exits 1 otherwise); the overhead is their time
   difference (validation, the DataFrame, the fitted attributes), which should be nil next to the search.
2. CSV load. A 1e6-row CSV (8 numeric columns with gaps, 2 text columns, a numeric target; about 100 MB)
   is generated in a temporary folder (never kept), then read by
     before     pandas' reader, as regtune read every CSV before (`tables.parse_csv`)
     pyarrow    `tables.read_csv_arrow`: pyarrow's multi-threaded reader (whatever the cores), checked to
                give pandas' frame
     after      `tables.read_file`, what regtune does: pyarrow's reader from ARROW_MIN_CORES cores on
   alternating, median and min of --csv-runs each (the machine's other work makes single runs noisy).
   Writes benchmarks/results/python_api.md and .json.

    .venv/bin/python benchmarks/python_api.py                # median of 3 (CSV: of 5)
    .venv/bin/python benchmarks/python_api.py --runs 1 --csv-runs 1 --rows 200000
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from run import DEFAULT_DATA, HERE

CASES = [
    # (name, source, target, task, n_trials)
    ("diabetes", "builtin:diabetes", "target", "regression", 40),
    ("breast_cancer", "builtin:breast_cancer", "target", "classification", 40),
    ("penguins", "penguins.csv", "body_mass_g", "regression", 40),
]


def _frame(source: str, target: str, data_dir: Path) -> pd.DataFrame:
    from regtune.data import read_table

    path = source if source.startswith("builtin:") else str(data_dir / source)
    frame = read_table(path)
    return frame.loc[frame[target].notna()].reset_index(drop=True)


def overhead(data_dir: Path, runs: int) -> list[dict[str, Any]]:
    from regtune import RegTuneClassifier, RegTuneRegressor
    from regtune.api import tune_dataset
    from regtune.config import TuneConfig
    from regtune.data import load_dataset

    warm = _frame("builtin:diabetes", "target", data_dir)  # imports and first-call costs, untimed
    RegTuneRegressor(n_trials=2).fit(warm.drop(columns=["target"]), warm["target"])
    rows = []
    for name, source, target, task, n_trials in CASES:
        frame = _frame(source, target, data_dir)
        X, y = frame.drop(columns=[target]), frame[target]
        config = TuneConfig.of(target=target, task=task, n_trials=n_trials, seed=0)
        kind = RegTuneRegressor if task == "regression" else RegTuneClassifier

        def engine(frame: pd.DataFrame = frame, config: TuneConfig = config) -> tuple[str, float]:
            dataset = load_dataset(frame, target=config.target, task=config.task)
            chosen = tune_dataset(dataset, config).chosen.point
            return chosen.penalty, chosen.lam

        def estimator(X: pd.DataFrame = X, y: pd.Series = y, kind: Any = kind, n: int = n_trials) -> tuple[str, float]:
            fitted = kind(n_trials=n, random_state=0).fit(X, y)
            return fitted.penalty_, fitted.lambda_

        times: dict[str, list[float]] = {"engine": [], "estimator": []}
        choices: dict[str, tuple[str, float]] = {}
        for _ in range(runs):
            for label, run in (("engine", engine), ("estimator", estimator)):
                start = time.perf_counter()
                choices[label] = run()
                times[label].append(time.perf_counter() - start)
        if choices["engine"] != choices["estimator"]:
            print(
                f"{name}: the estimator chose {choices['estimator']}, the engine {choices['engine']}", file=sys.stderr
            )
            raise SystemExit(1)
        engine_s, estimator_s = statistics.median(times["engine"]), statistics.median(times["estimator"])
        rows.append(
            {
                "dataset": name,
                "rows": len(frame),
                "n_trials": n_trials,
                "choice": f"{choices['engine'][0]} λ={choices['engine'][1]:.4g}",
                "engine_s": engine_s,
                "estimator_s": estimator_s,
                "overhead_s": estimator_s - engine_s,
                "overhead_pct": 100 * (estimator_s - engine_s) / engine_s,
            }
        )
        print(rows[-1], flush=True)
    return rows


def write_csv(path: Path, n_rows: int) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(n_rows, 8)).round(6), columns=[f"x{i}" for i in range(8)])
    for column in ("x1", "x5"):
        frame.loc[rng.random(n_rows) < 0.02, column] = np.nan
    frame["city"] = rng.choice(["Lyon", "Paris", "Nantes", "Lille", "Nice"], size=n_rows)
    frame["plan"] = rng.choice(["basic", "plus", "pro"], size=n_rows)
    frame["y"] = (frame["x0"] * 2 - frame["x2"] + rng.normal(size=n_rows)).round(6)
    frame.to_csv(path, index=False)


def csv_load(n_rows: int, runs: int) -> dict[str, Any]:
    from regtune.tables import ARROW_MIN_CORES, parse_csv, read_csv_arrow, read_file, usable_cores

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "big.csv"
        write_csv(path, n_rows)
        size_mb = path.stat().st_size / 1e6
        small = Path(folder) / "small.csv"
        write_csv(small, 1000)
        parse_csv(small, "small.csv"), read_file(small, "small.csv")  # imports and first-call costs, untimed

        def arrow(path: Path, label: str) -> pd.DataFrame:
            frame = read_csv_arrow(path, label, None, None)
            assert frame is not None, "pyarrow's reader declined the benchmark file"
            return frame

        times: dict[str, list[float]] = {"before": [], "pyarrow": [], "after": []}
        frames: dict[str, pd.DataFrame] = {}
        for _ in range(runs):
            for label, read in (("before", parse_csv), ("pyarrow", arrow), ("after", read_file)):
                start = time.perf_counter()
                frames[label] = read(path, str(path))
                times[label].append(time.perf_counter() - start)
        pd.testing.assert_frame_equal(frames["before"], frames["after"])
        pd.testing.assert_frame_equal(frames["before"], frames["pyarrow"])
    before, after = statistics.median(times["before"]), statistics.median(times["after"])
    row = {
        "rows": n_rows,
        "size_mb": size_mb,
        "runs": runs,
        "before_s": before,
        "after_s": after,
        "speedup": before / after,
        "before_min_s": min(times["before"]),
        "after_min_s": min(times["after"]),
        "speedup_min": min(times["before"]) / min(times["after"]),
        "pyarrow_s": statistics.median(times["pyarrow"]),
        "pyarrow_min_s": min(times["pyarrow"]),
        "pyarrow_speedup": before / statistics.median(times["pyarrow"]),
        "cores": usable_cores(),
        "reader": "pyarrow" if usable_cores() >= ARROW_MIN_CORES else "pandas",
    }
    print(row, flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the generated CSV")
    parser.add_argument("--csv-runs", type=int, default=5, help="alternating runs of each CSV reader")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    options = parser.parse_args()
    results = {
        "overhead": overhead(options.data_dir, options.runs),
        "csv_load": csv_load(options.rows, options.csv_runs),
    }
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "python_api.json").write_text(json.dumps(results, indent=2))
    lines = [
        f"# Estimator overhead and CSV load (median of {options.runs})",
        "",
        "| dataset | rows | trials | choice (both) | engine s | estimator s | overhead s | overhead % |",
        "|---|---|---|---|---|---|---|---|",
        *(
            f"| {r['dataset']} | {r['rows']} | {r['n_trials']} | {r['choice']} | {r['engine_s']:.2f} |"
            f" {r['estimator_s']:.2f} | {r['overhead_s']:+.3f} | {r['overhead_pct']:+.1f} |"
            for r in results["overhead"]
        ),
        "",
        "CSV load, median (min) of {runs} alternating runs; after: `tables.read_file` on {cores} cores, which"
        " reads with {reader}:".format(**results["csv_load"]),
        "",
        "| CSV rows | MB | before (pandas) s | pyarrow's reader s | after s | speed-up after | speed-up pyarrow |",
        "|---|---|---|---|---|---|---|",
        "| {rows} | {size_mb:.0f} | {before_s:.2f} ({before_min_s:.2f}) | {pyarrow_s:.2f} ({pyarrow_min_s:.2f}) |"
        " {after_s:.2f} ({after_min_s:.2f}) | {speedup:.2f}× ({speedup_min:.2f}×) | {pyarrow_speedup:.2f}× |".format(
            **results["csv_load"]
        ),
    ]
    (out / "python_api.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
