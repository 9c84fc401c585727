"""``--engine dask``: the statistics against the local preprocessing, and the whole study against
``--engine local`` with the same fold ids and mean imputation, on a 2-worker LocalCluster."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import regtune
from regtune.data import coerce_features
from regtune.errors import ConfigError
from regtune.scale.hashfolds import hash_fold_ids

PARTS = 8
K = 5
#: Read at import: the tests' environment is cleared of REGTUNE_* variables (conftest).
PG_URL = os.environ.get("REGTUNE_TEST_PG_URL")
SEED = 3


def _table(n: int = 320, seed: int = 0) -> pd.DataFrame:
    """A table with numeric columns, a 4-level and a 2-level categorical, and missing values in both kinds."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)) * [1.0, 2.0, 0.5] + [0.0, 1.0, -2.0]
    colour = rng.choice(["red", "green", "blue", "grey"], size=n, p=[0.4, 0.3, 0.2, 0.1])
    size = rng.choice(["S", "L"], size=n)
    effect = {"red": 0.0, "green": 1.0, "blue": -1.0, "grey": 2.0}
    y = x @ [1.5, -0.5, 0.0] + np.array([effect[c] for c in colour]) + (size == "L") + rng.normal(size=n)
    frame = pd.DataFrame({"id": np.arange(n) * 7 + 11, "x1": x[:, 0], "x2": x[:, 1], "x3": x[:, 2]})
    frame["colour"] = pd.Series(colour, dtype=object)
    frame["size"] = pd.Series(size, dtype=object)
    frame["y"] = y
    for col, share in (("x1", 0.1), ("x2", 0.05), ("colour", 0.08), ("size", 0.05)):
        frame.loc[rng.random(n) < share, col] = np.nan if col.startswith("x") else None
    return frame


@pytest.fixture(scope="session")
def cluster() -> Any:
    """A LocalCluster of 2 single-threaded worker processes, shared by the session's tests."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, memory_limit="400MiB", dashboard_address=None
    ) as made:
        yield made


@pytest.fixture(scope="module")
def parts(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    """The table in 8 Parquet files, and the whole table with the dask engine's fold ids (hash of ``id``)."""
    folder = tmp_path_factory.mktemp("parquet")
    return folder, _write_parts(_table(), folder)


def _write_parts(frame: pd.DataFrame, folder: Path) -> pd.DataFrame:
    """``frame`` in 8 Parquet files in ``folder``; returned with the dask engine's fold ids (hash of ``id``)."""
    with_folds = []
    for i, rows in enumerate(np.array_split(np.arange(len(frame)), PARTS)):
        piece = frame.iloc[rows].reset_index(drop=True)
        piece.to_parquet(folder / f"part-{i:02d}.parquet", index=False)
        with_folds.append(piece.assign(fold=hash_fold_ids(piece, i, K, SEED, row_key="id")))
    return pd.concat(with_folds, ignore_index=True)


def _study(result: Any) -> list[tuple[int, str, float, float, list[float]]]:
    return [(p.trial, p.penalty, p.lam, p.l1_ratio, p.fold_scores) for p in result.curve]


def test_hash_folds_do_not_depend_on_the_partitioning() -> None:
    frame = _table(200)
    whole = hash_fold_ids(frame, 0, K, SEED, row_key="id")
    halves = [hash_fold_ids(frame.iloc[rows], 9, K, SEED, row_key="id") for rows in np.array_split(np.arange(200), 2)]
    assert np.array_equal(whole, np.concatenate(halves))
    assert set(whole.tolist()) == set(range(K))
    assert not np.array_equal(whole, hash_fold_ids(frame, 0, K, SEED + 1, row_key="id"))  # the seed matters


@pytest.mark.parametrize(
    ("penalties", "scoring"), [(("l1", "l2", "elasticnet"), None), (("elasticnet",), "neg_root_mean_squared_error")]
)
def test_dask_engine_is_the_local_study(
    cluster: Any, parts: tuple[Path, pd.DataFrame], penalties: tuple[str, ...], scoring: str | None
) -> None:
    folder, with_folds = parts
    common = {"target": "y", "n_trials": 14, "seed": SEED, "penalties": penalties, "scoring": scoring}
    local = regtune.tune(with_folds, fold_column="fold", drop=("id",), impute="mean", **common)
    scaled = regtune.tune(str(folder), engine="dask", scheduler=cluster.scheduler_address, row_key="id", **common)
    _same_study(local, scaled)
    assert scaled.chosen.point.penalty == local.chosen.point.penalty
    assert scaled.dataset.n_columns_encoded == local.dataset.n_columns_encoded
    assert [p.d_log_lambda is None for p in scaled.curve] == [p.d_log_lambda is None for p in local.curve]
    # The refit from the whole table's statistics predicts as the local refit does.
    X = coerce_features(with_folds.drop(columns=["y", "fold", "id"]), ["x1", "x2", "x3"], ["colour", "size"])
    assert np.allclose(local.model.predict(X), scaled.model.predict(X), rtol=1e-6, atol=1e-6)
    assert type(scaled.model[-1]) is type(local.model[-1])


def test_large_means_keep_their_digits(cluster: Any, tmp_path: Path) -> None:
    """A column around 1e7 that varies by about 1, and a target around 1e6: the sums are taken around a
    partition's means, so the study is still the local one to 1e-9."""
    frame = _table()
    frame["x1"] += 1e7
    frame["y"] += 1e6
    with_folds = _write_parts(frame, tmp_path)
    common = {"target": "y", "n_trials": 8, "seed": SEED}
    local = regtune.tune(with_folds, fold_column="fold", drop=("id",), impute="mean", **common)
    scaled = regtune.tune(str(tmp_path), engine="dask", scheduler=cluster.scheduler_address, row_key="id", **common)
    _same_study(local, scaled)


