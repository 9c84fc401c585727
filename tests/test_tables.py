"""Any table from the shell: Parquet, Feather, TSV, compressed CSV, several files and globs; pyarrow's CSV
reader against pandas'; files that are not tables."""

from __future__ import annotations

import gzip
import json
import sqlite3
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from regtune.data import load_dataset
from regtune.errors import DataError
from regtune.tables import parse_csv, read_csv_arrow, read_file

ROOT = Path(__file__).resolve().parent.parent
CSV_FILES = sorted({*ROOT.glob("examples/data/*.csv"), *ROOT.glob("tests/data/*.csv")})
FAST = ["-n", "4", "-k", "3", "--seed", "0"]


def make_regression_frame(n: int) -> pd.DataFrame:
    """A regression table with a categorical column and missing values."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(n, 4)), columns=[f"x{i}" for i in range(4)])
    frame["color"] = rng.choice(["red", "green", "blue"], size=n)
    frame["y"] = frame["x0"] * 2 - frame["x1"] + (frame["color"] == "red") + rng.normal(size=n)
    frame.loc[3, "x1"] = np.nan
    frame.loc[7, "color"] = np.nan
    return frame


def _formats(frame: pd.DataFrame, folder: Path) -> dict[str, Any]:
    """The table written in every format the command line reads, each named as a user might not."""
    paths: dict[str, Any] = {}
    frame.to_csv(folder / "t.csv", index=False)
    frame.to_parquet(folder / "t.parquet")
    frame.to_parquet(folder / "data.bin")  # no telling name: the content says Parquet
    frame.to_feather(folder / "t.feather")
    frame.to_csv(folder / "t.tsv", sep="\t", index=False)
    frame.to_csv(folder / "t.semi", sep=";", index=False)
    with gzip.open(folder / "t.csv.gz", "wt") as handle:
        frame.to_csv(handle, index=False)
    with pa.CompressedOutputStream(str(folder / "t.csv.zst"), "zstd") as out:
        out.write((folder / "t.csv").read_bytes())
    (folder / "parts").mkdir()
    for i, rows in enumerate(np.array_split(np.arange(len(frame)), 3)):
        frame.iloc[rows].to_csv(folder / "parts" / f"p{i}.csv", index=False)
    for name in ("t.parquet", "data.bin", "t.feather", "t.tsv", "t.semi", "t.csv.gz", "t.csv.zst"):
        paths[name] = str(folder / name)
    paths["glob"] = str(folder / "parts" / "*.csv")
    paths["list"] = [str(folder / "parts" / f"p{i}.csv") for i in range(3)]
    return paths


def test_every_format_loads_the_csv_table(tmp_path: Path, penguins: Path) -> None:
    frame = pd.read_csv(penguins)
    expected = load_dataset(str(penguins), target="species", drop=("year",))
    for name, source in _formats(frame, tmp_path).items():
        got = load_dataset(source, target="species", drop=("year",))
        pd.testing.assert_frame_equal(got.X, expected.X, obj=name)
        np.testing.assert_array_equal(got.y, expected.y)
        assert (got.numeric, got.categorical, got.rows_dropped) == (
            expected.numeric,
            expected.categorical,
            expected.rows_dropped,
        ), name
        assert got.source_dtypes == expected.source_dtypes, name


def test_the_cli_gives_the_csv_result_for_parquet_tsv_and_globs(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from regtune.cli import app

    frame = make_regression_frame(n=90)
    paths = _formats(frame, tmp_path)
    runner = CliRunner()

    def chosen(*sources: str) -> dict[str, Any]:
        outcome = runner.invoke(app, ["tune", *sources, "-y", "y", *FAST, "--json", "-", "-q"])
        assert outcome.exit_code == 0, outcome.output
        doc = json.loads(outcome.stdout)
        return {k: doc["chosen"][k] for k in ("penalty", "lambda", "l1_ratio", "cv_mean")}

    expected = chosen(str(tmp_path / "t.csv"))
    for source in (paths["t.parquet"], paths["t.tsv"], paths["glob"], paths["t.csv.zst"], paths["t.feather"]):
        assert chosen(source) == expected, source
    assert chosen(*paths["list"]) == expected


def test_source_column_names_the_file_of_each_row_and_serves_as_groups(tmp_path: Path) -> None:
    import regtune

    frame = make_regression_frame(n=90)
    glob = _formats(frame, tmp_path)["glob"]
    dataset = load_dataset(glob, target="y", source_column="part")
    assert dataset.categorical == ["color", "part"]
    assert dataset.X["part"].tolist() == [str(tmp_path / "parts" / f"p{i}.csv") for i in range(3) for _ in range(30)]
    result = regtune.tune(glob, target="y", source_column="part", groups="part", folds=3, n_trials=3)
    assert result.cv.groups == "part"
    assert "part" not in (result.dataset.numeric or []) + (result.dataset.categorical or [])


def test_sep_is_given_or_sniffed(tmp_path: Path) -> None:
    path = tmp_path / "pipes.txt"
    path.write_text("a|b|y\n1|x|2.5\n2|z|3.5\n3|x|1.0\n")
    sniffed = load_dataset(str(path), target="y", task="regression")
    given = load_dataset(str(path), target="y", sep="|", task="regression")
    pd.testing.assert_frame_equal(sniffed.X, given.X)
    assert sniffed.numeric == ["a"] and sniffed.categorical == ["b"]
    commas = tmp_path / "commas.csv"  # a header that splits on commas: semicolons inside are text
    commas.write_text("a;x,y\n1;2,3\n4;5,6\n7;8,9\n")
    assert load_dataset(str(commas), target="y", task="regression").categorical == ["a;x"]
    assert load_dataset(str(commas), target="y", sep=",", task="regression").X.shape == (3, 1)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("r.pdf", b"%PDF-1.7\n...", "looks like a PDF document, not a table"),
        ("t.xlsx", None, "looks like an Excel workbook, not a table: save the sheet as CSV"),
        ("t.csv", None, "looks like a ZIP archive (an Excel .xlsx workbook?), not a table"),
        ("db.csv", "sqlite", "looks like an SQLite database, not a table"),
        ("d.json", b'[{"a": 1}, {"a": 2}]', "looks like JSON, not a table"),
        ("i.png", b"\x89PNG\r\n\x1a\n....", "looks like a PNG image, not a table"),
        ("bad.parquet", b"PAR1garbage", "is not a readable Parquet file"),
    ],
)
def test_a_file_that_is_not_a_table_gets_one_line(tmp_path: Path, name: str, content: Any, message: str) -> None:
    from typer.testing import CliRunner

    from regtune.cli import app

    path = tmp_path / name
    if content is None:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("xl/workbook.xml", "<workbook/>")
    elif content == "sqlite":
        sqlite3.connect(path).execute("create table t (a int)").connection.commit()
    else:
        path.write_bytes(content)
    outcome = CliRunner().invoke(app, ["tune", str(path), "-y", "a"])
    assert outcome.exit_code == 1
    lines = outcome.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {path} ") and message in lines[0], lines


def test_files_with_other_columns_and_empty_globs_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("x,y\n1,2\n3,4\n")
    (tmp_path / "b.csv").write_text("x,z\n1,2\n3,4\n")
    with pytest.raises(DataError, match=r"b\.csv lacks column 'y', unlike .*a\.csv: the files must have the same"):
        load_dataset(str(tmp_path / "*.csv"), target="y")
    with pytest.raises(DataError, match=r"no file matches .*nothing\*\.csv: check the pattern"):
        load_dataset(str(tmp_path / "nothing*.csv"), target="y")
    (tmp_path / "b.csv").write_text("y,x\n5,6\n7,8\n")  # the same columns in another order: fine
    assert load_dataset(str(tmp_path / "*.csv"), target="y").X["x"].tolist() == [1.0, 3.0, 6.0, 8.0]
    with pytest.raises(DataError, match="source_column 'x' is already a column"):
        load_dataset(str(tmp_path / "*.csv"), target="y", source_column="x")


@pytest.mark.parametrize("path", CSV_FILES, ids=[p.name for p in CSV_FILES])
def test_pyarrow_reads_the_example_files_as_pandas_does(path: Path) -> None:
    arrow = read_csv_arrow(path, path.name, None, None)
    assert arrow is not None  # these are plain files: the fast reader takes them
    pd.testing.assert_frame_equal(arrow, parse_csv(path, path.name))


@pytest.mark.parametrize(
    "value",
    [
        "0x1F",  # pyarrow: the integer 31; pandas: text
        "+1",  # pyarrow: a float; pandas: an integer
        "nan(12)",  # pyarrow: NaN; pandas: text
        "18446744073709551615",  # beyond int64: pyarrow a float; pandas uint64
        "99999999999999999999",  # pyarrow a float; pandas text
        "1e+05",
        "  -2  ",
        "Infinity",
        "TRUE",
        "2020-01-01T10:00",
        "12:30",
        "",
    ],
)
def test_values_pyarrow_reads_otherwise_go_to_pandas(tmp_path: Path, value: str) -> None:
    text = f"a,b,c\n{value},1,x\n2,2,y\n3,3,z\n".encode()
    path = tmp_path / "v.csv"
    path.write_bytes(text)
    expected = parse_csv(text, "v.csv")
    for data, compression in ((text, None), (path, None), (gzip.compress(text), "gzip")):
        got = read_csv_arrow(data, "v.csv", None, compression)
        if got is not None:
            pd.testing.assert_frame_equal(got, expected)
            assert got.dtypes.astype(str).tolist() == expected.dtypes.astype(str).tolist()
    assert read_file(path, "v.csv").dtypes.astype(str).tolist() == expected.dtypes.astype(str).tolist()


def test_a_boolean_column_with_a_gap_reads_as_pandas_reads_it() -> None:
    """pandas reads ``true``/``false`` with a gap as objects with NaN; Arrow's conversion gave None there
    (a case the fuzz test found)."""
    text = b"x,b,c\n0.0,,True\n1.0,true,\n2.0,false,False\n"
    expected = parse_csv(text, "b.csv")
    got = read_csv_arrow(text, "b.csv", None, None)
    assert got is not None
    pd.testing.assert_frame_equal(got, expected)
    assert got["b"].iloc[0] is not None and np.isnan(got["b"].iloc[0])


def test_pyarrow_reads_from_four_cores_on(monkeypatch: pytest.MonkeyPatch, penguins: Path) -> None:
    import regtune.tables as tables

    calls: list[str] = []
    real = tables.read_csv_arrow

    def spy(*args: Any) -> Any:
        calls.append(args[1])
        return real(*args)

    monkeypatch.setattr(tables, "read_csv_arrow", spy)
    expected = parse_csv(penguins, "p")
    monkeypatch.setattr(tables, "usable_cores", lambda: 2)
    pd.testing.assert_frame_equal(tables.read_file(penguins, "two cores"), expected)
    monkeypatch.setattr(tables, "usable_cores", lambda: 8)
    pd.testing.assert_frame_equal(tables.read_file(penguins, "eight cores"), expected)
    assert calls == ["eight cores"]
