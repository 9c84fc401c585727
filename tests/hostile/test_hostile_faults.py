"""Faults of the machine while a run is under way: killed processes, signals to the process group, a
database that locks or goes away. Each runs the installed command in its own session with timeouts, so
a fault that hangs fails the test instead of CI; every process it started is killed at the end.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hostile_support import messages, regtune_cmd

from regtune.search import load_stored

PG_URL = os.environ.get("REGTUNE_TEST_PG_URL")
WAIT_S = 180


@pytest.fixture(scope="module")
def slow_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A classification table whose trials take a noticeable time (so a fault lands mid-run)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 40))
    y = (X[:, :5].sum(axis=1) + rng.normal(size=3000) > 0).astype(int)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(40)])
    frame["y"] = np.where(y == 1, "yes", "no")
    path = tmp_path_factory.mktemp("slow") / "slow.csv"
    frame.to_csv(path, index=False)
    return path


@contextlib.contextmanager
def started(args: list[str]) -> Iterator[subprocess.Popen[bytes]]:
    """``regtune ARGS`` in a new session; the whole session is killed on the way out, whatever happened."""
    proc = subprocess.Popen(
        [*regtune_cmd(), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "NO_COLOR": "1"},
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.communicate(timeout=30)


def children(pid: int) -> list[int]:
    """The live (not zombie) child processes of ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_for(condition: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def completed(storage: str) -> int:
    try:
        study, _ = load_stored(storage, None)
    except Exception:  # not created yet
        return 0
    return sum(t.state.name == "COMPLETE" for t in study.get_trials(deepcopy=False))


def one_error_line(stderr: bytes) -> str:
    lines = messages(stderr.decode(errors="replace"))
    assert len(lines) == 1, stderr.decode(errors="replace")
    assert "Traceback" not in lines[0]
    return lines[0]


def tune_args(data: Path, storage: str, *more: str) -> list[str]:
    return ["tune", str(data), "-y", "y", "--no-prune", "-n", "300", "--storage", storage, *more]


def test_sigkill_of_the_parent_takes_the_fold_workers_with_it(slow_csv: Path, tmp_path: Path) -> None:
    with started(tune_args(slow_csv, str(tmp_path / "k.journal"), "-j", "2")) as proc:
        wait_for(lambda: len(children(proc.pid)) >= 2, "two fold workers")
        workers = children(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        wait_for(lambda: not any(alive(w) for w in workers), "the fold workers to die with their parent", 30)
        # Nobody holds the caller's pipes any more: reading them ends.
        proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_to_the_process_group_is_an_interruption_without_tracebacks(
    signum: int, slow_csv: Path, tmp_path: Path
) -> None:
    journal = str(tmp_path / "g.journal")
    with started(tune_args(slow_csv, journal, "-j", "2")) as proc:
        wait_for(lambda: completed(journal) >= 2, "two completed trials")
        before = completed(journal)
        workers = children(proc.pid)
        os.killpg(proc.pid, signum)
        out, err = proc.communicate(timeout=WAIT_S)
    text = err.decode(errors="replace")
    assert proc.returncode == 130, text
    assert "Traceback" not in text and "Aborted" not in text
    assert "λ.min" in out.decode()  # the partial result
    assert not any(alive(w) for w in workers)
    assert completed(journal) >= before


def test_a_killed_fold_worker_is_one_line_naming_it(slow_csv: Path, tmp_path: Path) -> None:
    journal = str(tmp_path / "w.journal")
    with started(tune_args(slow_csv, journal, "-j", "2")) as proc:
        wait_for(lambda: completed(journal) >= 2, "two completed trials")
        victim = sorted(children(proc.pid))[-1]
        kept = completed(journal)
        os.kill(victim, signal.SIGKILL)
        _, err = proc.communicate(timeout=WAIT_S)
    line = one_error_line(err)
    assert proc.returncode == 1, line
    assert line.startswith(f"Error: fold worker 2 (pid {victim}) was killed by SIGKILL"), line
    assert completed(journal) >= kept


def test_sqlite_locked_in_the_middle_of_a_run_is_one_line(slow_csv: Path, tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    url = f"sqlite:///{db}"
    with started(tune_args(slow_csv, url)) as proc:
        wait_for(lambda: completed(url) >= 2, "two completed trials")
        kept = completed(url)
        lock = sqlite3.connect(db, timeout=30)
        try:
            lock.execute("BEGIN EXCLUSIVE")
            _, err = proc.communicate(timeout=WAIT_S)
        finally:
            lock.rollback()
            lock.close()
    line = one_error_line(err)
    assert proc.returncode == 1, line
    assert line.startswith("Error: the study storage failed during the run (database is locked)"), line
    assert "password" not in line
    assert completed(url) >= kept


class Proxy:
    """A TCP relay to PostgreSQL that can be cut, as if the server stopped."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.open = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while self.open:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.open:
                client.close()
                return
            server = socket.create_connection(self.target)
            self.sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(a: socket.socket, b: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := a.recv(65536):
                b.sendall(data)
        with contextlib.suppress(OSError):
            b.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.open = False
        self.listener.close()
        for s in self.sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()


@pytest.mark.skipif(PG_URL is None, reason="REGTUNE_TEST_PG_URL not set (.ci/run starts PostgreSQL)")
def test_postgresql_gone_in_the_middle_of_a_run_is_one_line(slow_csv: Path) -> None:
    from sqlalchemy.engine import make_url

    assert PG_URL is not None
    real = make_url(PG_URL)
    proxy = Proxy(real.host or "127.0.0.1", real.port or 5432)
    url = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    name = f"gone-{os.getpid()}-{int(time.time())}"
    with started([*tune_args(slow_csv, url), "--study-name", name]) as proc:
        wait_for(lambda: _completed_in(PG_URL, name) >= 2, "two completed trials")
        proxy.cut()
        _, err = proc.communicate(timeout=WAIT_S)
    line = one_error_line(err)
    assert proc.returncode == 1, line
    assert line.startswith("Error: "), line
    assert real.password is None or real.password not in line
    assert _completed_in(PG_URL, name) >= 2


def _completed_in(url: str, name: str) -> int:
    try:
        study, _ = load_stored(url, name)
    except Exception:
        return 0
    return sum(t.state.name == "COMPLETE" for t in study.get_trials(deepcopy=False))


def test_a_reader_that_leaves_early_gets_no_traceback(tmp_path: Path) -> None:
    """``regtune tune … --json - | head -0``: the pipe is closed when the result is written (the table
    has rich's own handling; the JSON is written by regtune)."""
    rng = np.random.default_rng(4)
    d = pd.DataFrame(rng.normal(size=(60, 3)), columns=["a", "b", "c"])
    d["y"] = d["a"] + rng.normal(size=60)
    data = tmp_path / "d.csv"
    d.to_csv(data, index=False)
    with started(["tune", str(data), "-y", "y", "-n", "4", "--json", "-"]) as proc:
        assert proc.stdout is not None
        proc.stdout.close()  # the reader leaves before the table is printed
        proc.wait(timeout=WAIT_S)
        assert proc.stderr is not None
        err = proc.stderr.read().decode(errors="replace")
    assert "Traceback" not in err and "Error" not in err, err
    assert proc.returncode == 1
