"""The Optuna study (with storage.py, the only modules that import Optuna).

A trial is one (penalty, λ, l1_ratio) evaluated fold by fold. The search has two phases, both made of
ordinary trials of one study (so the CV curve stays complete):

1. *explore*: a seeded multivariate TPE over penalty × log λ (× l1_ratio), opened by a few log-spaced
   points per penalty;
2. *gradient* (``search="hybrid"`` or ``"gradient"``): from the best point of each competitive penalty,
   safeguarded steps on log λ using the hypergradient d CV score / d log λ that every trial carries (the
   peak of the cubic through the best point and its neighbour when they bracket the optimum, a secant
   Newton step otherwise), and for the elastic net steps on l1_ratio; it stops when the gain a step
   predicts is below ``GRAD_RTOL`` of the score, or the optimum is bracketed within ``BRACKET_DECADES``;
3. *refine*: a few trials proposed from the curve itself — past an edge of the λ range when the best λ
   sits on it (the range widens), between the best λ and its farther neighbour, and between λ.1se and
   the next larger λ — so both λ.min and λ.1se are pinned, not left where TPE happened to sample.

``search="tpe"`` is phases 1 and 3 (regtune 0.1). ``"gradient"`` and ``"hybrid"`` start phase 2 right after
the opening points. ``"gradient"`` stops as soon as phases 2 and 3 have nothing left to propose (the budget
is then a maximum). ``"hybrid"`` goes on: TPE explores with the rest of the budget, and any new best point
it finds starts gradient steps again — local precision from the gradient, global exploration from TPE.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from regtune.config import L1_RATIO_RANGE
from regtune.interrupts import check as check_interrupt
from regtune.interrupts import handled, interruptible, protected
from regtune.models import penalty_l1_ratio
from regtune.select import Point, candidates, mean_se, select
from regtune.storage import is_rdb, worker_id

if TYPE_CHECKING:
    import optuna

    from regtune.cv import Evaluator

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
#: An optimum bracketed within this many decades of λ is pinned.
BRACKET_DECADES = 0.005
#: The largest gradient step in log λ (decades), and the step taken when no curvature is known yet.
MAX_STEP_DECADES = 1.0
FIRST_STEP_DECADES = 0.5
#: Elastic-net l1_ratio steps: the first size, halved after a step that did not improve, down to the minimum.
RATIO_STEP = 0.1
MIN_RATIO_STEP = 0.0125
#: Elastic-net trials within this l1_ratio of each other lend their curvature in log λ to one another.
RATIO_NEAR = 0.15
LN10 = math.log(10.0)

ProgressFn = Callable[[int, int, float | None], None]


@dataclass
class SearchSpace:
    """The λ range of each penalty (log scale) and the l1_ratio range of the elastic net."""

    penalties: tuple[str, ...]
    ranges: dict[str, tuple[float, float]]
    l1_ratio_range: tuple[float, float] = L1_RATIO_RANGE
    widened: dict[str, tuple[float, float]] = field(default_factory=dict)

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


def _params(penalty: str, lam: float, l1_ratio: float) -> dict[str, Any]:
    params: dict[str, Any] = {"penalty": penalty, f"lambda_{penalty}": lam}
    if penalty == "elasticnet":
        params["l1_ratio"] = l1_ratio
    return params


def make_fold_pruner(min_folds: int = 2, margin_se: float = 2.0) -> Any:
    """A pruner for K-fold CV: stop a trial that is clearly worse than the best one, fold by fold.

    After ``min_folds`` folds, a trial is pruned when it scores below the best complete trial on every
    fold seen so far (paired: the same folds) and by more than ``margin_se`` of the best trial's CV SE
    on average. Such a trial can be neither λ.min nor λ.1se (which lies within one SE of the best).
    Optuna's WilcoxonPruner cannot prune before fold 4 of 5 (its smallest one-sided p-value with three
    pairs is 0.125); this rule usually decides after two folds.
    """
    import optuna

    class FoldPruner(optuna.pruners.BasePruner):
        def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
            seen = trial.intermediate_values
            if len(seen) < min_folds:
                return False
            try:
                best = study.best_trial
            except ValueError:  # no complete trial yet
                return False
            ref = best.intermediate_values
            diffs = [ref[step] - value for step, value in seen.items() if step in ref]
            if len(diffs) < min_folds or min(diffs) <= 0:
                return False
            scores = best.user_attrs.get("fold_scores") or list(ref.values())
            _, se = mean_se(scores)
            return bool(math.isfinite(se) and sum(diffs) / len(diffs) > margin_se * se)

    return FoldPruner()


class Objective:
    """Suggest a configuration, evaluate it fold by fold, keep the fold scores on the trial.

    Each fold's score is reported to the study's pruner (``trial.report(score, fold)``); refine-phase
    trials are never pruned.
    """

    def __init__(self, evaluator: Evaluator, space: SearchSpace, n_trials: int | None = None) -> None:
        self.evaluator = evaluator
        self.space = space
        self.n_trials = n_trials

    def _surplus(self, trial: optuna.Trial) -> bool:
        """Whether ``n_trials`` trials were already counted or running when this one started."""
        from optuna.trial import TrialState

        if self.n_trials is None:
            return False
        states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
        before = sum(
            1
            for t in trial.study.get_trials(deepcopy=False, states=states)
            if t.number < trial.number and not t.user_attrs.get("surplus")
        )
        return before >= self.n_trials

    def __call__(self, trial: optuna.Trial) -> float:
        trial.set_user_attr("worker", worker_id())
        if self._surplus(trial):
            trial.set_user_attr("surplus", True)
            return math.nan
        penalty = str(trial.suggest_categorical("penalty", list(self.space.penalties)))
        lo, hi = self.space.ranges[penalty]
        lam = trial.suggest_float(f"lambda_{penalty}", lo, hi, log=True)
        if penalty == "elasticnet":
            l1_ratio = trial.suggest_float("l1_ratio", *self.space.l1_ratio_range)
        else:
            l1_ratio = penalty_l1_ratio(penalty)

        def report(score: float, fold: int) -> bool:
            trial.report(score, fold)
            return trial.should_prune()

        prunable = trial.user_attrs.get("phase") not in ("refine", "gradient")
        try:
            with interruptible():  # a signal stops the fits, not a storage write
                ev = self.evaluator.evaluate(penalty, lam, l1_ratio, report if prunable else None)
        except (ValueError, ArithmeticError, RuntimeError) as exc:
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            trial.set_user_attr("error", f"{type(exc).__name__}: {message}"[:300])
            return math.nan
        trial.set_user_attr("fold_scores", ev.fold_scores)
        trial.set_user_attr("converged", ev.converged)
        trial.set_user_attr("n_unconverged", ev.n_unconverged)
        trial.set_user_attr("n_nonzero", ev.n_nonzero)
        if ev.d_log_lambda is not None:
            trial.set_user_attr("d_log_lambda", ev.d_log_lambda)
            if ev.d_l1_ratio is not None:
                trial.set_user_attr("d_l1_ratio", ev.d_l1_ratio)
        if not ev.complete:
            import optuna

            raise optuna.TrialPruned()
        mean = math.fsum(ev.fold_scores) / len(ev.fold_scores)
        return mean if math.isfinite(mean) else math.nan


def points_from_trials(trials: list[optuna.trial.FrozenTrial]) -> list[Point]:
    """The CV curve: one point per finished trial (complete, failed or pruned)."""
    from optuna.trial import TrialState

    states = {
        TrialState.COMPLETE: "complete",
        TrialState.FAIL: "failed",
        TrialState.PRUNED: "pruned",
    }
    points = []
    for t in trials:
        if t.state not in states or "penalty" not in t.params or t.user_attrs.get("surplus"):
            continue
        penalty = str(t.params["penalty"])
        if f"lambda_{penalty}" not in t.params:  # stopped (worker killed, Ctrl-C) before its λ was drawn
            continue
        attrs = t.user_attrs
        points.append(
            Point(
                trial=t.number,
                penalty=penalty,
                lam=float(t.params[f"lambda_{penalty}"]),
                l1_ratio=float(t.params.get("l1_ratio", penalty_l1_ratio(penalty, 0.5))),
                fold_scores=[float(s) for s in attrs.get("fold_scores", [])],
                state=states[t.state],
                converged=bool(attrs.get("converged", True)),
                n_nonzero=attrs.get("n_nonzero"),
                error=attrs.get("error"),
                d_log_lambda=attrs.get("d_log_lambda"),
                d_l1_ratio=attrs.get("d_l1_ratio"),
                phase=str(attrs.get("phase", "explore")),
            )
        )
    return points


def initial_design(space: SearchSpace, budget: int) -> list[dict[str, Any]]:
    """A few log-spaced λ per penalty (the middle of the l1_ratio range for the elastic net)."""
    per_penalty = min(3, budget // (3 * len(space.penalties)))
    if per_penalty == 0:
        return []
    fractions = [(i + 1) / (per_penalty + 1) for i in range(per_penalty)]
    mid_ratio = sum(space.l1_ratio_range) / 2
    design = []
    for frac in fractions:
        for penalty in space.penalties:
            lo, hi = space.ranges[penalty]
            lam = math.exp(math.log(lo) + frac * (math.log(hi) - math.log(lo)))
            design.append(_params(penalty, lam, mid_ratio))
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
    """The next refine-phase configuration, or None when λ.min and λ.1se are pinned.

    With ``around_best`` False (after a gradient phase pinned λ.min) only λ.1se is refined.
    """
    sel = select(points)
    if sel is None:
        return None
    best = sel.best
    same = sorted((p for p in candidates(points) if p.penalty == best.penalty), key=lambda p: p.lam)
    if best.penalty == "elasticnet":
        same = [p for p in same if abs(p.l1_ratio - best.l1_ratio) < 1e-9] or same
    seen = {_key(p.penalty, p.lam, p.l1_ratio) for p in points}

    def fresh(lam: float) -> dict[str, Any] | None:
        return None if _key(best.penalty, lam, best.l1_ratio) in seen else _params(best.penalty, lam, best.l1_ratio)

    if not around_best:
        return _refine_one_se(sel, points, seen, space)
    # 1. The best λ on an edge of the range: step a decade past it (the range widens).
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

    # 2. Bisect the wider gap around the best λ (in log λ).
    i = same.index(best) if best in same else 0
    gaps = []
    if i > 0:
        gaps.append((math.log10(best.lam / same[i - 1].lam), same[i - 1].lam))
    if i + 1 < len(same):
        gaps.append((math.log10(same[i + 1].lam / best.lam), same[i + 1].lam))
    for width, other in sorted(gaps, reverse=True):
        if width > MIN_GAP_DECADES and (proposal := fresh(math.sqrt(best.lam * other))) is not None:
            return proposal

    # 3. Pin λ.1se between it and the next larger λ (outside one SE).
    return _refine_one_se(sel, points, seen, space)


def _refine_one_se(
    sel: Any, points: list[Point], seen: set[tuple[str, float, float]], space: SearchSpace
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
        if math.log10(hi / one.lam) <= MIN_GAP_DECADES:
            return None
        step = FIRST_STEP_DECADES * LN10 if newton is None else min(max(newton, 0.1 * LN10), LN10)
        lam = min(hi, one.lam * math.exp(step))
    else:
        nxt = above[0]
        width = math.log(nxt.lam / one.lam)
        if width / LN10 <= MIN_GAP_DECADES:
            return None
        frac = 0.5
        if newton is not None and 0.1 <= newton / width <= 0.9:
            frac = newton / width  # share of the gap where the tangent meets the threshold
        lam = one.lam * math.exp(frac * width)
    return None if _key(one.penalty, lam, one.l1_ratio) in seen else _params(one.penalty, lam, one.l1_ratio)


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


def lambda_step(pool: list[Point], best: Point) -> LambdaStep:
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
                if p.penalty == best.penalty and p is not best and 0 < abs(p.l1_ratio - best.l1_ratio) <= RATIO_NEAR
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


def _ratio_step(best: Point, seen: set[tuple[str, float, float]], space: SearchSpace) -> float | None:
    """The next l1_ratio for the elastic net from ``best`` (λ kept), or None when no step is worth it."""
    g = best.d_l1_ratio
    if g is None or not math.isfinite(g):
        return None
    lo, hi = space.l1_ratio_range
    size = RATIO_STEP
    while size >= MIN_RATIO_STEP:
        r = min(hi, max(lo, best.l1_ratio + math.copysign(size, g)))
        if abs(r - best.l1_ratio) < MIN_RATIO_STEP / 2 or abs(g * (r - best.l1_ratio)) / 2 <= gain_tolerance(best):
            return None
        if _key(best.penalty, best.lam, r) not in seen:
            return r
        size /= 2
    return None


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
    """The next gradient-phase configuration, or None when the competitive penalties are pinned.

    The best penalty is refined first. Another penalty gets a step only when the gain that step predicts
    could bring it level with the best (its best is no more than ``2 × gain`` below): a penalty that
    cannot become λ.min is left alone.
    """
    sel = select(points)
    if sel is None:
        return None
    pool = candidates(points)
    seen = {_key(p.penalty, p.lam, p.l1_ratio) for p in points}
    top = sel.best
    for best in sorted(sel.per_penalty.values(), key=lambda p: p.mean, reverse=True):
        behind = top.mean - best.mean

        def worth(gain: float, behind: float = behind) -> bool:
            return 2 * gain >= behind

        step = lambda_step(pool, best)
        if step.t is not None and worth(step.gain):
            lam = _widen_to(space, best.penalty, math.exp(step.t))
            if _key(best.penalty, lam, best.l1_ratio) not in seen:
                return _params(best.penalty, lam, best.l1_ratio)
        if best.penalty == "elasticnet" and step.t is None:
            ratio = _ratio_step(best, seen, space)
            if ratio is not None and worth(abs((best.d_l1_ratio or 0.0) * (ratio - best.l1_ratio)) / 2):
                return _params(best.penalty, best.lam, ratio)
    return None


def certify(points: list[Point], best: Point, space: SearchSpace) -> dict[str, Any]:
    """Whether ``best`` is an optimum of the CV curve, from its hypergradient: a verdict and a sentence."""
    g = best.d_log_lambda
    if g is None or not math.isfinite(g):
        return {"verdict": "unknown", "message": "no hypergradient for this model"}
    edge = space.edge(best)
    step = lambda_step(candidates(points), best)
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
        " higher (more trials, or --search hybrid)",
    }


@dataclass
class SearchOutcome:
    study: Any
    points: list[Point]
    interrupted: bool = False
    created: bool = True
    #: True when a gradient search (``search="gradient"``) stopped before the budget: nothing left to propose.
    converged: bool = False


COUNTED = ("COMPLETE", "PRUNED")


def _counts(study: optuna.Study) -> tuple[list[optuna.trial.FrozenTrial], int, int]:
    """(finished trials that count, running, waiting); failed and surplus trials do not count."""
    counted: list[optuna.trial.FrozenTrial] = []
    running = waiting = 0
    for t in study.get_trials(deepcopy=False):
        if t.user_attrs.get("surplus"):
            continue
        name = t.state.name
        if name in COUNTED:
            counted.append(t)
        running += name == "RUNNING"
        waiting += name == "WAITING"
    return counted, running, waiting


def recover_dead_workers(study: optuna.Study) -> int:
    """Fail the running trials of dead workers on this host and queue them again (journal storage).

    RDB storages do this with heartbeats; a journal file is local, so a trial whose recorded worker
    process no longer exists on this host is known to be dead. Returns how many were re-queued.
    """
    import os

    from optuna.trial import TrialState

    host = worker_id().rsplit(":", 1)[0]
    requeued = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = str(t.user_attrs.get("worker", ""))
        if not worker.startswith(host + ":"):
            continue
        pid = int(worker.rsplit(":", 1)[1])
        try:
            os.kill(pid, 0)
            continue  # alive
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        try:
            # One write only: a journal record that touches a finished trial is refused on replay.
            study._storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL)
        except Exception:  # another worker failed it first and re-queues it
            continue
        study.enqueue_trial(t.params, user_attrs={"retry_of": t.number, "retry_reason": f"worker {worker} died"})
        requeued += 1
    return requeued


def open_study(storage: str | None, study_name: str | None, seed: int, prune: bool) -> tuple[optuna.Study, bool]:
    """Create the study, or load it when it exists in ``storage``; returns (study, created)."""
    import optuna

    from regtune.storage import open_storage

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True)
    pruner = make_fold_pruner() if prune else optuna.pruners.NopPruner()
    backend = open_storage(storage)
    name = study_name or "regtune"
    if backend is None:
        return optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner, study_name=name), True
    try:
        study = optuna.create_study(
            direction="maximize", sampler=sampler, pruner=pruner, storage=backend, study_name=name
        )
        return study, True
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(study_name=name, storage=backend, sampler=sampler, pruner=pruner)
        return study, False


def check_identity(study: optuna.Study, identity: dict[str, Any], created: bool) -> None:
    """Record what the study is about, or refuse to mix other data or settings into it."""
    from regtune.errors import ConfigError

    stored = study.user_attrs.get("regtune")
    if stored is None:
        if not created and study.get_trials(deepcopy=False):
            raise ConfigError(f"study {study.study_name!r} was not made by regtune: use another --study-name")
        study.set_user_attr("regtune", identity)
        return
    diffs = [
        f"{key} ({_short(stored.get(key))} ≠ {_short(value)})"
        for key, value in identity.items()
        if key not in IDENTITY_INFO_ONLY and stored.get(key) != value
    ]
    if diffs:
        raise ConfigError(
            f"study {study.study_name!r} holds trials of other data or settings — "
            + "; ".join(diffs[:4])
            + (f"; and {len(diffs) - 4} more" if len(diffs) > 4 else "")
            + ": use another --study-name, or the same data and settings"
        )


#: Identity keys shown for information but not compared (a worker may read the data from another path).
IDENTITY_INFO_ONLY = ("source", "regtune_version", "n_columns_encoded", "rows_dropped", "n_classes")


def _short(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= 40 else text[:37] + "..."


def run_search(
    evaluator: Evaluator,
    space: SearchSpace,
    *,
    n_trials: int,
    seed: int,
    timeout: float | None = None,
    progress: ProgressFn | None = None,
    prune: bool = True,
    storage: str | None = None,
    study_name: str | None = None,
    identity: dict[str, Any] | None = None,
    search: str = "tpe",
) -> SearchOutcome:
    """Run the search until the study holds ``n_trials`` counted trials (or, with ``search`` "hybrid" or
    "gradient", until the gradient and refine phases have nothing left to propose).

    ``n_trials`` is the total the study should reach: a resumed study (the same command run again on
    a persistent ``storage``) only runs what is missing, and several processes running the same
    command on one storage share the work. A trial counts when it completes or is pruned; a trial
    started when the total was already reached is marked surplus and dropped.
    """
    import optuna

    study, created = open_study(storage, study_name, seed, prune)
    if identity is not None:
        check_identity(study, identity, created)
    objective = Objective(evaluator, space, n_trials=n_trials)
    start = time.monotonic()
    gradient = search != "tpe" and evaluator.hyper is not None
    if gradient:
        design = initial_design(space, n_trials)
        n_explore = max(1, min(n_trials, len(design)))
    else:
        reserve = min(10, n_trials // 4) if n_trials >= 8 else 0
        n_explore = n_trials - reserve
        design = initial_design(space, n_explore)
    if created:
        for params in design:
            study.enqueue_trial(params)
    rdb = storage is not None and is_rdb(storage)

    def done_cb(study: optuna.Study, _trial: optuna.trial.FrozenTrial) -> None:
        if progress is not None:
            finished = _counts(study)[0]
            values = [t.value for t in finished if t.value is not None and math.isfinite(t.value)]
            progress(min(len(finished), n_trials), n_trials, max(values) if values else None)

    def out_of_time() -> bool:
        return timeout is not None and time.monotonic() - start >= timeout

    interrupted = converged = False
    try:
        with handled(), protected(), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # refine points outside the original range
            while not out_of_time():
                check_interrupt()
                if storage is not None and not rdb:
                    recover_dead_workers(study)
                counted, running, waiting = _counts(study)
                done = len(counted)
                if done >= n_trials:
                    break
                if done + running >= n_trials and waiting == 0:
                    # The rest is running elsewhere: wait, in case a worker dies and its trial comes back.
                    if rdb:
                        optuna.storages.fail_stale_trials(study)
                    time.sleep(0.5)
                    continue
                if done + running >= n_explore and waiting == 0:
                    points = points_from_trials(study.trials)
                    phase = "gradient"
                    proposal = propose_gradient(points, space) if gradient else None
                    if proposal is None:
                        phase = "refine"
                        proposal = propose_refinement(points, space, around_best=not gradient)
                    if proposal is not None:
                        study.enqueue_trial(proposal, user_attrs={"phase": phase})
                    elif gradient and search == "gradient":
                        if running == 0:
                            converged = True
                            break
                        time.sleep(0.5)  # another worker's trial may still move the best point
                        continue
                study.optimize(objective, n_trials=1, callbacks=[done_cb])
    except KeyboardInterrupt:
        interrupted = True
    with handled():
        try:
            with protected():
                points = points_from_trials(study.trials)
        except KeyboardInterrupt:  # a signal while reading the curve: kept until it was read
            interrupted = True
    return SearchOutcome(study, points, interrupted, created, converged)


def load_stored(storage: str, study_name: str | None) -> tuple[optuna.Study, dict[str, Any]]:
    """An existing regtune study and what it is about, or a StorageError that says what to do."""
    import optuna

    from regtune.storage import StorageError, mask_url, open_storage

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    backend = open_storage(storage)
    names = [s.study_name for s in optuna.get_all_study_summaries(backend, include_best_trial=False)]
    name = study_name or ("regtune" if "regtune" in names or len(names) != 1 else names[0])
    if name not in names:
        listed = ", ".join(names[:8]) if names else "none"
        raise StorageError(
            f"no study {name!r} in {mask_url(storage)} (studies: {listed}): give --study-name, see `regtune studies`"
        )
    study = optuna.load_study(study_name=name, storage=backend)
    identity = study.user_attrs.get("regtune")
    if not isinstance(identity, dict):
        raise StorageError(f"study {name!r} was not made by regtune: nothing to show")
    return study, identity


def list_studies(storage: str) -> list[dict[str, Any]]:
    """One summary per study in ``storage``: name, target, trial counts, best CV mean."""
    import optuna

    from regtune.storage import open_storage

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    backend = open_storage(storage)
    rows = []
    for summary in optuna.get_all_study_summaries(backend, include_best_trial=False):
        study = optuna.load_study(study_name=summary.study_name, storage=backend)
        points = points_from_trials(study.trials)
        states = [p.state for p in points]
        identity = study.user_attrs.get("regtune") or {}
        usable = [p.mean for p in points if p.usable]
        rows.append(
            {
                "name": summary.study_name,
                "source": identity.get("source"),
                "target": identity.get("target"),
                "scoring": identity.get("scoring"),
                "n_trials": len(points),
                "complete": states.count("complete"),
                "pruned": states.count("pruned"),
                "failed": states.count("failed"),
                "best_cv_mean": max(usable) if usable else None,
            }
        )
    return rows