def _same_study(a_result: Any, b_result: Any) -> None:
    """Same trials (penalty, λ, l1_ratio) and the same fold scores, to 1e-9."""
    a, b = _study(a_result), _study(b_result)
    assert [t[:2] for t in a] == [t[:2] for t in b]
    for (_, _, lam_a, r_a, scores_a), (_, _, lam_b, r_b, scores_b) in zip(a, b, strict=True):
        assert math.isclose(lam_a, lam_b, rel_tol=1e-9)
        assert math.isclose(r_a, r_b, rel_tol=1e-9, abs_tol=1e-12)
        assert np.allclose(scores_a, scores_b, rtol=1e-9, atol=0)


def test_fold_column_and_given_categories(cluster: Any, parts: tuple[Path, pd.DataFrame], tmp_path: Path) -> None:
    """The hash's fold ids given as a fold column, and the levels given with ``categories`` (no first pass for
    them), make the same study as the row key's hash and the levels found by the first pass."""
    _, with_folds = parts
    for i, rows in enumerate(np.array_split(np.arange(len(with_folds)), PARTS)):
        with_folds.iloc[rows].to_parquet(tmp_path / f"p{i}.parquet", index=False)
    common = {"target": "y", "n_trials": 6, "seed": SEED, "engine": "dask", "scheduler": cluster.scheduler_address}
    hashed = regtune.tune(str(tmp_path), row_key="id", drop=("fold",), **common)
    given = regtune.tune(
        str(tmp_path / "*.parquet"),
        fold_column="fold",
        drop=("id",),
        categories="colour=red|green|blue|grey;size=L|S",
        **common,
    )
    _same_study(hashed, given)


