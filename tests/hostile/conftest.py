"""The hostile suite's alarm: a case that runs too long fails instead of hanging CI."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hostile_support import CASE_ALARM_S, alarm_after


@pytest.fixture(autouse=True)
def alarm(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a case that runs past :data:`CASE_ALARM_S` instead of letting it hang the suite (a module
    with ``PER_EXAMPLE_ALARM`` sets its own, per example)."""
    if getattr(request.module, "PER_EXAMPLE_ALARM", False):
        yield
        return
    with alarm_after(CASE_ALARM_S):
        yield
