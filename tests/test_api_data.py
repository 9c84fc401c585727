"""``regtune.tune(data, …)``: a path, a table in memory, or X and y arrays give the same run."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import scipy.sparse

import regtune
from regtune.data import load_dataset
from regtune.errors import ConfigError

SETTINGS: dict[str, Any] = {"n_trials": 5, "folds": 3, "seed": 0}


def _choice(result: Any) -> tuple[str, float, float]:
    point = result.chosen.point
    return point.penalty, point.lam, point.mean


class ArrowStreamOnly:
    """A table that only exports an Arrow stream (as polars and DuckDB do)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self._table = pa.table(frame)

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        return self._table.__arrow_c_stream__(requested_schema)


class InterchangeOnly:
    """A table that only speaks the dataframe interchange protocol."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame = frame

    def __dataframe__(self, nan_as_null: bool = False, allow_copy: bool = True) -> Any:
        return self._frame.__dataframe__(nan_as_null=nan_as_null, allow_copy=allow_copy)


def test_a_frame_a_pyarrow_table_and_arrow_streams_equal_the_csv(reg_csv: Path) -> None:
    frame = pd.read_csv(reg_csv)
    expected = regtune.tune(str(reg_csv), target="y", **SETTINGS)
    same = [
        regtune.tune(frame, target="y", **SETTINGS),
        regtune.tune(reg_csv, target="y", **SETTINGS),  # a pathlib.Path
        regtune.tune(pa.table(frame), target="y", **SETTINGS),
        regtune.tune(ArrowStreamOnly(frame), target="y", **SETTINGS),
    ]
    for result in same:
        assert _choice(result) == _choice(expected)
        assert result.dataset.categorical == ["color"]
    assert same[0].dataset.source == "DataFrame"
    assert list(frame.columns) == [*(f"x{i}" for i in range(6)), "color", "y"]  # the caller's frame untouched


def test_the_interchange_protocol_is_read() -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": ["u", "v", "u", "v"], "t": [0.5, 1.5, 2.0, 3.5]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # pandas deprecates the protocol for Arrow's
        dataset = load_dataset(InterchangeOnly(frame), target="t")
    assert dataset.numeric == ["a"] and dataset.categorical == ["b"]
    np.testing.assert_allclose(dataset.y, frame["t"])


def test_x_and_y_arrays_equal_the_frame() -> None:
    from sklearn.datasets import load_diabetes

    data = load_diabetes(as_frame=True)
    expected = regtune.tune(data.frame, target="target", **SETTINGS)
    as_frames = regtune.tune(data.data, data.target, **SETTINGS)
    as_arrays = regtune.tune(data.data.to_numpy(), data.target.to_numpy(), **SETTINGS)
    as_sparse = regtune.tune(scipy.sparse.csr_matrix(data.data.to_numpy()), data.target.to_numpy(), **SETTINGS)
    for result in (as_frames, as_arrays, as_sparse):
        assert _choice(result) == _choice(expected)
    assert as_frames.dataset.target == "target"  # the Series' name
    assert as_arrays.dataset.target == "y"
    assert as_arrays.dataset.numeric == [f"x{i}" for i in range(10)]
    assert regtune.tune(data.data.to_numpy(), data.target.to_numpy(), target="progress", **SETTINGS).dataset.target == (
        "progress"
    )


def test_classification_labels_as_arrays() -> None:
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    result = regtune.tune(X, labels, penalties=("l2",), **SETTINGS)
    assert result.dataset.task == "classification"
    assert list(result.model.classes_) == ["setosa", "versicolor", "virginica"]


def test_the_config_may_still_come_second(reg_csv: Path) -> None:
    config = regtune.TuneConfig.of(target="y", **SETTINGS)
    assert _choice(regtune.tune(str(reg_csv), config)) == _choice(regtune.tune(str(reg_csv), config=config))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: regtune.tune(5), "data must be a path, a DataFrame (pandas, pyarrow, polars, …) or features X"),
        (lambda: regtune.tune({"a": [1, 2]}), "got dict"),
        (lambda: regtune.tune(np.zeros((5, 2))), "data is a ndarray without a target: give the target too"),
        (lambda: regtune.tune(np.zeros((5, 2)), np.zeros(4)), "X has 5 rows but y has 4"),
        (lambda: regtune.tune(np.zeros(5), np.zeros(5)), "X must be 2-D (rows × features), got 1-D"),
        (lambda: regtune.tune(np.zeros((5, 2)), np.zeros((5, 2))), "y must be 1-D (one target per row)"),
        (lambda: regtune.tune(np.zeros((5, 2)), 3), "y must be a 1-D array or a Series; got int"),
        (lambda: regtune.tune(pd.DataFrame({"y": [1, 2]}), [1, 2]), "X has a column 'y', the target's name"),
        (lambda: regtune.tune("builtin:diabetes", config={"n_trials": 3}), "config must be a TuneConfig, got dict"),
    ],
)
def test_wrong_types_are_one_line_config_errors(call: Any, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        call()
    text = str(caught.value)
    assert message in text
    assert "\n" not in text
