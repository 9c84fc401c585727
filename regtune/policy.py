"""The search policy: where the next trial goes, as pure functions of the CV curve (no Optuna here).

The search (:mod:`regtune.search`) asks these functions for the next configuration; every answer is a
dict of Optuna parameters (``penalty``, ``lambda_<penalty>``, ``l1_ratio``) and becomes an ordinary
trial, so the CV curve stays complete. The three kinds of proposal:

- :func:`initial_design` — a few log-spaced λ per penalty, the opening points of every search;
- :func:`propose_gradient` — from the best point of each competitive penalty, safeguarded steps on log λ
  using the hypergradient d CV score / d log λ that every trial carries (:func:`lambda_step`: the peak of
  the cubic through the best point and its neighbour when they bracket the optimum, a secant Newton step
  otherwise), and for the elastic net steps on l1_ratio; nothing once the gain a step predicts is below
  ``GRAD_RTOL`` of the score, or the optimum is bracketed within ``BRACKET_DECADES``;
- :func:`propose_refinement` — past an edge of the λ range when the best λ sits on it (the range
  widens), between the best λ and its farther neighbour, and between λ.1se and the next larger λ.

:func:`certify` says whether λ.min is an optimum (interior, on the boundary, or not converged), and
:func:`lambda_ranges` gives each penalty's searched range from the data (glmnet's λ_max).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from regtune.config import L1_RATIO_RANGE
from regtune.errors import ConfigError, named
from regtune.select import Point, Selection, candidates, select

if TYPE_CHECKING:
    import numpy as np

    from regtune.models import Family

#: How far (decades) beyond the original range the refine phase may widen it.
MAX_WIDEN_DECADES = 3.0
#: A best λ closer than this (decades) to an edge of the range counts as on the edge.
EDGE_DECADES = 0.35
#: An edge where the best beats its neighbour by at most this many SEs is flat: no widening there.
FLAT_SE = 1e-3
#: Gaps (decades) narrower than this are not bisected further.
MIN_GAP_DECADES = 0.04
#: The gradient phase stops when a step's predicted gain is below this share of max(|score|, SE).
GRAD_RTOL = 1e-5
#: An optimum (and λ.1se) bracketed within this many decades of λ is pinned.
BRACKET_DECADES = 0.005
#: λ.1se is approached from both sides of the tangent's crossing, this share of BRACKET_DECADES away.
OFFSET = 0.4
#: The largest gradient step in log λ (decades), and the step taken when no curvature is known yet.
MAX_STEP_DECADES = 1.0
FIRST_STEP_DECADES = 0.5
#: Elastic-net mix steps (in glmnet's α): the probe, the largest Newton step, and the bracket that pins it.
RATIO_STEP = 0.1
MAX_RATIO_STEP = 0.3
MIN_RATIO_STEP = 0.0125
#: Elastic-net trials within this l1_ratio of each other lend their curvature in log λ to one another.
RATIO_NEAR = 0.15
LN10 = math.log(10.0)


@dataclass
class SearchSpace:
    """The λ range of each penalty (log scale) and the mixing range of the elastic net.

    The elastic net's mix is searched as glmnet's alpha, α ∈ ``l1_ratio_range`` (the Optuna parameter
    ``mixing``), which does not depend on the target's units: the estimator's own l1_ratio is
    ``r = α / (α + (1 − α)/s)`` with ``s = mixing_scale`` (sd(y) for least squares, 1 for logistic
    regression), so that the L1 weight λ·r scales with y like the lasso's λ and the L2 weight λ·(1 − r)
    stays put like ridge's. Points and proposals carry the estimator's (λ, r).
    """

    penalties: tuple[str, ...]
    ranges: dict[str, tuple[float, float]]
    l1_ratio_range: tuple[float, float] = L1_RATIO_RANGE
    widened: dict[str, tuple[float, float]] = field(default_factory=dict)
    mixing_scale: float = 1.0

    def ratio(self, alpha: float) -> float:
        """The estimator's l1_ratio of glmnet's mixing ``alpha``."""
        return alpha / (alpha + (1.0 - alpha) / self.mixing_scale)

    def mixing(self, l1_ratio: float) -> float:
        """glmnet's mixing alpha of the estimator's ``l1_ratio``."""
        return l1_ratio / (self.mixing_scale * (1.0 - l1_ratio) + l1_ratio)

    def params(self, penalty: str, lam: float, l1_ratio: float) -> dict[str, Any]:
        """The Optuna parameters of a configuration (the elastic net's mix as ``mixing``)."""
        params: dict[str, Any] = {"penalty": penalty, f"lambda_{penalty}": lam}
        if penalty == "elasticnet":
            params["mixing"] = self.mixing(l1_ratio)
        return params

    def bounds(self, penalty: str) -> tuple[float, float]:
        """The range as searched so far: the original one, or wider where the refine phase went."""
        return self.widened.get(penalty, self.ranges[penalty])

    def edge(self, point: Point) -> str | None:
        """ "lower" or "upper" when ``point``'s λ is within EDGE_DECADES of that end of its range; else None."""
        lo, hi = self.bounds(point.penalty)
        if math.log10(point.lam / lo) < EDGE_DECADES:
            return "lower"
        if math.log10(hi / point.lam) < EDGE_DECADES:
            return "upper"
        return None


def initial_design(space: SearchSpace, budget: int) -> list[dict[str, Any]]:
    """A few log-spaced λ per penalty (the middle of the mixing range for the elastic net): three each, or
    fewer on a small budget — but every requested penalty gets at least one while the budget allows."""
    if budget < len(space.penalties):
        return []
    per_penalty = min(3, max(1, budget // (3 * len(space.penalties))))
    fractions = [(i + 1) / (per_penalty + 1) for i in range(per_penalty)]
    mid_ratio = space.ratio(sum(space.l1_ratio_range) / 2)
    design = []
    for frac in fractions:
        for penalty in space.penalties:
            lo, hi = space.ranges[penalty]
            lam = math.exp(math.log(lo) + frac * (math.log(hi) - math.log(lo)))
            design.append(space.params(penalty, lam, mid_ratio))
    return design


def _flat(best: Point, neighbour: list[Point]) -> bool:
    """Whether the curve is flat at an edge: the best beats its neighbour by a negligible margin.

    Past such an edge the score cannot improve by anything that matters (e.g. least squares with
    n ≫ p as λ → 0), so the range is not widened there; the result still says the λ is on the edge.
    """
    if not neighbour or not math.isfinite(best.se):
        return False
    return best.mean - neighbour[0].mean <= FLAT_SE * best.se


def propose_refinement(points: list[Point], space: SearchSpace, *, around_best: bool = True) -> dict[str, Any] | None:
    """The next refine-phase configuration, or None when every penalty's optimum and λ.1se are pinned.

    Each penalty is refined around its own best point (best penalty first): past an edge of its own range,
    then between its best λ and the farther neighbour — no penalty is judged before it is searched. Then
    λ.1se is pinned. With ``around_best`` False (after a gradient phase pinned the optima) only λ.1se is.
    """
    sel = select(points)
    if sel is None:
        return None
    seen = {_key(p.penalty, p.lam, p.l1_ratio) for p in points}
    if around_best:
        for best in sorted(sel.per_penalty.values(), key=lambda p: p.mean, reverse=True):
            proposal = _refine_around(best, points, space, seen)
            if proposal is not None:
                return proposal
    return _refine_one_se(sel, points, seen, space)


def _refine_around(
    best: Point, points: list[Point], space: SearchSpace, seen: set[tuple[str, float, float]]
) -> dict[str, Any] | None:
    """Past an edge of ``best``'s range when it sits on one (the range widens), else the bisection of
    the wider gap around it; None when its optimum is bracketed within MIN_GAP_DECADES."""
    same = sorted((p for p in candidates(points) if p.penalty == best.penalty), key=lambda p: p.lam)
    if best.penalty == "elasticnet":
        same = [p for p in same if abs(p.l1_ratio - best.l1_ratio) < 1e-9] or same

    def fresh(lam: float) -> dict[str, Any] | None:
        key = _key(best.penalty, lam, best.l1_ratio)
        return None if key in seen else space.params(best.penalty, lam, best.l1_ratio)

    lo0, hi0 = space.ranges[best.penalty]
    lo, hi = space.bounds(best.penalty)
    at_low = best.lam <= same[0].lam and math.log10(best.lam / lo) < EDGE_DECADES
    if at_low and math.log10(lo0 / best.lam) < MAX_WIDEN_DECADES and not _flat(best, same[1:2]):
        new = best.lam / 10
        space.widened[best.penalty] = (min(lo, new), hi)
        if (proposal := fresh(new)) is not None:
            return proposal
    at_high = best.lam >= same[-1].lam and math.log10(hi / best.lam) < EDGE_DECADES
    if at_high and math.log10(best.lam / hi0) < MAX_WIDEN_DECADES and not _flat(best, same[-2:-1]):
        new = best.lam * 10
        space.widened[best.penalty] = (lo, max(hi, new))
        if (proposal := fresh(new)) is not None:
            return proposal
    i = same.index(best) if best in same else 0
    gaps = []
    if i > 0:
        gaps.append((math.log10(best.lam / same[i - 1].lam), same[i - 1].lam))
    if i + 1 < len(same):
        gaps.append((math.log10(same[i + 1].lam / best.lam), same[i + 1].lam))
    for width, other in sorted(gaps, reverse=True):
        if width > MIN_GAP_DECADES and (proposal := fresh(math.sqrt(best.lam * other))) is not None:
            return proposal
    return None


def _refine_one_se(
    sel: Selection, points: list[Point], seen: set[tuple[str, float, float]], space: SearchSpace
) -> dict[str, Any] | None:
    """Pin λ.1se: a step between it and the next larger λ of its line (complete or pruned: both are
    below the 1-SE threshold) — a Newton step on ``mean(λ) = threshold`` from λ.1se when its
    hypergradient points down and the step stays inside, else the bisection. With no larger λ tried yet,
    a step up (the same Newton step, between 0.1 and 1 decade), within the λ range."""
    one = sel.one_se
    best = sel.best
    threshold = best.mean - (best.se if math.isfinite(best.se) else 0.0)
    g = one.d_log_lambda
    newton = (threshold - one.mean) / g if g is not None and g < 0 else None  # a step up in log λ
    above = sorted(
        (p for p in points if _same_line(p, one) and p.lam > one.lam and p.state != "failed" and p.fold_scores),
        key=lambda p: p.lam,
    )
    if not above:
        hi = space.bounds(one.penalty)[1]
        if math.log10(hi / one.lam) <= BRACKET_DECADES:
            return None
        step = FIRST_STEP_DECADES * LN10 if newton is None else min(max(newton, 0.1 * LN10), LN10)
        lam = min(hi, one.lam * math.exp(step))
    else:
        width = math.log(above[0].lam / one.lam)
        if width / LN10 <= BRACKET_DECADES:
            return None
        lam = one.lam * math.exp(_one_se_step(newton, width))
    return None if _key(one.penalty, lam, one.l1_ratio) in seen else space.params(one.penalty, lam, one.l1_ratio)


def _one_se_step(newton: float | None, width: float) -> float:
    """How far above λ.1se (in log λ) the next trial goes, inside a bracket of ``width``.

    Where the tangent meets the 1-SE threshold (``newton``) the crossing is: a trial just inside it
    (``OFFSET`` below), then one just beyond it, closes the bracket to under BRACKET_DECADES in two
    trials when the tangent is accurate; otherwise the bracket is bisected."""
    offset = OFFSET * BRACKET_DECADES * LN10
    if newton is None or not 0 < newton < width:
        return width / 2
    step = newton - offset if newton > 2 * offset else newton + offset
    return min(max(step, 0.02 * width), 0.98 * width)


def gain_tolerance(best: Point) -> float:
    """The score change below which a gradient step is not worth a trial."""
    se = best.se if math.isfinite(best.se) else 0.0
    return GRAD_RTOL * max(abs(best.mean), se, 1e-12)


def _same_line(point: Point, best: Point) -> bool:
    return point.penalty == best.penalty and (
        best.penalty != "elasticnet" or abs(point.l1_ratio - best.l1_ratio) < 1e-9
    )


@dataclass
class LambdaStep:
    """The outcome of one look along log λ from the best point of a line."""

    #: The proposed log λ (natural log), or None when the optimum is pinned on this line.
    t: float | None
    #: Why no step: "pinned" (bracketed narrowly), "small" (the predicted gain is negligible), "no hypergradient".
    reason: str = ""
    #: The bracket [a, b] (λ) known to hold the optimum when the gradient changes sign around the best.
    bracket: tuple[float, float] | None = None
    #: The score gain the step predicts (|g·Δt|/2).
    gain: float = 0.0


def _interpolate(t0: float, s0: float, g0: float, t1: float, s1: float, g1: float | None) -> float | None:
    """Where the curve peaks between t0 and t1, as a share of the way from t0 (in (0, 1)), from the cubic
    through both values and slopes (Nocedal & Wright, eq. 3.59), or the quadratic through both values
    and the slope at t0 when t1 has no slope; None when the model has no interior peak."""
    width = t1 - t0
    if g1 is not None:
        # Minimise f = −S: f0' = −g0, f1' = −g1.
        f0, f1, d0, d1_ = -s0, -s1, -g0, -g1
        d1 = d0 + d1_ - 3 * (f0 - f1) / (t0 - t1)
        disc = d1 * d1 - d0 * d1_
        if disc < 0:
            return None
        d2 = math.copysign(math.sqrt(disc), width)
        denom = d1_ - d0 + 2 * d2
        if denom == 0:
            return None
        t = t1 - width * (d1_ + d2 - d1) / denom
        frac = (t - t0) / width
    else:
        curv = (s1 - s0 - g0 * width) / (width * width)
        if curv >= 0:
            return None
        frac = -g0 / (2 * curv) / width
    return frac if 0 < frac < 1 else None


def lambda_step(pool: list[Point], best: Point, space: SearchSpace | None = None) -> LambdaStep:
    """A safeguarded interpolation step on log λ from ``best`` along its line (same penalty and l1_ratio).

    The step goes uphill (the sign of d score / d log λ). When a point of the line lies on that side,
    the optimum is bracketed between it and ``best`` (the best point): the step goes to the peak of the
    cubic through both points' scores and hypergradients, kept inside the bracket (bisection when the
    cubic has no peak there). Without a bracket, a Newton step with the curvature from the secant of the
    hypergradients to a neighbour (elastic-net trials with a close l1_ratio lend theirs), at most
    ``MAX_STEP_DECADES``; a probe of ``FIRST_STEP_DECADES`` when there is no curvature, or when the Newton
    step would gain too little to go on but the probe would not.
    """
    g0 = best.d_log_lambda
    if g0 is None or not math.isfinite(g0):
        return LambdaStep(None, "no hypergradient")
    t0 = math.log(best.lam)
    line = [p for p in pool if _same_line(p, best) and p is not best]
    direction = 1.0 if g0 > 0 else -1.0
    uphill = [p for p in line if (math.log(p.lam) - t0) * direction > 0]
    nb = min(uphill, key=lambda p: abs(math.log(p.lam) - t0)) if uphill else None
    bracket = None
    if nb is not None:
        t1 = math.log(nb.lam)
        width = t1 - t0
        lo_hi = sorted((best.lam, nb.lam))
        if nb.d_log_lambda is not None and nb.d_log_lambda * direction < 0:
            bracket = (lo_hi[0], lo_hi[1])
        if abs(width) < BRACKET_DECADES * LN10:
            return LambdaStep(None, "pinned", (lo_hi[0], lo_hi[1]))
        frac = _interpolate(t0, best.mean, g0, t1, nb.mean, nb.d_log_lambda)
        step = width * (0.5 if frac is None else min(frac, 0.9))
    else:
        downhill = [p for p in line if (math.log(p.lam) - t0) * direction < 0]
        lenders = sorted(downhill, key=lambda p: abs(math.log(p.lam) - t0))[:1]
        if best.penalty == "elasticnet":
            near = [
                p
                for p in pool
                if p.penalty == best.penalty and p is not best and 0 < _mix_gap(p, best, space) <= RATIO_NEAR
            ]
            lenders += sorted(near, key=lambda p: abs(math.log(p.lam) - t0))[:4]
        h = None
        for q in lenders:
            if q.d_log_lambda is not None and abs(math.log(q.lam) - t0) > 1e-12:
                hq = (q.d_log_lambda - g0) / (math.log(q.lam) - t0)
                if hq < 0:
                    h = hq
                    break
        probe = direction * FIRST_STEP_DECADES * LN10
        step = -g0 / h if h is not None else probe
        cap = MAX_STEP_DECADES * LN10
        step = max(-cap, min(cap, step))
        if abs(g0 * step) / 2 <= gain_tolerance(best) < abs(g0 * probe) / 2:
            # Unbracketed, a secant across a wide gap can overstate the curvature (a saturating curve, e.g.
            # least squares as λ → 0): before stopping, probe half a decade further, which brackets the peak.
            step = probe
    gain = abs(g0 * step) / 2
    if gain <= gain_tolerance(best):
        return LambdaStep(None, "small", bracket, gain)
    return LambdaStep(t0 + step, "", bracket, gain)


def _mix_gap(a: Point, b: Point, space: SearchSpace | None) -> float:
    """How far apart two elastic-net points are in their mix (glmnet's α when the space is known)."""
    if space is None:
        return abs(a.l1_ratio - b.l1_ratio)
    return abs(space.mixing(a.l1_ratio) - space.mixing(b.l1_ratio))


def _mix_step(best: Point, pool: list[Point], space: SearchSpace) -> float | None:
    """The next l1_ratio for the elastic net from ``best`` (λ kept, pinned on its line), or None when the
    mix is pinned too.

    The search runs on the profile S*(α) — the best score over λ for glmnet's mix α (whose range does not
    depend on the target's units; ``SearchSpace.mixing``). At a point pinned in λ, d S*/d α is the partial
    derivative (envelope theorem): d score / d l1_ratio × d l1_ratio / d α. Between two pinned mixes whose
    derivatives bracket the optimum the step goes to the cubic's peak; otherwise a secant-Newton step, or a
    probe of RATIO_STEP; none once the bracket is under MIN_RATIO_STEP or the gain it predicts is negligible.
    """
    if best.d_l1_ratio is None or not math.isfinite(best.d_l1_ratio):
        return None
    lo, hi = space.l1_ratio_range

    def slope(p: Point) -> float:
        alpha = space.mixing(p.l1_ratio)
        d = alpha + (1 - alpha) / space.mixing_scale
        return float(p.d_l1_ratio or 0.0) / (space.mixing_scale * d * d)

    lines: dict[float, Point] = {}
    for p in pool:
        if p.penalty == "elasticnet" and p.d_l1_ratio is not None and math.isfinite(p.d_l1_ratio):
            key = round(space.mixing(p.l1_ratio), 9)
            if key not in lines or p.mean > lines[key].mean:
                lines[key] = p
    profile = [
        (space.mixing(p.l1_ratio), p.mean, slope(p))
        for p in lines.values()
        if p is best or lambda_step(pool, p, space).t is None
    ]
    a0, s0, g0 = space.mixing(best.l1_ratio), best.mean, slope(best)
    direction = 1.0 if g0 > 0 else -1.0
    uphill = [q for q in profile if (q[0] - a0) * direction > 1e-12]
    if uphill:
        a1, s1, g1 = min(uphill, key=lambda q: abs(q[0] - a0))
        width = a1 - a0
        if abs(width) < MIN_RATIO_STEP:
            return None
        frac = _interpolate(a0, s0, g0, a1, s1, g1)
        step = width * (0.5 if frac is None else min(max(frac, 0.1), 0.9))
    else:
        downhill = [q for q in profile if (q[0] - a0) * direction < -1e-12]
        step = direction * RATIO_STEP
        if downhill:
            a1, _, g1 = min(downhill, key=lambda q: abs(q[0] - a0))
            h = (g1 - g0) / (a1 - a0)
            if h < 0:
                step = max(-MAX_RATIO_STEP, min(MAX_RATIO_STEP, -g0 / h))
    alpha = min(hi, max(lo, a0 + step))
    if abs(alpha - a0) < MIN_RATIO_STEP / 2 or abs(g0 * (alpha - a0)) / 2 <= gain_tolerance(best):
        return None
    return space.ratio(alpha)


def _key(penalty: str, lam: float, l1_ratio: float) -> tuple[str, float, float]:
    return (penalty, round(math.log10(lam), 6), round(l1_ratio, 6))


def _widen_to(space: SearchSpace, penalty: str, lam: float) -> float:
    """``lam`` clipped to how far the range may widen (MAX_WIDEN_DECADES); records the widening."""
    lo0, hi0 = space.ranges[penalty]
    lo, hi = space.bounds(penalty)
    floor, ceil = lo0 / 10**MAX_WIDEN_DECADES, hi0 * 10**MAX_WIDEN_DECADES
    clipped = min(ceil, max(floor, lam))
    if clipped < lo:
        space.widened[penalty] = (clipped, hi)
    elif clipped > hi:
        space.widened[penalty] = (lo, clipped)
    return clipped


def propose_gradient(points: list[Point], space: SearchSpace) -> dict[str, Any] | None:
    """The next gradient-phase configuration, or None when every penalty's optimum is pinned.

    Every penalty is refined to its own optimum — no penalty is judged before it is searched, so the
    chosen penalty is the best of the pinned optima. Of the penalties with a step left, the one with the
    fewest trials so far gets the next (the best first among equals): a penalty that needs many steps (the
    elastic net, searched in λ and in its mix) does not starve the others.
    """
    sel = select(points)
    if sel is None:
        return None
    pool = candidates(points)
    seen = {_key(p.penalty, p.lam, p.l1_ratio) for p in points}
    counts = {pen: sum(p.penalty == pen for p in points) for pen in space.penalties}
    proposals: list[tuple[int, int, dict[str, Any]]] = []
    for best in sorted(sel.per_penalty.values(), key=lambda p: p.mean, reverse=True):
        step = lambda_step(pool, best, space)
        proposal = None
        if step.t is not None:
            lam = _widen_to(space, best.penalty, math.exp(step.t))
            if _key(best.penalty, lam, best.l1_ratio) not in seen:
                proposal = space.params(best.penalty, lam, best.l1_ratio)
        elif best.penalty == "elasticnet":
            proposal = _mix_proposal(best, pool, seen, space)
        if proposal is not None:
            proposals.append((counts[best.penalty], len(proposals), proposal))
    return min(proposals, key=lambda item: item[:2])[2] if proposals else None


def _mix_proposal(
    best: Point, pool: list[Point], seen: set[tuple[str, float, float]], space: SearchSpace
) -> dict[str, Any] | None:
    """The elastic net's next trial once λ is pinned on the best line: the next mix (:func:`_mix_step`) at
    the same λ, or — when that mix was tried already — a λ step on its line, so that its profile value is
    known before the mix moves on."""
    ratio = _mix_step(best, pool, space)
    if ratio is None:
        return None
    line = [p for p in pool if p.penalty == best.penalty and abs(p.l1_ratio - ratio) < 1e-9]
    if not line:
        return None if _key(best.penalty, best.lam, ratio) in seen else space.params(best.penalty, best.lam, ratio)
    top = max(line, key=lambda p: p.mean)
    step = lambda_step(pool, top, space)
    if step.t is None:
        return None
    lam = _widen_to(space, top.penalty, math.exp(step.t))
    return None if _key(top.penalty, lam, top.l1_ratio) in seen else space.params(top.penalty, lam, top.l1_ratio)


def certify(points: list[Point], best: Point, space: SearchSpace) -> dict[str, Any]:
    """Whether ``best`` is an optimum of the CV curve, from its hypergradient: a verdict and a sentence."""
    g = best.d_log_lambda
    if g is None or not math.isfinite(g):
        return {"verdict": "unknown", "message": "no hypergradient for this model"}
    edge = space.edge(best)
    step = lambda_step(candidates(points), best, space)
    outward = (edge == "lower" and g < 0) or (edge == "upper" and g > 0)
    if edge is not None and outward:
        if step.t is None and step.reason == "small":
            further = "smaller" if edge == "lower" else "larger"
            return {
                "verdict": "boundary",
                "message": f"on the boundary of the λ range ({edge} edge), where the curve is flat: a {further} λ"
                f" would gain less than {GRAD_RTOL:g} of the score",
            }
        return {
            "verdict": "boundary",
            "message": f"on the boundary of the λ range ({edge} edge): widen it with --lambda-min/--lambda-max",
        }
    if step.t is None:
        if step.bracket is not None and step.reason == "pinned":
            a, b = step.bracket
            return {
                "verdict": "interior",
                "message": f"interior optimum (d score / d log λ changes sign between λ={a:.4g} and λ={b:.4g})",
            }
        return {"verdict": "interior", "message": "interior optimum (d score / d log λ ≈ 0)"}
    return {
        "verdict": "not_converged",
        "message": f"not converged: d score / d log λ = {g:.3g}; a λ near {math.exp(step.t):.4g} would score"
        " higher (more trials would pin it)",
        "lambda_next": math.exp(step.t),
    }


#: Ratio λ_min/λ_max of the searched range (glmnet's ``lambda.min.ratio``): n > p and n ≤ p.
RATIO_N_GT_P = 1e-4
RATIO_N_LE_P = 1e-2
#: Pure L2 for a family without a curvature (no scale of its own): its range reaches this factor above
#: the L1 λ_max, as glmnet's ridge path.
L2_UPPER_FACTOR = 1e3
#: Ridge's range spans the effective degrees of freedom from (rank − DF_MARGIN) down to DF_MARGIN, and
#: at least MIN_RIDGE_DECADES.
DF_MARGIN = 0.5
MIN_RIDGE_DECADES = 2.0


def effective_df(eigs: np.ndarray, lam: float) -> float:
    """The effective degrees of freedom of ridge at ``lam``: Σ e/(e + λ) over the curvature eigenvalues."""
    return float((eigs / (eigs + lam)).sum())


def ridge_range(eigs: np.ndarray) -> tuple[float, float]:
    """The λ range of pure L2 from the curvature of the loss (``Family.curvature``): from the λ where the
    effective degrees of freedom are rank − ½ (almost no shrinkage) to the λ where they are ½ (almost
    everything shrunk). It depends on the design, not on the target's units: y × c leaves it unchanged."""
    import numpy as np

    e = np.asarray(eigs, dtype=np.float64)
    e = e[e > max(float(e.max(initial=0.0)), 1e-300) * 1e-12]
    if e.size == 0:
        return 1e-4, 1.0

    def solve(target: float) -> float:
        lo, hi = math.log(float(e.min()) * 1e-12), math.log(float(e.max()) * 1e12)
        for _ in range(200):  # bisection in log λ: df is decreasing in λ
            mid = (lo + hi) / 2
            if effective_df(e, math.exp(mid)) > target:
                lo = mid
            else:
                hi = mid
        return math.exp((lo + hi) / 2)

    small = solve(max(e.size - DF_MARGIN, DF_MARGIN))
    large = solve(min(DF_MARGIN, e.size / 2))
    if math.log10(large / small) < MIN_RIDGE_DECADES:
        centre = math.sqrt(small * large)
        half = 10 ** (MIN_RIDGE_DECADES / 2)
        small, large = centre / half, centre * half
    return small, large


def lambda_ranges(
    family: Family,
    X: np.ndarray,
    y: np.ndarray,
    penalties: tuple[str, ...],
    lambda_min: float | None,
    lambda_max: float | None,
    mixing_scale: float = 1.0,
    offset: np.ndarray | None = None,
    sample_weight: np.ndarray | None = None,
) -> dict[str, tuple[float, float]]:
    """The searched λ range of each penalty, from the data or the user's bounds.

    L1 and elastic net: glmnet's, from λ_max down to λ_max·1e-4 (1e-2 when p ≥ n); the elastic net's covers
    glmnet's for every mix α in ``L1_RATIO_RANGE`` (λ_max·ratio … λ_max/α_min in glmnet's units, times
    α + (1 − α)/s in the estimator's: see :class:`SearchSpace`). Pure L2: from the curvature of the loss at
    the null model (:func:`ridge_range`), so ridge is searched on the scale of its own problem, not the
    lasso's. A family without a λ_max or a curvature of its own (the MLP) sets its default range from the
    linear λ_max. ``offset``: the rows' offsets, for a family that takes one; ``sample_weight``: the rows'
    weights (λ_max and the curvature are those of the weighted loss).
    """
    from regtune.models._base import with_offset, with_weights

    extra = {**with_offset(offset), **with_weights(sample_weight)}
    lmax = family.lambda_max(X, y, 1.0, **extra)
    if not (math.isfinite(lmax) and lmax > 0):
        lmax = 1.0
    ratio = RATIO_N_GT_P if X.shape[0] > X.shape[1] else RATIO_N_LE_P
    ranges = {}
    for penalty in penalties:
        own = family.default_lambda_range(penalty, lmax, ratio)
        eigs = family.curvature(X, y, **extra) if own is None and penalty == "l2" else None
        if own is not None:
            lo, hi = own
        elif eigs is not None:
            lo, hi = ridge_range(eigs)
        else:
            hi = {"l1": lmax, "elasticnet": lmax / L1_RATIO_RANGE[0], "l2": lmax * L2_UPPER_FACTOR}[penalty]
            lo = lmax * ratio
            if penalty == "elasticnet":
                scale = [a + (1 - a) / mixing_scale for a in L1_RATIO_RANGE]
                lo, hi = lo * min(scale), hi * max(scale)
        lo = lambda_min if lambda_min is not None else lo
        hi = lambda_max if lambda_max is not None else hi
        if lo >= hi:
            which = named("lambda_min") if lambda_min is not None else named("lambda_max")
            raise ConfigError(
                f"{which} leaves an empty λ range for {penalty} ([{lo:.4g}, {hi:.4g}]):"
                f" give both {named('lambda_min')} and {named('lambda_max')}"
            )
        ranges[penalty] = (lo, hi)
    return ranges
