from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regtune.data import load_dataset
from regtune.errors import DataError


def test_csv_gz_and_stdin_load_the_same_table(reg_csv: Path, reg_csv_gz: Path) -> None:
    a = load_dataset(str(reg_csv), target="y")
    b = load_dataset(str(reg_csv_gz), target="y")
    c = load_dataset("-", target="y", stdin=io.StringIO(reg_csv.read_text()))
    for other in (b, c):
        pd.testing.assert_frame_equal(a.X, other.X)
        np.testing.assert_array_equal(a.y, other.y)
    assert a.task == "regression"
    assert a.categorical == ["color"]
    assert a.numeric == [f"x{i}" for i in range(6)]


def test_builtin_and_task_detection() -> None:
    d = load_dataset("builtin:diabetes")
    assert (d.task, d.n_rows, d.n_features) == ("regression", 442, 10)
    w = load_dataset("builtin:wine")
    assert w.task == "classification"
    assert "3 distinct integer values" in w.task_reason
    forced = load_dataset("builtin:wine", task="regression")
    assert forced.task == "regression"


def test_penguins_rows_with_missing_target_are_dropped_and_counted(penguins: Path) -> None:
    d = load_dataset(str(penguins), target="body_mass_g", drop=("year",))
    assert d.rows_dropped == 2
    assert d.n_rows == 342
    assert set(d.categorical) == {"species", "island", "sex"}
    assert "year" not in d.X.columns
    s = load_dataset(str(penguins), target="species", features=("bill_length_mm", "island"))
    assert s.task == "classification"
    assert list(s.X.columns) == ["bill_length_mm", "island"]


def test_categorical_flag_and_fold_column_leave_the_features(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"a": [1, 2, 3, 1, 2, 3], "zip": [10, 20, 10, 20, 10, 20], "fold": [0, 0, 1, 1, 2, 2], "t": range(6)}
    )
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    d = load_dataset(str(path), target="t", categorical=("zip",), fold_column="fold", task="regression")
    assert d.categorical == ["zip"]
    assert "fold" not in d.X.columns
    assert list(d.fold_ids) == [0, 0, 1, 1, 2, 2]


def test_input_file_is_never_modified(reg_csv: Path) -> None:
    before = reg_csv.read_bytes()
    load_dataset(str(reg_csv), target="y")
    assert reg_csv.read_bytes() == before


@settings(max_examples=30, deadline=None, derandomize=True)
@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False, width=32), min_size=4, max_size=30),
    st.lists(st.sampled_from(["a", "b", "c", ""]), min_size=4, max_size=30),
)
def test_loader_round_trips_any_numeric_and_string_columns(values: list[float], cats: list[str]) -> None:
    n = min(len(values), len(cats))
    frame = pd.DataFrame({"num": values[:n], "cat": cats[:n], "y": np.arange(n, dtype=float) + 0.5})
    text = frame.to_csv(index=False)
    if all(c == "" for c in cats[:n]):  # a column with no values is refused in one line, naming it
        with pytest.raises(DataError, match="feature column 'cat' has no values: drop it"):
            load_dataset("-", target="y", stdin=io.StringIO(text))
        return
    d = load_dataset("-", target="y", stdin=io.StringIO(text))
    assert d.n_rows == n
    assert d.task == "regression"
    np.testing.assert_allclose(d.X["num"].to_numpy(), frame["num"].to_numpy(), rtol=1e-6)
    missing = d.X["cat"].isna().to_numpy()
    assert list(missing) == [c == "" for c in cats[:n]]


def test_unknown_builtin_is_an_error() -> None:
    with pytest.raises(DataError, match="unknown built-in dataset 'nope'"):
        load_dataset("builtin:nope")


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16"])
def test_check_finite_refuses_inf_and_huge_values_of_any_float_width(dtype: str) -> None:
    from regtune.data import check_finite

    check_finite(np.array([1.0, np.nan, -2.0], dtype=dtype), "x")  # a gap is not refused
    check_finite(np.array([np.nan, np.nan], dtype=dtype), "x")
    for bad, kind in ((np.inf, "infinite"), (-np.inf, "infinite")):
        with pytest.raises(DataError, match=f"x holds {bad:g} \\({kind}\\) in 1 row"):
            check_finite(np.array([1.0, bad], dtype=dtype), "x")
    if dtype == "float64":
        with pytest.raises(DataError, match="too large to standardize"):
            check_finite(np.array([np.nan, -1e300]), "x")
