"""`make bench` (part 2): how fast each search mode reaches the dense-grid oracle's best CV score.

For every benchmark dataset and each of `--search tpe`, `gradient` and `hybrid` (same data, same folds,
same seed, same budget), regtune runs in this process; after each trial the choice so far (λ.min of the
trials so far) is scored against the oracle (a dense λ grid per penalty on the same folds, see run.py).
Reported per mode: fold fits and wall time until the choice is within `--target` (relative) of the oracle
and stays there, and until it scores at least what TPE ends with (the same regret as TPE's), the trials
and fold fits the search used in all, and its final CV score. Targets
(issue 4): hybrid needs at most half the fold fits of tpe to reach the target, and never ends with a
worse CV score. Writes benchmarks/results/search_modes.md and .json.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

from run import DEFAULT_DATA, HERE, oracle, prepare

MODES = ("tpe", "gradient", "hybrid")


def trajectory(bench, mode: str, n_trials: int, best: float) -> dict:  # type: ignore[no-untyped-def]
    """Run one search; return its cumulative fold fits, times and relative regret after each trial."""
    import regtune
    from regtune.select import select

    stamps: dict[int, float] = {}
    start = time.perf_counter()

    def progress(done: int, _total: int, _best: float | None) -> None:
        stamps.setdefault(done, time.perf_counter() - start)

    result = regtune.tune(
        str(bench.csv), target=bench.target, task=bench.task, seed=0, n_trials=n_trials, search=mode, progress=progress
    )
    total_s = time.perf_counter() - start
    points = sorted(result.curve, key=lambda p: p.trial)
    fits, regrets, times, means = [], [], [], []
    used = counted = 0
    for i, point in enumerate(points):
        used += len(point.fold_scores)
        counted += point.state != "failed"
        sel = select(points[: i + 1])
        regrets.append(math.inf if sel is None else (best - sel.best.mean) / abs(best))
        means.append(-math.inf if sel is None else sel.best.mean)
        fits.append(used)
        times.append(stamps.get(counted, total_s))
    return {
        "fits": fits,
        "regrets": regrets,
        "means": means,
        "times": times,
        "total_s": total_s,
        "n_trials": len(points),
        "n_fold_fits": result.cv["n_fold_fits"],
        "final_cv": result.min.point.mean,
        "choice": f"{result.min.point.penalty} λ={result.min.point.lam:.3g}",
        "verdict": (result.min.hypergradient or {}).get("verdict"),
    }


def reached(run: dict, ok: list[bool]) -> tuple[int | None, float | None]:
    """(fold fits, seconds) when ``ok`` (one flag per trial) became true for good; None if never."""
    hit = None
    for i, flag in enumerate(ok):
        if not flag:
            hit = None
        elif hit is None:
            hit = i
    if hit is None:
        return None, None
    return run["fits"][hit], run["times"][hit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer datasets")
    parser.add_argument("--n-trials", type=int, default=60)
    parser.add_argument("--target", type=float, default=1e-4, help="relative regret to reach")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--only", default=None, help="comma-separated dataset names")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    opts = parser.parse_args()
    opts.out.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmpdir:
        benches = prepare(opts.data_dir, Path(tmpdir), opts.quick)
        if opts.only:
            wanted = set(opts.only.split(","))
            benches = [b for b in benches if b.name in wanted]
        for bench in benches:
            print(f"[{bench.name}] oracle …", file=sys.stderr, flush=True)
            ev, best, best_point = oracle(bench, lam_points=25 if bench.name == "digits" else 80)
            ev.__exit__()
            row = {"dataset": bench.name, "oracle": {"cv": best, **best_point}, "modes": {}}
            for mode in MODES:
                print(f"[{bench.name}] {mode} …", file=sys.stderr, flush=True)
                run = trajectory(bench, mode, opts.n_trials, best)
                run["fits_to_target"], run["s_to_target"] = reached(run, [r <= opts.target for r in run["regrets"]])
                row["modes"][mode] = run
            # "The same regret" as TPE ends with: when each mode's choice first scores at least TPE's final.
            tpe_final = row["modes"]["tpe"]["final_cv"]
            for run in row["modes"].values():
                run["fits_to_tpe_final"], run["s_to_tpe_final"] = reached(run, [m >= tpe_final for m in run["means"]])
            rows.append(row)
            print(markdown([row], opts), file=sys.stderr, flush=True)
    (opts.out / "search_modes.json").write_text(json.dumps({"target": opts.target, "rows": rows}, indent=2))
    md = markdown(rows, opts)
    (opts.out / "search_modes.md").write_text(md)
    print(md)


def markdown(rows: list[dict], opts: argparse.Namespace) -> str:
    lines = [
        f"# regtune search modes — {time.strftime('%Y-%m-%d %H:%M')} · budget {opts.n_trials} trials ·"
        f" target regret {opts.target:g} (relative to the dense-grid oracle)",
        "",
        "| dataset | search | fold fits (s) to target | ratio vs tpe | fold fits (s) to tpe's final CV |"
        " ratio vs tpe | trials used | fold fits used | s in all | final CV | final regret | choice | verdict |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def cell(fits: int | None, secs: float | None) -> str:
        return "not reached" if fits is None or secs is None else f"{fits} ({secs:.2f})"

    def ratio(mode: str, fits: int | None, ref: int | None) -> str:
        return "—" if mode == "tpe" or fits is None or not ref else f"{fits / ref:.2f}"

    for row in rows:
        tpe = row["modes"]["tpe"]
        for mode, run in row["modes"].items():
            final_regret = (row["oracle"]["cv"] - run["final_cv"]) / abs(row["oracle"]["cv"])
            lines.append(
                f"| {row['dataset']} | {mode} | {cell(run['fits_to_target'], run['s_to_target'])} |"
                f" {ratio(mode, run['fits_to_target'], tpe['fits_to_target'])} |"
                f" {cell(run['fits_to_tpe_final'], run['s_to_tpe_final'])} |"
                f" {ratio(mode, run['fits_to_tpe_final'], tpe['fits_to_tpe_final'])} |"
                f" {run['n_trials']} | {run['n_fold_fits']} | {run['total_s']:.2f} | {run['final_cv']:.6f} |"
                f" {final_regret:.1e} | {run['choice']} | {run['verdict']} |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
