"""The floor for a regression table (issue 18's "limit"): import, read the CSV, and K fits at one penalty.

Any tool that reports the K-fold CV error at the chosen λ does at least this much: it imports its
libraries, reads the table, and fits the model on each fold's training rows. Here that work is done the
cheapest sensible way — pyarrow's multi-threaded CSV reader, missing values filled with the column mean,
categorical columns one-hot encoded from pyarrow's dictionary encoding, every column standardized once on
all rows, the folds of scikit-learn's ``KFold(k, shuffle=True, random_state=0)``, and scikit-learn's
``Lasso`` / ``ElasticNet`` on a precomputed Gram matrix or ``Ridge`` (its Cholesky solver) at regtune's λ
(DESIGN.md's convention: ``alpha = λ`` for L1 and the elastic net, ``n_train·λ`` for ridge).

    peer_limit.py CSV TARGET PENALTY LAMBDA L1_RATIO [K]

Prints JSON: the seconds of each part (``import``, ``read``, ``fits``) and the folds' mean validation MSE.
"""

from __future__ import annotations

import json
import sys
import time

start = time.perf_counter()
import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402
import pyarrow.csv as pacsv  # noqa: E402
from sklearn.linear_model import ElasticNet, Lasso, Ridge  # noqa: E402

imported = time.perf_counter()
path, target, penalty = sys.argv[1:4]
lam, ratio = float(sys.argv[4]), float(sys.argv[5])
k = int(sys.argv[6]) if len(sys.argv) > 6 else 5

table = pacsv.read_csv(path)  # multi-threaded
y = table.column(target).to_numpy().astype(np.float64)
blocks = []
for name in table.column_names:
    if name == target:
        continue
    column = table.column(name)
    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
        values = column.to_numpy(zero_copy_only=False).astype(np.float64)
        gaps = np.isnan(values)
        if gaps.any():
            values[gaps] = values[~gaps].mean()
        blocks.append(values[:, None])
    else:
        codes = pc.dictionary_encode(column).combine_chunks()
        index = codes.indices.to_numpy(zero_copy_only=False)
        blocks.append((index[:, None] == np.arange(len(codes.dictionary))[None, :]).astype(np.float64))
X = np.hstack(blocks)
X -= X.mean(axis=0)
sd = X.std(axis=0)
X /= np.where(sd > 0, sd, 1.0)
read = time.perf_counter()

n = len(y)
order = np.arange(n)
np.random.RandomState(0).shuffle(order)
errors = []
for test in np.array_split(order, k):
    mask = np.ones(n, dtype=bool)
    mask[test] = False
    X_train, y_train = X[mask], y[mask]
    if penalty == "l2":
        model = Ridge(alpha=len(y_train) * lam)
    elif penalty == "l1":
        model = Lasso(alpha=lam, precompute=True)
    else:
        model = ElasticNet(alpha=lam, l1_ratio=ratio, precompute=True)
    model.fit(X_train, y_train)
    errors.append(float(np.mean((model.predict(X[test]) - y[test]) ** 2)))
done = time.perf_counter()
print(
    json.dumps(
        {"import": imported - start, "read": read - imported, "fits": done - read, "cv_mse": float(np.mean(errors))}
    )
)
