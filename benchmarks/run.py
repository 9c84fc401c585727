"""`make bench`: regtune against the peers on the same data and the same folds, in one run.

Contenders, each a whole process started the same way (import included, median of --runs runs):
  regtune        the installed command, as a user runs it (`regtune tune CSV -y T --json F`)
  path script    LassoCV + RidgeCV(cv=folds) + ElasticNetCV, or LogisticRegressionCV with
                 l1_ratios=(1.0,) and (0.0,) — the better kept (benchmarks/peer_path.py)
  optuna script  TPE, a Pipeline in cross_val_score per trial, regtune's number of trials
                 (benchmarks/peer_optuna.py)
and, for a regression table, the limit: import + read + K fits at regtune's choice (benchmarks/peer_limit.py,
run after regtune); and an oracle: a dense λ grid per penalty (and l1_ratio grid), then a 20× denser grid
around its best, evaluated in this process on the same folds. With --model sgd or mlp (and --hidden for mlp)
regtune runs with that flag, the Optuna script builds the same estimator (same seed, max_iter, tol, early stopping)
and there is no path script. Every contender's choice is scored on the same folds by the same evaluator
(in-fold preprocessing, solved to tolerance), so regret = oracle best − that score compares choices, not
solvers. Writes benchmarks/results/bench.md and bench.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data"


@dataclass
class Bench:
    name: str
    csv: Path
    target: str
    task: str


def prepare(data_dir: Path, tmp: Path, quick: bool) -> list[Bench]:
    """Write every benchmark table as a CSV (built-ins too, so every contender reads a file)."""
    from sklearn import datasets

    benches = []
    builtins = ["diabetes", "breast_cancer"] if quick else ["diabetes", "breast_cancer", "digits"]
    for name in builtins:
        frame = getattr(datasets, f"load_{name}")(as_frame=True).frame
        path = tmp / f"{name}.csv"
        frame.to_csv(path, index=False)
        task = "regression" if name == "diabetes" else "classification"
        benches.append(Bench(name, path, "target", task))
    diamonds = data_dir / "diamonds.csv"
    churn = data_dir / "churn.csv"
    for path in (diamonds, churn):
        if not path.exists():
            sys.exit(f"benchmark data not found: {path} (give --data-dir, the folder with diamonds.csv and churn.csv)")
    frame = pd.read_csv(diamonds)
    frame["log_price"] = np.log(frame.pop("price"))
    sizes = [10_000] if quick else [10_000, 25_000, len(frame)]
    for size in sizes:
        sub = frame if size >= len(frame) else frame.sample(n=size, random_state=0)
        path = tmp / f"diamonds_{size}.csv"
        sub.to_csv(path, index=False)
        label = "diamonds" if size >= len(frame) else f"diamonds-{size // 1000}k"
        benches.append(Bench(label, path, "log_price", "regression"))
    benches.append(Bench("churn", churn, "churn", "classification"))
    if not quick:
        path = tmp / "large.csv"
        large_table(LARGE_ROWS).to_csv(path, index=False)
        benches.append(Bench(f"large-{LARGE_ROWS // 1000}k", path, "y", "regression"))
    return benches


#: Rows of the synthetic large regression table (issue 18's 327k × 50 case; the shared data has none this big).
LARGE_ROWS = 327_000


def large_table(rows: int, seed: int = 0) -> pd.DataFrame:
    """A seeded synthetic regression table of ``rows`` × 50 columns like a warehouse extract: 44 numeric
    columns driven by 6 latent factors (so they correlate in groups), 2 % missing values in four of them,
    6 categorical columns of 3–12 levels; the target depends on 12 numeric columns and two categorical
    ones, with noise of about a third of its spread."""
    rng = np.random.default_rng(seed)
    factors = rng.standard_normal((rows, 6))
    loadings = rng.standard_normal((6, 44)) * (rng.random((6, 44)) < 0.3)
    numeric = factors @ loadings + rng.standard_normal((rows, 44))
    beta = np.zeros(44)
    beta[rng.choice(44, 12, replace=False)] = rng.standard_normal(12)
    y = numeric @ beta
    frame = pd.DataFrame(numeric, columns=[f"x{i}" for i in range(44)])
    for c, levels in enumerate((3, 4, 5, 7, 9, 12)):
        codes = rng.integers(0, levels, rows)
        if c < 2:
            y = y + rng.standard_normal(levels)[codes]
        frame[f"c{c}"] = np.array([f"L{i}" for i in range(levels)])[codes]
    for col in ("x3", "x11", "x25", "x40"):
        frame.loc[rng.random(rows) < 0.02, col] = np.nan
    frame["y"] = 50 + 10 * (y + rng.standard_normal(rows) * 0.35 * y.std())
    return frame


def run_isolated(cmd: list[str], cwd: Path, timeout: float | None = None) -> tuple[float, float, str] | None:
    """Each measurement in a fresh helper process, so ru_maxrss is that command's own peak; None when the
    command ran longer than ``timeout`` seconds (it is stopped)."""
    helper = (
        "import json,resource,subprocess,sys,time;"
        "t=time.perf_counter();limit=float(sys.argv[1]) or None\n"
        "try: p=subprocess.run(sys.argv[2:],capture_output=True,text=True,timeout=limit)\n"
        "except subprocess.TimeoutExpired: print(json.dumps({'timeout':True})); sys.exit()\n"
        "w=time.perf_counter()-t;"
        "print(json.dumps({'wall':w,'rss':resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss/1024,"
        "'rc':p.returncode,'out':p.stdout,'err':p.stderr[-3000:]}))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", helper, str(timeout or 0), *cmd], cwd=cwd, capture_output=True, text=True, check=True
    )
    rec = json.loads(proc.stdout)
    if rec.get("timeout"):
        return None
    if rec["rc"] != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({rec['rc']}):\n{rec['err']}")
    return rec["wall"], rec["rss"], rec["out"]


def measure(cmd: list[str], runs: int, timeout: float | None = None) -> dict:
    """Median wall time of ``runs`` runs; a run past ``timeout`` stops the contender (``timed_out``)."""
    walls, peaks, out = [], [], ""
    for _ in range(runs):
        done = run_isolated(cmd, HERE, timeout)
        if done is None:
            return {"wall_s": None, "timed_out": timeout, "walls": walls, "peak_mib": None, "stdout": ""}
        wall, peak, out = done
        walls.append(wall)
        peaks.append(peak)
    return {"wall_s": statistics.median(walls), "walls": walls, "peak_mib": max(peaks), "stdout": out}


def oracle(
    bench: Bench, lam_points: int, model: str = "linear", hidden: str | None = None
) -> tuple[object, float, dict]:
    """The evaluator on regtune's folds, and the best point of a dense grid per penalty."""
    from regtune.config import TuneConfig
    from regtune.cv import Evaluator, resolve_scorer
    from regtune.data import load_dataset
    from regtune.folds import assign_folds, build_folds
    from regtune.models import Penalty, get_family
    from regtune.models.mlp import parse_hidden
    from regtune.policy import lambda_ranges
    from regtune.preprocess import make_preprocessor

    ds = load_dataset(str(bench.csv), target=bench.target, task=bench.task)
    own = {"hidden": parse_hidden(hidden)} if model == "mlp" and hidden else {}
    family = get_family(ds.task, model, seed=0, **own)
    folds = build_folds(ds, assign_folds(ds, TuneConfig(seed=0)), center=family.center_folds)
    _, scorer = resolve_scorer(None, ds.task)
    ev = Evaluator(folds, family, scorer, tol=1e-4, n_jobs=os.cpu_count() or 1).__enter__()
    X_all = make_preprocessor(ds.numeric, ds.categorical).fit_transform(ds.X)
    penalties = ("l2",) if model == "mlp" else ("l1", "l2", "elasticnet")
    ranges = lambda_ranges(family, X_all, ds.y, penalties, None, None)
    best = (-math.inf, {})
    grid = [g for g in (("l1", (1.0,)), ("l2", (0.0,)), ("elasticnet", (0.1, 0.5, 0.9))) if g[0] in penalties]
    for penalty, ratios in grid:
        lo, hi = ranges[penalty]
        for r in ratios:
            # Decreasing λ: a warm-started path. One decade wider on each side than regtune searches.
            lams = np.geomspace(hi * 10, lo / 10, lam_points)
            scores = [float(np.mean(ev.evaluate(Penalty.of(penalty, float(lam), r)).fold_scores)) for lam in lams]
            # Then a dense grid between the neighbours of the best grid point (spacing ~1/20 of the grid's).
            i = int(np.nanargmax(scores))
            fine = np.geomspace(lams[max(i - 1, 0)], lams[min(i + 1, len(lams) - 1)], 41)
            for lam, score in [
                *zip(lams, scores, strict=True),
                *((lam, float(np.mean(ev.evaluate(Penalty.of(penalty, float(lam), r)).fold_scores))) for lam in fine),
            ]:
                if score > best[0]:
                    best = (score, {"penalty": penalty, "lambda": float(lam), "l1_ratio": r})
    return ev, best[0], best[1]


