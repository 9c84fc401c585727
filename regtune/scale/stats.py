"""The sufficient statistics of least squares, per fold, and the folds made of them (NumPy only).

Each row becomes a *raw* vector ``r``: a 1, every numeric column with a missing value read as 0, every
numeric column's missing mask, and for every categorical column one indicator per level and one for a
missing value. A partition contributes, for each fold id k, ``Σ r rᵀ``, ``Σ r y`` and ``Σ y²`` over its
rows of fold k (:func:`partition_stats`); the sums over partitions are all the engine keeps.

Everything regtune's in-fold preprocessing (:mod:`regtune.preprocess`) does is linear in ``r`` once the
training part's statistics are known: the training mean of a numeric column fills its missing values
(``x₀ + μ·m``), the training part's most frequent level fills a missing category, the levels the training
part holds are one-hot encoded (one column for two levels, the first dropped), and every encoded column
is centred and divided by its training standard deviation. So a fold's encoded row is ``x = M r`` for a
matrix ``M`` made of its training statistics (:func:`encoding`), its training Gram matrix, ``Xᵀ(y − ȳ)``,
and its validation rows' ``Σ x xᵀ``, ``Σ x y`` come out of the raw sums, and the validation squared
error of coefficients θ is the quadratic form ``Σy² − 2θᵀΣxy + θᵀ(Σxxᵀ)θ``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from regtune.data import MAX_CLASSES_AUTO, check_finite
from regtune.errors import DataError, named
from regtune.folds import Fold
from regtune.models.least_squares import LeastSquares, TestStats

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np
    import pandas as pd

    from regtune.data import Dataset
    from regtune.models import FitOutcome, Penalty

#: Rows of a partition turned into raw vectors at once, at most CHUNK_BYTES of them (a chunk of 56 raw
#: columns, as the 20M-row table of ``make bench-scale``, holds 14 MiB: under the workers' mmap threshold,
#: so its buffer is reused, and each column's part of it stays in a core's cache while every fold takes its
#: rows).
CHUNK_ROWS = 32_768
CHUNK_BYTES = 16 * 2**20
#: The distinct target values a pass keeps when asked (``partition_stats(targets=True)``): enough to tell a
#: binary target, and one of at most MAX_CLASSES_AUTO integer values (a classification for the local engine).
TARGET_VALUES = MAX_CLASSES_AUTO + 1


@dataclass(frozen=True)
class Layout:
    """Where each column's parts sit in the raw vector ``r`` (position 0 is the constant 1)."""

    numeric: tuple[str, ...]
    #: Every categorical column with its levels (as text, sorted as scikit-learn's encoder sorts them).
    categorical: tuple[tuple[str, tuple[str, ...]], ...]
    #: A value near the centre of each numeric column and of the target (e.g. a partition's means),
    #: subtracted before the sums so that sums of squares keep their digits (none: 0).
    shifts: tuple[float, ...] = ()
    y_shift: float = 0.0

    def shift(self, i: int) -> float:
        return self.shifts[i] if self.shifts else 0.0

    @property
    def width(self) -> int:
        return 1 + 2 * len(self.numeric) + sum(len(levels) + 1 for _, levels in self.categorical)

    def value_at(self, i: int) -> int:
        """The position of numeric column i's value (missing read as 0)."""
        return 1 + i

    def mask_at(self, i: int) -> int:
        """The position of numeric column i's missing mask."""
        return 1 + len(self.numeric) + i

    def level_positions(self) -> list[tuple[list[int], int]]:
        """For each categorical column: the positions of its levels' indicators, and of its missing one."""
        start = 1 + 2 * len(self.numeric)
        found = []
        for _, levels in self.categorical:
            found.append((list(range(start, start + len(levels))), start + len(levels)))
            start += len(levels) + 1
        return found


@dataclass
class Sums:
    """The sums of one fold id's rows (or of several): ``Σ r rᵀ``, ``Σ r y``, ``Σ y²``. ``R[0, 0]`` is the
    row count."""

    R: np.ndarray
    S: np.ndarray
    yy: float

    @property
    def n(self) -> int:
        return round(float(self.R[0, 0]))

    def __add__(self, other: Sums) -> Sums:
        return Sums(self.R + other.R, self.S + other.S, self.yy + other.yy)


