"""``make bench-scale``: ``regtune tune --engine dask`` against a plain Dask pass over the same Parquet files.

A synthetic table (``--rows`` × ``--cols`` numeric columns, one 4-level categorical, 2 % missing values in
one column, a linear target) is written as ``--files`` Parquet files under ``--dir`` (once; not
committed). Each contender runs as its own process on its own ``LocalCluster`` (one single-threaded worker
per core), its start-up included; the process tree's resident memory is sampled every 50 ms:

- ``dask sum``: ``dd.read_parquet(DIR).sum().compute()``, one plain pass over the files;
- ``regtune``: ``regtune tune DIR -y y --engine dask`` (the levels' pass, the sums' pass, 60 trials, the
  refit).

The table gives the wall time, the peak memory of the client process and of the whole tree (client,
scheduler, nannies, workers), and the issue's gates: client under 1 GiB, the whole tree under a quarter of
the table's size in memory, regtune's time at most 1.5 × the plain pass's. With ``--spark PYTHON`` (``make
bench-spark``) it compares regtune with Spark MLlib's CrossValidator instead (``peer_spark.py``, run by that
Python: the same files and folds, wall time, memory and the best CV MSE of each).

    .venv/bin/python benchmarks/scale.py --rows 2000000 --cols 50
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROWS_PER_FILE = 250_000

BASELINE = """
import sys
import dask.dataframe as dd
from distributed import Client, LocalCluster
if __name__ == "__main__":
    with LocalCluster(threads_per_worker=1, processes=True, dashboard_address=None) as cluster, Client(cluster):
        dd.read_parquet(sys.argv[1]).sum(numeric_only=True).compute()