def score_choice(ev, choice: dict) -> float:  # type: ignore[no-untyped-def]
    """The CV score of a choice, fitted cold (no warm start from the oracle's grid: SGD would depend on it)."""
    from regtune.models import Penalty

    ev.warm = type(ev.warm)()
    return float(np.mean(ev.evaluate(Penalty.of(choice["penalty"], choice["lambda"], choice["l1_ratio"])).fold_scores))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer datasets, one run each")
    parser.add_argument("--runs", type=int, default=None, help="runs per contender (default 3, quick 1)")
    parser.add_argument("--n-trials", type=int, default=60)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--only", default=None, help="comma-separated dataset names")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--model", default="linear", choices=("linear", "sgd", "mlp"))
    parser.add_argument("--hidden", default=None, help="--model mlp: hidden layer sizes, e.g. 32")
    parser.add_argument("--oracle-points", type=int, default=None, help="λ grid points per penalty (default 50)")
    parser.add_argument(
        "--peer-timeout", type=float, default=900.0, help="seconds after which a peer script is stopped (0: never)"
    )
    opts = parser.parse_args()
    runs = opts.runs or (1 if opts.quick else 3)
    regtune_exe = str(Path(sys.executable).parent / "regtune")
    model_args = [] if opts.model == "linear" else ["--model", opts.model]
    if opts.model == "mlp" and opts.hidden:
        model_args += ["--hidden", opts.hidden]
    suffix = "" if opts.model == "linear" else f"-{opts.model}"
    opts.out.mkdir(parents=True, exist_ok=True)

    baseline = measure([sys.executable, "-c", "import pandas, sklearn.linear_model, optuna"], runs)["wall_s"]
    rows = []
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        benches = prepare(opts.data_dir, tmp, opts.quick)
        if opts.only:
            wanted = set(opts.only.split(","))
            benches = [b for b in benches if b.name in wanted]
        for bench in benches:
            print(f"[{bench.name}] …", file=sys.stderr, flush=True)
            result_json = tmp / f"{bench.name}.regtune.json"
            n = str(opts.n_trials)
            cmds = {
                "regtune": [
                    regtune_exe,
                    "tune",
                    str(bench.csv),
                    "-y",
                    bench.target,
                    "--task",
                    bench.task,
                    "--seed",
                    "0",
                    "-n",
                    n,
                    "--json",
                    str(result_json),
                    *model_args,
                ],
                "path script": [sys.executable, "peer_path.py", str(bench.csv), bench.target, bench.task, n],
                "optuna script": [
                    sys.executable,
                    "peer_optuna.py",
                    str(bench.csv),
                    bench.target,
                    bench.task,
                    n,
                    opts.model,
                    opts.hidden or "",
                ],
            }
            if opts.model != "linear":  # no regularization path exists for these models
                del cmds["path script"]
            measured = {
                name: measure(cmd, runs, None if name == "regtune" else opts.peer_timeout) for name, cmd in cmds.items()
            }
            doc = json.loads(result_json.read_text())
            chosen = doc["chosen"]
            limit = None
            if bench.task == "regression" and opts.model == "linear":
                # The floor at regtune's choice: import + read + K fits (benchmarks/peer_limit.py).
                where = [chosen["penalty"], str(chosen["lambda"]), str(chosen["l1_ratio"])]
                limit = measure([sys.executable, "peer_limit.py", str(bench.csv), bench.target, *where], runs)
            choices = {
                "regtune": {"penalty": chosen["penalty"], "lambda": chosen["lambda"], "l1_ratio": chosen["l1_ratio"]},
                **{name: json.loads(m["stdout"]) for name, m in measured.items() if name != "regtune" and m["stdout"]},
            }
            t0 = time.perf_counter()
            points = opts.oracle_points or (25 if bench.name == "digits" else 50)
            ev, best, best_point = oracle(bench, points, opts.model, opts.hidden)
            oracle_s = time.perf_counter() - t0
            row = {
                "dataset": bench.name,
                "model": opts.model + (f" {opts.hidden}" if opts.model == "mlp" and opts.hidden else ""),
                "regtune_pruned": doc["study"]["pruned"],
                "rows": doc["dataset"]["n_rows"],
                "task": bench.task,
                "oracle": {"cv": best, **best_point, "seconds": oracle_s},
                "baseline_import_s": baseline,
                "regtune_fold_fits": doc["cv"].get("n_fold_fits"),
                "contenders": {},
                "limit": None if limit is None else {"wall_s": limit["wall_s"], "walls": limit["walls"]},
            }
            for name, m in measured.items():
                if m["wall_s"] is None:  # stopped after --peer-timeout seconds: no choice to score
                    row["contenders"][name] = {"timed_out": m["timed_out"], "wall_s": None}
                    continue
                cv = score_choice(ev, choices[name])
                row["contenders"][name] = {
                    **choices[name],
                    "cv": cv,
                    "regret": best - cv,
                    "wall_s": m["wall_s"],
                    "walls": m["walls"],
                    "peak_mib": m["peak_mib"],
                }
            ev.__exit__()
            rows.append(row)
            print(format_row(row), file=sys.stderr, flush=True)
    doc = {"runs": runs, "n_trials": opts.n_trials, "model": opts.model, "hidden": opts.hidden, "rows": rows}
    (opts.out / f"bench{suffix}.json").write_text(json.dumps(doc, indent=2))
    md = markdown(rows, runs, opts.n_trials, baseline)
    (opts.out / f"bench{suffix}.md").write_text(md)
    print(md)