@dataclass
class PartStats:
    """What a partition (or a sum of partitions) returns: per fold id, ``R[k]``, ``S[k]``, ``yy[k]``."""

    R: np.ndarray
    S: np.ndarray
    yy: np.ndarray
    #: Rows left out because their target is missing.
    dropped: int = 0
    #: The rows' content and fold ids: the sum mod 2⁶⁴ of a hash per row (:func:`row_fingerprint`). Exact and
    #: independent of the order of the rows and of how they are split into partitions — unlike the float
    #: sums, whose last bits depend on both and on the machine's BLAS — so it names the data of a study.
    fingerprint: int = 0
    #: The target's distinct values when asked for: all of them when fewer than TARGET_VALUES, else
    #: TARGET_VALUES of them (enough to tell a binary target from another).
    targets: frozenset[float] = frozenset()

    def __add__(self, other: PartStats) -> PartStats:
        return PartStats(
            self.R + other.R,
            self.S + other.S,
            self.yy + other.yy,
            self.dropped + other.dropped,
            (self.fingerprint + other.fingerprint) % 2**64,
            frozenset(sorted(self.targets | other.targets)[:TARGET_VALUES]),
        )

    def as_binary(self, low: float, high: float, y_shift: float) -> PartStats:
        """The sums of the target mapped to 0 (``low``) and 1 (``high``), from those of the target less
        ``y_shift``: y₀₁ = (u − c)/s with u = y − y_shift, c = low − y_shift, s = high − low (``R[k][:, 0]`` is
        Σ r, its first raw column being the constant 1)."""
        import numpy as np

        c, s = low - y_shift, high - low
        S = (self.S - c * self.R[:, :, 0]) / s
        yy = (self.yy - 2 * c * self.S[:, 0] + c * c * self.R[:, 0, 0]) / (s * s)
        S[:, 0] = np.round(S[:, 0])  # the count of 1s: an integer, not its rounding (a fold with one class is 0)
        yy = np.round(yy)  # Σ y₀₁² is that count too
        return PartStats(self.R, S, yy, self.dropped, self.fingerprint, self.targets)

    def fold(self, k: int) -> Sums:
        return Sums(self.R[k], self.S[k], float(self.yy[k]))

    def without(self, k: int) -> Sums:
        """The sums of every fold id but k: fold k's training part."""
        keep = [j for j in range(self.R.shape[0]) if j != k]
        return Sums(self.R[keep].sum(axis=0), self.S[keep].sum(axis=0), float(self.yy[keep].sum()))

    def total(self) -> Sums:
        return Sums(self.R.sum(axis=0), self.S.sum(axis=0), float(self.yy.sum()))


