from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from regtune.select import Point, mean_se, select


def test_mean_se_uses_ddof_1_over_sqrt_k() -> None:
    mean, se = mean_se([1.0, 2.0, 3.0, 4.0])
    assert mean == 2.5
    assert se == math.sqrt(((1.5**2 + 0.5**2) * 2 / 3) / 4)


def test_one_se_picks_the_largest_lambda_within_one_se() -> None:
    # Best at λ=0.1 (mean 0.80, SE 0.05): λ=1 (0.77) is within one SE, λ=10 (0.70) is not,
    # and λ=0.01 (0.78) is within one SE but *smaller*: the rule must not pick it.
    pts = [
        Point(0, "l1", 0.01, 1.0, [0.73, 0.83, 0.78, 0.78]),
        Point(1, "l1", 0.1, 1.0, [0.70, 0.90, 0.80, 0.80]),
        Point(2, "l1", 1.0, 1.0, [0.72, 0.82, 0.77, 0.77]),
        Point(3, "l1", 10.0, 1.0, [0.65, 0.75, 0.70, 0.70]),
        Point(4, "l2", 100.0, 0.0, [0.74, 0.84, 0.79, 0.79]),  # other penalty: never the 1-SE point
    ]
    sel = select(pts)
    assert sel is not None
    assert sel.best.trial == 1
    assert sel.best.mean - sel.best.se <= 0.77
    assert sel.one_se.trial == 2
    assert sel.one_se.lam > sel.best.lam


def test_unconverged_points_are_not_chosen_while_a_converged_one_exists() -> None:
    pts = [
        Point(0, "l1", 0.1, 1.0, [0.9, 0.9, 0.9], converged=False),
        Point(1, "l2", 0.1, 0.0, [0.8, 0.8, 0.8]),
    ]
    sel = select(pts)
    assert sel is not None and sel.best.trial == 1


def test_failed_and_pruned_points_are_ignored_and_nothing_usable_gives_none() -> None:
    pts = [Point(0, "l1", 0.1, 1.0, [], state="failed"), Point(1, "l1", 0.2, 1.0, [0.5], state="pruned")]
    assert select(pts) is None


@given(
    st.lists(
        st.tuples(
            st.floats(1e-4, 1e3),
            st.lists(st.floats(-1, 1, allow_nan=False), min_size=3, max_size=3),
        ),
        min_size=1,
        max_size=15,
    )
)
def test_one_se_point_is_never_below_the_best_lambda_and_within_one_se(data: list) -> None:
    pts = [Point(i, "l1", lam, 1.0, scores) for i, (lam, scores) in enumerate(data)]
    sel = select(pts)
    assert sel is not None
    assert sel.best.mean == max(p.mean for p in pts)
    assert sel.one_se.lam >= sel.best.lam or sel.one_se is sel.best
    assert sel.one_se.mean >= sel.best.mean - sel.best.se - 1e-12
    within = [p for p in pts if p.mean >= sel.best.mean - sel.best.se]
    assert sel.one_se.lam == max(p.lam for p in within)
