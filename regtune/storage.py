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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from regtune.errors import RegtuneError, named

#: Seconds between heartbeats of a running trial (RDB storages), and how long before it is stale.
HEARTBEAT_INTERVAL = 2
GRACE_PERIOD = 8
CONNECT_TIMEOUT = 10
RDB_PREFIXES = ("postgresql", "postgres:", "sqlite:", "mysql")

#: A URL in free text: a scheme, then everything up to white space or a closing quote or bracket.
_URL = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<rest>[^\s'\"<>()\[\]]*)")
#: Query parameters that carry secrets (``?user=u&password=p``).
_SECRET_PARAM = re.compile(
    r"(?P<key>(?:^|[?&;])(?:password|passwd|pwd|pass|sslpassword|secret|token|access_token|api_key|apikey)=)"
    r"(?P<value>[^&;#\s]*)",
    re.IGNORECASE,
)
#: Secrets of the storage URLs seen in this process (masked wherever they appear, even outside a URL).
_SECRETS: set[str] = set()
#: Shorter secrets are masked inside URLs only (replacing them everywhere would garble the text).
MIN_SECRET_LENGTH = 4


class StorageError(RegtuneError):
    """The study storage cannot be opened or read."""


def _mask_in_url(scheme: str, rest: str) -> str:
    # The user information ends at the *last* @ of the authority: a password may hold an unescaped @
    # (SQLAlchemy's own parser splits at the first one and shows the rest as the host).
    at = rest.rfind("@")
    if at > 0:
        user, colon, secret = rest[:at].partition(":")
        if colon and "/" not in user:
            if len(secret) >= MIN_SECRET_LENGTH:
                _SECRETS.add(secret)
            rest = f"{user}:***{rest[at:]}"
    head, question, query = rest.partition("?")
    if question:
        for m in _SECRET_PARAM.finditer(query):
            if len(m.group("value")) >= MIN_SECRET_LENGTH:
                _SECRETS.add(m.group("value"))
        query = _SECRET_PARAM.sub(lambda m: m.group("key") + "***", query)
    return scheme + head + question + query


def mask_url(text: str) -> str:
    """``text`` with the secrets of any URL in it masked by ``***``: the password of the user information
    (whatever characters it holds) and secret query parameters (``?password=…``); a secret seen earlier
    in a storage URL is masked wherever it appears (a driver's message may quote it)."""
    masked = _URL.sub(lambda m: _mask_in_url(m.group("scheme"), m.group("rest")), text)
    for secret in sorted(_SECRETS, key=len, reverse=True):
        masked = masked.replace(secret, "***")
    return masked


def is_rdb(spec: str) -> bool:
    return spec.startswith(RDB_PREFIXES)


def worker_id() -> str:
    import os

    return f"{socket.gethostname()}:{os.getpid()}"


#: The fields each journal operation needs, by Optuna's operation code (``JournalOperation``).
_JOURNAL_FIELDS: dict[int, tuple[str, ...]] = {
    0: ("study_name", "directions"),  # create study
    1: ("study_id",),  # delete study
    2: ("study_id", "user_attr"),
    3: ("study_id", "system_attr"),
    4: ("study_id", "datetime_start"),  # create trial
    5: ("trial_id", "param_name", "param_value_internal", "distribution"),
    6: ("trial_id", "state", "values"),  # set trial state and values
    7: ("trial_id", "step", "intermediate_value"),
    8: ("trial_id", "user_attr"),
    9: ("trial_id", "system_attr"),
    10: (),  # discard trials
}
_TRIAL_STATES = range(5)  # RUNNING, COMPLETE, PRUNED, FAIL, WAITING


def _journal_problem(record: Any, studies: int, trials: int) -> str | None:
    """What is wrong with one journal record, given how many studies and trials the lines before it
    created (a record about a trial that was never created means lines were deleted)."""
    if not isinstance(record, dict) or "op_code" not in record or "worker_id" not in record:
        return "not an Optuna journal record"
    op = record["op_code"]
    if not isinstance(op, int) or op not in _JOURNAL_FIELDS:
        return f"unknown operation {op!r}"
    missing = [f for f in _JOURNAL_FIELDS[op] if f not in record]
    if missing:
        return f"the record lacks {missing[0]!r}"
    for key, known, what in (("study_id", studies, "study"), ("trial_id", trials, "trial")):
        if key in _JOURNAL_FIELDS[op]:
            ref = record[key]
            if not isinstance(ref, int) or not 0 <= ref < known:
                return f"it refers to {what} {ref!r}, which no line before it created"
    if op == 6:
        state = record["state"]
        if state not in _TRIAL_STATES:
            return f"unknown trial state {state!r}"
        needed = "datetime_start" if state in (0, 4) else "datetime_complete"
        if state != 4 and needed not in record:
            return f"the record lacks {needed!r}"
    return None


def check_journal(path: Path) -> None:
    """Refuse a journal file that is truncated or corrupt: Optuna would silently skip its last line, stop
    at an unknown operation, or replay records onto the wrong trials after lines were deleted."""
    if path.is_dir():
        raise StorageError(f"{named('storage')} {path} is a folder: give a journal file path such as study.journal")
    if not path.exists() or path.stat().st_size == 0:
        return
    if not path.is_file():
        raise StorageError(f"{named('storage')} {path} is not a regular file: give a journal file path")
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
    studies = trials = 0
    for number, line in enumerate(lines[:-1], start=1):
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            problem: str | None = "it is not an Optuna journal"
        else:
            problem = _journal_problem(record, studies, trials)
        if problem is not None:
            raise StorageError(
                f"journal file {path} is corrupt at line {number}: {problem}; restore it from a copy"
                " or use another file"
            )
        studies += record["op_code"] == 0
        trials += record["op_code"] == 4 and record["study_id"] < studies


def open_storage(spec: str | None, *, create: bool = True) -> Any:
    """An Optuna storage for ``spec`` (None: in memory), or a StorageError naming what is wrong.

    With ``create`` False (``show``, ``studies``) a storage that does not exist is an error, not a new
    empty file or database schema.
    """
    if spec is None:
        return None
    if is_rdb(spec):
        return _open_rdb(spec, create=create)
    path = Path(spec)
    if not create and not path.exists():
        raise StorageError(
            f"no study storage at {spec}: the file does not exist (check the path; `regtune tune --storage"
            f" {spec}` creates it)"
        )
    check_journal(path)
    if not path.parent.exists():
        raise StorageError(f"cannot create journal file {spec}: its folder does not exist")
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    try:
        return JournalStorage(JournalFileBackend(str(path)))
    except OSError as exc:
        raise StorageError(f"cannot open journal file {spec}: {exc.strerror}") from None


def _open_rdb(url: str, *, create: bool = True) -> Any:
    import time
    import warnings

    import optuna
    import sqlalchemy.exc
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

    mask_url(url)  # remembers its secrets, so that no message shows them
    url = _quoted_password(url)
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if not create:
        _check_sqlite_exists(url)
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
                    skip_table_creation=not create,
                )
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError) as exc:
            if not create:
                raise StorageError(_rdb_reason(url, exc)) from None
            # Several workers creating the schema at once: one wins, the others retry and load it.
            last = exc
            time.sleep(0.5 * (attempt + 1))
        except (sqlalchemy.exc.SQLAlchemyError, ImportError, ValueError) as exc:
            raise StorageError(_rdb_reason(url, exc)) from None
        except optuna.exceptions.StorageInternalError as exc:  # Optuna's wrapper of a database error
            raise StorageError(_rdb_reason(url, exc.__cause__ or exc)) from None
    raise StorageError(_rdb_reason(url, last or RuntimeError("schema creation kept colliding")))


