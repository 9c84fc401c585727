"""Reading one table from a file or the bytes of a pipe, whatever its format, and several files as one.

The format comes from the content, never from the name: Parquet and Arrow IPC (Feather) by their magic
bytes; gzip and Zstandard compressed text by theirs; other text is CSV, its delimiter given (``sep``) or,
when the first line does not split on commas, sniffed from it (``;``, tab, ``|``). A file of a known
non-table kind (a spreadsheet, a PDF, an image, a database, …) is refused in one line that says what it
looks like. CSV is parsed by pyarrow's multi-threaded reader when that gives what pandas gives (the same
columns, types and missing values), and by pandas otherwise (ragged rows, odd headers, UTF-16, …), so
every message about a bad CSV file stays pandas'; on fewer than :data:`ARROW_MIN_CORES` cores pandas reads
every CSV (pyarrow is no faster there). Nothing here chooses a target: see :mod:`regtune.data`.
"""

from __future__ import annotations

import glob
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from regtune.errors import DataError, named

if TYPE_CHECKING:
    import pandas as pd

#: pyarrow's multi-threaded CSV reader is used from this many cores on. On 2 cores it was measured slower
#: than pandas' reader (1e6 rows, 95 MB: 0.67 s against 0.59 s, median of 5; ``benchmarks/python_api.py``):
#: its threads find no core to spare, and the single-threaded parse is no faster than pandas'.
ARROW_MIN_CORES = 4
#: Delimiters tried, in order, when the first line holds no comma.
SNIFFED: tuple[str, ...] = (";", "\t", "|")
#: Characters that make a source a glob pattern (when no file has that very name).
GLOB_CHARS = "*?["

#: What pandas reads as a missing value (its default ``na_values``); pyarrow is given the same list.
PANDAS_NA: tuple[str, ...] = (
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>", "N/A",
    "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
)  # fmt: skip
PANDAS_TRUE: tuple[str, ...] = ("True", "TRUE", "true")
PANDAS_FALSE: tuple[str, ...] = ("False", "FALSE", "false")