def format_row(row: dict) -> str:
    c = row["contenders"]
    return " | ".join(
        f"{name}: > {v['timed_out']:.0f}s (stopped)"
        if v["wall_s"] is None
        else f"{name}: {v['wall_s']:.2f}s {v['peak_mib']:.0f}MiB regret {v['regret']:.2e}"
        for name, v in c.items()
    )


def markdown(rows: list[dict], runs: int, n_trials: int, baseline: float) -> str:
    lines = [
        f"# regtune benchmark — {time.strftime('%Y-%m-%d %H:%M')} · {os.cpu_count()} cores · median of {runs} run(s)"
        f" · {n_trials} trials · model {rows[0]['model'] if rows else '?'}",
        "",
        f"Whole-process wall time (import included; importing pandas+sklearn+optuna alone takes {baseline:.2f} s).",
        "Regret = oracle's best CV score − the CV score of the contender's choice, both on the same folds.",
        "",
        "| dataset | rows | contender | choice | CV score | regret | wall s | outside imports s | peak MiB |"
        " time ratio regtune/peer | memory ratio |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        c = row["contenders"]
        ours = c["regtune"]
        for name, v in c.items():
            if v["wall_s"] is None:
                lines.append(
                    f"| {row['dataset']} | {row['rows']} | {name} | stopped after {v['timed_out']:.0f} s | — | — |"
                    f" > {v['timed_out']:.0f} | — | — | < {ours['wall_s'] / v['timed_out']:.3f} | — |"
                )
                continue
            choice = f"{v['penalty']} λ={v['lambda']:.3g}" + (
                f" r={v['l1_ratio']:.2f}" if v["penalty"] == "elasticnet" else ""
            )
            ratio = "—" if name == "regtune" else f"{ours['wall_s'] / v['wall_s']:.2f}"
            mem = "—" if name == "regtune" else f"{ours['peak_mib'] / v['peak_mib']:.2f}"
            lines.append(
                f"| {row['dataset']} | {row['rows']} | {name} | {choice} | {v['cv']:.5f} | {v['regret']:.1e} |"
                f" {v['wall_s']:.2f} | {max(v['wall_s'] - baseline, 0):.2f} | {v['peak_mib']:.0f} | {ratio} | {mem} |"
            )
        if row.get("limit"):
            wall = row["limit"]["wall_s"]
            lines.append(
                f"| {row['dataset']} | {row['rows']} | limit (import + read + K fits at regtune's λ) | — | — | — |"
                f" {wall:.2f} | {max(wall - baseline, 0):.2f} | — | {ours['wall_s'] / wall:.2f} | — |"
            )
        o = row["oracle"]
        lines.append(
            f"| {row['dataset']} | {row['rows']} | oracle (dense grid) | {o['penalty']} λ={o['lambda']:.3g} |"
            f" {o['cv']:.5f} | 0 | — | — | — | — | — |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
