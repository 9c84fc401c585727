"""The cluster side of ``--engine dask``: the client, the sources, and the passes over the partitions.

Each pass maps every partition to a small summary on the worker that reads it and sums the summaries in
a tree; only the sums (a few p × p arrays per fold) reach this process, never a row.
"""

from __future__ import annotations

import functools
import glob
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from regtune.errors import ConfigError, DataError, named

if TYPE_CHECKING:
    import pandas as pd

    from regtune.config import TuneConfig
    from regtune.scale.stats import Layout, PartStats

#: Seconds to wait for a scheduler given with ``--scheduler`` before saying it cannot be reached.
CONNECT_TIMEOUT = 5
PARQUET = (".parquet", ".pq", ".parq")
CSV = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".csv.zst")
#: The rows whose means are the shifts of the sums (:func:`first_pass`): a whole partition took a worker
#: 1 s to read and average, 80 % of the first pass over a 20M-row table.
HEAD_ROWS = 65_536
#: A text target's classes the first pass keeps (enough to tell a binary target from another).
TARGET_CLASSES = 3


@contextmanager
def client(scheduler: str | None) -> Iterator[Any]:
    """A dask.distributed client: of the running scheduler at ``scheduler``, or of a LocalCluster sized to
    this machine (one single-threaded worker process per core; it spills to disk beyond its memory)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ConfigError(f"{named('engine')} dask needs dask and distributed: pip install 'regtune[dask]'") from None
    if scheduler is not None:
        try:
            made = Client(scheduler, timeout=CONNECT_TIMEOUT)  # type: ignore[no-untyped-call]
        except (OSError, TimeoutError, ValueError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ConfigError(
                f"cannot reach the dask scheduler {scheduler} ({reason[:120]}): start it (dask scheduler) or fix"
                f" {named('scheduler')}"
            ) from None
        with made:
            yield made
        return
    import logging

    import dask

    with dask.config.set({"distributed.nanny.pre-spawn-environ": _worker_environ()}):
        cluster = LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1),
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.CRITICAL,  # a failed task is the one-line error of :func:`compute`, not a log
        )
    try:
        with Client(cluster) as made:  # type: ignore[no-untyped-call]
            yield made
    finally:
        cluster.close()


def _worker_environ() -> dict[str, Any]:
    """The environment of the LocalCluster's workers: Dask's own, but glibc keeps up to 32 MiB of freed
    memory and maps only arrays above 16 MiB afresh.

    Dask sets ``MALLOC_TRIM_THRESHOLD_`` to 64 KiB so that a worker hands freed memory back to the kernel
    at once, and every array above 128 KiB is then mapped fresh and paid for again in page faults. A pass
    allocates and frees such arrays for every chunk of every partition: on the 20M-row table of ``make
    bench-scale`` a partition's sums took 0.28 s on a worker with Dask's setting (18,000 faults) and 0.20 s
    with this one (500). Keeping all freed memory (glibc's adaptive thresholds) was as fast, but a worker
    then held up to 900 MiB and the whole tree peaked at 2,001–2,175 MiB, over a quarter of the table
    (1,984); with these bounds it peaked at 1,753–1,834 MiB against the plain pass's 1,732–1,786.
    """
    import dask

    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}))
    environ.update(MALLOC_TRIM_THRESHOLD_=32 * 2**20, MALLOC_MMAP_THRESHOLD_=16 * 2**20)
    return environ


def read_source(source: str, sep: str | None) -> Table:
    """The table as lazy partitions read on the workers: a Parquet directory, file or glob, or CSV files or a
    glob."""
    text = str(source)
    if text == "-" or text.startswith("builtin:"):
        raise ConfigError(
            f"{named('engine')} dask reads files (a Parquet directory or glob, CSV globs), not {text}:"
            f" use {named('engine')} local"
        )
    if os.path.isdir(text):
        inside = sorted(glob.glob(os.path.join(text, "**", "*"), recursive=True))
        files = [f for f in inside if os.path.isfile(f) and not os.path.basename(f).startswith((".", "_"))]
        if not files:
            raise DataError(f"{text} is an empty folder: nothing to read")
        if all(f.lower().endswith(CSV) for f in files):  # a folder of CSV files
            return _read(files, sep)
        folders = [os.path.relpath(f, text).split(os.sep)[:-1] for f in files]
        if any("=" in part for parts in folders for part in parts):
            import dask.dataframe as dd  # a Hive-partitioned folder (key=value/…): its keys are columns too

            return DaskTable(_guarded(text, "a Parquet dataset", lambda: dd.read_parquet(text)))
        # As dask reads a folder: its Parquet files (by name), not those under a hidden or "_" folder
        # (a Delta table's _delta_log) nor a README beside them.
        hidden = [any(part.startswith((".", "_")) for part in parts) for parts in folders]
        visible = [f for f, away in zip(files, hidden, strict=True) if not away]
        named_so = [f for f in visible if f.lower().endswith(PARQUET)]
        return parquet_files(named_so or visible or files)
    matches = sorted(glob.glob(text)) if glob.has_magic(text) else ([text] if os.path.exists(text) else [])
    if not matches:
        raise DataError(f"no file matches {text}")
    return _read(matches, sep)


def _read(files: list[str], sep: str | None) -> Table:
    """Parquet or CSV files (all of one kind, by their names) as one lazy table."""
    import dask.dataframe as dd

    lower = [m.lower() for m in files]
    if all(m.endswith(PARQUET) for m in lower):
        return parquet_files(files)
    if all(m.endswith(CSV) for m in lower):
        compressed = any(m.endswith((".gz", ".zst")) for m in lower)
        delimiter = sep or ("\t" if all(".tsv" in m for m in lower) else ",")
        blocksize = None if compressed else "64MB"
        return DaskTable(_guarded(files[0], "CSV", lambda: dd.read_csv(files, sep=delimiter, blocksize=blocksize)))
    odd = next((f for f, m in zip(files, lower, strict=True) if not m.endswith(PARQUET + CSV)), None)
    what = f"{odd} is neither" if odd else "the files mix the two: give a glob of one kind (*.parquet)"
    raise ConfigError(f"{named('engine')} dask reads Parquet (.parquet) or CSV (.csv, .tsv) files, named so: {what}")


class Table(Protocol):
    """A table the workers read partition by partition; only its schema is known here."""

    @property
    def columns(self) -> list[str]: ...

    @property
    def dtypes(self) -> Mapping[str, Any]:
        """Each column's pandas dtype, as a partition reads it."""

    def parts(self, columns: list[str], dictionary: Sequence[str] = ()) -> list[Any]:
        """Every partition's ``columns``, as delayed pandas frames (in the table's order); the text columns
        among ``dictionary`` may come as pandas categoricals (their distinct values then cost nothing)."""

    def head(self, columns: list[str], rows: int) -> Any:
        """The first partition's first ``rows`` rows of ``columns``, as a delayed pandas frame."""


@dataclass(frozen=True)
class DaskTable:
    """A ``dask.dataframe`` (CSV files; a Hive-partitioned Parquet folder)."""

    frame: Any

    @property
    def columns(self) -> list[str]:
        return [str(c) for c in self.frame.columns]

    @property
    def dtypes(self) -> Mapping[str, Any]:
        return {str(c): t for c, t in self.frame.dtypes.items()}

    def parts(self, columns: list[str], dictionary: Sequence[str] = ()) -> list[Any]:
        return list(self.frame[columns].to_delayed())

    def head(self, columns: list[str], rows: int) -> Any:
        from dask.delayed import delayed

        return delayed(_head)(self.frame.partitions[0][columns].to_delayed()[0], rows)


def _head(frame: pd.DataFrame, rows: int) -> pd.DataFrame:
    return frame.head(rows)


#: dask.dataframe's default block size: when the first Parquet file holds more than twice this (uncompressed),
#: each file is read as runs of its row groups of about this size, as dask splits them.
BLOCK_BYTES = 256 * 2**20


@dataclass(frozen=True)
class ParquetFiles:
    """Parquet files, each read by pyarrow on a worker (a partition per file, or per run of row groups of a
    large one), converted to pandas as ``dask.dataframe.read_parquet`` converts them.

    Not through ``dask.dataframe`` itself: its read of a partition took twice as long as pyarrow's
    (``make bench-scale``'s 80 files of 250,000 rows on 2 workers: 8.5–12.1 s against 4.4–5.9 s)."""

    #: Each partition: a file, and its row groups (None: all of them).
    pieces: tuple[tuple[str, tuple[int, ...] | None], ...]
    columns: list[str]
    dtypes: Mapping[str, Any]

    def parts(self, columns: list[str], dictionary: Sequence[str] = ()) -> list[Any]:
        import pandas as pd
        from dask.delayed import delayed

        text = [c for c in dictionary if pd.api.types.is_string_dtype(self.dtypes[c])]
        return [delayed(read_piece, pure=True)(path, groups, columns, text) for path, groups in self.pieces]

    def head(self, columns: list[str], rows: int) -> Any:
        from dask.delayed import delayed

        path, groups = self.pieces[0]
        return delayed(read_piece, pure=True)(path, groups, columns, rows=rows)


def parquet_files(files: list[str]) -> ParquetFiles:
    """``files`` as :class:`ParquetFiles`, in dask's order (natural: part.2 before part.10) and partitions
    (a partition per file; runs of row groups of about BLOCK_BYTES when the first file holds more than twice
    that); the schema from the first file's footer, as dask reads it; every footer read only when the first
    file is large enough to be split."""
    import pyarrow.parquet as pq
    from dask.utils import natural_sort_key

    files = sorted(files, key=natural_sort_key)
    first = _guarded(files[0], "Parquet", lambda: pq.ParquetFile(files[0]))
    empty = first.schema_arrow.empty_table()
    dtypes = {str(c): t for c, t in _to_pandas(empty).dtypes.items()}
    pieces: list[tuple[str, tuple[int, ...] | None]] = []
    if _size(first.metadata) <= 2 * BLOCK_BYTES:
        pieces = [(f, None) for f in files]
    else:
        for path in files:
            meta = _guarded(path, "Parquet", functools.partial(pq.ParquetFile, path)).metadata
            run: list[int] = []
            size = 0
            for i in range(meta.num_row_groups):
                grown = size + meta.row_group(i).total_byte_size
                if run and grown > BLOCK_BYTES:
                    pieces.append((path, tuple(run)))
                    run, grown = [], meta.row_group(i).total_byte_size
                run.append(i)
                size = grown
            pieces.append((path, tuple(run) if meta.num_row_groups > 1 else None))
    return ParquetFiles(tuple(pieces), [str(c) for c in dtypes], dtypes)


def _size(meta: Any) -> int:
    return sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))