#: Magic bytes of files that are not tables: (prefix, what it looks like, what to do).
NOT_TABLES: tuple[tuple[bytes, str, str], ...] = (
    (b"%PDF", "a PDF document", "export the table inside it as CSV"),
    (b"\x89PNG", "a PNG image", "give the table itself"),
    (b"\xff\xd8\xff", "a JPEG image", "give the table itself"),
    (b"GIF8", "a GIF image", "give the table itself"),
    (b"SQLite format 3\x00", "an SQLite database", "export a table of it as CSV or Parquet"),
    (b"\xd0\xcf\x11\xe0", "an old Excel or Office file (.xls)", "save the sheet as CSV"),
    (b"\x7fELF", "an executable program", "give a table"),
    (b"\x93NUMPY", "a NumPy array file (.npy)", "load it in Python and pass the arrays to regtune.tune(X, y)"),
    (b"\x89HDF", "an HDF5 file", "export the table as CSV or Parquet"),
    (b"ORC", "an ORC file", "convert it to Parquet"),
    (b"Obj\x01", "an Avro file", "convert it to Parquet"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", "extract the table from it"),
)
ZIP = b"PK\x03\x04"
GZIP = b"\x1f\x8b"
ZSTD = b"\x28\xb5\x2f\xfd"
PARQUET = b"PAR1"
ARROW_FILE = b"ARROW1"
ARROW_STREAM = b"\xff\xff\xff\xff"
FEATHER_V1 = b"FEA1"


def expand_sources(sources: str | Sequence[str]) -> list[str]:
    """The files of ``sources``: each a path, ``-``, ``builtin:NAME``, or a glob pattern (``parts/*.csv``,
    quoted so that regtune expands it) that matches at least one file, in sorted order."""
    listed = [sources] if isinstance(sources, str) else [os.fspath(s) for s in sources]
    if not listed:
        raise DataError("no data given: give a file, a glob pattern, - for standard input, or builtin:NAME")
    found: list[str] = []
    for source in listed:
        if any(c in source for c in GLOB_CHARS) and not os.path.lexists(source) and source != "-":
            matches = sorted(m for m in glob.glob(source, recursive=True) if not os.path.isdir(m))
            if not matches:
                raise DataError(
                    f"no file matches {source}: check the pattern (and quote it, so that regtune expands it)"
                )
            found.extend(matches)
        else:
            found.append(source)
    return found


def concat_tables(frames: list[tuple[str, pd.DataFrame]], source_column: str | None) -> pd.DataFrame:
    """The tables of several files as one, rows in file order; every file must have the first one's
    columns (in any order). ``source_column`` names a new column holding the file of each row."""
    import pandas as pd

    first_name, first = frames[0]
    columns = [str(c) for c in first.columns]
    parts = []
    for name, frame in frames:
        frame.columns = [str(c) for c in frame.columns]
        if set(frame.columns) != set(columns) or frame.shape[1] != len(columns):
            missing = [c for c in columns if c not in frame.columns]
            extra = [c for c in frame.columns if c not in columns]
            what = (
                f"lacks column {missing[0]!r}"
                if missing
                else f"has column {extra[0]!r}"
                if extra
                else "names a column twice"
            )
            raise DataError(
                f"{name} {what}, unlike {first_name}: the files must have the same columns (give them one by one"
                " to see which differ)"
            )
        part = frame[columns]
        if source_column is not None:
            part = part.assign(**{source_column: name})
        parts.append(part)
    if source_column is not None and source_column in columns:
        raise DataError(
            f"{named('source_column')} {source_column!r} is already a column of {first_name}: choose another name"
        )
    if len(parts) == 1:
        return parts[0]
    return pd.concat(parts, ignore_index=True)


def parse_sep(text: str) -> str:
    """A delimiter as typed: one character, ``\\t`` or ``tab`` for a tab."""
    return {"\\t": "\t", "tab": "\t", "TAB": "\t"}.get(text, text)


def check_sep(sep: str) -> str | None:
    """A complaint about a delimiter, or None."""
    if len(sep) != 1 or sep in '\r\n"':
        return f"must be one character other than a quote or a newline (\\t or tab for a tab), got {sep!r}"
    return None


def read_file(data: Path | bytes, label: str, sep: str | None = None) -> pd.DataFrame:
    """The table in ``data`` (a regular file's path, or the bytes a pipe gave), recognised by its content."""
    head = data[:16] if isinstance(data, bytes) else _head(data, 16)
    if head.startswith(PARQUET):
        return _read_arrow(data, label, "Parquet", head)
    if head.startswith((ARROW_FILE, ARROW_STREAM, FEATHER_V1)):
        return _read_arrow(data, label, "Arrow", head)
    _refuse_non_table(head, data, label)
    if head.startswith(ZSTD):  # pandas needs the zstandard module for it; pyarrow has the codec
        data = _decompress(data, "zstd", label)
        head = data[:16]
    compression = "gzip" if head.startswith(GZIP) else None
    if usable_cores() >= ARROW_MIN_CORES:
        frame = read_csv_arrow(data, label, sep, compression)
        if frame is not None:
            return frame
    return parse_csv(data, label, sep=sep)


def usable_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def _head(path: Path, size: int) -> bytes:
    with path.open("rb") as handle:
        return handle.read(size)


def _refuse_non_table(head: bytes, data: Path | bytes, label: str) -> None:
    name = label.lower()
    if head.startswith(ZIP) and not name.endswith(".zip"):
        kind = {".xlsx": "an Excel workbook", ".xlsm": "an Excel workbook", ".ods": "an OpenDocument spreadsheet"}
        what = next((v for k, v in kind.items() if name.endswith(k)), "a ZIP archive (an Excel .xlsx workbook?)")
        raise DataError(f"{label} looks like {what}, not a table: save the sheet as CSV, or name a .zip file .zip")
    for magic, what, fix in NOT_TABLES:
        if head.startswith(magic):
            raise DataError(f"{label} looks like {what}, not a table: {fix}")
    stripped = head.lstrip()
    if stripped[:1] in (b"{", b"[") and _is_json(data):
        raise DataError(
            f"{label} looks like JSON, not a table: convert it to CSV or Parquet (e.g. pandas.read_json(...).to_csv)"
        )


def _is_json(data: Path | bytes) -> bool:
    import json

    try:
        text = data if isinstance(data, bytes) else (data.read_bytes() if data.stat().st_size < 2**26 else b"")
        json.loads(text)
    except (ValueError, OSError):
        return False
    return True


def _decompress(data: Path | bytes, codec: str, label: str) -> bytes:
    import pyarrow as pa

    source = pa.BufferReader(data) if isinstance(data, bytes) else pa.OSFile(str(data))
    try:
        with pa.CompressedInputStream(source, codec) as stream:
            raw: bytes = stream.read()
    except (OSError, pa.ArrowException) as exc:
        raise DataError(f"{label} is not a readable CSV file ({_first_line(exc)}): check its format") from None
    if not raw.strip():
        raise DataError(f"{label} is empty: give a CSV file with a header row and data rows")
    return raw


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _read_arrow(data: Path | bytes, label: str, kind: str, head: bytes) -> pd.DataFrame:
    """A Parquet or Arrow IPC (Feather) file: its columns as pandas columns (decimals as float64)."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.feather as feather
    import pyarrow.parquet as pq

    source: Any = pa.BufferReader(data) if isinstance(data, bytes) else str(data)
    try:
        if kind == "Parquet":
            table = pq.read_table(source)
        elif head.startswith(ARROW_STREAM):
            table = pa.ipc.open_stream(source if isinstance(data, bytes) else pa.OSFile(str(data))).read_all()
        else:
            table = feather.read_table(source)
    except (OSError, pa.ArrowException, ValueError) as exc:
        raise DataError(f"{label} is not a readable {kind} file ({_first_line(exc)}): check its format") from None
    check_header([str(n) for n in table.column_names], label)
    columns = []
    for column in table.columns:
        if pa.types.is_decimal(column.type):
            column = column.cast(pa.float64())
        columns.append(column)
    table = pa.table(columns, names=table.column_names, metadata=table.schema.metadata)
    frame: pd.DataFrame = table.to_pandas()
    if not isinstance(frame.index, pd.RangeIndex):  # an index pandas wrote: a column like any other
        frame = frame.reset_index()
    if frame.shape[0] == 0:
        raise DataError(f"{label} has no rows: give a table with data rows")
    return frame


def sniff_sep(data: Path | bytes, compression: str | None) -> str:
    """The delimiter of a CSV file's first line: a comma if it holds one, else the first of ``;``, tab and
    ``|`` it holds, else a comma (a one-column file)."""
    import gzip

    try:
        if isinstance(data, bytes):
            raw = gzip.GzipFile(fileobj=io.BytesIO(data)).read(1 << 16) if compression else data[: 1 << 16]
        else:
            opener: Any = gzip.open if compression else open
            with opener(data, "rb") as handle:
                raw = handle.read(1 << 16)
    except Exception:  # a damaged stream: the reader that follows says so
        return ","
    line = raw.split(b"\n", 1)[0]
    if b"," in line:
        return ","
    counts = {sep: line.count(sep.encode()) for sep in SNIFFED}
    best = max(SNIFFED, key=lambda s: counts[s])
    return best if counts[best] else ","


def read_csv_arrow(data: Path | bytes, label: str, sep: str | None, compression: str | None) -> pd.DataFrame | None:
    """The CSV file read by pyarrow's multi-threaded reader, or None when pandas must read it: pyarrow
    failed (ragged rows, a newline inside a quoted value, text that is not UTF-8, …), or its result could
    differ from pandas' (a UTF-16 file, a header with empty or repeated names, a text column pandas might
    read as numbers). Dates and times stay text, as pandas leaves them; missing values are pandas'."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    head = data[:4] if isinstance(data, bytes) else _head(data, 4)
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return None
    delimiter = sep or sniff_sep(data, compression)
    # The text itself, for the scan below (pandas' reader too holds the whole text at some point).
    if compression:
        try:
            data = _decompress(data, compression, label)
        except DataError:
            return None
        compression = None
    elif not isinstance(data, bytes):
        data = data.read_bytes()
    if _numbers_pandas_reads_otherwise(data, delimiter):
        return None

    def read(types: dict[str, Any] | None = None) -> pa.Table:
        source: Any = pa.BufferReader(data) if isinstance(data, bytes) else pa.OSFile(str(data))
        stream = pa.CompressedInputStream(source, compression) if compression else source
        return pacsv.read_csv(
            stream,
            read_options=pacsv.ReadOptions(use_threads=True),
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
            convert_options=pacsv.ConvertOptions(
                null_values=list(PANDAS_NA),
                true_values=list(PANDAS_TRUE),
                false_values=list(PANDAS_FALSE),
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
                column_types=types,
            ),
        )

    try:
        table = read()
        names = [str(n) for n in table.column_names]
        if len(set(names)) != len(names) or any(not n.strip() for n in names) or table.num_rows == 0:
            return None
        temporal = {
            name: pa.string()
            for name, kind in zip(names, table.schema.types, strict=True)
            if pa.types.is_temporal(kind) or pa.types.is_decimal(kind)
        }
        if temporal:
            table = read(temporal)
    except (pa.ArrowException, OSError, ValueError, EOFError):
        return None
    columns = []
    for column in table.columns:
        if pa.types.is_null(column.type):  # every cell missing: pandas reads float64 NaN
            column = column.cast(pa.float64())
        elif pa.types.is_floating(column.type) and _beyond_int64(column):
            return None  # an integer too large for int64: pyarrow reads a float, pandas uint64 or text
        elif (pa.types.is_string(column.type) and _numbers_as_text(column)) or not (
            pa.types.is_integer(column.type)
            or pa.types.is_floating(column.type)
            or pa.types.is_boolean(column.type)
            or pa.types.is_string(column.type)
        ):
            return None
        columns.append(column)
    frame: pd.DataFrame = pa.table(columns, names=names).to_pandas()
    for name, column in zip(names, columns, strict=True):
        if pa.types.is_boolean(column.type) and column.null_count:  # objects: pandas reads a gap NaN, Arrow None
            frame[name] = frame[name].where(frame[name].notna(), float("nan"))
    check_header(names, label)
    return frame