"""


def generate(folder: Path, rows: int, cols: int, files: int, seed: int = 0) -> None:
    """The synthetic table in ``files`` Parquet files (skipped when ``folder`` already holds this one)."""
    import numpy as np
    import pandas as pd

    marker = folder / "_regtune_bench.json"
    spec = {"rows": rows, "cols": cols, "files": files, "seed": seed}
    if marker.exists() and json.loads(marker.read_text()) == spec:
        return
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.parquet"):
        old.unlink()
    rng = np.random.default_rng(seed)
    beta = rng.normal(size=cols) * (rng.random(cols) < 0.3)
    for i, n in enumerate(np.diff(np.linspace(0, rows, files + 1).astype(int))):
        X = rng.normal(size=(n, cols))
        frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(cols)])
        frame["region"] = rng.choice(["north", "south", "east", "west"], size=n)
        frame["y"] = X @ beta + (frame["region"] == "north") + rng.normal(size=n)
        frame.loc[rng.random(n) < 0.02, "x0"] = np.nan
        frame.to_parquet(folder / f"part-{i:04d}.parquet", index=False)
    marker.write_text(json.dumps(spec))


def measure(command: list[str]) -> dict[str, float]:
    """Wall time, and peak resident memory of the process and of its process tree (sampled every 50 ms)."""
    import psutil

    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    top = psutil.Process(proc.pid)
    client = total = 0
    while proc.poll() is None:
        try:
            tree = [top, *top.children(recursive=True)]
            rss = {p.pid: p.memory_info().rss for p in tree}
            client = max(client, rss.get(top.pid, 0))
            total = max(total, sum(rss.values()))
        except psutil.Error:
            pass
        time.sleep(0.05)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"{' '.join(command)} failed ({proc.returncode}): {err[-500:]}")
    return {"wall": wall, "client": client / 2**20, "total": total / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--cols", type=int, default=50)
    parser.add_argument(
        "--files", type=int, default=0, help="default: one file per 250,000 rows (≈100 MiB in memory at 50 columns)"
    )
    parser.add_argument("--dir", default="/tmp/regtune-bench-scale")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each contender, in turn (default 3)")
    parser.add_argument("--spark", default=None, help="a Python with pyspark: compare with Spark MLlib instead")
    args = parser.parse_args()
    folder = Path(args.dir)
    # A worker holds the partition it reads (as Arrow, then as pandas): the partitions' size, not the
    # table's, bounds the workers' memory. 250,000 rows × 52 columns is about 100 MiB, a usual Parquet file.
    files = args.files or max(1, -(-args.rows // ROWS_PER_FILE))
    generate(folder, args.rows, args.cols, files)
    size = args.rows * (args.cols + 2) * 8 / 2**20  # float64 columns, the categorical as 8-byte codes
    bin_dir = Path(sys.executable).parent
    if args.spark:
        spark_table(folder, args.spark, bin_dir, files, args.rows, args.cols)
        return
    # The two in turn, --repeat times: this machine's wall times vary by a third from run to run, so the gate
    # is on the median of the ratios of runs made side by side (the first pair may read the files from disk).
    runs = []
    for _ in range(args.repeat):
        base = measure([sys.executable, "-c", BASELINE, str(folder)])
        ours = measure([str(bin_dir / "regtune"), "tune", str(folder), "-y", "y", "--engine", "dask", "-q"])
        runs.append((base, ours))
    print(f"{args.rows:,} rows × {args.cols} numeric columns + 1 categorical, {files} Parquet files;")
    print(f"the table in memory: {size:,.0f} MiB (float64)\n")
    print("| run | contender | wall s | peak client MiB | peak total MiB |")
    print("|---|---|---|---|---|")
    for i, pair in enumerate(runs, 1):
        for name, m in zip(("dask sum (one pass)", "regtune --engine dask"), pair, strict=True):
            print(f"| {i} | {name} | {m['wall']:.1f} | {m['client']:.0f} | {m['total']:.0f} |")
    ratios = sorted(ours["wall"] / base["wall"] for base, ours in runs)
    ratio = statistics.median(ratios)
    client = max(ours["client"] for _, ours in runs)
    total = max(ours["total"] for _, ours in runs)
    print(f"\nregtune / plain pass, run by run: {', '.join(f'{r:.2f}×' for r in ratios)} (sorted)\n")
    gates = [
        (f"client under 1 GiB (peak {client:.0f} MiB)", client < 1024),
        (f"whole tree under a quarter of the table (peak {total:.0f} of {size / 4:.0f} MiB)", total < size / 4),
        (f"time ≤ 1.5 × the plain pass (median {ratio:.2f}×)", ratio <= 1.5),
    ]
    for text, met in gates:
        print(f"- {text}: {'met' if met else 'not met'}")


def spark_table(folder: Path, spark_python: str, bin_dir: Path, files: int, rows: int, cols: int) -> None:
    """regtune --engine dask (60 trials) against Spark MLlib's CrossValidator (20 regParam × 3 elasticNetParam,
    ``peer_spark.py``) on the same files and the same folds: wall time, memory, the best CV MSE of each."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        ours_json, spark_json = Path(tmp) / "regtune.json", Path(tmp) / "spark.json"
        ours = measure([str(bin_dir / "regtune"), "tune", str(folder), "-y", "y", "--engine", "dask", "-q",
                        "--json", str(ours_json)])  # fmt: skip
        peer = measure([spark_python, str(Path(__file__).parent / "peer_spark.py"), str(folder), "--json",
                        str(spark_json)])  # fmt: skip
        chosen = json.loads(ours_json.read_text())["chosen"]
        spark = json.loads(spark_json.read_text())
    print(f"{rows:,} rows × {cols} numeric columns + 1 categorical, {files} Parquet files; 5 folds (regtune's)\n")
    print("| contender | fits | wall s | peak total MiB | best CV MSE | chosen |")
    print("|---|---|---|---|---|---|")
    print(f"| regtune --engine dask | 60 trials × 5 folds | {ours['wall']:.1f} | {ours['total']:.0f} |"
          f" {-chosen['cv_mean']:.6f} | {chosen['penalty']} λ={chosen['lambda']:.4g} |")  # fmt: skip
    print(f"| Spark CrossValidator | {spark['fits']} | {peer['wall']:.1f} | {peer['total']:.0f} |"
          f" {spark['best_cv_mse']:.6f} | regParam={spark['best_reg_param']:.4g},"
          f" elasticNetParam={spark['best_elastic_net_param']} |")  # fmt: skip
    print(f"\n- regtune {peer['wall'] / ours['wall']:.1f}× faster (gate: ≥ 20×);"
          f" CV MSE {-chosen['cv_mean'] - spark['best_cv_mse']:+.2e} against Spark's best (gate: ≤ 0)")  # fmt: skip


if __name__ == "__main__":
    main()
