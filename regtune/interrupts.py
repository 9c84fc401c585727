"""Ctrl-C and SIGTERM that never stop a run in the middle of a storage write.

Under :func:`handled`, a signal raises ``KeyboardInterrupt`` at once — as Python's own Ctrl-C does —
except inside a :func:`protected` section (the search loop: reading and writing the study storage, with
a journal file's lock held or a database transaction open), where it is kept and raised at the next safe
point: :func:`check`, the end of the section, or the start of an :func:`interruptible` section inside it
(a trial's fold fits, which a signal stops at once; the trial is then recorded as failed).
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from types import FrameType


class _State:
    pending: int | None = None
    #: Innermost last: True where a signal raises at once, False where it is kept.
    modes: list[bool]

    def __init__(self) -> None:
        self.modes = []


_state = _State()


def _handler(signum: int, frame: FrameType | None) -> None:
    if not _state.modes or _state.modes[-1]:
        raise KeyboardInterrupt
    _state.pending = signum


def check() -> None:
    """Raise ``KeyboardInterrupt`` if a signal was kept since the last check."""
    if _state.pending is not None:
        _state.pending = None
        raise KeyboardInterrupt


@contextmanager
def _mode(immediate: bool) -> Iterator[None]:
    _state.modes.append(immediate)
    try:
        yield
    finally:
        _state.modes.pop()
    check()


def protected() -> AbstractContextManager[None]:
    """A section that a signal does not cut: it is kept and raised at its end (or at :func:`check`)."""
    return _mode(False)


@contextmanager
def interruptible() -> Iterator[None]:
    """Inside a protected section, a part that a signal stops at once (a kept one is raised on entry)."""
    check()
    with _mode(True):
        yield


@contextmanager
def _installed(signum: int) -> Iterator[None]:
    try:
        previous = signal.signal(signum, _handler)
    except ValueError:  # not the main thread: signals stay as they are
        yield
        return
    try:
        yield
    finally:
        signal.signal(signum, previous)


@contextmanager
def handled(signals: tuple[int, ...] = (signal.SIGINT,)) -> Iterator[None]:
    """Handle ``signals`` (default Ctrl-C) as described above; the previous handlers come back after."""
    with ExitStack() as stack:
        for signum in signals:
            stack.enter_context(_installed(signum))
        yield