def _numbers_pandas_reads_otherwise(data: bytes, delimiter: str) -> bool:
    """Whether the rows hold a number pyarrow parses and pandas does not, or parses otherwise: hexadecimal
    (``0x1F``: pyarrow an integer, pandas text), a field starting with ``+`` (``+1``: pyarrow a float, pandas
    an integer), ``nan(…)`` (pyarrow NaN, pandas text). A search of the bytes after the header, one byte
    first (fast), the token only where that byte occurs; a text value holding one only sends the file to
    pandas."""
    start = max(data.find(b"\n"), 0)  # from the header's end (its newline: a first field may start with +)

    def has(token: bytes) -> bool:
        return data.find(token, start) >= 0

    signs = [prefix + b"+" for prefix in (delimiter.encode(), b"\n", b'"', b" ", b"\t")]
    return (
        (has(b"+") and any(has(token) for token in signs))
        or (has(b"x") and has(b"0x"))
        or (has(b"X") and has(b"0X"))
        or (has(b"(") and any(has(token) for token in (b"nan(", b"NaN(", b"NAN(")))
    )


def _beyond_int64(column: Any) -> bool:
    import pyarrow.compute as pc

    largest = pc.max(pc.abs(column)).as_py()
    return largest is not None and largest >= 2.0**63


