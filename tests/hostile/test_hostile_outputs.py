"""Writing where it must not: outputs that are the input, links, FIFOs, devices, folders, read-only disks.

regtune writes its outputs through a symbolic link (the link stays a link), into a FIFO or a device (never
replacing it with a regular file), refuses an output that is one of its inputs or a folder, and checks
every destination before the run.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hostile_support import FAST, assert_done, assert_refused, cli, write


@pytest.fixture
def data(tmp_path: Path) -> Path:
    rng = np.random.default_rng(1)
    d = pd.DataFrame(rng.normal(size=(80, 3)), columns=["a", "b", "c"])
    d["y"] = d["a"] - 2 * d["b"] + rng.normal(scale=0.3, size=80)
    path = tmp_path / "data.csv"
    d.to_csv(path, index=False)
    return path


def test_json_naming_the_input_is_refused_and_the_input_kept(data: Path) -> None:
    before = data.read_bytes()
    assert_refused(
        cli(["tune", str(data), "-y", "y", "--json", str(data), *FAST]),
        1,
        rf"Error: --json {data} is the input file {data}: regtune never writes its input",
    )
    assert data.read_bytes() == before


def test_an_output_reaching_the_input_through_a_link_is_refused(data: Path, tmp_path: Path) -> None:
    link = tmp_path / "out.csv"
    link.symlink_to(data)
    before = data.read_bytes()
    assert_refused(
        cli(["tune", str(data), "-y", "y", "--trials-csv", str(link), *FAST]), 1, r"Error: --trials-csv .* is the input"
    )
    assert data.read_bytes() == before


def test_predict_output_naming_its_input_is_refused(data: Path, tmp_path: Path) -> None:
    model = tmp_path / "m.regtune"
    assert_done(cli(["tune", str(data), "-y", "y", "--save-model", str(model), *FAST]))
    before = data.read_bytes()
    assert_refused(cli(["predict", str(model), str(data), "-o", str(data)]), 1, r"Error: --output .* is the input file")
    assert data.read_bytes() == before
    saved = model.read_bytes()
    assert_refused(
        cli(["predict", str(model), str(data), "-o", str(model)]), 1, r"Error: --output .* is the input file"
    )
    assert model.read_bytes() == saved


def test_show_json_naming_the_journal_is_refused(data: Path, tmp_path: Path) -> None:
    journal = tmp_path / "s.journal"
    assert_done(cli(["tune", str(data), "-y", "y", "--storage", str(journal), *FAST]))
    before = journal.read_bytes()
    assert_refused(
        cli(["show", "--storage", str(journal), "--json", str(journal)]), 1, r"Error: --json .* is the input file"
    )
    assert journal.read_bytes() == before


def test_two_outputs_to_one_file_are_refused(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.out"
    assert_refused(
        cli(["tune", str(data), "-y", "y", "--json", str(out), "--trials-csv", str(out), *FAST]),
        1,
        r"Error: --json and --trials-csv both write .*r\.out: give each its own file",
    )


def test_output_paths_are_checked_before_the_run(data: Path, tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    journal = tmp_path / "never.journal"
    cases = [
        (["--json", str(tmp_path / "folder")], r"Error: --json .*folder is a folder: give a file path"),
        (
            ["--save-model", str(tmp_path / "no" / "m.regtune")],
            r"Error: --save-model .*: the folder .*no does not exist",
        ),
    ]
    for flags, pattern in cases:
        # With a storage: had the run started, the journal would exist.
        assert_refused(cli(["tune", str(data), "-y", "y", "--storage", str(journal), *flags, *FAST]), 1, pattern)
        assert not journal.exists()


def test_json_through_a_symlink_keeps_the_link(data: Path, tmp_path: Path) -> None:
    target = tmp_path / "real.json"
    target.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    assert_done(cli(["tune", str(data), "-y", "y", "--json", str(link), *FAST]))
    assert link.is_symlink()
    assert json.loads(target.read_text())["schema"].startswith("regtune.result/")


def test_json_into_a_fifo_is_written_not_replaced(data: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    try:
        assert_done(cli(["tune", str(data), "-y", "y", "--json", str(fifo), *FAST]))
    finally:
        if reader.is_alive():  # unblock the reader whatever happened
            # ENXIO: it read to the end and closed the pipe already
            with contextlib.suppress(OSError), open(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK), "wb"):
                pass
        reader.join(timeout=30)
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert json.loads(received[0])["dataset"]["n_rows"] == 80


@pytest.mark.parametrize("flag", ["--json", "--summary-md"])
def test_a_fifo_that_nobody_reads_is_an_error_not_a_hang(flag: str, data: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert_refused(
        cli(["tune", str(data), "-y", "y", flag, str(fifo), *FAST]),
        1,
        r"Error: cannot write .*pipe: no process reads this FIFO \(start its reader first\)",
    )
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_a_device_node_is_written_into_not_replaced(data: Path, tmp_path: Path) -> None:
    node = tmp_path / "null"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a private /dev/null
    except (PermissionError, OSError):
        pytest.skip("cannot make a device node here (not root)")
    assert_done(cli(["tune", str(data), "-y", "y", "--json", str(node), *FAST]))
    assert stat.S_ISCHR(node.stat().st_mode)


def test_a_read_only_file_system_is_one_line(data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As on a read-only mount: the write fails, and so does removing the temporary file."""
    real_write, real_unlink = Path.write_text, Path.unlink

    def refuse_write(self: Path, *args: object, **kwargs: object) -> int:
        if self.name.endswith(".regtune-tmp"):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self))
        return real_write(self, *args, **kwargs)  # type: ignore[arg-type]

    def refuse_unlink(self: Path, missing_ok: bool = False) -> None:
        if self.name.endswith(".regtune-tmp"):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self))
        real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "write_text", refuse_write)
    monkeypatch.setattr(Path, "unlink", refuse_unlink)
    out = tmp_path / "r.json"
    assert_refused(
        cli(["tune", str(data), "-y", "y", "--json", str(out), *FAST]),
        1,
        rf"Error: cannot write {out}: Read-only file system",
    )
    assert not out.exists()


def test_a_file_keeps_its_permissions_when_replaced(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    write(out, "old")
    out.chmod(0o640)
    assert_done(cli(["tune", str(data), "-y", "y", "--json", str(out), *FAST]))
    assert stat.S_IMODE(out.stat().st_mode) == 0o640
