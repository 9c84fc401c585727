"""Where a study lives: in memory, a journal file, SQLite or PostgreSQL — opened with clear errors.

``--storage`` takes a path (a journal file: Optuna's ``JournalStorage`` + ``JournalFileBackend``, the
local default for anything persistent), ``sqlite:///file.db``, or ``postgresql://user:pass@host/db``.
RDB storages run heartbeats, so a worker that dies mid-trial has the trial failed and retried by the
others (``RetryHeartbeatStaleTrialCallback``). A journal file has no heartbeats; regtune records the
worker (host and process id) on each trial and fails and re-queues the running trials of a dead local
worker instead. Passwords in URLs are never shown: :func:`mask_url`.
"""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path
from typing import Any

from regtune.errors import RegtuneError, named

#: Seconds between heartbeats of a running trial (RDB storages), and how long before it is stale.
HEARTBEAT_INTERVAL = 2
GRACE_PERIOD = 8
CONNECT_TIMEOUT = 10
RDB_PREFIXES = ("postgresql", "postgres:", "sqlite:", "mysql")

_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)(?P<pw>\S*)(?P<at>@)")


class StorageError(RegtuneError):
    """The study storage cannot be opened or read."""


def mask_url(text: str) -> str:
    """``text`` with the password of any URL in it replaced by ``***``."""
    return _PASSWORD.sub(lambda m: m.group("head") + "***" + m.group("at"), text)


def is_rdb(spec: str) -> bool:
    return spec.startswith(RDB_PREFIXES)


def worker_id() -> str:
    import os

    return f"{socket.gethostname()}:{os.getpid()}"


def check_journal(path: Path) -> None:
    """Refuse a journal file that is truncated or corrupt (Optuna would silently skip its last line)."""
    if path.is_dir():
        raise StorageError(f"{named('storage')} {path} is a folder: give a journal file path such as study.journal")
    if not path.exists() or path.stat().st_size == 0:
        return
    from optuna.storages.journal import JournalFileSymlinkLock

    lock = JournalFileSymlinkLock(str(path))
    lock.acquire()
    try:
        data = path.read_bytes()
    finally:
        lock.release()
    lines = data.split(b"\n")
    if lines[-1] != b"":
        raise StorageError(
            f"journal file {path} is truncated (its last line is incomplete): restore it from a copy,"
            " or delete the last line to drop the unfinished record"
        )
    for number, line in enumerate(lines[:-1], start=1):
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise StorageError(
                f"journal file {path} is corrupt at line {number}: it is not an Optuna journal;"
                " restore it from a copy or use another file"
            ) from None
        if not isinstance(record, dict) or "op_code" not in record:
            raise StorageError(
                f"journal file {path} is corrupt at line {number}: not an Optuna journal record;"
                " restore it from a copy or use another file"
            )


def open_storage(spec: str | None) -> Any:
    """An Optuna storage for ``spec`` (None: in memory), or a StorageError naming what is wrong."""
    if spec is None:
        return None
    if is_rdb(spec):
        return _open_rdb(spec)
    path = Path(spec)
    check_journal(path)
    if not path.parent.exists():
        raise StorageError(f"cannot create journal file {spec}: its folder does not exist")
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    try:
        return JournalStorage(JournalFileBackend(str(path)))
    except OSError as exc:
        raise StorageError(f"cannot open journal file {spec}: {exc.strerror}") from None


def _open_rdb(url: str) -> Any:
    import time
    import warnings

    import optuna
    import sqlalchemy.exc
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    engine_kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("postgresql"):
        engine_kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT}
    last: Exception | None = None
    for attempt in range(3):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return RDBStorage(
                    url,
                    engine_kwargs=engine_kwargs,
                    heartbeat_interval=HEARTBEAT_INTERVAL,
                    grace_period=GRACE_PERIOD,
                    heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=3),
                )
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError) as exc:
            # Several workers creating the schema at once: one wins, the others retry and load it.
            last = exc
            time.sleep(0.5 * (attempt + 1))
        except (sqlalchemy.exc.SQLAlchemyError, ImportError, ValueError) as exc:
            raise StorageError(_rdb_reason(url, exc)) from None
    raise StorageError(_rdb_reason(url, last or RuntimeError("schema creation kept colliding")))


def _rdb_reason(url: str, exc: BaseException) -> str:
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
        where = f"{parsed.get_backend_name()} at {parsed.host or 'localhost'}" + (
            f":{parsed.port}" if parsed.port else ""
        )
    except Exception:  # an unparsable URL: say so without echoing it
        return f"cannot parse the {named('storage')} URL: use postgresql://user:password@host:port/database"
    if isinstance(exc, ImportError):
        return f"cannot open {where}: its database driver is not installed ({exc}): pip install 'psycopg[binary]'"
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    reason = mask_url(detail[0]) if detail else type(exc).__name__
    return f"cannot open the study storage ({where}): {reason}: check the host, port, user and password"