def _numbers_as_text(column: Any, sample: int = 200) -> bool:
    """Whether the first non-missing values of a text column all read as numbers (or booleans) to pandas:
    pyarrow left as text something pandas may parse (one text value is enough for both to keep text)."""
    import pandas as pd

    values = column.drop_null().slice(0, sample).to_pylist()
    if not values:
        return False
    if all(v in PANDAS_TRUE or v in PANDAS_FALSE for v in values):
        return True
    return bool(pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").notna().all())


def bom_encoding(head: bytes) -> str:
    return "utf-16" if head[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8"


def parse_csv(source: Path | bytes, label: str, encoding: str | None = None, sep: str | None = None) -> pd.DataFrame:
    """The CSV file read by pandas (compression from the name of a path, gzip from the magic bytes of
    data): every failure a one-line :class:`DataError`."""
    import lzma
    import tarfile
    import zipfile
    import zlib

    import pandas as pd

    compression: Any = "infer"
    if isinstance(source, bytes):
        compression = "gzip" if source[:2] == GZIP else None
        if compression is None:
            encoding = bom_encoding(source)
    elif encoding is None:
        encoding = bom_encoding(_head(source, 4))
    if sep is None and _plain_or_gzip(source):
        sep = sniff_sep(source, "gzip" if _is_gzip(source) else None)

    def read(**options: Any) -> pd.DataFrame:
        handle: Any = io.BytesIO(source) if isinstance(source, bytes) else source
        frame: pd.DataFrame = pd.read_csv(handle, compression=compression, encoding=encoding, sep=sep or ",", **options)
        return frame

    try:
        frame = read()
        header = read(header=None, nrows=1, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise DataError(f"{label} is empty: give a CSV file with a header row and data rows") from None
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{label} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at position {exc.start}): save it as UTF-8"
        ) from None
    except ImportError as exc:  # a compression whose module is not installed
        raise DataError(f"cannot decompress {label} ({_first_line(exc)}): decompress it first") from None
    except (ValueError, OSError, EOFError, zlib.error, lzma.LZMAError, tarfile.TarError, zipfile.BadZipFile) as exc:
        raise DataError(f"{label} is not a readable CSV file ({_first_line(exc)}): check its format") from None
    except Exception as exc:  # a decompressor's own error
        raise DataError(f"{label} is not a readable CSV file ({type(exc).__name__}): check its format") from None
    if frame.shape[0] == 0:
        raise DataError(f"{label} has a header but no data rows: add rows to the file")
    check_header([str(v) for v in header.iloc[0].tolist()] if header.shape[0] else [], label)
    return frame


def _is_gzip(source: Path | bytes) -> bool:
    return (source[:2] if isinstance(source, bytes) else _head(source, 2)) == GZIP


def _plain_or_gzip(source: Path | bytes) -> bool:
    """Whether pandas reads the file as plain text or gzip (not a .zip, .tar, .xz, … it decompresses by name)."""
    if isinstance(source, bytes):
        return True
    name = source.name.lower()
    others = (".zip", ".tar", ".xz", ".bz2", ".zst", ".tgz", ".tbz", ".txz", ".lzma")
    return not any(name.endswith(s) or f"{s}." in name for s in others)


def check_header(names: list[str], label: str) -> None:
    """Refuse a header that names a column twice (the reader would rename one, e.g. ``y`` → ``y.1``,
    and the copy would silently become a feature), or with a NUL character in a name."""
    seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        if "\0" in name:  # NumPy's text arrays drop trailing NULs: the column could not be found again
            raise DataError(f"{label}: column {position} has a NUL character in its name ({name!r}): rename it")
        if name in seen:
            raise DataError(
                f"{label} names column {name!r} twice in its header (columns {seen[name]} and {position}):"
                " rename one of them"
            )
        seen[name] = position
