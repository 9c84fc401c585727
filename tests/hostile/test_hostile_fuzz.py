"""Random small CSV files, and what regtune must do with every one of them.

Hypothesis writes tables of random shape and types — numbers, NaN, ±inf, huge values, text, booleans,
mixed columns — under random (duplicate, empty, odd) headers, with a random delimiter, encoding and
compression, and asks ``regtune tune`` for a random target. Whatever the file, regtune either finishes
(exit 0 and a result) or refuses in one ``Error: …`` line (exit 1 or 2) with no traceback and no
"this is a bug" line, within a time bound per example. ``make test`` runs a few examples,
``make test-slow`` 200.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path

import pandas as pd
import pytest
from hostile_support import alarm_after, cli, messages
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from regtune.errors import DataError
from regtune.tables import parse_csv, read_csv_arrow

#: The suite's per-test alarm is replaced here by one per example.
PER_EXAMPLE_ALARM = True
EXAMPLE_ALARM_S = 120

NAMES = st.one_of(
    st.sampled_from(["x", "y", "a", "b", "", " ", "[/]", "x.1", "a,b", 'q"t', "é", "名前", "1", "nan", "-y", "a\nb"]),
    st.text(min_size=0, max_size=6),
)
NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-1e6, 1e6, allow_nan=False),
    st.integers(-5, 5),
    st.sampled_from([1e308, -1e308, 1e-308, 0.0, -0.0]),
)
TEXT = st.one_of(st.sampled_from(["a", "b", "c", "", "NA", "true", "False", "1", "x y"]), st.text(max_size=4))


@st.composite
def column(draw: st.DrawFn, n: int, hostile: bool) -> list[str]:
    kinds = ["float", "int", "text", "bool", "mixed", "sparse", "constant"] if hostile else ["plain", "int", "text"]
    kind = draw(st.sampled_from(kinds))
    if kind == "plain":
        values = [repr(draw(st.one_of(st.floats(-1e3, 1e3), st.just(float("nan"))))) for _ in range(n)]
    elif kind == "float":
        values = [repr(draw(NUMBERS)) for _ in range(n)]
    elif kind == "int":
        values = [str(draw(st.integers(-3, 50))) for _ in range(n)]
    elif kind == "text":
        values = [draw(TEXT) for _ in range(n)]
    elif kind == "bool":
        values = [str(draw(st.booleans())) for _ in range(n)]
    elif kind == "mixed":
        values = [draw(st.one_of(TEXT, NUMBERS.map(repr))) for _ in range(n)]
    elif kind == "sparse":
        values = [draw(st.sampled_from(["", "1.5", "2", "nan"])) for _ in range(n)]
    else:
        values = [draw(st.sampled_from(["7", "k"]))] * n
    return values


@st.composite
def table(draw: st.DrawFn) -> tuple[bytes, str, str]:
    """(the file's bytes, its suffix, the target column's name)."""
    n_rows = draw(st.one_of(st.integers(0, 8), st.integers(20, 60)))
    n_cols = draw(st.integers(1, 5))
    if draw(st.integers(0, 4)):  # mostly distinct names; now and then whatever comes, duplicates included
        header = draw(st.lists(NAMES, min_size=n_cols, max_size=n_cols, unique=True))
    else:
        header = [draw(NAMES) for _ in range(n_cols)]
    hostile = draw(st.booleans())  # half the tables only odd in their shape, names and encoding
    columns = [draw(column(n_rows, hostile)) for _ in range(n_cols)]
    good = draw(st.booleans())
    if good:  # a well-behaved numeric target, so that many runs go through to the search
        header = [h for h in header if h != "target"] + ["target"]
        columns = columns[: len(header) - 1]
        labels = draw(st.sampled_from(["number", "two classes", "three classes"]))
        if labels == "number":
            columns.append([f"{i * 0.7 + (i % 3):.3f}" for i in range(n_rows)])
        else:
            columns.append(["abc"[i % (2 if labels == "two classes" else 3)] for i in range(n_rows)])
    delimiter = draw(st.sampled_from([","] * 12 + [";", "\t", "|"]))
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
    writer.writerow(header)
    for i in range(n_rows):
        writer.writerow([col[i] for col in columns])
    encoding = draw(st.sampled_from(["utf-8"] * 5 + ["utf-8-sig", "utf-16", "latin-1"]))
    data = buffer.getvalue().encode(encoding, errors="replace")
    suffix = ".csv"
    if draw(st.integers(0, 5)) == 0:
        data, suffix = gzip.compress(data), ".csv.gz"
    target = "target" if good and draw(st.integers(0, 3)) else draw(st.one_of(st.sampled_from(header), NAMES))
    return data, suffix, target


def check_one(tmp_path: Path, example: tuple[bytes, str, str], extra: list[str]) -> None:
    data, suffix, target = example
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(data)
    with alarm_after(EXAMPLE_ALARM_S):
        outcome = cli(["tune", str(path), f"--target={target}", "-n", "4", "-k", "2", "--json", "-", *extra])
    assert outcome.exception is None, f"{type(outcome.exception).__name__}: {outcome.exception}"
    assert "Traceback" not in outcome.stderr
    event(f"exit {outcome.code}: " + " ".join(outcome.stderr.split()[:4]) if outcome.code else "exit 0")
    if outcome.code == 0:
        doc = json.loads(outcome.stdout)
        assert doc["chosen"]["penalty"] in ("l1", "l2", "elasticnet")
        return
    assert outcome.code in (1, 2), (outcome.code, outcome.stderr)
    lines = messages(outcome.stderr)
    assert len(lines) == 1, outcome.stderr
    assert lines[0].startswith("Error: "), lines[0]
    assert "this is a bug" not in lines[0], lines[0]


FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@settings(FUZZ, max_examples=6, derandomize=True)
@given(example=table())
def test_random_csv_files_are_handled_or_refused_in_one_line(tmp_path: Path, example: tuple[bytes, str, str]) -> None:
    check_one(tmp_path, example, ["--search", "tpe"])


@pytest.mark.slow
@settings(FUZZ, max_examples=200)
@given(example=table(), search=st.sampled_from(["tpe", "hybrid"]), jobs=st.sampled_from(["1", "1", "2"]))
def test_random_csv_files_many(tmp_path: Path, example: tuple[bytes, str, str], search: str, jobs: str) -> None:
    check_one(tmp_path, example, ["--search", search, "-j", jobs])


@settings(FUZZ, max_examples=150, derandomize=True)
@given(example=table())
def test_pyarrow_reads_random_files_as_pandas_does_or_leaves_them_to_pandas(example: tuple[bytes, str, str]) -> None:
    data, suffix, _ = example
    compression = "gzip" if suffix.endswith(".gz") else None
    try:
        expected: pd.DataFrame | None = parse_csv(data, "data")
    except DataError:
        expected = None
    try:
        got = read_csv_arrow(data, "data", None, compression)
    except DataError:
        assert expected is None
        return
    if got is not None:
        assert expected is not None
        pd.testing.assert_frame_equal(got, expected)
