"""The search policy (regtune.policy): where the next trial goes, as functions of the CV curve alone —
no study, no Optuna, no data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from regtune.errors import ConfigError
from regtune.models.least_squares import LeastSquares
from regtune.models.mlp import MLP
from regtune.policy import (
    EDGE_DECADES,
    MAX_WIDEN_DECADES,
    SearchSpace,
    certify,
    initial_design,
    lambda_ranges,
    lambda_step,
    propose_gradient,
    propose_refinement,
)
from regtune.select import Point


def _pt(trial: int, lam: float, mean: float, grad: float | None, penalty: str = "l2", se: float = 0.01) -> Point:
    point = Point(trial, penalty, lam, 0.0 if penalty == "l2" else 1.0, [mean - se, mean + se], d_log_lambda=grad)
    return point


def _quadratic(t: float, t_star: float = math.log(0.1)) -> tuple[float, float]:
    """A concave CV curve in t = log λ with its maximum 0.9 at λ = 0.1, and its derivative."""
    return 0.9 - 0.01 * (t - t_star) ** 2, -0.02 * (t - t_star)


def test_newton_step_lands_on_the_optimum_of_a_quadratic_curve() -> None:
    points = []
    for i, lam in enumerate((0.02, 0.05)):
        mean, grad = _quadratic(math.log(lam))
        points.append(_pt(i, lam, mean, grad))
    step = lambda_step(points, points[1])
    assert step.t == pytest.approx(math.log(0.1))  # exact: the secant of a quadratic's slope is its curvature
    # At the optimum nothing is left to gain: the point is certified interior.
    mean, grad = _quadratic(math.log(0.1))
    points.append(_pt(2, 0.1, mean, grad))
    space = SearchSpace(("l2",), {"l2": (1e-4, 10.0)})
    assert lambda_step(points, points[2]).t is None
    assert certify(points, points[2], space)["verdict"] == "interior"
    assert propose_gradient(points, space) is None


def test_verdicts_boundary_and_not_converged() -> None:
    space = SearchSpace(("l2",), {"l2": (1e-4, 10.0)})
    # Still rising toward smaller λ at the lower edge: the optimum is outside the range.
    edge = [_pt(0, 1.2e-4, 0.9, -0.05), _pt(1, 1e-2, 0.8, -0.05)]
    verdict = certify(edge, edge[0], space)
    assert verdict["verdict"] == "boundary" and "lower edge" in verdict["message"]
    # Far from the optimum of the quadratic: a step would gain.
    points = [_pt(i, lam, *_quadratic(math.log(lam))) for i, lam in enumerate((0.01, 0.02))]
    verdict = certify(points, points[1], space)
    assert verdict["verdict"] == "not_converged"
    proposal = propose_gradient(points, space)
    assert proposal is not None and proposal["lambda_l2"] == pytest.approx(0.1)


def test_every_penalty_is_stepped_to_its_own_optimum_even_far_behind() -> None:
    """No penalty is judged before it is searched: a penalty far below the best still gets gradient steps
    until its own optimum is pinned; then nothing is left to propose."""
    space = SearchSpace(("l1", "l2"), {"l1": (1e-4, 10.0), "l2": (1e-4, 10.0)})
    top = [_pt(0, 0.1, *_quadratic(math.log(0.1)), penalty="l1"), _pt(1, 0.09, 0.8999, 1e-9, penalty="l1")]
    behind = [_pt(2, 0.02, 0.5, 0.001), _pt(3, 0.05, 0.5005, 0.0009)]  # far below the best, small slope
    proposal = propose_gradient(top + behind, space)
    assert proposal is not None and proposal["penalty"] == "l2" and proposal["lambda_l2"] > 0.05

    def curve(lam: float) -> tuple[float, float]:  # l2's own optimum, at λ = 1
        return _quadratic(math.log(lam), t_star=0.0)

    pinned = [_pt(i + 2, lam, curve(lam)[0] - 0.4, curve(lam)[1]) for i, lam in enumerate((0.5, 0.9, 1.0))]
    assert propose_gradient(top + pinned, space) is None


def test_edge_is_within_a_third_of_a_decade_of_either_end() -> None:
    space = SearchSpace(("l1",), {"l1": (1e-3, 1.0)})
    inside = 10 ** (math.log10(1e-3) + EDGE_DECADES * 1.01)
    assert space.edge(_pt(0, 1.1e-3, 0.5, None, "l1")) == "lower"
    assert space.edge(_pt(0, 0.9, 0.5, None, "l1")) == "upper"
    assert space.edge(_pt(0, inside, 0.5, None, "l1")) is None
    space.widened["l1"] = (1e-4, 1.0)  # after widening, the old lower end is inside
    assert space.edge(_pt(0, 1.1e-3, 0.5, None, "l1")) is None


def test_initial_design_spreads_three_points_per_penalty_in_log_lambda() -> None:
    space = SearchSpace(("l1", "elasticnet"), {"l1": (1e-4, 1.0), "elasticnet": (1e-3, 10.0)})
    design = initial_design(space, budget=60)
    assert [d["penalty"] for d in design] == ["l1", "elasticnet"] * 3
    l1 = [math.log10(d["lambda_l1"]) for d in design if d["penalty"] == "l1"]
    assert l1 == pytest.approx([-3.0, -2.0, -1.0])
    assert all(d["mixing"] == pytest.approx(0.5) for d in design if d["penalty"] == "elasticnet")
    small = initial_design(space, budget=5)  # too small for a grid: still one point of each penalty
    assert [d["penalty"] for d in small] == ["l1", "elasticnet"]
    assert math.log10(small[0]["lambda_l1"]) == pytest.approx(-2.0)
    assert initial_design(space, budget=1) == []  # no room for one point of each


def test_a_best_lambda_on_the_lower_edge_widens_the_range_a_decade_at_a_time() -> None:
    space = SearchSpace(("l2",), {"l2": (1e-3, 10.0)})
    points = [_pt(0, 1e-3, 0.9, None), _pt(1, 0.1, 0.8, None), _pt(2, 5.0, 0.5, None)]
    proposal = propose_refinement(points, space)
    assert proposal == {"penalty": "l2", "lambda_l2": pytest.approx(1e-4)}
    assert space.bounds("l2") == (pytest.approx(1e-4), 10.0)
    # Not further than MAX_WIDEN_DECADES below the original range.
    floor = 1e-3 / 10**MAX_WIDEN_DECADES
    deep = [_pt(0, floor, 0.9, None), _pt(1, 0.1, 0.8, None)]
    assert propose_refinement(deep, SearchSpace(("l2",), {"l2": (1e-3, 10.0)})) != {
        "penalty": "l2",
        "lambda_l2": pytest.approx(floor / 10),
    }


def test_a_flat_edge_is_not_widened() -> None:
    """Least squares with n ≫ p as λ → 0: the best beats its neighbour by a negligible margin."""
    space = SearchSpace(("l2",), {"l2": (1e-3, 10.0)})
    points = [_pt(0, 1e-3, 0.9, None), _pt(1, 1e-2, 0.9 - 1e-9, None), _pt(2, 5.0, 0.5, None)]
    proposal = propose_refinement(points, space)
    assert proposal is None or proposal["lambda_l2"] > 1e-3
    assert space.bounds("l2") == (1e-3, 10.0)


def test_refinement_bisects_the_wider_gap_around_the_best_then_pins_lambda_1se() -> None:
    space = SearchSpace(("l1",), {"l1": (1e-4, 1.0)})
    points = [_pt(0, 1e-3, 0.5, None, "l1"), _pt(1, 1e-2, 0.6, None, "l1"), _pt(2, 0.5, 0.3, None, "l1")]
    proposal = propose_refinement(points, space)
    assert proposal is not None
    assert proposal["lambda_l1"] == pytest.approx(math.sqrt(1e-2 * 0.5))  # the wider of the two gaps
    # Around λ.min only (after a gradient phase pinned it): the next larger λ above λ.1se is bisected.
    one_se = propose_refinement(points, space, around_best=False)
    assert one_se is not None and 1e-2 < one_se["lambda_l1"] < 0.5


def test_lambda_ranges_follow_glmnet_and_the_user_bounds() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 4))
    y = X[:, 0] * 3 + rng.normal(size=50)
    family = LeastSquares("regression")
    lmax = family.lambda_max(X, y)
    ranges = lambda_ranges(family, X, y, ("l1", "l2", "elasticnet"), None, None)
    assert ranges["l1"] == pytest.approx((lmax * 1e-4, lmax))
    assert ranges["elasticnet"][1] == pytest.approx(lmax / 0.05)
    assert lambda_ranges(family, X, y, ("l1",), 1e-3, None)["l1"] == pytest.approx((1e-3, lmax))
    with pytest.raises(ConfigError) as info:
        lambda_ranges(family, X, y, ("l1",), lmax * 2, None)
    assert str(info.value).startswith("lambda_min leaves an empty λ range for l1")
    # A network has no λ_max: the linear one of the standardized target sets the scale.
    net = lambda_ranges(MLP("regression"), X, y, ("l2",), None, None)["l2"]
    assert net[1] / net[0] == pytest.approx(1e6)


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e3])
def test_the_elastic_net_mix_is_glmnets_alpha_whatever_the_targets_units(scale: float) -> None:
    """The mix is searched as glmnet's α: the estimator's l1_ratio r = α/(α + (1 − α)/s) makes the L1 weight
    λ·r scale with y (like the lasso's λ) and the L2 weight λ·(1 − r) stay put (like ridge's), so the same α
    is the same model whatever y's units."""
    space = SearchSpace(("elasticnet",), {"elasticnet": (1e-3, 1.0)}, mixing_scale=scale)
    for alpha in (0.05, 0.3, 0.95):
        r = space.ratio(alpha)
        assert space.mixing(r) == pytest.approx(alpha)
        lam = 0.1 * (alpha + (1 - alpha) / scale)  # glmnet's λ = 0.1, in the estimator's units
        assert lam * r == pytest.approx(0.1 * alpha)  # the L1 weight: glmnet's λ·α
        assert lam * (1 - r) == pytest.approx(0.1 * (1 - alpha) / scale)  # the L2 weight: λ·(1 − α)/s
    assert space.params("elasticnet", 0.2, space.ratio(0.4)) == {
        "penalty": "elasticnet",
        "lambda_elasticnet": 0.2,
        "mixing": pytest.approx(0.4),
    }