def _quoted_password(url: str) -> str:
    """``url`` with a password that holds ``@`` percent-encoded.

    SQLAlchemy splits the user information at the *first* @, so ``postgresql://u:p@ss@host/db`` would
    connect to host ``ss@host`` and show that host (a piece of the password) in its errors; the user
    information ends at the last @ before the path or the query.
    """
    from urllib.parse import quote

    scheme, sep, rest = url.partition("://")
    cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    if not sep or rest.count("@", 0, cut) < 2:
        return url
    at = rest.rfind("@", 0, cut)
    user, colon, password = rest[:at].partition(":")
    if not colon:
        return url
    secret = quote(password, safe="")
    if len(secret) >= MIN_SECRET_LENGTH:
        _SECRETS.add(secret)
    return f"{scheme}://{user}:{secret}{rest[at:]}"


def _check_sqlite_exists(url: str) -> None:
    """``show`` / ``studies`` on a SQLite file that does not exist: an error, not a new empty database."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    if not url.startswith("sqlite"):
        return
    try:
        database = make_url(url).database
    except (ArgumentError, ValueError):
        return  # RDBStorage says what is wrong with it
    if database and database != ":memory:" and not database.startswith("file:") and not Path(database).exists():
        raise StorageError(
            f"no study storage at {url}: {database} does not exist (check the path; `regtune tune --storage"
            f" {url}` creates it)"
        )


def _where(url: str) -> str | None:
    """``backend at host:port`` of a database URL, or None when it cannot be parsed. The host is what
    follows the *last* @ (a password may hold one)."""
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:  # an unparsable URL: say so without echoing it
        return None
    authority = url.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]
    host, _, port = authority.partition(":")
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return f"sqlite file {parsed.database or ':memory:'}"
    return f"{backend} at {host or 'localhost'}" + (f":{port}" if port else "")


def _rdb_reason(url: str, exc: BaseException) -> str:
    where = _where(url)
    if where is None:
        return f"cannot parse the {named('storage')} URL: use postgresql://user:password@host:port/database"
    backend = url.split(":", 1)[0].split("+", 1)[0]
    if isinstance(exc, ImportError):
        driver = {
            "postgresql": "pip install 'psycopg[binary]'",
            "mysql": "pip install pymysql, and use mysql+pymysql://",
        }.get(backend, "install the database driver its URL names")
        return f"cannot open {where}: its database driver is not installed ({exc}): {driver}"
    return f"cannot open the study storage ({where}): {_reason(exc)}: {_hint(backend, exc)}"


def _reason(exc: BaseException) -> str:
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return mask_url(detail[0]) if detail else type(exc).__name__


def _hint(backend: str, exc: BaseException) -> str:
    """What to check, by database kind and failure."""
    text = str(getattr(exc, "orig", None) or exc).lower()
    if backend == "sqlite":
        if "locked" in text:
            return "another process holds the database; with several workers use a journal file or PostgreSQL"
        if "no such table" in text:
            return "it holds no regtune studies; check the path"
        return "check the file's path and permissions"
    if "does not exist" in text and "relation" in text:
        return "the database holds no regtune studies; check the database name"
    return "check the host, port, user and password"


def storage_failure(exc: BaseException) -> StorageError | None:
    """A StorageError for a database or file failure in the middle of a run (found anywhere in the
    exception's chain: Optuna may raise a follow-up error while handling it), or None."""
    import sqlalchemy.exc

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sqlalchemy.exc.SQLAlchemyError):
            return StorageError(
                f"the study storage failed during the run ({_reason(current)}): the completed trials are kept;"
                " run the same command again to resume once the database is back"
            )
        if isinstance(current, OSError) and current.filename is not None:
            return StorageError(
                f"the study storage failed during the run ({current.strerror or current}: {current.filename}):"
                " the completed trials are kept; run the same command again to resume"
            )
        current = current.__cause__ or current.__context__
    return None


@contextmanager
def quiet_storage_threads() -> Iterator[None]:
    """Inside: a storage failure in a background thread (Optuna's heartbeat) prints nothing. The run's
    own next write meets the same failure and reports it in one line (:func:`storage_failure`); the
    thread's traceback would only bury that line."""
    import threading

    previous = threading.excepthook

    def hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None or storage_failure(args.exc_value) is None:
            previous(args)

    threading.excepthook = hook
    try:
        yield
    finally:
        threading.excepthook = previous
