"""What every hostile test shares: running the command line and judging its answer.

A hostile case passes when regtune either does the job (exit 0) or refuses with exactly one line on
stderr, ``Error: …``, the exit code of that kind of error, and no traceback — never a hang, never a
"this is a bug" line.
"""

from __future__ import annotations

import contextlib
import re
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from typer.testing import CliRunner

from regtune.cli import app

#: No in-process case may take longer than this (the alarm makes a hang a failure, not a stuck CI).
CASE_ALARM_S = 240

#: Small runs: a few trials, every penalty still tried.
FAST = ["-n", "6", "--seed", "0"]
#: What a run writes on stderr besides its errors: the study line and, off a terminal, the plain progress
#: lines of a CI log (regtune.report.progress). A refusal is judged on the other lines.
PROGRESS = re.compile(r"^(study \S+ .* in .*|trial \d+/\d+ · .*)$")


def messages(stderr: str) -> list[str]:
    """The lines of ``stderr`` that are not progress."""
    return [line for line in stderr.strip().splitlines() if not PROGRESS.match(line)]


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str
    exception: BaseException | None

    @property
    def first_line(self) -> str:
        lines = messages(self.stderr)
        return lines[0] if lines else ""


class Hang(Exception):
    """A hostile case ran past its alarm."""


@contextlib.contextmanager
def alarm_after(seconds: int) -> Iterator[None]:
    """Raise :class:`Hang` in this (main) thread if the block runs past ``seconds``: a case that would
    hang fails instead."""

    def ring(signum: int, frame: FrameType | None) -> None:
        raise Hang(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, ring)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def cli(args: list[str], stdin: bytes | None = None) -> Outcome:
    """Run ``regtune ARGS`` in this process (standard input from ``stdin``)."""
    result = CliRunner().invoke(app, args, input=stdin)
    exc = result.exception
    if isinstance(exc, SystemExit):
        exc = None
    return Outcome(result.exit_code, result.stdout, result.stderr, exc)


def assert_refused(outcome: Outcome, code: int, pattern: str) -> None:
    """One ``Error: …`` line matching ``pattern``, exit ``code``, no traceback, not an unexpected error."""
    assert outcome.exception is None, f"{type(outcome.exception).__name__}: {outcome.exception}"
    assert outcome.code == code, outcome.stderr or outcome.stdout[-2000:]
    lines = messages(outcome.stderr)
    assert len(lines) == 1, outcome.stderr
    assert "Traceback" not in outcome.stderr
    assert "this is a bug" not in lines[0], lines[0]
    assert re.match(pattern, lines[0]), lines[0]


def assert_done(outcome: Outcome) -> None:
    """Exit 0 with the result table on stdout and no traceback."""
    assert outcome.exception is None, f"{type(outcome.exception).__name__}: {outcome.exception}"
    assert outcome.code == 0, outcome.stderr
    assert "Traceback" not in outcome.stderr
    assert "λ.min" in outcome.stdout or outcome.stdout.lstrip().startswith("{")


def regtune_cmd() -> list[str]:
    return [sys.executable, "-m", "regtune"]


def write(path: Path, data: str | bytes) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return str(path)
