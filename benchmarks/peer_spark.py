"""Spark MLlib's ``CrossValidator`` on the table of ``make bench-scale`` — the peer of ``--engine dask``.

Run by ``make bench-spark`` in its own virtual environment (``.venv-spark``: pyspark, pandas, pyarrow; Java
17 on the machine), pyspark in local mode on every core. The folds are regtune's: each row's fold id from
:func:`regtune.scale.hashfolds.hash_fold_ids` (the row's file and place in it, as ``--engine dask`` deals
them without ``--row-key``), given to ``CrossValidator(foldCol=...)``. The preprocessing is regtune's: the
training fold's mean fills a missing value (``Imputer``, fitted in each fold as a stage of the pipeline),
the categorical one-hot encoded (``StringIndexer`` + ``OneHotEncoder``), the features standardized
(``LinearRegression(standardization=True)``, the default). The grid is the issue's: 20 ``regParam`` ×
``elasticNetParam`` 0, 0.5, 1, the ``regParam`` values log-spaced over four decades below λ_max of the lasso.
The metric is the validation MSE averaged over the folds (regtune's default).

    .venv-spark/bin/python benchmarks/peer_spark.py /tmp/regtune-bench-scale --json /tmp/spark.json

Prints the wall time (the session's start included), the best grid point and its CV MSE, as JSON.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def folds_frame(folder: str, k: int, seed: int) -> tuple[object, list[str], list[str]]:
    """The table with regtune's fold ids (``fold``), read file by file as the Dask engine reads it."""
    import pandas as pd

    from regtune.scale.hashfolds import hash_fold_ids

    parts = []
    for i, path in enumerate(sorted(glob.glob(os.path.join(folder, "*.parquet")))):
        piece = pd.read_parquet(path)
        parts.append(piece.assign(fold=hash_fold_ids(piece, i, k, seed)))
    frame = pd.concat(parts, ignore_index=True)
    numeric = [c for c in frame.columns if c.startswith("x")]
    return frame, numeric, ["region"]


def lasso_lambda_max(frame: object, numeric: list[str], categorical: list[str]) -> float:
    """λ_max of the lasso on the whole table (mean-filled, one-hot, standardized; target centred):
    ``max |xᵀ(y − ȳ)| / n`` — where the grid starts (in NumPy: the grid's set-up, not the search)."""
    import numpy as np
    import pandas as pd

    assert isinstance(frame, pd.DataFrame)
    X = frame[numeric].to_numpy(dtype=np.float64)
    X = np.where(np.isnan(X), np.nanmean(X, axis=0), X)
    dummies = pd.get_dummies(frame[categorical].astype(str), dtype=np.float64).to_numpy()
    X = np.hstack([X, dummies])
    sd = X.std(axis=0)
    y = frame["y"].to_numpy(dtype=np.float64)
    cross = (X - X.mean(axis=0)).T @ (y - y.mean())
    return float(np.max(np.abs(cross / np.where(sd > 0, sd, 1.0)))) / len(y)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lambdas", type=int, default=20)
    parser.add_argument("--memory", default="8g", help="the Spark driver's memory (local mode: all of Spark)")
    parser.add_argument(
        "--partitions",
        type=int,
        default=2 * (os.cpu_count() or 1),
        help="the cached table's partitions (Spark's own from a pandas frame: one per 10,000-row Arrow batch)",
    )
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    start = time.perf_counter()
    import numpy as np
    from pyspark.ml import Pipeline
    from pyspark.ml.evaluation import RegressionEvaluator
    from pyspark.ml.feature import Imputer, OneHotEncoder, StringIndexer, VectorAssembler
    from pyspark.ml.regression import LinearRegression
    from pyspark.ml.tuning import CrossValidator, ParamGridBuilder
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master(f"local[{os.cpu_count() or 1}]")
        .config("spark.driver.memory", args.memory)
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    frame, numeric, categorical = folds_frame(args.folder, args.folds, args.seed)
    lambda_max = lasso_lambda_max(frame, numeric, categorical)
    # Spark makes one partition per Arrow batch of 10,000 rows (212 for 2M rows): every stage then pays 212
    # tasks' overhead, and the run at that setting had not ended after 84 minutes. Two per core instead.
    table = spark.createDataFrame(frame).repartition(args.partitions).cache()
    n = table.count()
    del frame

    filled = [f"{c}_f" for c in numeric]
    imputer = Imputer(inputCols=numeric, outputCols=filled, strategy="mean")
    index = StringIndexer(inputCols=categorical, outputCols=[f"{c}_i" for c in categorical], handleInvalid="keep")
    onehot = OneHotEncoder(
        inputCols=[f"{c}_i" for c in categorical], outputCols=[f"{c}_o" for c in categorical], dropLast=False
    )
    features = VectorAssembler(inputCols=filled + [f"{c}_o" for c in categorical], outputCol="features")
    model = LinearRegression(featuresCol="features", labelCol="y", standardization=True, maxIter=100, tol=1e-6)
    pipeline = Pipeline(stages=[imputer, index, onehot, features, model])

    grid_lambdas = np.geomspace(lambda_max, lambda_max * 1e-4, args.lambdas)
    grid = (
        ParamGridBuilder()
        .addGrid(model.regParam, [float(v) for v in grid_lambdas])
        .addGrid(model.elasticNetParam, [0.0, 0.5, 1.0])
        .build()
    )
    evaluator = RegressionEvaluator(labelCol="y", predictionCol="prediction", metricName="mse")
    tuner = CrossValidator(
        estimator=pipeline, estimatorParamMaps=grid, evaluator=evaluator, foldCol="fold", numFolds=args.folds
    )
    prepared_at = time.perf_counter()
    fitted = tuner.fit(table)
    done = time.perf_counter()
    scores = list(fitted.avgMetrics)
    best = int(np.argmin(scores))
    result = {
        "rows": n,
        "grid": len(grid),
        "fits": len(grid) * args.folds,
        "wall": done - start,
        "cv_seconds": done - prepared_at,
        "lambda_max": lambda_max,
        "best_reg_param": grid[best][model.regParam],
        "best_elastic_net_param": grid[best][model.elasticNetParam],
        "best_cv_mse": scores[best],
    }
    spark.stop()
    print(json.dumps(result))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(result, out)


if __name__ == "__main__":
    main()
