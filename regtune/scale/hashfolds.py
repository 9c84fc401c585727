"""Folds without a shuffle: each row's fold id from a seeded hash, computed where the row is read.

With ``row_key`` the fold of a row is ``hash(seed, key) mod K``: the same row gets the same fold in any
partitioning and any order of the files. Without it, the key is the row's partition and its place in that
partition, which is stable for the same files read the same way (a Parquet directory's files in natural name
order, a partition per file, or per run of row groups when the files hold over 512 MiB, as dask splits
them). Unlike the local engine's shuffled K-fold, the folds' sizes are only about n/K (binomial), not equal
to within one row; ``--fold-column`` gives your own ids instead.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


def hash_key(seed: int) -> str:
    """The 16-character key pandas' row hash takes, from the run's seed."""
    return hashlib.sha256(f"regtune-folds-{seed}".encode()).hexdigest()[:16]


def hash_fold_ids(frame: pd.DataFrame, partition: int, k: int, seed: int, row_key: str | None = None) -> np.ndarray:
    """The fold id (0 … k − 1) of every row of ``frame``, partition number ``partition`` of the table."""
    import numpy as np
    import pandas as pd

    if row_key is not None:
        keys = pd.util.hash_pandas_object(frame[row_key], index=False, hash_key=hash_key(seed)).to_numpy()
    else:
        keys = (np.uint64(partition) << np.uint64(32)) + np.arange(len(frame), dtype=np.uint64)
    # pandas' key seeds the hash of text only: the seed is mixed into every key before one more hash.
    salt = np.uint64(int(hash_key(seed), 16))
    hashed = pd.util.hash_array(keys.astype(np.uint64) ^ salt)
    ids: np.ndarray = (hashed % np.uint64(k)).astype(np.int64)
    return ids


def fold_order(values: set[object]) -> dict[object, int]:
    """Each distinct fold id's fold index, in the local engine's order (one fold per id, sorted)."""
    ordered = sorted(values, key=lambda v: (str(type(v)), v))
    return {v: i for i, v in enumerate(ordered)}


def column_fold_ids(frame: pd.DataFrame, column: str, order: dict[object, int]) -> np.ndarray:
    """The fold index of every row from the user's fold column (``order`` from :func:`fold_order`)."""
    import numpy as np

    return np.array([order[v] for v in frame[column].tolist()], dtype=np.int64)