def raw_rows(frame: pd.DataFrame, layout: Layout, order: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The raw vectors ``r`` of a partition's rows (numeric columns as float64, categoricals as text), in the
    order ``order`` (positions in ``frame``; default: as they are), C-ordered, and only their columns that
    can be non-zero in those rows: ``(r[:, used], used)``. A numeric column's missing mask where it has no
    gap, a level the rows lack, a missing indicator of a column without gaps add nothing to any sum; left
    out, they are never written (a table without gaps has half as many columns to multiply)."""
    import numpy as np

    columns = partition_columns(frame, layout)
    rows = np.arange(len(frame)) if order is None else np.arange(len(frame))[order]  # negative: from the end
    r, used = fill_raw(np.empty((layout.width, len(rows))).T, columns, rows, layout)
    return np.ascontiguousarray(r), used


@dataclass
class Columns:
    """A partition's feature columns as the raw vectors read them, prepared once per partition."""

    #: Each numeric column as float64 (NaN: missing); a float64 column's own array, not a copy.
    values: list[np.ndarray]
    #: Each categorical column as its level's index in the layout; UNKNOWN for a value not among the levels,
    #: MISSING for a missing one.
    codes: list[np.ndarray]


UNKNOWN, MISSING = -1, -2


def partition_columns(frame: pd.DataFrame, layout: Layout) -> Columns:
    """``frame``'s columns of ``layout`` as :class:`Columns` (±inf and huge numbers refused in one line)."""
    import numpy as np

    values = []
    for col in layout.numeric:
        column = frame[col].to_numpy(dtype=np.float64, na_value=np.nan)
        check_finite(column, f"column {col!r}")  # refused as the local engine refuses them
        values.append(column)
    codes = [level_codes(frame[col], levels) for col, levels in layout.categorical]
    return Columns(values, codes)


def level_codes(series: pd.Series, levels: Sequence[str]) -> np.ndarray:
    """Each value's index among ``levels`` (values compared as text), UNKNOWN for another value, MISSING
    for a missing one."""
    import numpy as np
    import pandas as pd

    present = series.notna().to_numpy()
    values = _arrow_text(series)
    if values is not None:
        import pyarrow as pa
        import pyarrow.compute as pc

        # Text already, in Arrow: looked up there (a tenth of the time of Python strings).
        found = pc.index_in(values, value_set=pa.array(list(levels), type=values.type))
        looked_up = found.fill_null(UNKNOWN).to_numpy().astype(np.int64)
    else:
        text = pd.Index(series.astype(str).to_numpy(dtype=object))
        looked_up = pd.Index(list(levels), dtype=object).get_indexer(text)  # UNKNOWN (-1) where not a level
    return np.where(present, looked_up, MISSING)


def fill_raw(out: np.ndarray, columns: Columns, rows: np.ndarray, layout: Layout) -> tuple[np.ndarray, np.ndarray]:
    """Write the raw vectors of ``rows`` (positions in the partition) into ``out`` (Fortran-ordered,
    ``len(rows)`` × at least ``layout.width``: each raw column is one contiguous write) and return the
    written part ``out[:, :c]`` with the raw positions of its c columns (increasing): the constant, every
    numeric column, the missing masks of the columns with a gap in these rows, and the indicators of the
    levels and missing values these rows hold."""
    return fill_raw_sets([out], columns, [rows], layout)[0]


def fill_raw_sets(
    outs: list[np.ndarray], columns: Columns, sets: list[np.ndarray], layout: Layout
) -> list[tuple[np.ndarray, np.ndarray]]:
    """:func:`fill_raw` for several sets of rows (each fold's rows of a chunk) at once, column by column: a
    column's part of the chunk is read from memory once, while it stays in cache, for every set (set by set,
    every column was read once per fold: a pass over the 20M-row table spent a third of its sums there)."""
    import math

    import numpy as np

    q = len(columns.values)
    ends = [1 + q] * len(outs)  # the next free column of each block
    gaps: list[list[int]] = [[] for _ in outs]
    for out in outs:
        out[:, 0] = 1.0
    for j, column in enumerate(columns.values):
        shift = layout.shift(j)
        for i, (out, rows) in enumerate(zip(outs, sets, strict=True)):
            value = out[:, 1 + j]
            np.take(column, rows, out=value, mode="clip")  # rows are in range: no bounds buffering
            if shift:
                np.subtract(value, shift, out=value)
            if math.isnan(np.add.reduce(value)):  # a gap in these rows (no inf: refused when read)
                missing = np.isnan(value)
                np.copyto(value, 0.0, where=missing)
                out[:, ends[i]] = missing
                ends[i] += 1
                gaps[i].append(j)
    filled = []
    for out, rows, end, gap in zip(outs, sets, ends, gaps, strict=True):
        c = end
        used: list[np.ndarray] = [np.arange(1 + q), 1 + q + np.array(gap, dtype=np.int64)]
        for codes, (positions, missing_at) in zip(columns.codes, layout.level_positions(), strict=True):
            taken = codes[rows]
            held = np.flatnonzero(np.bincount(taken[taken >= 0], minlength=len(positions)))
            out[:, c : c + held.size] = taken[:, None] == held[None, :]
            c += held.size
            used.append(np.asarray(positions, dtype=np.int64)[held])
            absent = taken == MISSING
            if absent.any():
                out[:, c] = absent
                c += 1
                used.append(np.array([missing_at], dtype=np.int64))
        filled.append((out[:, :c], np.concatenate(used)))
    return filled


def partition_stats(
    frame: pd.DataFrame,
    target: str,
    folds: np.ndarray,
    k: int,
    layout: Layout,
    *,
    fingerprint: bool = True,
    targets: bool = False,
) -> PartStats:
    """The per-fold-id sums of one partition; ``folds`` holds each row's fold id (0 … k − 1); the rows'
    :func:`row_fingerprint` unless ``fingerprint`` is False; with ``targets`` the target's distinct values
    (at most TARGET_VALUES)."""
    import numpy as np
    from scipy.linalg.blas import dsyrk

    d = layout.width
    R, S, yy = np.zeros((k, d, d)), np.zeros((k, d)), np.zeros(k)
    y_all = frame[target].to_numpy(dtype=np.float64, na_value=np.nan)
    check_finite(y_all, f"target {target!r}")
    kept = np.flatnonzero(~np.isnan(y_all))
    dropped = len(frame) - kept.size
    found = _some_values(y_all[kept]) if targets else set()
    columns = partition_columns(frame, layout)
    ids_all = np.asarray(folds)
    # A chunk's raw rows, every fold's in its own Fortran block of one buffer (bounded memory).
    chunk = max(1, min(CHUNK_ROWS, CHUNK_BYTES // (8 * d)))
    space = np.empty(min(chunk, kept.size) * d)
    for begin in range(0, kept.size, chunk):
        rows = kept[begin : begin + chunk]
        ids = ids_all[rows]
        if k <= 2**16:  # small integers: numpy's stable sort is then a radix sort (7 times as fast)
            ids = ids.astype(np.uint8 if k <= 2**8 else np.uint16)
        rows = rows[np.argsort(ids, kind="stable")]  # each fold id's rows together
        bounds = np.searchsorted(ids_all[rows], np.arange(k + 1))
        sets = [rows[bounds[j] : bounds[j + 1]] for j in range(k)]
        outs = [space[bounds[j] * d : bounds[j + 1] * d].reshape(d, bounds[j + 1] - bounds[j]).T for j in range(k)]
        for j, (rj, used) in enumerate(fill_raw_sets(outs, columns, sets, layout)):
            fold_rows = sets[j]
            if not fold_rows.size:
                continue
            yj = y_all[fold_rows] - layout.y_shift
            # rjᵀrj's upper triangle (BLAS syrk: half gemm's work) on the Fortran-ordered rows as they are;
            # ``used`` is increasing, so it lands in R's upper triangle.
            R[j][np.ix_(used, used)] += dsyrk(1.0, rj, trans=1, lower=0)
            S[j][used] += rj.T @ yj
            yy[j] += float(yj @ yj)
    upper = np.triu(R)
    R = upper + np.transpose(np.triu(R, 1), (0, 2, 1))
    print_ = row_fingerprint(frame, folds) if fingerprint else 0
    return PartStats(R, S, yy, dropped, print_, frozenset(sorted(found)[:TARGET_VALUES]))


def _some_values(y: np.ndarray) -> set[float]:
    """The distinct values of ``y`` when it holds at most TARGET_VALUES of them (then all of them), else
    TARGET_VALUES of them (the smallest among the first rows: enough to tell that there are more)."""
    import numpy as np

    head = np.unique(y[: 16 * TARGET_VALUES])
    if head.size < TARGET_VALUES:  # few values so far: the rest are they, or one more pass finds the others
        others = y[~np.isin(y, head)]
        head = np.unique(np.concatenate([head, others])) if others.size else head
    return set(head[:TARGET_VALUES].tolist())


def row_fingerprint(frame: pd.DataFrame, folds: np.ndarray) -> int:
    """The sum mod 2⁶⁴ of one 64-bit hash per row of ``frame``, mixed with the row's fold id. A row's hash
    is ``mix(Σⱼ bitsⱼ·Kⱼ)`` over its columns (a number's float64 bits — an integer column and its float
    copy agree —, a text's pandas hash; Kⱼ odd, so a change of any value changes the sum), then one
    nonlinear mix per row: cheaper than pandas' row hash, which mixes every value (2M × 51 rows: the
    engine's run 13.1–13.7 s against 15.3 s)."""
    import numpy as np
    import pandas as pd

    n = len(frame)
    if n == 0:
        return 0
    weights = pd.util.hash_array(np.arange(1, len(frame.columns) + 2, dtype=np.uint64)) | np.uint64(1)
    acc = np.asarray(folds, dtype=np.uint64) * weights[-1]
    term = np.empty(n, dtype=np.uint64)  # one buffer for every column's term: no fresh pages per column
    for col, weight in zip(frame.columns, weights[:-1], strict=True):
        series = frame[col]
        if pd.api.types.is_numeric_dtype(series.dtype):
            bits = series.to_numpy(dtype=np.float64, na_value=np.nan).view(np.uint64)
        else:
            bits = _text_hashes(series)
        acc += np.multiply(bits, weight, out=term)
    return int(pd.util.hash_array(acc).sum(dtype=np.uint64))


def _arrow_text(series: pd.Series) -> Any:
    """An Arrow-backed text column's values as one Arrow array (its chunks joined); None for another column."""
    import pandas as pd

    if not (isinstance(series.dtype, pd.StringDtype) and series.dtype.storage == "pyarrow"):
        return None
    import pyarrow as pa

    values = pa.array(series)
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def _text_hashes(series: pd.Series) -> np.ndarray:
    """``pd.util.hash_array`` of the column's values as Python objects, without making those objects for an
    Arrow-backed text column: its distinct values hashed (as pandas hashes each distinct value once), then
    spread by Arrow's dictionary codes; a missing value's hash is pandas' too (2⁶⁴ − 1)."""
    import numpy as np
    import pandas as pd

    values = _arrow_text(series)
    if values is None:
        hashed: np.ndarray = pd.util.hash_array(series.to_numpy(dtype=object))
        return hashed
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(values)
    distinct = pd.util.hash_array(np.asarray(encoded.dictionary.to_pylist(), dtype=object), categorize=False)
    codes = encoded.indices.fill_null(0).to_numpy()
    hashed = distinct.take(codes) if distinct.size else np.zeros(len(series), dtype=np.uint64)
    hashed[series.isna().to_numpy()] = np.iinfo(np.uint64).max
    return hashed


@dataclass
class Encoding:
    """A training part's preprocessing as a linear map of the raw vector: ``z = A r`` is the imputed,
    one-hot encoded row; ``x = (z − mean)/scale`` the standardized one."""

    A: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    names: list[str]
    #: The numeric columns' training means (their imputation) and each categorical's fill level.
    numeric_means: list[float]
    fill_levels: list[str | None]
    #: The levels each categorical column's encoder knows (those the training part holds).
    known_levels: list[list[str]]
    #: ``mean`` minus the shifts (``A[:, 0]``), computed without them.
    mean_shifted: np.ndarray

    def matrix(self) -> np.ndarray:
        """``M`` with ``[x; 1] = M r``: the standardized columns, then the constant."""
        import numpy as np

        p = self.A.shape[0]
        M = np.zeros((p + 1, self.A.shape[1]))
        M[:p] = self.A / self.scale[:, None]
        M[:p, 0] = -self.mean_shifted / self.scale  # (shift − mean)/scale, without the shift's digits
        M[p, 0] = 1.0
        return M


def encoding(train: Sums, layout: Layout, numeric_fills: Sequence[float] | None = None) -> Encoding:
    """The preprocessing :mod:`regtune.preprocess` fits on a training part, from the part's sums; a numeric
    column's gaps get its training mean, or ``numeric_fills[i]`` when given (the local engine's training
    medians)."""
    import numpy as np

    n = train.R[0, 0]
    rows: list[np.ndarray] = []
    names: list[str] = []
    means: list[float] = []
    for i, col in enumerate(layout.numeric):
        v, m = layout.value_at(i), layout.mask_at(i)
        observed = n - train.R[0, m]
        shift = layout.shift(i)
        # The mean of the shifted values; keep_empty_features: an all-missing column is filled with 0.
        mu = float(train.R[0, v] / observed) if observed > 0 else -shift
        if numeric_fills is not None:
            mu = numeric_fills[i] - shift
        row = np.zeros(layout.width)
        row[0], row[v], row[m] = shift, 1.0, mu  # z = shift + (x − shift) + mean·missing
        rows.append(row)
        names.append(col)
        means.append(mu + shift)
    fills: list[str | None] = []
    known: list[list[str]] = []
    for (col, levels), (positions, missing_at) in zip(layout.categorical, layout.level_positions(), strict=True):
        counts = np.array([train.R[0, p] for p in positions])
        present = [j for j in range(len(levels)) if counts[j] > 0]
        if not present:
            raise DataError(f"categorical column {col!r} is missing in every training row of a fold: drop it")
        fill = max(present, key=lambda j: (counts[j], -j))  # the most frequent; the smallest level on a tie
        fills.append(levels[fill])
        known.append([levels[j] for j in present])
        encoded = present[1:] if len(present) == 2 else present
        for j in encoded:
            row = np.zeros(layout.width)
            row[positions[j]] = 1.0
            if j == fill:
                row[missing_at] = 1.0
            rows.append(row)
            names.append(f"{col}_{levels[j]}")
    A = np.array(rows) if rows else np.zeros((0, layout.width))
    # The moments of z without its constant part (the shifts): the variance keeps its digits.
    A0 = A.copy()
    A0[:, 0] = 0.0
    first = A0 @ train.R[:, 0] / n
    second = np.einsum("ij,jk,ik->i", A0, train.R, A0) / n
    var = np.maximum(second - first * first, 0.0)
    mean = first + A[:, 0]
    eps = np.finfo(np.float64).eps
    constant = var <= n * eps * (var + first * first) + (n * mean * eps) ** 2
    scale = np.where(constant, 1.0, np.sqrt(var))
    return Encoding(A, mean, scale, names, means, fills, known, first)


@dataclass(eq=False)
class StatsFold(Fold):
    """A fold that holds its statistics instead of its rows: the Gram matrix of its centred, standardized
    training rows, ``Xᵀ(y − ȳ)``, ȳ, and its validation rows' :class:`TestStats` (``test_stats``). ``X_train`` is a
    zero-strided stand-in of the training matrix's shape (no memory): the solvers read only its shape."""

    y_train_mean: float = 0.0
    #: ``Σ (y − ȳ)²`` of the training rows.
    yy_centred: float = 0.0
    encoding: Encoding | None = field(default=None, repr=False)

    def y_mean(self) -> float:
        return self.y_train_mean

    def weighted(self) -> tuple[np.ndarray, np.ndarray]:
        """The stand-ins ``enet_path`` reads with a precomputed Gram matrix: ``X`` for its shape, and a
        one-entry ``y`` with the same ``‖y − ȳ‖²`` (its duality-gap tolerance is relative to it)."""
        import numpy as np

        return self.X_train, np.array([math.sqrt(max(self.yy_centred, 0.0))])

    def svd(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The SVD of the centred training matrix from its Gram matrix (:func:`~regtune.folds.svd_of_gram`):
        a fold of statistics has no rows, whatever their number."""
        from regtune.folds import svd_of_gram

        if "svd" not in self.cache:
            self.cache["svd"] = svd_of_gram(*self.gram())
        result: tuple[np.ndarray, np.ndarray, np.ndarray] = self.cache["svd"]
        return result


def stats_fold(
    index: int, train: Sums, test: Sums | None, layout: Layout, numeric_fills: Sequence[float] | None = None
) -> StatsFold:
    """Fold ``index`` made of its training part's sums and (None for the refit on every row) its
    validation part's (``numeric_fills``: as :func:`encoding`)."""
    import numpy as np

    enc = encoding(train, layout, numeric_fills)
    n = train.n
    M = enc.matrix()
    p = M.shape[0] - 1
    moments = M @ train.R @ M.T  # Σ [x;1][x;1]ᵀ over the training rows
    gram = np.ascontiguousarray(moments[:p, :p] - np.outer(moments[:p, p], moments[:p, p]) / n)
    gram = (gram + gram.T) / 2
    xs = M @ train.S  # Σ [x;1] y
    y_mean = float(train.S[0]) / n  # of the shifted target
    xy = xs[:p] - moments[:p, p] * y_mean
    fold = StatsFold(
        index,
        np.empty(0, dtype=np.int64),
        np.empty(0, dtype=np.int64),
        np.broadcast_to(np.zeros((1, p)), (n, p)),
        np.zeros((0, p)),
        np.empty(0),
        np.empty(0),
        y_train_mean=y_mean + layout.y_shift,
        yy_centred=train.yy - n * y_mean * y_mean,
        encoding=enc,
    )
    fold.cache["gram"] = (gram, xy)
    if test is not None:
        fold.test_stats = TestStats(M @ test.R @ M.T, M @ test.S, test.yy, test.n, layout.y_shift)
    return fold


class StatsLeastSquares(LeastSquares):
    """regtune's least squares (same λ convention, same solvers: ridge from the spectrum, the L1 and
    elastic-net fits by coordinate descent on the Gram matrix) on :class:`StatsFold` folds; the fold's
    score and its hypergradient are quadratic forms in the fold's validation statistics, as for a local
    fold of many rows (:func:`regtune.models.least_squares.validation_stats`)."""

    #: Not a registered family (the registry lists classes with tasks): built by the engine only.
    tasks = ()  # type: ignore[assignment]

    def fit_fold(
        self,
        fold: Fold,
        penalty: Penalty,
        tol: float,
        warm: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> FitOutcome:
        if penalty.is_l2:
            return super().fit_fold(fold, penalty, tol, warm)
        return self._fit_gram(fold, penalty, tol, warm)  # n ≤ p too: there are no rows to hand a solver


#: The local engine builds a least-squares fold from sums (no encoded matrices) when every fold holds this
#: many validation rows (:data:`regtune.models.least_squares.STATS_ROWS`, whose folds are scored from sums
#: anyway) and the rows are at least this many times the raw columns.
ROWS_PER_RAW_COLUMN = 20


def folds_from_sums(dataset: Dataset, splits: list[tuple[np.ndarray, np.ndarray]]) -> list[StatsFold] | None:
    """The local engine's least-squares folds of a large table from one pass of sums over its rows, as the
    Dask engine builds them — the same encoding, with the training medians (``--impute median``) filling
    the gaps — instead of K encoded copies of the table (on 327,000 × 50 rows: 1.1 GB of matrices). None
    when the table is not one for it: weights or an offset, folds that are not a partition of the rows
    (repeats) or train on other rows than the rest, a fold of fewer than STATS_ROWS validation rows, a
    categorical column with no value in some fold's training rows, or too few rows per raw column."""
    import numpy as np

    from regtune.models.least_squares import STATS_ROWS
    from regtune.preprocess import Encoder, numeric_fills

    n = dataset.n_rows
    if dataset.weights is not None or dataset.offset is not None or min(len(t) for _, t in splits) < STATS_ROWS:
        return None
    ids = np.full(n, -1, dtype=np.int64)
    for k, (_, test) in enumerate(splits):
        ids[test] = k
    if (ids < 0).any() or sum(len(t) for _, t in splits) != n:
        return None
    for k, (train, _) in enumerate(splits):  # a fold trains on every row outside its test part, and only those
        if len(train) != n - int((ids == k).sum()) or (ids[train] == k).any():
            return None
    columns = Encoder(dataset.numeric, dataset.categorical).columns(dataset.X)
    for codes in columns.codes:
        # A categorical column with no value in some fold's training rows: the encoded folds fill it with a
        # constant (Encoder's 0); the sums' encoding has no level to fill with.
        present = np.bincount(ids[codes >= 0], minlength=len(splits))
        if (present.sum() - present == 0).any():
            return None
    layout = Layout(
        tuple(dataset.numeric),
        tuple(
            (col, tuple(str(v) for v in values))
            for col, values in zip(dataset.categorical, columns.values, strict=True)
        ),
    )
    if n < ROWS_PER_RAW_COLUMN * layout.width:
        return None
    values = columns.numeric
    shifts = () if values is None else tuple(float(v) for v in numeric_fills(values, "mean"))
    layout = Layout(layout.numeric, layout.categorical, shifts, float(np.mean(dataset.y)))
    frame = dataset.X.assign(**{TARGET: dataset.y})
    stats = partition_stats(frame, TARGET, ids, len(splits), layout, fingerprint=False)
    gaps = np.array([], dtype=np.intp) if values is None else np.flatnonzero(np.isnan(values).any(axis=0))
    folds = []
    for k, (train, _) in enumerate(splits):
        fills: list[float] | None = None  # the training means, from the sums
        if values is not None and dataset.impute == "median":
            filled = np.zeros(values.shape[1])  # where the table has no gap the fill fills nothing
            filled[gaps] = numeric_fills(values[np.ix_(train, gaps)], "median")
            fills = filled.tolist()
        fold = stats_fold(k, stats.without(k), stats.fold(k), layout, fills)
        check_varies(fold, dataset)
        folds.append(fold)
    return folds


#: The target's column in the frame :func:`folds_from_sums` sums (a name no table has).
TARGET = "\0target"


def check_varies(fold: StatsFold, dataset: Dataset | None = None) -> None:
    """The local engine's refusal of a fold whose training rows give every encoded feature one value (with
    the table in memory, ``dataset``, the words of :func:`regtune.folds.nothing_varies`)."""
    import numpy as np

    from regtune.folds import nothing_varies

    gram, _ = fold.gram()
    if gram.shape[0] == 0 or not np.any(np.diag(gram) > 0):
        if dataset is not None:
            raise nothing_varies(dataset, fold.n_train, fold.index)
        raise DataError(
            f"no feature varies within the {fold.n_train} training row(s) of fold {fold.index + 1}: add rows,"
            f" or use fewer {named('folds')}"
        )
