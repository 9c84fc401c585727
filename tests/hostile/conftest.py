"""The hostile suite's alarm: a case that runs too long fails instead of hanging CI."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from types import FrameType

import pytest
from hostile_support import CASE_ALARM_S, Hang


@pytest.fixture(autouse=True)
def alarm() -> Iterator[None]:
    """Fail a case that runs past :data:`CASE_ALARM_S` instead of letting it hang the suite."""

    def ring(signum: int, frame: FrameType | None) -> None:
        raise Hang(f"still running after {CASE_ALARM_S} s")

    previous = signal.signal(signal.SIGALRM, ring)
    signal.alarm(CASE_ALARM_S)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
