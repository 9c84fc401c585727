"""Progress on stderr while a run searches: a rich bar in a terminal, plain lines in a CI log.

The library tells where the search stands through its progress callback (:data:`regtune.search.ProgressFn`,
with a :class:`regtune.search.SearchState`); this module only shows it:

- in a terminal, a transient bar with the trials done, the best CV score, the elapsed time and the time
  left (remaining trials × the median trial time, :attr:`SearchState.remaining_s`);
- off a terminal (a CI log), one plain line every ``every_s`` seconds or every tenth of the run's trials,
  ``trial 30/60 · best l1 λ=0.97 CV MSE 2913 · 12 s · ~12 s left``;
- either way, with a storage, one line when the study is open: its name (``--study-name auto`` derives
  it) and what resuming it does.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from regtune.report.table import fmt_num, score_label, score_value

if TYPE_CHECKING:
    from rich.console import Console

    from regtune.search import SearchState

Write = Callable[[str], None]


def fmt_seconds(seconds: float) -> str:
    """``<1 s``, ``12 s``, ``4 min 05 s``, ``1 h 03 min``."""
    if seconds < 0.5:
        return "<1 s"
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def best_text(state: SearchState) -> str:
    """``best l1 λ=0.97 CV MSE 2913`` (``best —`` before a complete trial)."""
    if state.best is None or state.best_penalty is None:
        return "best —"
    ratio = f" l1_ratio={state.best_l1_ratio:.2g}" if state.best_penalty == "elasticnet" else ""
    if state.scoring is None:
        score = f"CV {fmt_num(state.best)}"
    else:
        score = f"CV {score_label(state.scoring)} {fmt_num(score_value(state.scoring, state.best))}"
    return f"best {state.best_penalty} λ={fmt_num(state.best_lambda, 2)}{ratio} {score}"


def progress_line(state: SearchState) -> str:
    """One plain line: ``trial 30/60 · best l1 λ=0.97 CV MSE 2913 · 12 s · ~12 s left``."""
    line = f"trial {state.done}/{state.total} · {best_text(state)} · {fmt_seconds(state.elapsed_s)}"
    left = state.remaining_s
    if left is not None and state.done < state.total:
        line += f" · {left_text(left)}"
    return line


def left_text(seconds: float) -> str:
    """``~12 s left`` (``<1 s left``)."""
    text = fmt_seconds(seconds)
    return f"{text} left" if text.startswith("<") else f"~{text} left"


def study_notice(state: SearchState, storage: str) -> str:
    """The study a run works on and what it will do: ``study regtune-3f2a9c1b4d5e (resumed) in s.journal:
    140 stored trials, 60 to run``."""
    to_run = max(0, state.total - state.done)
    if state.resumed:
        return f"study {state.study_name} (resumed) in {storage}: {state.stored} stored trials, {to_run} to run"
    return f"study {state.study_name} (new) in {storage}: {to_run} trials to run"


class ProgressLines:
    """A progress callback that writes a plain line every ``every_s`` seconds (of the search's own clock,
    :attr:`SearchState.elapsed_s`) or every ``every_fraction`` of the run's trials, and at the last one."""

    def __init__(self, write: Write, every_s: float = 10.0, every_fraction: float = 0.1) -> None:
        self.write = write
        self.every_s = every_s
        self.every_fraction = every_fraction
        self._first = 0
        self._step = 1
        self._next = 1
        self._last_s = 0.0

    def __call__(self, done: int, total: int, best: float | None, *, state: SearchState) -> None:
        if state.event == "start":
            self._first = done
            self._step = max(1, math.ceil((total - done) * self.every_fraction))
            self._next = done + self._step
            self._last_s = state.elapsed_s
            return
        if done < self._next and state.elapsed_s - self._last_s < self.every_s and done < total:
            return
        self.write(progress_line(state))
        self._last_s = state.elapsed_s
        while self._next <= done:
            self._next += self._step


def _with_notice(show: Callable[..., None], write: Write, storage: str | None) -> Callable[..., None]:
    """``show``, preceded at the start by the study notice when the study is stored."""

    def progress(done: int, total: int, best: float | None, *, state: SearchState) -> None:
        if state.event == "start" and storage is not None:
            write(study_notice(state, storage))
        show(done, total, best, state=state)

    return progress


@contextmanager
def progress_display(console: Console, storage: str | None = None, quiet: bool = False) -> Iterator[Any]:
    """The progress callback for a run whose messages go to ``console`` (stderr): a bar in a terminal,
    plain lines elsewhere, nothing but the study notice when ``quiet``. ``storage`` (masked) names where
    the study is kept (None: in memory, no notice)."""

    def write(line: str) -> None:
        console.print(line, markup=False, highlight=False, soft_wrap=True)

    def silent(done: int, total: int, best: float | None, *, state: SearchState) -> None:
        return None

    if quiet:
        yield _with_notice(silent, write, storage)
        return
    if not console.is_terminal:
        yield _with_notice(ProgressLines(write), write, storage)
        return

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("tuning"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[best]}"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[left]}"),
        console=console,
        transient=True,
    ) as bar:
        job = bar.add_task("tune", total=None, best="", left="")

        def update(done: int, total: int, best: float | None, *, state: SearchState) -> None:
            left = state.remaining_s
            bar.update(
                job,
                completed=done,
                total=total,
                best=best_text(state),
                left="" if left is None or done >= total else left_text(left),
            )

        yield _with_notice(update, lambda line: bar.console.print(line, markup=False, highlight=False), storage)