def read_piece(
    path: str,
    groups: tuple[int, ...] | None,
    columns: list[str],
    dictionary: Sequence[str] = (),
    rows: int | None = None,
) -> pd.DataFrame:
    """The ``columns`` of a Parquet file's row groups ``groups`` (None: all), as a pandas frame (on a worker);
    the text columns ``dictionary`` as pandas categoricals (Parquet's own dictionary, not a string per row);
    with ``rows``, only the first ``rows`` rows (and only the pages that hold them are decoded)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        opened = pq.ParquetFile(path)
        missing = [c for c in columns if c not in opened.schema_arrow.names]
        if missing:
            raise DataError(f"{path} has no column {missing[0]!r}, which the first file has: give files of one schema")
        if dictionary:
            opened = pq.ParquetFile(path, read_dictionary=list(dictionary))
        if rows is not None:
            batches = opened.iter_batches(rows, row_groups=groups, columns=columns, use_threads=False)
            batch = next(batches, None)
            table = opened.schema_arrow.empty_table().select(columns) if batch is None else pa.table(batch)
        elif groups is None:
            table = opened.read(columns=columns, use_threads=False)
        else:
            table = opened.read_row_groups(list(groups), columns=columns, use_threads=False)
    except (DataError, MemoryError):
        raise
    except Exception as exc:
        detail = (str(exc).strip().splitlines() or [""])[0][:160]
        raise DataError(f"cannot read {path} as Parquet ({type(exc).__name__}: {detail}): check the file") from exc
    return _to_pandas(table)


def _to_pandas(table: Any) -> pd.DataFrame:
    """An Arrow table as ``dask.dataframe.read_parquet`` converts it (text as pandas' Arrow-backed strings,
    dates and decimals as Arrow dtypes when dask's ``dataframe.convert-string`` is on, as by default)."""
    import dask
    import pandas as pd
    import pyarrow as pa

    mapper = None
    # dask.dataframe's own test of the setting (not imported: 1.3 s of a worker's first task)
    if dask.config.get("dataframe.convert-string", None) in (None, True):
        fixed = {pa.string(): pd.StringDtype("pyarrow"), pa.large_string(): pd.StringDtype("pyarrow")}
        fixed.update({pa.date32(): pd.ArrowDtype(pa.date32()), pa.date64(): pd.ArrowDtype(pa.date64())})

        def mapper(t: Any) -> Any:
            return fixed.get(t) or (pd.ArrowDtype(t) if pa.types.is_decimal(t) else None)

    # A block per column (split_blocks): no copy of every float column into one 2-D block (16 ms of a
    # 250,000 × 52 partition's 17), which the passes would take apart again column by column.
    frame: pd.DataFrame = table.to_pandas(
        types_mapper=mapper, use_threads=False, ignore_metadata=False, split_blocks=True
    )
    return frame


def _guarded(where: str, kind: str, read: Callable[[], Any]) -> Any:
    """``read()``, its failure (a file that is not what its name says) one line naming the file."""
    try:
        return read()
    except Exception as exc:
        cause = exc.__cause__ or exc
        detail = (str(cause).strip().splitlines() or [""])[0][:160]
        raise DataError(f"cannot read {where} as {kind} ({type(cause).__name__}: {detail}): check the file") from exc


@dataclass
class Plan:
    """What the passes read: the columns, the kinds of the features, how each row gets its fold."""

    target: str
    numeric: list[str]
    categorical: list[str]
    k: int
    seed: int
    row_key: str | None = None
    fold_column: str | None = None
    #: The dtype each categorical column was read as (a model file's ``read_as``: ``predict`` turns codes
    #: read as float64 — a column with gaps — into "3.0" and int64 ones into "3", as here).
    read_as: dict[str, str] = field(default_factory=dict)
    #: The first pass keeps at most this many levels of a column (one more than ``--max-categories``): a
    #: free-text column on a huge table is refused in one line instead of filling the client's memory.
    level_cap: int = 1_000_001
    #: Each fold id's fold index (``--fold-column``), after the first pass.
    fold_order: dict[object, int] = field(default_factory=dict)
    #: "regression", "classification", or "auto" (a numeric target: classification when it holds two
    #: integer values, as the local engine decides; the second pass tells).
    task: str = "regression"
    #: A text target's classes (from the first pass): the passes read it as 0/1 (the second class 1).
    classes: tuple[str, ...] | None = None
    #: The target's dtype as read.
    target_dtype: str = "float64"
    #: Whether the second pass takes the rows' fingerprint (:func:`~regtune.scale.stats.row_fingerprint`):
    #: the data's hash of a study kept in ``--storage``, which nothing else reads (12–20 ms of a partition's
    #: ≈100–120 ms of sums on the 20M-row table).
    fingerprint: bool = True

    @property
    def text_target(self) -> bool:
        return self.task == "classification" and not self.target_dtype.startswith(
            ("int", "uint", "float", "Int", "UInt", "Float")
        )

    @property
    def columns(self) -> list[str]:
        extra = [c for c in (self.row_key, self.fold_column) if c is not None]
        return [*self.numeric, *self.categorical, self.target, *extra]

    def fold_ids(self, frame: pd.DataFrame, partition: int) -> Any:
        from regtune.scale.hashfolds import column_fold_ids, hash_fold_ids

        if self.fold_column is not None:
            return column_fold_ids(frame, self.fold_column, self.fold_order)
        return hash_fold_ids(frame, partition, self.k, self.seed, self.row_key)


def plan(frame: Table, config: TuneConfig) -> Plan:
    """The columns of a lazy table and their kinds (from its schema), checked against the settings."""
    import pandas as pd

    columns = frame.columns
    target = config.target
    if target is None:
        raise ConfigError(f"give the target column with {named('target')} (columns: {', '.join(columns[:8])})")
    named_columns = [("target", target), ("row_key", config.row_key), ("fold_column", config.fold_column)]
    named_columns += [("features", c) for c in config.features] + [("drop", c) for c in config.drop]
    named_columns += [("categorical", c) for c in config.categorical]
    for setting_name, column in named_columns:
        if column is not None and column not in columns:
            raise DataError(f"no column {column!r} ({named(setting_name)}): the columns are {', '.join(columns[:12])}")
    target_type = frame.dtypes[target]
    numbers = pd.api.types.is_numeric_dtype(target_type) and not pd.api.types.is_bool_dtype(target_type)
    task = "classification" if not numbers else config.task
    if config.family is not None:  # as the local engine: the family's task
        from regtune.models import distribution_task

        task = distribution_task(config.model, config.family)
    if task == "regression" and not numbers:
        raise DataError(
            f"target {target!r} is not numeric ({target_type}), so it cannot be a regression target: use"
            f" {named('task')} classification or choose a numeric {named('target')}"
        )
    skip = {target, config.row_key, config.fold_column, *config.drop}
    chosen = list(config.features) or [c for c in columns if c not in skip]
    numeric, categorical = [], []
    for col in chosen:
        dtype = frame.dtypes[col]
        if col in config.categorical or not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
            categorical.append(col)
        else:
            numeric.append(col)
    if not chosen:
        raise DataError("no feature columns left: check --features and --drop")
    read_as = {c: str(frame.dtypes[c]) for c in categorical}
    return Plan(
        target,
        numeric,
        categorical,
        config.folds,
        config.seed,
        config.row_key,
        config.fold_column,
        read_as=read_as,
        level_cap=config.max_categories + 1,
        task=task,
        target_dtype="object" if not numbers else str(target_type),
        fingerprint=config.storage is not None,
    )


def _means(frame: pd.DataFrame, columns: list[str]) -> tuple[float, ...]:
    """The means of ``columns`` in ``frame`` (0 for a column missing in every row)."""
    import math

    import pandas as pd

    means = frame[columns].mean()
    # A nullable column missing in every row of the partition has the mean pd.NA: 0 then, as NaN.
    values = [math.nan if pd.isna(means[c]) else float(means[c]) for c in columns]
    return tuple(v if math.isfinite(v) else 0.0 for v in values)


def _levels(frame: pd.DataFrame, partition: int, plan: Plan, find: list[str]) -> dict[str, Any]:
    """A partition's distinct values of the categorical columns ``find`` and of the fold column."""
    found: dict[str, Any] = {c: _capped(_distinct_text(frame[c]), plan) for c in find}
    if plan.text_target:
        values = sorted(set(frame[plan.target].dropna().astype(str).unique().tolist()))
        found["\0target"] = set(values[:TARGET_CLASSES])
    if plan.fold_column is not None:
        column = frame[plan.fold_column]
        if column.isna().any():
            raise DataError(f"{named('fold_column')} {plan.fold_column!r} has missing values: give every row a fold")
        found["\0folds"] = set(column.unique().tolist())
    return found


def _distinct_text(series: pd.Series) -> set[str]:
    """The distinct values of ``series`` (missing ones left out) as text; a categorical's from its codes."""
    import numpy as np
    import pandas as pd

    if isinstance(series.dtype, pd.CategoricalDtype):
        codes = series.cat.codes.to_numpy()
        used = np.flatnonzero(np.bincount(codes[codes >= 0], minlength=len(series.cat.categories)))
        return set(series.cat.categories[used].astype(str).tolist())
    return set(series.dropna().astype(str).unique().tolist())


def _capped(levels: set[str], plan: Plan) -> set[str]:
    """At most ``plan.level_cap`` of ``levels`` (the smallest): enough to tell that a column has too many."""
    return levels if len(levels) <= plan.level_cap else set(sorted(levels)[: plan.level_cap])


def _merge_levels(a: dict[str, Any], b: dict[str, Any], cap: int) -> dict[str, Any]:
    merged = {key: a[key] | b[key] for key in a}
    for key, levels in merged.items():
        limit = TARGET_CLASSES if key == "\0target" else cap
        if key != "\0folds" and len(levels) > limit:
            merged[key] = set(sorted(levels)[:limit])
    return merged


def _stats(frame: pd.DataFrame, partition: int, plan: Plan, layout: Layout) -> PartStats:
    from regtune.scale.logistic import binary_target
    from regtune.scale.stats import partition_stats, row_fingerprint

    folds = plan.fold_ids(frame, partition)
    if plan.classes is None:  # a numeric target: its values too, unless it is a regression's
        targets = plan.task != "regression"
        return partition_stats(frame, plan.target, folds, plan.k, layout, fingerprint=plan.fingerprint, targets=targets)
    binary = frame.assign(**{plan.target: binary_target(frame[plan.target], plan.classes[1])})
    stats = partition_stats(binary, plan.target, folds, plan.k, layout, fingerprint=False)
    stats.fingerprint = row_fingerprint(frame, folds) if plan.fingerprint else 0
    return stats


def _add(a: Any, b: Any) -> Any:
    return a + b


def _tree(parts: list[Any], combine: Callable[[Any, Any], Any]) -> Any:
    """The delayed values ``parts`` combined pairwise, in a tree (depth log₂ of their number)."""
    from dask.delayed import delayed

    while len(parts) > 1:
        pairs = [delayed(combine)(parts[i], parts[i + 1]) for i in range(0, len(parts) - 1, 2)]
        parts = pairs + ([parts[-1]] if len(parts) % 2 else [])
    return parts[0]


def check_sums_fit(made: Any, width: int, k: int) -> None:
    """Refuse, before the pass, sums that would not fit: a partition returns k·d² numbers for d raw columns,
    a worker holds about three such sets while it adds two partitions' sums, and the client the total and
    the folds' own d × d moments. One line naming the width and what to drop, not a worker killed."""
    from regtune.data import available_memory

    need = k * width * width * 8
    workers = made.scheduler_info().get("workers", {}).values()
    limits = [int(w["memory_limit"]) for w in workers if w.get("memory_limit")]
    worker_has = min(limits) if limits else None
    client_has = available_memory()
    short = (worker_has is not None and 3 * need > 0.8 * worker_has) or (
        client_has is not None and (k + 3) * width * width * 8 > 0.8 * client_has
    )
    if short:
        where = f"a worker's {worker_has / 2**30:.2f} GiB" if worker_has else "this machine's memory"
        raise DataError(
            f"the sums of {width} raw columns × {k} folds take {need / 2**30:.2f} GiB per partition, more than"
            f" {where} can hold three times: leave wide categorical columns out with {named('drop')}, lower"
            f" {named('max_categories')}, or give the workers more memory"
        )


def first_pass(
    made: Any, frame: Table, plan: Plan, find: list[str]
) -> tuple[dict[str, Any], tuple[tuple[float, ...], float]]:
    """The categorical columns ``find``'s levels (sorted as text), the fold column's ids and a text target's
    classes (at most TARGET_CLASSES), in one pass (none when there are none to find); and, in the same
    round trip, a value near the centre of each numeric column and of the target: their means in the first
    HEAD_ROWS rows (0 for a column missing there), around which the sums are taken."""
    from dask.delayed import delayed

    needed = [*find, *([plan.fold_column] if plan.fold_column is not None else [])]
    needed += [plan.target] if plan.text_target else []
    summary: Any = {}
    if needed:
        parts = frame.parts(needed, dictionary=find)  # only these columns are read (Parquet reads columns apart)
        summaries = [delayed(_levels)(part, i, plan, find) for i, part in enumerate(parts)]
        summary = _tree(summaries, functools.partial(_merge_levels, cap=plan.level_cap))
    columns = [*plan.numeric, *([] if plan.text_target else [plan.target])]  # a text target's 0/1: no shift
    means: Any = delayed(_means)(frame.head(columns, HEAD_ROWS), columns) if columns else ()
    levels, centre = compute(made, delayed(tuple)([summary, means]))
    if plan.text_target:
        return levels, (tuple(centre), 0.0)
    return levels, (tuple(centre[:-1]), centre[-1])


def second_pass(made: Any, frame: Table, plan: Plan, layout: Layout) -> PartStats:
    """Every fold id's sums, partition by partition on the workers, summed in a tree."""
    from dask.delayed import delayed

    parts = frame.parts(plan.columns)
    summaries = [delayed(_stats)(part, i, plan, layout) for i, part in enumerate(parts)]
    result: PartStats = compute(made, _tree(summaries, _add))
    return result


def _rows(frame: pd.DataFrame, partition: int, plan: Plan, layout: Layout, positive: Any) -> Any:
    from regtune.scale.logistic import partition_rows

    return partition_rows(frame, plan.target, positive, plan.fold_ids(frame, partition), layout)


def persist_rows(made: Any, frame: Table, plan: Plan, layout: Layout, positive: Any) -> list[Any]:
    """Every partition's :class:`~regtune.scale.logistic.Rows` held by the workers (futures: a lost worker's
    are computed again from the files; Dask spills them to disk when they do not fit)."""
    from dask.delayed import delayed

    parts = frame.parts(plan.columns)
    held: list[Any] = made.compute([delayed(_rows)(part, i, plan, layout, positive) for i, part in enumerate(parts)])
    return held


def logistic_runner(made: Any, rows: list[Any]) -> Callable[[Any, Any], Any]:
    """``run(B, held)``: one pass over the held rows (:func:`~regtune.scale.logistic.partition_pass`), summed
    in a tree on the workers."""
    from regtune.scale.logistic import partition_pass

    def run(B: Any, held: Any) -> Any:
        # Futures, not a delayed graph: a pass is a few milliseconds of work per partition, and the graph's
        # construction and optimisation would cost more than it.
        sums = made.map(partition_pass, rows, B=B, held=held, pure=False)
        while len(sums) > 1:  # summed pairwise, in a tree: a worker holds at most three partitions' sums
            pairs = [made.submit(_add, sums[i], sums[i + 1], pure=False) for i in range(0, len(sums) - 1, 2)]
            sums = pairs + ([sums[-1]] if len(sums) % 2 else [])
        return compute(made, sums[0])

    return run


def compute(made: Any, value: Any) -> Any:
    """``value`` computed on the cluster; a failure there (a file that does not parse, a worker that keeps
    dying) is one line, regtune's own errors (raised on a worker) as they are."""
    from regtune.errors import RegtuneError

    try:
        from distributed import Future

        return value.result() if isinstance(value, Future) else made.compute(value, sync=True)
    except RegtuneError:
        raise
    except ImportError as exc:  # a worker started without regtune (or another version of it)
        raise DataError(
            f"a dask worker cannot run regtune's code ({type(exc).__name__}: {exc}): install this regtune"
            " (the same version) where the workers run"
        ) from exc
    except Exception as exc:
        detail = (str(exc).strip().splitlines() or [""])[0][:200]
        raise DataError(
            f"the cluster could not read the table ({type(exc).__name__}: {detail}): check that each column holds"
            " one type in every file (a CSV's types are guessed from its first rows; Parquet keeps them) and that"
            " the workers have the memory a partition needs"
        ) from exc