def test_unreachable_scheduler_is_one_line(parts: tuple[Path, pd.DataFrame], monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from regtune.cli import app
    from regtune.scale import cluster

    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", 1)
    folder, _ = parts
    result = CliRunner().invoke(
        app, ["tune", str(folder), "-y", "y", "--engine", "dask", "--scheduler", "tcp://127.0.0.1:9", "-n", "2"]
    )
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: cannot reach the dask scheduler tcp://127.0.0.1:9 ")


def test_median_is_not_offered_on_dask() -> None:
    with pytest.raises(ConfigError, match="median needs a full sort"):
        regtune.TuneConfig.of(engine="dask", impute="median")


def test_partition_sums_do_not_depend_on_the_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    from regtune.scale import stats

    frame = _table(100)
    frame.loc[[3, 50], "y"] = np.nan
    layout = stats.Layout(("x1", "x2", "x3"), (("colour", ("blue", "green", "red")), ("size", ("L", "S"))))
    folds = hash_fold_ids(frame, 0, K, SEED, row_key="id")
    whole = stats.partition_stats(frame, "y", folds, K, layout)
    monkeypatch.setattr(stats, "CHUNK_ROWS", 7)
    chunked = stats.partition_stats(frame, "y", folds, K, layout)
    assert whole.dropped == chunked.dropped == 2
    assert np.allclose(whole.R, chunked.R) and np.allclose(whole.S, chunked.S) and np.allclose(whole.yy, chunked.yy)
    # Row counts, and "grey" (not among the levels given) encoded as no level at all.
    keep = frame["y"].notna().to_numpy()
    assert whole.R[:, 0, 0].sum() == keep.sum()
    level_rows = whole.total().R[0, 7:10].sum() + whole.total().R[0, 10]  # the three levels + missing
    assert level_rows == (keep & (frame["colour"] != "grey").to_numpy()).sum()


def test_arrow_text_is_read_as_python_text() -> None:
    """A categorical column read by Dask is Arrow-backed text, often in several chunks: its level codes and
    its fingerprint hashes (taken in Arrow) equal those of the same values as Python strings."""
    import pyarrow as pa

    from regtune.scale import stats

    rng = np.random.default_rng(3)
    values = rng.choice(np.array(["north", "süd", "", "west", None], dtype=object), size=500)
    chunks = pa.chunked_array(
        [pa.array(list(values[:180]), pa.large_string()), pa.array(list(values[180:]), pa.large_string())]
    )
    chunked = pd.Series(pd.arrays.ArrowStringArray(chunks.cast(pa.large_string())))
    levels = ("", "north", "süd")  # "west" is not a level: no level at all
    for column in (chunked, pd.Series(values, dtype="string[pyarrow]"), pd.Series([None] * 3, dtype="string[pyarrow]")):
        as_objects = pd.Series(column.to_numpy(dtype=object), dtype=object)
        assert np.array_equal(stats.level_codes(column, levels), stats.level_codes(as_objects, levels))
        assert np.array_equal(stats._text_hashes(column), pd.util.hash_array(column.to_numpy(dtype=object)))
    codes = stats.level_codes(chunked, levels)
    assert (codes[pd.isna(values)] == stats.MISSING).all() and (codes[values == "west"] == stats.UNKNOWN).all()


def test_the_data_fingerprint_does_not_depend_on_the_partitioning() -> None:
    """A study's data hash: exact, from any split of the rows into partitions (a second machine resuming a
    shared study reads the same files in other partitions), and it changes with a value or a fold id."""
    from regtune.scale import stats

    frame = _table(200)
    layout = stats.Layout(("x1", "x2", "x3"), (("colour", ("blue", "green", "grey", "red")), ("size", ("L", "S"))))
    folds = hash_fold_ids(frame, 0, K, SEED, row_key="id")
    whole = stats.partition_stats(frame, "y", folds, K, layout)
    pieces = [
        stats.partition_stats(frame.iloc[rows], "y", folds[rows], K, layout)
        for rows in np.array_split(np.random.default_rng(1).permutation(200), 7)
    ]
    summed = pieces[0]
    for piece in pieces[1:]:
        summed = summed + piece
    assert summed.fingerprint == whole.fingerprint
    assert np.allclose(summed.R, whole.R)
    changed = frame.copy()
    changed.loc[17, "x2"] += 1e-12
    assert stats.partition_stats(changed, "y", folds, K, layout).fingerprint != whole.fingerprint
    other_folds = hash_fold_ids(frame, 0, K, SEED + 1, row_key="id")
    assert stats.partition_stats(frame, "y", other_folds, K, layout).fingerprint != whole.fingerprint


def _slow_partitions(rows: int) -> None:
    """On a worker: turn a partition into sums ``rows`` rows at a time (a slow pass, to kill a worker in it)."""
    import importlib

    importlib.import_module("regtune.scale.stats").CHUNK_ROWS = rows


def test_a_worker_killed_mid_pass_is_recomputed(cluster: Any, tmp_path: Path) -> None:
    """SIGKILL one of the 2 workers while the pass runs: Dask recomputes its partitions on the other (and on
    the worker its nanny restarts), and the sums are those of a pass without a fault."""
    import os
    import signal
    import threading
    import time

    from distributed import Client

    from regtune.config import TuneConfig
    from regtune.scale.cluster import first_pass, plan, read_source, second_pass
    from regtune.scale.stats import Layout

    frame = _table(3200, seed=5)
    for i, rows in enumerate(np.array_split(np.arange(len(frame)), PARTS)):
        frame.iloc[rows].to_parquet(tmp_path / f"part-{i}.parquet", index=False)
    with Client(cluster.scheduler_address) as client:
        table = read_source(str(tmp_path), None)
        the_plan = plan(table, TuneConfig.of(target="y", engine="dask", row_key="id", folds=K, seed=SEED))
        levels, _ = first_pass(client, table, the_plan, the_plan.categorical)
        layout = Layout(tuple(the_plan.numeric), tuple((c, tuple(sorted(levels[c]))) for c in the_plan.categorical))
        reference = second_pass(client, table, the_plan, layout)

        client.run(_slow_partitions, 1)
        pids = list(client.run(os.getpid).values())
        outcome: dict[str, Any] = {}
        worker = threading.Thread(target=lambda: outcome.update(sums=second_pass(client, table, the_plan, layout)))
        worker.start()

        def done_partitions(dask_scheduler: Any) -> int:
            return sum(
                str(key).startswith("_stats-") and ts.state == "memory" for key, ts in dask_scheduler.tasks.items()
            )

        deadline = time.monotonic() + 60
        while client.run_on_scheduler(done_partitions) < 1 and worker.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        killed_mid_pass = worker.is_alive()
        os.kill(pids[0], signal.SIGKILL)
        worker.join(timeout=120)
        client.wait_for_workers(2, timeout=60)
        client.run(_slow_partitions, 65_536)
    assert killed_mid_pass, "the pass ended before a worker could be killed in it"
    sums = outcome["sums"]
    assert np.allclose(sums.R, reference.R, rtol=1e-12) and np.allclose(sums.S, reference.S, rtol=1e-12)
    assert np.allclose(sums.yy, reference.yy, rtol=1e-12) and sums.dropped == reference.dropped


def test_engine_from_the_environment_and_the_settings_file(
    parts: tuple[Path, pd.DataFrame], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from regtune.cli import app
    from regtune.scale import cluster

    folder, _ = parts
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    by_env = runner.invoke(app, ["tune", str(folder), "-y", "y", "--impute", "median"], env={"REGTUNE_ENGINE": "dask"})
    assert by_env.exit_code == 1 and "--impute median needs a full sort" in by_env.output
    (tmp_path / "regtune.toml").write_text('engine = "dask"\n')  # else --scheduler would be refused
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", 1)
    by_file = runner.invoke(app, ["tune", str(folder), "-y", "y", "--scheduler", "tcp://127.0.0.1:9"])
    assert by_file.exit_code == 1, by_file.output
    assert by_file.output.startswith("Error: cannot reach the dask scheduler tcp://127.0.0.1:9 ")


def test_tables_in_memory_stay_local(parts: tuple[Path, pd.DataFrame]) -> None:
    _, with_folds = parts
    with pytest.raises(ConfigError, match="dask reads files"):
        regtune.tune(with_folds, target="y", engine="dask")
    with pytest.raises(ConfigError, match="reads the target from the files"):
        regtune.tune("x.parquet", y=with_folds["y"], engine="dask")


def test_a_table_the_workers_cannot_read_is_one_line(cluster: Any, tmp_path: Path) -> None:
    from regtune.errors import DataError

    n = 30_000  # past the rows dask guesses a CSV's types from
    frame = pd.DataFrame({"a": np.arange(n, dtype=float).astype(object), "y": np.linspace(0, 1, n)})
    frame.loc[n - 1, "a"] = "oops"
    frame.to_csv(tmp_path / "mixed.csv", index=False)
    common = {"target": "y", "engine": "dask", "scheduler": cluster.scheduler_address, "n_trials": 2}
    with pytest.raises(DataError, match=r"^the cluster could not read the table \(ValueError: Mismatched dtypes"):
        regtune.tune(str(tmp_path / "mixed.csv"), **common)
    # regtune's own error, raised on a worker, arrives as it is.
    holes = _table(40).assign(fold=[None, *range(39)])
    holes.to_parquet(tmp_path / "holes.parquet", index=False)
    with pytest.raises(DataError, match="has missing values: give every row a fold"):
        regtune.tune(str(tmp_path / "holes.parquet"), fold_column="fold", drop=("id",), **common)


def test_sources_the_engine_reads_and_refuses(cluster: Any, parts: tuple[Path, pd.DataFrame], tmp_path: Path) -> None:
    from regtune.errors import DataError

    _, with_folds = parts
    common = {"target": "y", "engine": "dask", "scheduler": cluster.scheduler_address, "n_trials": 4, "seed": SEED}
    csv = tmp_path / "csv"
    csv.mkdir()
    for i, rows in enumerate(np.array_split(np.arange(len(with_folds)), 3)):
        with_folds.iloc[rows].drop(columns=["fold"]).to_csv(csv / f"p{i}.csv", index=False)
    from_csv = regtune.tune(str(csv), row_key="id", **common)  # a folder of CSV files
    from_parquet = regtune.tune(str(parts[0]), row_key="id", **common)
    _same_study(from_csv, from_parquet)  # the row key's hash: the same folds from other files
    # One study in storage: the CSV files resume the Parquet run's study (the data hash is the rows', not the
    # float sums' — which differ in their last bits between 8 and 3 partitions).
    stored = {**common, "storage": f"sqlite:///{tmp_path / 'shared.db'}", "study_name": "shared"}
    first = regtune.tune(str(parts[0]), row_key="id", **stored)
    second = regtune.tune(str(csv), row_key="id", **{**stored, "n_trials": 8})
    assert not first.study.resumed and second.study.resumed
    assert second.study.stored == first.study.n_trials and second.study.n_trials == 8
    (tmp_path / "fake.parquet").write_text("not parquet\n")
    with pytest.raises(DataError, match=r"^cannot read .*fake\.parquet as Parquet \(ArrowInvalid"):
        regtune.tune(str(tmp_path / "fake.parquet"), **common)
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    (mixed / "a.parquet").write_bytes((parts[0] / "part-00.parquet").read_bytes())
    (mixed / "b.csv").write_text((csv / "p0.csv").read_text())
    with pytest.raises(ConfigError, match="the files mix the two"):
        regtune.tune(str(mixed / "*"), **common)


def test_a_dask_model_file_predicts_codes_read_with_gaps_as_at_training(cluster: Any, tmp_path: Path) -> None:
    """A numeric code column tuned as a categorical, read as float64 on the cluster (it has gaps: levels
    "1.0", "2.0"): the model file records that, so rows read as int64 at predict time get the same levels."""
    from regtune.data import load_dataset
    from regtune.modelfile import load_model, predict, save_model

    rng = np.random.default_rng(8)
    n = 240
    zone = rng.integers(1, 4, n).astype(float)
    frame = pd.DataFrame({"id": np.arange(n), "x": rng.normal(size=n), "zone": zone})
    frame["y"] = frame["x"] + np.array([0.0, 2.0, -2.0])[zone.astype(int) - 1] + rng.normal(scale=0.3, size=n)
    frame.loc[::17, "zone"] = np.nan
    frame.to_parquet(tmp_path / "train.parquet", index=False)
    result = regtune.tune(
        str(tmp_path / "train.parquet"), target="y", engine="dask", scheduler=cluster.scheduler_address,
        row_key="id", categorical=("zone",), n_trials=6, seed=SEED,
    )  # fmt: skip
    assert result.read_as == {"zone": "float64"}
    save_model(result, tmp_path / "m.regtune")
    model = load_model(tmp_path / "m.regtune")
    new = frame.drop(columns=["y", "id"]).dropna().astype({"zone": "int64"})  # no gaps: read as int64
    predicted = predict(model, new).frame["prediction"].to_numpy()
    as_trained = load_dataset(frame.drop(columns=["id"]).dropna(), target="y", categorical=("zone",)).X
    np.testing.assert_allclose(predicted, result.model.predict(as_trained), rtol=1e-9)
    assert np.corrcoef(predicted, frame.dropna()["y"])[0, 1] > 0.9  # the zone effect is there: levels matched


def test_infinite_values_are_refused_by_column(cluster: Any, tmp_path: Path) -> None:
    from regtune.errors import DataError

    frame = _table(60)
    frame.loc[7, "x2"] = np.inf
    frame.to_parquet(tmp_path / "inf.parquet", index=False)
    common = {"target": "y", "engine": "dask", "scheduler": cluster.scheduler_address, "n_trials": 2}
    with pytest.raises(DataError, match=r"^column 'x2' holds inf \(infinite\) in 1 row"):
        regtune.tune(str(tmp_path / "inf.parquet"), drop=("id",), **common)
    frame = _table(60)
    frame.loc[3, "y"] = -1e200
    frame.to_parquet(tmp_path / "huge.parquet", index=False)
    with pytest.raises(DataError, match=r"^target 'y' holds -1e\+200 \(beyond ±1e\+100"):
        regtune.tune(str(tmp_path / "huge.parquet"), drop=("id",), **common)


def test_a_column_with_too_many_levels_is_refused_without_collecting_them(cluster: Any, tmp_path: Path) -> None:
    """The first pass keeps at most max_categories + 1 levels per column (per partition and merged), so a
    free-text column is one line, however many distinct values it has."""
    from regtune.errors import DataError
    from regtune.scale.cluster import Plan, _levels, _merge_levels

    frame = _table(200)
    frame["note"] = [f"free text {i}" for i in range(200)]
    frame.to_parquet(tmp_path / "text.parquet", index=False)
    common = {"target": "y", "engine": "dask", "scheduler": cluster.scheduler_address, "n_trials": 2}
    with pytest.raises(DataError, match=r"^categorical column 'note' has more than 50 distinct values"):
        regtune.tune(str(tmp_path / "text.parquet"), drop=("id",), max_categories=50, **common)
    plan = Plan("y", [], ["note"], 5, 0, level_cap=51)
    found = _levels(frame, 0, plan, ["note"])
    assert len(found["note"]) == 51
    assert len(_merge_levels(found, _levels(frame.iloc[::-1], 1, plan, ["note"]), cap=51)["note"]) == 51


def test_sums_too_wide_for_the_workers_are_one_line(cluster: Any, tmp_path: Path) -> None:
    """A categorical column of 1,800 levels makes ~1,800 raw columns: 5 folds' sums are 0.12 GiB a
    partition, and a worker of 400 MiB would hold three: refused before the pass, not a killed worker."""
    from regtune.errors import DataError

    frame = _table(2000)
    frame["code"] = [f"c{i % 1800}" for i in range(2000)]
    frame.to_parquet(tmp_path / "wide.parquet", index=False)
    common = {"target": "y", "engine": "dask", "scheduler": cluster.scheduler_address, "n_trials": 2}
    with pytest.raises(DataError, match=r"^the sums of 18\d\d raw columns × 5 folds take 0\.1\d GiB per partition"):
        regtune.tune(str(tmp_path / "wide.parquet"), drop=("id",), max_categories=5000, **common)
    regtune.tune(str(tmp_path / "wide.parquet"), drop=("id", "code"), **common)  # without it: tuned


@pytest.mark.skipif(PG_URL is None, reason="REGTUNE_TEST_PG_URL not set (.ci/run starts PostgreSQL)")
def test_two_dask_clients_share_one_postgresql_study(
    cluster: Any, parts: tuple[Path, pd.DataFrame], tmp_path: Path
) -> None:
    """Two regtune processes on the Dask engine, one reading the 8 Parquet files and one the same rows from 3
    CSV files, run at once on one PostgreSQL study: neither refuses it (its data hash is the rows'
    fingerprint), and the study ends with the budget and no trial left running."""
    import optuna

    from regtune.search import load_stored

    assert PG_URL is not None
    storage = PG_URL
    name = f"dask-clients-{os.getpid()}-{int(time.time())}"
    csv = tmp_path / "csv"
    csv.mkdir()
    for i, rows in enumerate(np.array_split(np.arange(len(parts[1])), 3)):
        parts[1].iloc[rows].drop(columns=["fold"]).to_csv(csv / f"p{i}.csv", index=False)
    base = [sys.executable, "-m", "regtune", "tune", "-y", "y", "--engine", "dask", "--scheduler",
            cluster.scheduler_address, "--row-key", "id", "--seed", str(SEED), "--search", "tpe",
            "--storage", storage, "--study-name", name]  # fmt: skip
    env = {**os.environ, "NO_COLOR": "1"}
    # The study made once before the clients start (DESIGN.md: concurrent schema creation collides).
    subprocess.run([*base, str(parts[0]), "-n", "1"], check=True, capture_output=True, env=env)
    procs = [
        subprocess.Popen(
            [*base, source, "-n", "16", "--json", str(tmp_path / f"c{i}.json")],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for i, source in enumerate((str(parts[0]), str(csv)))
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()
    study, _ = load_stored(storage, name)
    counted = [t for t in study.get_trials(deepcopy=False) if t.state.is_finished()]
    assert len(counted) >= 16
    assert not [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.RUNNING]
    for i in range(2):  # neither refused the study as "other data", whichever files it read
        seen = json.loads((tmp_path / f"c{i}.json").read_text())["study"]
        assert seen["name"] == name and seen["resumed"]


def _binary(frame: pd.DataFrame, seed: int = 1, labels: tuple[Any, Any] = ("no", "yes")) -> pd.DataFrame:
    """``frame`` with its target replaced by a binary one drawn from a logistic model of the old target."""
    rng = np.random.default_rng(seed)
    logit = frame["y"].to_numpy() - frame["y"].mean()
    drawn = rng.random(len(frame)) < 1 / (1 + np.exp(-logit))
    return frame.assign(y=np.where(drawn, labels[1], labels[0]))


@pytest.fixture(scope="module")
def binary_parts(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    """A binary text target on the table of ``parts``: 8 Parquet files and the whole table with the fold ids."""
    folder = tmp_path_factory.mktemp("binary")
    return folder, _write_parts(_binary(_table(400)), folder)


@pytest.mark.parametrize(("penalties", "scoring"), [(("l1", "l2", "elasticnet"), None), (("elasticnet",), "accuracy")])
def test_dask_logistic_is_the_local_study(
    cluster: Any, binary_parts: tuple[Path, pd.DataFrame], penalties: tuple[str, ...], scoring: str | None
) -> None:
    """Binary logistic regression with categoricals and missing values, its folds fitted together by passes
    over the rows the workers hold: the same trials, fold scores (1e-9) and hypergradients as the local
    engine on the same fold ids with mean imputation, and a refit that predicts the same probabilities. Both
    solve to ``tol`` 1e-8 (the two solvers take different paths to the optimum; at the default 1e-4 their fold
    scores agree to about 1e-7)."""
    folder, with_folds = binary_parts
    common = {"target": "y", "n_trials": 12, "seed": SEED, "penalties": penalties, "scoring": scoring, "tol": 1e-8}
    local = regtune.tune(with_folds, fold_column="fold", drop=("id",), impute="mean", **common)
    scaled = regtune.tune(str(folder), engine="dask", scheduler=cluster.scheduler_address, row_key="id", **common)
    _same_study(local, scaled)
    assert scaled.dataset.task == "classification" and scaled.dataset.n_classes == 2
    assert scaled.chosen.point.penalty == local.chosen.point.penalty
    for a, b in zip(local.curve, scaled.curve, strict=True):
        assert (a.d_log_lambda is None) == (b.d_log_lambda is None)
        if a.d_log_lambda is not None and b.d_log_lambda is not None:
            assert math.isclose(a.d_log_lambda, b.d_log_lambda, rel_tol=1e-6, abs_tol=1e-12)
    X = coerce_features(with_folds.drop(columns=["y", "fold", "id"]), ["x1", "x2", "x3"], ["colour", "size"])
    assert list(scaled.model.classes_) == list(local.model.classes_) == ["no", "yes"]
    assert np.allclose(local.model.predict_proba(X), scaled.model.predict_proba(X), rtol=0, atol=1e-8)
    assert type(scaled.model[-1]) is type(local.model[-1])


def test_a_numeric_binary_target_is_a_classification_on_dask(cluster: Any, tmp_path: Path) -> None:
    """A 0/1 integer target is detected as a classification, as the local engine detects it (its sums come
    from the second pass, mapped to 0/1); a 3-class target is refused in one line, a float target with many
    values stays a regression."""
    frame = _binary(_table(320, seed=4), seed=2, labels=(3, 7))
    with_folds = _write_parts(frame, tmp_path)
    common = {"target": "y", "n_trials": 6, "seed": SEED, "penalties": ("l1", "l2"), "tol": 1e-8}
    local = regtune.tune(with_folds, fold_column="fold", drop=("id",), impute="mean", **common)
    scaled = regtune.tune(str(tmp_path), engine="dask", scheduler=cluster.scheduler_address, row_key="id", **common)
    assert local.dataset.task == scaled.dataset.task == "classification"
    _same_study(local, scaled)
    assert list(scaled.model.classes_) == list(local.model.classes_) == [3, 7]
    assert scaled.model.classes_.dtype.kind == local.model.classes_.dtype.kind == "i"
    on = {"engine": "dask", "scheduler": cluster.scheduler_address}
    three = tmp_path / "three"
    three.mkdir()
    frame.assign(y=np.arange(len(frame)) % 3).to_parquet(three / "t.parquet", index=False)
    with pytest.raises(ConfigError, match=r"^target 'y' has more than two classes: engine dask fits binary"):
        regtune.tune(str(three), task="classification", **on, **common)
    with pytest.raises(ConfigError, match=r"^target 'y' holds 3 integer values, which the local engine takes for"):
        regtune.tune(str(three), **on, **common)  # the local engine's rule: a multinomial classification
    assert regtune.tune(str(three), task="regression", **on, **common).dataset.task == "regression"
    regression = regtune.tune(str(parts_like(frame, tmp_path)), **on, **common)
    assert regression.dataset.task == "regression"
    # --family gaussian: least squares on the 3/7 target, as locally.
    gaussian = regtune.tune(str(tmp_path / "part-00.parquet"), family="gaussian", drop=("id",), **on, **common)
    assert gaussian.dataset.task == "regression"


def test_a_fold_with_one_class_in_its_training_rows_is_one_line(cluster: Any, tmp_path: Path) -> None:
    """Two folds from a fold column, the second holding only 0s: the first fold trains on one class."""
    from regtune.errors import DataError

    frame = _table(200, seed=6)
    frame["y"] = (np.arange(200) < 40).astype(np.int64)
    frame["fold"] = np.where(np.arange(200) < 100, 0, 1)
    frame.to_parquet(tmp_path / "t.parquet", index=False)
    with pytest.raises(DataError, match=r"^the training rows of fold 1 hold one class of target 'y'"):
        regtune.tune(str(tmp_path), target="y", engine="dask", scheduler=cluster.scheduler_address,
                     fold_column="fold", drop=("id",), n_trials=2)  # fmt: skip


def parts_like(frame: pd.DataFrame, tmp_path: Path) -> Path:
    """``frame`` with a real-valued target, in one Parquet file."""
    path = tmp_path / "real.parquet"
    frame.assign(y=np.linspace(0.0, 1.0, len(frame)) ** 2).to_parquet(path, index=False)
    return path


def test_dask_logistic_refit_starts_from_the_folds_solutions() -> None:
    """The refit at a penalty the trials fitted starts from their solutions (averaged as raw coefficients):
    the same model as from a cold start, in fewer passes."""
    from regtune.models import Penalty
    from regtune.scale import stats
    from regtune.scale.logistic import PassScorer, StatsLogistic, partition_pass, partition_rows
    from regtune.scale.tune import _folds

    frame = _binary(_table(400))
    frame.loc[[5, 40], "x2"] = np.nan
    layout = stats.Layout(("x1", "x2", "x3"), (("colour", ("blue", "green", "grey", "red")), ("size", ("L", "S"))))
    folds = hash_fold_ids(frame, 0, K, SEED, row_key="id")
    binary = frame.assign(y=(frame["y"] == "yes").astype(float))
    sums = stats.partition_stats(binary.drop(columns="id"), "y", folds, K, layout)
    fold_list, full = _folds(sums, layout, K)
    rows = partition_rows(frame.drop(columns="id"), "y", "yes", folds, layout)
    passes = []

    def run(B: np.ndarray, held: np.ndarray) -> Any:
        passes.append(B.shape[1])
        return partition_pass(rows, B, held)

    family = StatsLogistic(full, np.array(["no", "yes"]), run, seed=SEED)
    penalty = Penalty.of("elasticnet", 0.01, 0.5)
    family.fit_folds_together(fold_list, penalty, 1e-8, [None] * K, PassScorer("neg_log_loss"), None)
    warm_passes = len(passes)
    warm = family.fit_fold(full, penalty, 1e-8)
    warm_passes = len(passes) - warm_passes
    family.raw_solutions.clear()
    cold_passes = len(passes)
    cold = family.fit_fold(full, penalty, 1e-8)
    cold_passes = len(passes) - cold_passes
    assert warm.converged and cold.converged
    assert np.allclose(warm.coef, cold.coef, atol=1e-7) and np.allclose(warm.intercept, cold.intercept, atol=1e-7)
    assert warm_passes < cold_passes, (warm_passes, cold_passes)


def test_a_worker_killed_between_logistic_passes_is_recomputed(
    cluster: Any, binary_parts: tuple[Path, pd.DataFrame]
) -> None:
    """The rows the workers hold for the passes are recomputed from the files when a worker dies: the pass
    after the kill returns the sums of the pass before it."""
    import os
    import signal

    from distributed import Client

    from regtune.config import TuneConfig
    from regtune.scale.cluster import first_pass, logistic_runner, persist_rows, plan, read_source
    from regtune.scale.stats import Layout

    folder, _ = binary_parts
    with Client(cluster.scheduler_address) as client:
        table = read_source(str(folder), None)
        the_plan = plan(table, TuneConfig.of(target="y", engine="dask", row_key="id", folds=K, seed=SEED))
        levels, _ = first_pass(client, table, the_plan, the_plan.categorical)
        layout = Layout(tuple(the_plan.numeric), tuple((c, tuple(sorted(levels[c]))) for c in the_plan.categorical))
        run = logistic_runner(client, persist_rows(client, table, the_plan, layout, "yes"))
        B = np.random.default_rng(0).normal(scale=0.1, size=(layout.width, K + 1))
        held = np.arange(-1, K)
        before = run(B, held)
        os.kill(next(iter(client.run(os.getpid).values())), signal.SIGKILL)
        after = run(B, held)
        client.wait_for_workers(2, timeout=60)
    assert np.allclose(after.G, before.G, rtol=1e-12, atol=1e-12) and np.allclose(after.loss, before.loss, rtol=1e-12)
    assert np.allclose(after.val_g, before.val_g, rtol=1e-12, atol=1e-12)
    assert before.val_correct[0] == 0 and before.val_correct[1:].sum() > 0  # held −1: no validation rows


def test_a_binary_target_as_0_1_with_nullable_and_text_columns() -> None:
    """Missing values (NaN, None, pandas' NA of a nullable column) are NaN; the second class is 1."""
    from regtune.scale.logistic import binary_target

    cases = [
        (pd.Series([3, 7, None], dtype="Int64"), 7, [0.0, 1.0, np.nan]),
        (pd.Series(["a", "b", None]), "b", [0.0, 1.0, np.nan]),
        (pd.Series([True, False, None], dtype="boolean"), "True", [1.0, 0.0, np.nan]),
        (pd.Series([0.0, 1.0, np.nan]), 1.0, [0.0, 1.0, np.nan]),
    ]
    for column, positive, expected in cases:
        assert np.array_equal(binary_target(column, positive), expected, equal_nan=True)


def test_parquet_partitions_are_read_as_dask_reads_them(tmp_path: Path) -> None:
    """The engine reads Parquet with pyarrow (twice as fast as dask.dataframe's read of a partition): the
    same dtypes and values as ``dd.read_parquet``; a partition's first rows, its row groups, and a text
    column read as Parquet's dictionary give the same values."""
    import dask.dataframe as dd

    from regtune.scale.cluster import _distinct_text, parquet_files, read_piece

    n = 500
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(
        {
            "f": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
            "i": np.arange(n),
            "ni": pd.array([None if v % 7 == 0 else v for v in range(n)], dtype="Int64"),
            "b": rng.random(n) < 0.5,
            "s": pd.Series([None if v % 9 == 0 else f"v{v % 4}" for v in range(n)], dtype=object),
            "c": pd.Categorical(rng.choice(["a", "b", "c"], size=n)),
            "d": pd.Timestamp("2020-01-01") + pd.to_timedelta(np.arange(n), unit="D"),
        }
    )
    path = str(tmp_path / "t.parquet")
    frame.to_parquet(path, index=False, row_group_size=128)
    ours, theirs = parquet_files([path]), dd.read_parquet(path)
    assert ours.columns == list(frame.columns)
    assert {c: str(t) for c, t in ours.dtypes.items()} == {str(c): str(t) for c, t in theirs.dtypes.items()}
    read = read_piece(path, None, list(frame.columns))
    pd.testing.assert_frame_equal(read, theirs.compute().reset_index(drop=True))
    pd.testing.assert_frame_equal(read_piece(path, None, ["f", "s"], rows=100), read[["f", "s"]].head(100))
    pd.testing.assert_frame_equal(
        read_piece(path, (1, 2), ["i", "s"]), read[["i", "s"]].iloc[128:384].reset_index(drop=True)
    )
    as_dictionary = read_piece(path, None, ["s"], ["s"])["s"]
    assert isinstance(as_dictionary.dtype, pd.CategoricalDtype)
    assert _distinct_text(as_dictionary) == _distinct_text(read["s"]) == {"v0", "v1", "v2", "v3"}


def test_a_large_parquet_file_is_read_in_runs_of_row_groups(
    cluster: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file above the block size is several partitions, each a run of its row groups: every row is read
    once (the same data fingerprint and sums with the folds of a row key), in order."""
    from distributed import Client

    from regtune.config import TuneConfig
    from regtune.scale import cluster as engine
    from regtune.scale.stats import Layout

    frame = _table(1000, seed=8)
    frame.to_parquet(tmp_path / "a.parquet", index=False, row_group_size=90)
    frame.iloc[:300].to_parquet(tmp_path / "b.parquet", index=False, row_group_size=90)
    files = [str(tmp_path / "a.parquet"), str(tmp_path / "b.parquet")]
    whole = engine.parquet_files(files)
    assert whole.pieces == tuple((f, None) for f in files)
    monkeypatch.setattr(engine, "BLOCK_BYTES", 3000)  # a few row groups (≈ 1,600 bytes each) per partition
    split = engine.parquet_files(files)
    runs = [groups for path, groups in split.pieces if path == files[0]]
    assert len(runs) > 3 and [g for run in runs for g in run or ()] == list(range(12))
    assert [g for path, run in split.pieces if path == files[1] for g in run or ()] == [0, 1, 2, 3]
    config = TuneConfig.of(target="y", engine="dask", row_key="id", seed=SEED)
    with Client(cluster.scheduler_address) as client:
        the_plan = engine.plan(split, config)
        assert not the_plan.fingerprint  # the data's hash is taken for a stored study only
        assert engine.plan(split, config.with_(storage=f"sqlite:///{tmp_path / 's.db'}")).fingerprint
        the_plan.fingerprint = True
        levels, (shifts, y_shift) = engine.first_pass(client, split, the_plan, the_plan.categorical)
        assert levels == engine.first_pass(client, whole, the_plan, the_plan.categorical)[0]
        categorical = tuple((c, tuple(sorted(levels[c]))) for c in the_plan.categorical)
        layout = Layout(tuple(the_plan.numeric), categorical, shifts, y_shift)
        sums = [engine.second_pass(client, table, the_plan, layout) for table in (whole, split)]
    assert sums[0].fingerprint == sums[1].fingerprint and sums[0].total().n == 1300
    assert np.allclose(sums[0].R, sums[1].R) and np.allclose(sums[0].S, sums[1].S)


def test_a_partition_names_a_few_of_its_target_values() -> None:
    """All the distinct values of a target with few of them, wherever they first appear; enough of them
    (TARGET_VALUES) to tell a target with many."""
    from regtune.scale.stats import TARGET_VALUES, _some_values

    late = np.r_[np.zeros(1000), np.ones(5), np.full(3, 7.0)]
    assert _some_values(late) == {0.0, 1.0, 7.0}
    assert _some_values(np.tile([2.0, 3.0], 300)) == {2.0, 3.0}
    assert len(_some_values(np.random.default_rng(0).normal(size=5000))) == TARGET_VALUES
    assert len(_some_values(np.r_[np.zeros(1000), np.arange(40.0)])) == TARGET_VALUES
    assert _some_values(np.empty(0)) == set()


def test_a_parquet_folder_is_read_as_dask_reads_it(tmp_path: Path) -> None:
    """dask's files of a folder (its Parquet files, in natural order — part.2 before part.10 — not a README
    beside them nor a Delta table's _delta_log) and its partitions (one per file); a column missing from a
    later file is one line naming it, in the levels pass too."""
    import warnings

    import dask.dataframe as dd

    from regtune.errors import DataError
    from regtune.scale.cluster import read_piece, read_source

    frame = _table(120, seed=2)
    for i, rows in enumerate(np.array_split(np.arange(len(frame)), 12)):
        frame.iloc[rows].to_parquet(tmp_path / f"part.{i}.parquet", index=False)
    (tmp_path / "README.md").write_text("# the table\n")
    (tmp_path / "_delta_log").mkdir()
    (tmp_path / "_delta_log" / "00000.json").write_text("{}\n")
    ours = read_source(str(tmp_path), None)
    assert [Path(path).name for path, _ in ours.pieces] == [f"part.{i}.parquet" for i in range(12)]
    theirs = dd.read_parquet(str(tmp_path))
    assert theirs.npartitions == 12
    for i in (2, 10):  # the same rows in the same partition as dask's own read
        expected = theirs.partitions[i].compute().reset_index(drop=True)
        pd.testing.assert_frame_equal(read_piece(*ours.pieces[i], list(frame.columns)), expected)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a CSV's head of fewer rows than asked: no warning from dask
        head = read_source(str(_csv(frame.iloc[:30], tmp_path / "small.csv")), None).head(["x1", "y"], 1000)
        assert len(head.compute()) == 30
    frame.drop(columns=["colour"]).to_parquet(tmp_path / "part.12.parquet", index=False)
    for dictionary in ((), ("colour",)):
        with pytest.raises(DataError, match=r"part\.12\.parquet has no column 'colour', which the first file has"):
            read_piece(str(tmp_path / "part.12.parquet"), None, ["x1", "colour"], dictionary)


def _csv(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path
