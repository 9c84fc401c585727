"""`make bench`'s family table: regtune's log-link GLMs against glum's GeneralizedLinearRegressorCV.

Datasets: doctor visits (`nmes1988.csv`, `--family poisson`) and diamond prices (`diamonds.csv`, price in
dollars, `--family gamma`), both from `../shared/data/`. Contenders, each a whole process (import included,
median of --runs runs, taking turns; wall and CPU time):
  regtune    `regtune tune CSV -y T --family F --seed 0 --json F` (5-fold CV, 60 trials, L1, L2, elastic net)
  glum CV    GeneralizedLinearRegressorCV(l1_ratio=[0, 0.5, 1], cv=the same folds) on the same preprocessing
             (benchmarks/peer_glum.py): glum's 100-value α path per l1_ratio; also with OMP_NUM_THREADS=1
             (glum's OpenMP threads slow it down many times over when the machine is busy)
and an oracle per family: a dense λ grid for each l1_ratio of {0, 0.5, 1} (50 log-spaced λ a decade beyond
regtune's ranges, then 41 between the best one's neighbours), evaluated in this process on the same folds.
Every choice is scored on the same folds by the same evaluator (in-fold preprocessing, solved to 1e-8),
so regret = oracle best − that score compares choices. Writes benchmarks/results/families.md and .json.

    .venv/bin/python benchmarks/families.py                  # both datasets, median of 3 runs
    .venv/bin/python benchmarks/families.py --runs 1 --only nmes1988
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from run import DEFAULT_DATA, HERE

#: Solver tolerance of the re-scoring and the oracle (tighter than any contender's).
TOL = 1e-8


@dataclass
class Case:
    name: str
    csv: Path
    target: str
    family: str


def cases(data_dir: Path) -> list[Case]:
    found = []
    for name, target, family in (("nmes1988", "visits", "poisson"), ("diamonds", "price", "gamma")):
        path = data_dir / f"{name}.csv"
        if not path.exists():
            sys.exit(f"benchmark data not found: {path} (give --data-dir, the folder with {path.name})")
        found.append(Case(name, path, target, family))
    return found


def run_once(cmd: list[str]) -> dict:
    """One whole-process run in a fresh helper process: wall time, CPU time (user + system, all threads) and
    peak memory of that command alone, and its standard output."""
    import subprocess

    helper = (
        "import json,resource,subprocess,sys,time;"
        "t=time.perf_counter();p=subprocess.run(sys.argv[1:],capture_output=True,text=True);"
        "w=time.perf_counter()-t;u=resource.getrusage(resource.RUSAGE_CHILDREN);"
        "print(json.dumps({'wall':w,'cpu':u.ru_utime+u.ru_stime,'rss':u.ru_maxrss/1024,"
        "'rc':p.returncode,'out':p.stdout,'err':p.stderr[-3000:]}))"
    )
    proc = subprocess.run([sys.executable, "-c", helper, *cmd], cwd=HERE, capture_output=True, text=True, check=True)
    rec = json.loads(proc.stdout)
    if rec["rc"] != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({rec['rc']}):\n{rec['err']}")
    return rec


def measure_interleaved(cmds: dict[str, list[str]], runs: int) -> dict[str, dict]:
    """Each contender ``runs`` times, taking turns (a shared machine's load then falls on both alike);
    medians of wall and CPU time."""
    import statistics

    records: dict[str, list[dict]] = {name: [] for name in cmds}
    for _ in range(runs):
        for name, cmd in cmds.items():
            records[name].append(run_once(cmd))
    return {
        name: {
            "wall_s": statistics.median(r["wall"] for r in recs),
            "cpu_s": statistics.median(r["cpu"] for r in recs),
            "walls": [r["wall"] for r in recs],
            "cpus": [r["cpu"] for r in recs],
            "peak_mib": max(r["rss"] for r in recs),
            "stdout": recs[-1]["out"],
        }
        for name, recs in records.items()
    }


def oracle(case: Case, lam_points: int) -> tuple[object, float, dict]:
    """The evaluator on regtune's folds, and the best point of a dense λ grid for each l1_ratio of {0, 0.5, 1}."""
    from regtune.config import TuneConfig
    from regtune.cv import Evaluator, resolve_scorer
    from regtune.data import load_dataset
    from regtune.folds import assign_folds, build_folds
    from regtune.models import Penalty, get_family
    from regtune.policy import lambda_ranges
    from regtune.preprocess import make_preprocessor

    ds = load_dataset(str(case.csv), target=case.target, task="regression")
    family = get_family("regression", family=case.family)
    folds = build_folds(ds, assign_folds(ds, TuneConfig(seed=0)), center=family.center_folds)
    _, scorer = resolve_scorer(None, "regression", family)
    ev = Evaluator(folds, family, scorer, tol=TOL, n_jobs=os.cpu_count() or 1).__enter__()
    X_all = make_preprocessor(ds.numeric, ds.categorical).fit_transform(ds.X)
    ranges = lambda_ranges(family, X_all, ds.y, ("l1", "l2", "elasticnet"), None, None)
    best = (-math.inf, {})
    for penalty, r in (("l1", 1.0), ("l2", 0.0), ("elasticnet", 0.5)):
        lo, hi = ranges[penalty]
        lams = np.geomspace(hi * 10, lo / 10, lam_points)  # decreasing: a warm-started path

        def score(lam: float, penalty: str = penalty, r: float = r) -> float:
            return float(np.mean(ev.evaluate(Penalty.of(penalty, float(lam), r)).fold_scores))

        scores = [score(lam) for lam in lams]
        i = int(np.nanargmax(scores))
        fine = np.geomspace(lams[max(i - 1, 0)], lams[min(i + 1, len(lams) - 1)], 41)
        for lam, s in [*zip(lams, scores, strict=True), *((lam, score(lam)) for lam in fine)]:
            if s > best[0]:
                best = (s, {"penalty": penalty, "lambda": float(lam), "l1_ratio": r})
    return ev, best[0], best[1]


def score_choice(ev, choice: dict) -> float:  # type: ignore[no-untyped-def]
    from regtune.models import Penalty

    penalty = Penalty.of(choice["penalty"], choice["lambda"], choice["l1_ratio"])
    return float(np.mean(ev.evaluate(penalty).fold_scores))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per contender (median)")
    parser.add_argument("--n-trials", type=int, default=60)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--only", default=None, help="comma-separated dataset names (nmes1988, diamonds)")
    parser.add_argument("--oracle-points", type=int, default=50)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    opts = parser.parse_args()
    regtune_exe = str(Path(sys.executable).parent / "regtune")
    opts.out.mkdir(parents=True, exist_ok=True)
    chosen_cases = cases(opts.data_dir)
    if opts.only:
        chosen_cases = [c for c in chosen_cases if c.name in set(opts.only.split(","))]
    rows = []
    with tempfile.TemporaryDirectory() as tmpdir:
        for case in chosen_cases:
            print(f"[{case.name}] …", file=sys.stderr, flush=True)
            result_json = Path(tmpdir) / f"{case.name}.json"
            cmds = {
                "regtune": [
                    regtune_exe, "tune", str(case.csv), "-y", case.target, "--family", case.family,
                    "--seed", "0", "-n", str(opts.n_trials), "--json", str(result_json),
                ],
                "glum CV": [sys.executable, "peer_glum.py", str(case.csv), case.target, case.family],
                # glum's OpenMP threads wait for each other: on a busy machine one thread is the fairer reading
                "glum CV, 1 thread": [
                    "env", "OMP_NUM_THREADS=1", sys.executable, "peer_glum.py", str(case.csv), case.target, case.family,
                ],
            }  # fmt: skip
            measured = measure_interleaved(cmds, opts.runs)
            doc = json.loads(result_json.read_text())
            chosen = doc["chosen"]
            choices = {
                "regtune": {"penalty": chosen["penalty"], "lambda": chosen["lambda"], "l1_ratio": chosen["l1_ratio"]},
                **{name: json.loads(m["stdout"]) for name, m in measured.items() if name != "regtune"},
            }
            t0 = time.perf_counter()
            ev, best, best_point = oracle(case, opts.oracle_points)
            row = {
                "dataset": case.name,
                "family": case.family,
                "rows": doc["dataset"]["n_rows"],
                "scoring": doc["cv"]["scoring"],
                "regtune_fold_fits": doc["cv"]["n_fold_fits"],
                "oracle": {"cv": best, **best_point, "seconds": time.perf_counter() - t0},
                "contenders": {},
            }
            for name, m in measured.items():
                cv = score_choice(ev, choices[name])
                row["contenders"][name] = {
                    **choices[name],
                    "cv": cv,
                    "regret": best - cv,
                    "relative_regret": (best - cv) / abs(best),
                    "wall_s": m["wall_s"],
                    "walls": m["walls"],
                    "cpu_s": m["cpu_s"],
                    "cpus": m["cpus"],
                    "peak_mib": m["peak_mib"],
                }
            ev.__exit__()
            rows.append(row)
            print(json.dumps(row["contenders"]), file=sys.stderr, flush=True)
    doc = {"runs": opts.runs, "n_trials": opts.n_trials, "rows": rows}
    (opts.out / "families.json").write_text(json.dumps(doc, indent=2))
    md = markdown(rows, opts.runs, opts.n_trials)
    (opts.out / "families.md").write_text(md)
    print(md)


def markdown(rows: list[dict], runs: int, n_trials: int) -> str:
    lines = [
        f"# regtune log-link families vs glum — {time.strftime('%Y-%m-%d %H:%M')} · {os.cpu_count()} cores"
        f" · median of {runs} run(s) · regtune {n_trials} trials",
        "",
        "Whole-process wall time and CPU time (user + system, every thread; imports included), the contenders"
        " taking turns. Regret = the oracle's best CV score − the CV score of the choice, on the same folds"
        " (relative: ÷ |oracle|). CV score = −mean deviance of the family.",
        "",
        "| dataset | family | rows | contender | choice | CV score | relative regret | wall s | CPU s | peak MiB |"
        " wall ratio regtune/peer | CPU ratio regtune/peer |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        c = row["contenders"]
        for name, v in c.items():
            choice = f"{v['penalty']} λ={v['lambda']:.3g}" + (
                f" r={v['l1_ratio']:.2f}" if v["penalty"] == "elasticnet" else ""
            )
            ours = c["regtune"]
            ratio = "—" if name == "regtune" else f"{ours['wall_s'] / v['wall_s']:.2f}"
            cpu = "—" if name == "regtune" else f"{ours['cpu_s'] / v['cpu_s']:.2f}"
            lines.append(
                f"| {row['dataset']} | {row['family']} | {row['rows']} | {name} | {choice} | {v['cv']:.6f} |"
                f" {v['relative_regret']:.1e} | {v['wall_s']:.2f} | {v['cpu_s']:.2f} | {v['peak_mib']:.0f} |"
                f" {ratio} | {cpu} |"
            )
        o = row["oracle"]
        choice = f"{o['penalty']} λ={o['lambda']:.3g}" + (
            f" r={o['l1_ratio']:.2f}" if o["penalty"] == "elasticnet" else ""
        )
        lines.append(
            f"| {row['dataset']} | {row['family']} | {row['rows']} | oracle (dense grid) | {choice} | {o['cv']:.6f} |"
            " 0 | — | — | — | — | — |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
