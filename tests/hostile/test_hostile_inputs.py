# ruff: noqa: E501 — the table of cases reads best one case a line
"""Bad input, each case a generated file (or standard input) with its expected exit code and first line.

The table :data:`CASES` holds the inputs of the hostile sweep (issue 19): numbers that overflow, headers
that lie, files that are not what their names say, settings that point at folders. Each either runs
(exit 0) or is refused in one line that says what is wrong.
"""

from __future__ import annotations

import gzip
import io
import lzma
import tarfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hostile_support import FAST, assert_done, assert_refused, cli, write

Build = Callable[[Path], tuple[list[str], bytes | None]]


def frame(n: int = 100, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    d = pd.DataFrame(rng.normal(size=(n, 3)), columns=["x0", "x1", "x2"])
    d["y"] = 2 * d["x0"] - d["x1"] + rng.normal(scale=0.5, size=n)
    return d


def csv_text(d: pd.DataFrame, **options: object) -> str:
    return d.to_csv(index=False, **options)  # type: ignore[call-overload,no-any-return]


def with_value(column: str, value: float, rows: tuple[int, ...] = (0, 1)) -> pd.DataFrame:
    d = frame()
    d.loc[list(rows), column] = value
    return d


def tune_file(name: str, content: str | bytes, *args: str) -> Build:
    def build(tmp: Path) -> tuple[list[str], bytes | None]:
        return ["tune", write(tmp / name, content), *FAST, *args], None

    return build


def tune_stdin(content: bytes, *args: str) -> Build:
    def build(tmp: Path) -> tuple[list[str], bytes | None]:
        return ["tune", "-", *FAST, *args], content

    return build


def zip_of(*members: tuple[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in members:
            archive.writestr(name, text)
    return buffer.getvalue()


def tar_of(*members: tuple[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, text in members:
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def corrupt_gzip() -> bytes:
    raw = gzip.compress(csv_text(frame()).encode())
    return raw[:20] + b"\xff" * 50 + raw[70:]


def rows(header: str, make: Callable[[int], str], n: int) -> str:
    return header + "\n" + "".join(make(i) + "\n" for i in range(n))


def settings_folder(tmp: Path) -> tuple[list[str], bytes | None]:
    (tmp / "settings").mkdir()
    return ["tune", write(tmp / "d.csv", csv_text(frame())), "-y", "y", "--config", str(tmp / "settings")], None


OK = csv_text(frame())


@dataclass
class Case:
    name: str
    build: Build
    code: int
    #: A regular expression the first line of stderr must match (for code 0: nothing is asked of it).
    first: str = ""


CASES = [
    # Numbers that break the arithmetic (a run that never ended, or a traceback).
    Case("feature 1e308", tune_file("big.csv", csv_text(with_value("x0", 1e308)), "-y", "y"), 1,
         r"Error: column 'x0' holds 1e\+308 \(beyond ±1e\+100, too large to standardize\) in 2 row\(s\)"),
    Case("feature inf", tune_file("inf.csv", csv_text(with_value("x1", np.inf, (3,))), "-y", "y"), 1,
         r"Error: column 'x1' holds inf \(infinite\) in 1 row\(s\): replace those values"),
    Case("feature -inf", tune_file("ninf.csv", csv_text(with_value("x2", -np.inf, (5,))), "-y", "y"), 1,
         r"Error: column 'x2' holds -inf \(infinite\)"),
    Case("target inf", tune_file("yinf.csv", csv_text(with_value("y", np.inf, (7,))), "-y", "y"), 1,
         r"Error: target 'y' holds inf \(infinite\)"),
    Case("target -1e300", tune_file("ybig.csv", csv_text(with_value("y", -1e300, (7,))), "-y", "y"), 1,
         r"Error: target 'y' holds -1e\+300 \(beyond"),
    # Headers and columns that would give a silently wrong answer.
    Case("duplicated target header", tune_file("dup.csv", rows("a,b,y,y", lambda i: f"{i},{i * 3 % 7},{i % 5},{i % 5}", 50), "-y", "y"), 1,
         r"Error: .*dup\.csv names column 'y' twice in its header \(columns 3 and 4\): rename one of them"),
    Case("duplicated feature header", tune_file("dupx.csv", rows("x,x,y", lambda i: f"{i},{i % 3},{i * 0.5}", 40), "-y", "y"), 1,
         r"Error: .* names column 'x' twice in its header \(columns 1 and 2\)"),
    Case("identifier column", tune_file("ids.csv", csv_text(frame(150).assign(id=[f"id{i}" for i in range(150)])), "-y", "y"), 1,
         r"Error: column 'id' has 150 distinct values, more than --max-categories 100 \(an identifier\?\): .* --drop id"),
    Case("identifier column dropped", tune_file("ids2.csv", csv_text(frame(150).assign(id=[f"id{i}" for i in range(150)])), "-y", "y", "--drop", "id"), 0),
    Case("wide categorical allowed", tune_file("ids3.csv", csv_text(frame(150).assign(c=[f"c{i % 120}" for i in range(150)])), "-y", "y", "--max-categories", "200"), 0),
    Case("two rows, regression", tune_file("two.csv", "x,y\n1,2\n3,5\n", "-y", "y", "-k", "2", "--task", "regression"), 1,
         r"Error: no feature varies within the 1 training row\(s\) of fold 1: add rows, or use fewer --folds"),
    Case("two rows, classification", tune_file("two2.csv", "x,y\n1,2\n3,5\n", "-y", "y", "-k", "2"), 1,
         r"Error: class 2 has a single row: stratified CV needs at least 2 rows of every class"),
    Case("constant features", tune_file("constx.csv", rows("a,b,y", lambda i: f"1,k,{i * 1.5}", 30), "-y", "y"), 1,
         r"Error: every feature has the same value in every row"),
    Case("constant target", tune_file("const.csv", rows("x,y", lambda i: f"{i},5", 30), "-y", "y"), 1,
         r"Error: target 'y' has the same value \(5\) in every row: there is nothing to predict"),
    Case("text among target numbers", tune_file("mixed.csv", rows("x,y", lambda i: f"{i},{'abc' if i == 7 else i * 1.5}", 40), "-y", "y"), 1,
         r"Error: target 'y' holds text among its numbers \(e\.g\. 'abc'\): fix those values, or use --task classification"),
    Case("one-row class", tune_file("cls.csv", rows("x,y", lambda i: f"{i},{'a' if i < 20 else 'b' if i < 39 else 'c'}", 40), "-y", "y"), 1,
         r"Error: class 'c' has a single row: stratified CV needs at least 2 rows of every class"),
    Case("semicolon-separated", tune_file("semi.csv", csv_text(frame(), sep=";"), "-y", "y"), 0),
    Case("tab-separated", tune_file("tab.csv", csv_text(frame(), sep="\t"), "-y", "y"), 0),
    Case("semicolons read with --sep ,", tune_file("semi2.csv", csv_text(frame(), sep=";"), "-y", "y", "--sep", ","), 1,
         r"Error: the file has a single column 'x0;x1;x2;y': it looks ';'-separated: give --sep ';'"),
    Case("a PDF named .csv", tune_file("r.csv", b"%PDF-1.5\n%\xe2\xe3", "-y", "y"), 1,
         r"Error: .*r\.csv looks like a PDF document, not a table"),
    Case("a damaged Parquet file", tune_file("d.parquet", b"PAR1" + b"\0" * 40 + b"PAR1", "-y", "y"), 1,
         r"Error: .*d\.parquet is not a readable Parquet file \(.*\): check its format"),
    Case("a glob that matches nothing", lambda tmp: (["tune", str(tmp / "none-*.csv"), "-y", "y", *FAST], None), 1,
         r"Error: no file matches .*none-\*\.csv: check the pattern"),
    Case("newline in a column name", tune_file("nl.csv", rows('"a\nb",y', lambda i: f"{i},{i * 2.5}", 30), "-y", "q"), 1,
         r"Error: target column 'q' not found"),
    Case("tiny values beside zeros (fuzz)", tune_file("tiny.csv", "x,y,a,b,,target\n0,0,nan,nan,nan,0.000\n0,0,0.0,0.0,nan,1.700\n0,0,0.0,0.0,0.0,3.400\n0,0,0.0,0.0,0.0,2.100\n0,0,nan,nan,0.0,3.800\n0,0,nan,nan,1.0,5.500\n0,0,0.0,0.0,2.0265824021464626e-110,4.200\n0,0,0.0,0.0,nan,5.900\n", "-y", "target", "-k", "2"), 0),
    Case("column named [/]", tune_file("br.csv", rows("[/],y", lambda i: f"{i},{i * 1.5 + i % 3}", 40), "-y", "y", "--coef", "5"), 0),
    # Files that are not what their names say.
    Case("corrupt gzip stream", tune_file("bad.csv.gz", corrupt_gzip(), "-y", "y"), 1,
         r"Error: .*bad\.csv\.gz is not a readable CSV file \(.*\): check its format"),
    Case("zip with two files", tune_file("two.zip", zip_of(("a.csv", OK), ("b.csv", OK)), "-y", "y"), 1,
         r"Error: .*two\.zip is not a readable CSV file \(Multiple files found in ZIP file"),
    Case("zip with one file", tune_file("one.zip", zip_of(("a.csv", OK)), "-y", "y"), 0),
    Case("xz", tune_file("d.csv.xz", lzma.compress(OK.encode()), "-y", "y"), 0),
    Case("corrupt xz", tune_file("bad.csv.xz", lzma.compress(OK.encode())[:40] + b"\0" * 40, "-y", "y"), 1,
         r"Error: .*bad\.csv\.xz is not a readable CSV file"),
    Case("zst", tune_file("d.csv.zst", b"(\xb5/\xfd" + b"junk" * 10, "-y", "y"), 1,
         r"Error: (cannot decompress .*d\.csv\.zst|.*d\.csv\.zst is not a readable CSV file)"),
    Case("tar with one file", tune_file("d.tar", tar_of(("d.csv", OK)), "-y", "y"), 0),
    Case("tar with two files", tune_file("d2.tar", tar_of(("a.csv", OK), ("b.csv", OK)), "-y", "y"), 1,
         r"Error: .*d2\.tar is not a readable CSV file"),
    Case("utf-16 file", tune_file("u16.csv", OK.encode("utf-16"), "-y", "y"), 0),
    Case("latin-1 file", tune_file("l1.csv", rows("x,y,c", lambda i: f"{i},{i * 1.5},{'é' if i % 2 else 'e'}", 30).encode("latin-1"), "-y", "y"), 1,
         r"Error: .*l1\.csv is not UTF-8 text \(byte 0xe9 at position \d+\): save it as UTF-8"),
    Case("NUL in a column name", tune_file("nul.csv", OK.replace("x1", "x\0"), "-y", "y"), 1,
         r"Error: .*nul\.csv: column 2 has a NUL character in its name \('x\\x00'\): rename it"),
    Case("NUL in a value", tune_file("nul2.csv", rows("x,c,y", lambda i: f"{i},{'a' if i % 2 else 'b'}\0,{i * 1.5}", 30), "-y", "y"), 0),
    Case("random bytes on stdin", tune_stdin(bytes(np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8)), "-y", "y"), 1,
         r"Error: standard input is not UTF-8 text \(byte 0x[0-9a-f]{2} at position \d+\): save it as UTF-8"),
    Case("gzip on stdin", tune_stdin(gzip.compress(OK.encode()), "-y", "y"), 0),
    Case("empty stdin", tune_stdin(b"\n \n", "-y", "y"), 1, r"Error: standard input is empty"),
    Case("header only", tune_file("h.csv", "x,y\n", "-y", "y"), 1, r"Error: .*h\.csv has a header but no data rows"),
    Case("a device as the input", lambda tmp: (["tune", "/dev/zero", "-y", "y", *FAST], None), 1,
         r"Error: /dev/zero is a device, not a CSV file"),
    # Settings.
    Case("--config a folder", settings_folder, 1, r"Error: settings file .*settings is a folder: give the path of a TOML file"),
    Case("unknown scorer, no clustering hint", tune_file("s.csv", OK, "-y", "y", "--scoring", "adjusted_rand"), 1,
         r"Error: unknown scorer 'adjusted_rand': use a scikit-learn scorer name for regression \(e\.g\. neg_mean_squared_error\)$"),
    Case("every trial fails the same way", tune_file("neg.csv", csv_text(frame().assign(y=lambda d: d.y - 10)), "-y", "y", "--scoring", "neg_mean_squared_log_error", "-n", "40"), 1,
         r"Error: every trial fails: the first 3 of each penalty stopped with ValueError: .*: check the data and the settings"),
    # Sample weights (--weights): the column and the first bad row, or why the weights cannot be used.
    Case("a negative weight", tune_file("wneg.csv", csv_text(frame().assign(w=[1.0] * 7 + [-2.0] + [1.0] * 92)), "-y", "y", "--weights", "w"), 1,
         r"Error: --weights column 'w' must be a number ≥ 0 in every row: row 8 has -2 \(rows count from 1 after the header\)"),
    Case("a weight that is text", tune_file("wtext.csv", csv_text(frame().assign(w=["1"] * 3 + ["heavy"] + ["1"] * 96)), "-y", "y", "--weights", "w"), 1,
         r"Error: --weights column 'w' must be a number ≥ 0 in every row: row 4 has 'heavy'"),
    Case("a missing weight", tune_file("wnan.csv", csv_text(frame().assign(w=[1.0] * 5 + [np.nan] + [1.0] * 94)), "-y", "y", "--weights", "w"), 1,
         r"Error: --weights column 'w' must be a number ≥ 0 in every row: row 6 has no value"),
    Case("every weight zero", tune_file("wzero.csv", csv_text(frame().assign(w=0.0)), "-y", "y", "--weights", "w"), 1,
         r"Error: --weights column 'w' is zero in every row: nothing would be fitted"),
    Case("a fold whose test rows all weigh 0", tune_file("wfold.csv", csv_text(frame().assign(f=np.arange(100) % 2, w=(np.arange(100) % 2).astype(float))), "-y", "y", "--weights", "w", "--fold-column", "f"), 1,
         r"Error: every test row of fold 1 has weight 0 in the --weights column: nothing to score there"),
    Case("weights with the MLP", tune_file("wmlp.csv", csv_text(frame().assign(w=1.0)), "-y", "y", "--weights", "w", "--model", "mlp"), 1,
         r"Error: --weights does not apply to --model mlp: sample weights are wired through --model linear only"),
    Case("weights that are the target", tune_file("wy.csv", OK, "-y", "y", "--weights", "y"), 1,
         r"Error: --weights column 'y' is the target: choose another column"),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_input(case: Case, tmp_path: Path) -> None:
    args, stdin = case.build(tmp_path)
    outcome = cli(args, stdin)
    if case.code == 0:
        assert_done(outcome)
    else:
        assert_refused(outcome, case.code, case.first)


def test_a_settings_file_that_is_a_folder_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "regtune.toml").mkdir()
    monkeypatch.chdir(tmp_path)
    outcome = cli(["tune", write(tmp_path / "d.csv", OK), "-y", "y", *FAST])
    assert_refused(outcome, 1, r"Error: settings file regtune\.toml is a folder")


def test_a_small_budget_still_opens_every_penalty(tmp_path: Path) -> None:
    import json

    outcome = cli(["tune", write(tmp_path / "d.csv", OK), "-y", "y", "-n", "8", "--search", "tpe", "--json", "-"])
    assert_done(outcome)
    tried = {p["penalty"] for p in json.loads(outcome.stdout)["curve"]}
    assert tried == {"l1", "l2", "elasticnet"}


def test_the_memory_estimate_refuses_before_encoding() -> None:
    from regtune.data import check_memory, estimate_encoded_bytes, load_dataset
    from regtune.errors import DataError

    d = frame(200).assign(c=[f"c{i % 50}" for i in range(200)])
    dataset = load_dataset("-", target="y", stdin=io.StringIO(csv_text(d)))
    need = estimate_encoded_bytes(dataset, 5)
    assert need == 8 * 200 * (3 + 50) * 7
    check_memory(dataset, 5, available=10 * need)
    with pytest.raises(DataError, match=r"the encoded table would take about .* GiB \(200 rows × 5 folds\)"):
        check_memory(dataset, 5, available=need)
    # Folds made of sums (a large least-squares table) hold no encoded copy: the table's own encoding counts.
    check_memory(dataset, 0, available=need)
    with pytest.raises(DataError, match=r"GiB \(200 rows, encoded once\), more than"):
        check_memory(dataset, 0, available=need // 4)


def test_process_substitution_is_read_once(tmp_path: Path) -> None:
    """``<(cat data.csv)`` is a pipe: its size is 0 and it can be read only once."""
    import shutil
    import subprocess

    from hostile_support import regtune_cmd

    if shutil.which("bash") is None:
        pytest.skip("no bash")
    data = write(tmp_path / "d.csv", OK)
    command = " ".join([*regtune_cmd(), "tune", f"<(cat {data})", "-y", "y", "-n", "4", "--json", "-"])
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert '"n_rows": 100' in done.stdout
