"""A search whose trials fail: failures count toward the budget, and a run that cannot succeed stops early."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from regtune.errors import DataError
from regtune.policy import SearchSpace
from regtune.search import FAIL_FAST_TRIALS, run_search

SPACE = SearchSpace(("l1", "l2"), {"l1": (1e-3, 1.0), "l2": (1e-3, 1.0)})


class Failing:
    """An evaluator whose every evaluation raises the error ``make(k)`` (k counts the calls)."""

    hyper = None

    def __init__(self, make: Callable[[int], Exception]) -> None:
        self.make = make
        self.calls = itertools.count()

    def evaluate(self, penalty: Any, report: Any = None) -> Any:
        raise self.make(next(self.calls))


def test_failed_trials_count_toward_the_budget() -> None:
    """Trials failing for different reasons: no early stop, but the run ends when the budget is spent."""
    evaluator = Failing(lambda k: ValueError(f"reason {k % 3}"))
    outcome = run_search(evaluator, SPACE, n_trials=12, seed=0, search="tpe")  # type: ignore[arg-type]
    assert len(outcome.points) == 12
    assert {p.state for p in outcome.points} == {"failed"}
    assert next(evaluator.calls) == 12


def test_a_run_that_cannot_succeed_stops_after_the_first_trials_of_every_penalty() -> None:
    evaluator = Failing(lambda k: ValueError("Input X contains infinity"))
    with pytest.raises(
        DataError, match="every trial fails: the first 3 of each penalty stopped with ValueError: Input"
    ):
        run_search(evaluator, SPACE, n_trials=500, seed=0, search="tpe")  # type: ignore[arg-type]
    # The opening points alternate penalties, TPE may then favour one: a handful of trials, not 500.
    assert next(evaluator.calls) < 10 * FAIL_FAST_TRIALS * len(SPACE.penalties)


def test_a_non_finite_cv_score_is_a_counted_failure_with_a_reason() -> None:
    from regtune.cv import Evaluation

    class Infinite:
        hyper = None

        def evaluate(self, penalty: Any, report: Any = None) -> Evaluation:
            return Evaluation([float("inf"), 1.0], True, 1.0, 0)

    with pytest.raises(DataError, match="stopped with the CV score is not a finite number"):
        run_search(Infinite(), SPACE, n_trials=50, seed=0, search="tpe")  # type: ignore[arg-type]


def test_huge_fold_scores_give_an_infinite_se_not_an_overflow() -> None:
    """Found by the fuzz test: a column of zeros and one 2e-110 made fold scores near ±1e200."""
    import math

    from regtune.select import mean_se

    mean, se = mean_se([1e200, -1e200, 3e200])
    assert math.isfinite(mean) and se == math.inf
