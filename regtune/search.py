"""The Optuna study: trials, pruning, storage, workers (with storage.py, the only modules that import Optuna).

A trial is one (penalty, λ, l1_ratio) evaluated fold by fold (:class:`Objective`). :func:`run_search`
runs the study; where the next trial goes is the search policy's (:mod:`regtune.policy`), and every
proposal it makes becomes an ordinary trial of the study, so the CV curve stays complete. The phases,
named by the ``phase`` attribute of each trial:

1. *explore*: the opening points (:func:`regtune.policy.initial_design`), then a seeded multivariate
   TPE over penalty × log λ (× l1_ratio);
2. *gradient* (``search="hybrid"`` or ``"gradient"``): hypergradient steps from the best point of each
   competitive penalty (:func:`regtune.policy.propose_gradient`);
3. *refine*: trials proposed from the curve itself (:func:`regtune.policy.propose_refinement`), so that
   λ.min and λ.1se are pinned, not left where TPE happened to sample.

``search="tpe"`` is phases 1 and 3 (regtune 0.1). ``"gradient"`` and ``"hybrid"`` start phase 2 right after
the opening points. ``"gradient"`` stops as soon as phases 2 and 3 have nothing left to propose (the budget
is then a maximum). ``"hybrid"`` goes on: TPE explores with the rest of the budget, and any new best point
it finds starts gradient steps again — local precision from the gradient, global exploration from TPE.

Only Optuna's public API is used.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from regtune.errors import DataError, RegtuneError, named
from regtune.interrupts import check as check_interrupt
from regtune.interrupts import handled, interruptible, protected
from regtune.models import Penalty, penalty_l1_ratio
from regtune.policy import SearchSpace, initial_design, propose_gradient, propose_refinement
from regtune.select import Point, mean_se
from regtune.storage import is_rdb, quiet_storage_threads, storage_failure, worker_id

if TYPE_CHECKING:
    import numpy as np
    import optuna

    from regtune.config import TuneConfig
    from regtune.cv import Evaluator
    from regtune.data import Dataset
    from regtune.models import Family

#: A progress callback: called when the search starts and after each trial as ``progress(done, total,
#: best)`` — trials counted so far, the total the run aims at, the best CV mean (None before one) — and,
#: when it accepts a ``state`` keyword (or ``**kwargs``), also with ``state=`` a :class:`SearchState`.
ProgressFn = Callable[..., None]


@dataclass(frozen=True)
class SearchState:
    """Where a search stands: what a progress display shows (passed as ``state`` to a :data:`ProgressFn`)."""

    #: Counted trials in the study (complete or pruned) and the total the run aims at.
    done: int
    total: int
    #: The best CV mean so far and its configuration (None before a complete trial).
    best: float | None
    best_penalty: str | None
    best_lambda: float | None
    best_l1_ratio: float | None
    #: Counted trials the study held when the run started (0 for a new study).
    stored: int
    #: Seconds since the search started, and the duration of each trial this run finished.
    elapsed_s: float
    trial_seconds: tuple[float, ...]
    study_name: str
    resumed: bool
    #: The scorer's name (the best CV mean is its value), and the run's time limit.
    scoring: str | None = None
    timeout: float | None = None
    #: "start" (the study is open, no trial run yet) or "trial" (a trial has just finished).
    event: str = "trial"

    @property
    def remaining_s(self) -> float | None:
        """The time the rest should take: remaining trials × the median time of this run's trials, or less
        when the time limit comes first (None before this run has finished a trial)."""
        import statistics

        if not self.trial_seconds:
            return None
        estimate = max(0, self.total - self.done) * statistics.median(self.trial_seconds)
        if self.timeout is not None:
            estimate = min(estimate, max(0.0, self.timeout - self.elapsed_s))
        return estimate


def _notifier(progress: ProgressFn | None) -> Callable[[SearchState], None]:
    """Call ``progress`` with a state: ``(done, total, best)``, and ``state=`` when it accepts it."""
    import inspect

    if progress is None:
        return lambda state: None
    try:
        params = list(inspect.signature(progress).parameters.values())
    except (TypeError, ValueError):  # a builtin without a signature: the three positional arguments
        params = []
    takes_state = any(p.name == "state" or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)

    def notify(state: SearchState) -> None:
        if takes_state:
            progress(state.done, state.total, state.best, state=state)
        else:
            progress(state.done, state.total, state.best)

    return notify


def make_fold_pruner(min_folds: int = 2, margin_se: float = 2.0) -> Any:
    """A pruner for K-fold CV: stop a trial that is clearly worse than its own penalty's best, fold by fold.

    After ``min_folds`` folds, a trial is pruned when it scores below the best complete trial *of the same
    penalty* on every fold seen so far (paired: the same folds) and by more than ``margin_se`` of that
    trial's CV SE on average. Such a trial can be neither that penalty's optimum nor λ.1se (which lies
    within one SE of the best); and a penalty is never judged by another's trials, so each one reaches its
    own optimum (the first trial of a penalty is never pruned). Optuna's WilcoxonPruner cannot prune before
    fold 4 of 5 (its smallest one-sided p-value with three pairs is 0.125); this rule usually decides after
    two folds.
    """
    import optuna
    from optuna.trial import TrialState

    class FoldPruner(optuna.pruners.BasePruner):
        def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
            seen = trial.intermediate_values
            if len(seen) < min_folds:
                return False
            penalty = trial.params.get("penalty")
            own = [
                t
                for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                if t.params.get("penalty") == penalty and t.value is not None and math.isfinite(t.value)
            ]
            if not own:
                return False
            best = max(own, key=lambda t: float(t.value))  # type: ignore[arg-type]
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
        """Whether ``n_trials`` trials come before this one: counted, running or waiting, with a lower number.

        Numbers order the trials the same way for every worker. A waiting trial (a retry, a proposal) got
        its number when it was queued and will run: it is counted too, or a fresh trial created while it
        waited and the waiting one popped after it would both run (one trial over the budget). A trial
        already marked surplus is not counted: it will not run.
        """
        from optuna.trial import TrialState

        if self.n_trials is None:
            return False
        states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING, TrialState.FAIL)
        before = sum(
            1
            for t in trial.study.get_trials(deepcopy=False, states=states)
            if t.number < trial.number
            and not t.user_attrs.get("surplus")
            and (t.state != TrialState.FAIL or _counts_as_done(t))
        )
        return before >= self.n_trials

    def __call__(self, trial: optuna.Trial) -> float:
        trial.set_user_attr("worker", worker_id())
        if self._surplus(trial):
            trial.set_user_attr("surplus", True)
            return math.nan
        kind = str(trial.suggest_categorical("penalty", list(self.space.penalties)))
        lo, hi = self.space.ranges[kind]
        lam = trial.suggest_float(f"lambda_{kind}", lo, hi, log=True)
        ratio = None
        if kind == "elasticnet":  # the mix as glmnet's alpha; the estimator's l1_ratio kept beside it
            ratio = self.space.ratio(trial.suggest_float("mixing", *self.space.l1_ratio_range))
            trial.set_user_attr("l1_ratio", ratio)
        penalty = Penalty.of(kind, lam, ratio)

        def report(score: float, fold: int) -> bool:
            # Called between the fold fits, where a signal stops at once: the write itself is protected
            # (a journal lock cut in its release was an OSError, not an interruption).
            with protected():
                trial.report(score, fold)
                prune = trial.should_prune()
            return prune

        prunable = trial.user_attrs.get("phase") not in ("refine", "gradient")
        try:
            with interruptible():  # a signal stops the fits, not a storage write
                ev = self.evaluator.evaluate(penalty, report if prunable else None)
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
        if not math.isfinite(mean):
            trial.set_user_attr("error", "the CV score is not a finite number")
            return math.nan
        return mean


def _l1_ratio(trial: optuna.trial.FrozenTrial) -> float | None:
    """The estimator's l1_ratio of an elastic-net trial (kept beside its ``mixing`` parameter)."""
    value = trial.user_attrs.get("l1_ratio", trial.params.get("l1_ratio"))
    return None if value is None else float(value)


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
        if penalty == "elasticnet" and "l1_ratio" not in t.user_attrs and "l1_ratio" not in t.params:
            continue  # stopped before its mix was drawn
        attrs = t.user_attrs
        points.append(
            Point(
                trial=t.number,
                penalty=penalty,
                lam=float(t.params[f"lambda_{penalty}"]),
                l1_ratio=float(attrs.get("l1_ratio", t.params.get("l1_ratio", penalty_l1_ratio(penalty, 0.5)))),
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


@dataclass
class SearchOutcome:
    study: optuna.Study
    points: list[Point]
    interrupted: bool = False
    created: bool = True
    #: True when a gradient search (``search="gradient"``) stopped before the budget: nothing left to propose.
    converged: bool = False
    #: Trials of the curve the study held when the run started, and those this run added (other workers'
    #: trials are neither); the counted trials the run aimed at.
    stored: int = 0
    new: int = 0
    budget: int = 0


COUNTED = ("COMPLETE", "PRUNED")
#: The run stops with an error when the first this many trials of every penalty failed the same way.
FAIL_FAST_TRIALS = 3


def _counts_as_done(t: optuna.trial.FrozenTrial) -> bool:
    """Whether a finished trial counts toward the budget: complete, pruned, or failed by its own fits
    (an ``error`` attribute). A trial failed because its worker died does not: it is run again."""
    if t.user_attrs.get("surplus"):
        return False
    return t.state.name in COUNTED or (t.state.name == "FAIL" and "error" in t.user_attrs)


def _counts(study: optuna.Study) -> tuple[list[optuna.trial.FrozenTrial], int, int]:
    """(finished trials that count, running, waiting); surplus trials and those of dead workers do not
    count, failed ones do (so a run whose every trial fails still ends)."""
    counted: list[optuna.trial.FrozenTrial] = []
    running = waiting = 0
    for t in study.get_trials(deepcopy=False):
        if t.user_attrs.get("surplus"):
            continue
        name = t.state.name
        if _counts_as_done(t):
            counted.append(t)
        running += name == "RUNNING"
        waiting += name == "WAITING"
    return counted, running, waiting


def common_failure(trials: list[optuna.trial.FrozenTrial], penalties: tuple[str, ...]) -> str | None:
    """The error that the first :data:`FAIL_FAST_TRIALS` trials of every penalty failed with, when
    no trial succeeded and they all failed the same way (a run that cannot succeed); else None."""
    first: dict[str, list[optuna.trial.FrozenTrial]] = {p: [] for p in penalties}
    for t in sorted(trials, key=lambda t: t.number):
        if t.state.name in COUNTED:
            return None
        kind = t.params.get("penalty")
        if kind in first and len(first[kind]) < FAIL_FAST_TRIALS:
            first[kind].append(t)
    if any(len(group) < FAIL_FAST_TRIALS for group in first.values()):
        return None
    reasons = {str(t.user_attrs.get("error")) for group in first.values() for t in group}
    return reasons.pop() if len(reasons) == 1 else None


#: Seconds a running trial may go without naming its worker before it is taken as abandoned (a client
#: that asked for a trial and died; regtune names the worker as the trial's first write).
STRAY_TRIAL_GRACE_S = 20.0


def _process_alive(pid: int, since: datetime | None) -> bool:
    """Whether process ``pid`` of this host is alive and is the one that started a trial at ``since``
    (not a later process that was given the same id)."""
    import os

    if pid == os.getpid():
        return False  # this process runs no trial while it looks for dead workers
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    started = _process_start(pid)
    return started is None or since is None or started <= since.timestamp() + 1.0


def _process_start(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch; Linux /proc), or None when unknown."""
    import os

    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            ticks = int(handle.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/stat", encoding="ascii") as handle:
            boot = next(int(line.split()[1]) for line in handle if line.startswith("btime "))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def recover_dead_workers(study: optuna.Study, *, local: bool = True) -> int:
    """Fail the running trials of dead workers and queue them again. Returns how many were re-queued.

    RDB storages detect dead workers with heartbeats; a journal file is local (``local``), so a trial
    whose recorded worker process no longer exists on this host is known to be dead. In every storage,
    a trial that has run for :data:`STRAY_TRIAL_GRACE_S` without naming a worker was abandoned (a
    client that asked for it and died, or a stop before its first write): waiting for it would wedge
    every later run.
    """
    from optuna.trial import TrialState

    host = worker_id().rsplit(":", 1)[0]
    requeued = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = str(t.user_attrs.get("worker", ""))
        if not worker:
            age = (datetime.now() - t.datetime_start).total_seconds() if t.datetime_start else 0.0
            if age < STRAY_TRIAL_GRACE_S:
                continue
            reason = "no worker ever ran it"
        else:
            if not local or not worker.startswith(host + ":"):
                continue
            try:
                pid = int(worker.rsplit(":", 1)[1])
            except ValueError:
                continue
            if _process_alive(pid, t.datetime_start):
                continue
            reason = f"worker {worker} died"
        try:
            # One write only: a journal record that touches a finished trial is refused on replay.
            study.tell(t.number, state=TrialState.FAIL)
        except Exception:  # another worker failed it first and re-queues it
            continue
        study.enqueue_trial(t.params, user_attrs={"retry_of": t.number, "retry_reason": reason})
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


def study_identity(
    dataset: Dataset,
    config: TuneConfig,
    scoring: str,
    family: Family,
    splits: list[tuple[np.ndarray, np.ndarray]],
    space: SearchSpace,
    n_encoded: int,
) -> dict[str, Any]:
    """What a stored study is about: reusing it with other data or settings is refused.

    The model family is part of it (``model``, and for ``sgd`` / ``mlp`` also ``model_settings``:
    estimator, layers, early stopping, max_iter, tol).
    """
    import hashlib

    import numpy as np

    from regtune import __version__
    from regtune.models._base import with_weights

    folds = hashlib.sha256()
    for _, test in splits:
        folds.update(test.astype("int64").tobytes())
        folds.update(b"|")
    identity = {
        "source": dataset.source,
        "data_hash": dataset.fingerprint(),
        "shape": [dataset.n_rows, dataset.n_features],
        "columns": [str(c) for c in dataset.X.columns],
        "target": dataset.target,
        "task": dataset.task,
        "scoring": scoring,
        "folds": config.folds,
        "repeats": config.repeats,
        "seed": config.seed,
        "groups": config.groups,
        "fold_column": config.fold_column,
        "fold_assignment": folds.hexdigest()[:16],
        "penalties": list(config.penalties),
        "lambda_ranges": {p: [float(f"{lo:.10g}"), float(f"{hi:.10g}")] for p, (lo, hi) in space.ranges.items()},
        "model": family.name,
        "regtune_version": __version__,
        "n_columns_encoded": n_encoded,
        "rows_dropped": dataset.rows_dropped,
        "n_classes": dataset.n_classes,
        "target_variance": _target_variance(dataset),
        # regtune 0.2: the elastic net's mix is searched as glmnet's alpha ("mixing"), scaled by this.
        "search_space": 2,
        "mixing_scale": space.mixing_scale,
    }
    if dataset.impute != "median":  # another imputation, another study (median studies keep their identity)
        identity["impute"] = dataset.impute
    if config.model != "linear":  # linear studies keep the 0.1 identity, so they still resume
        identity["model_settings"] = family.describe()
    if config.family is not None:  # the distribution, its offset and null deviance (for the deviance explained)
        identity["family"] = config.family
        null = family.null_deviance(scoring, dataset.y, dataset.offset, **with_weights(dataset.weights))
        if null is not None:
            identity["null_deviance"] = null
    if dataset.offset_column is not None:
        identity["offset"] = {"column": dataset.offset_column, "kind": dataset.offset_kind}
    if dataset.weights is not None:  # other weights, another study
        digest = hashlib.sha256(np.ascontiguousarray(dataset.weights, dtype=np.float64).tobytes()).hexdigest()
        identity["weights"] = {"column": dataset.weights_column, "sha256": digest[:16]}
    return identity


def _target_variance(dataset: Dataset) -> float | None:
    """The variance of a regression target (weighted by the rows' weights, if any), for R² = 1 − MSE/var."""
    import numpy as np

    if dataset.task != "regression":
        return None
    if dataset.weights is None:
        return float(dataset.y.var())
    return float(np.cov(dataset.y, aweights=dataset.weights, bias=True))


def auto_study_name(identity: dict[str, Any]) -> str:
    """The study name that follows the data and the settings: ``regtune-`` and 12 hex digits of a hash of
    the identity's compared keys (those :func:`check_identity` compares).

    The same data and settings give the same name (the run resumes its study); any difference that would
    make :func:`check_identity` refuse the study gives another name (a new study in the same storage).
    """
    import hashlib

    compared = {key: value for key, value in identity.items() if key not in IDENTITY_INFO_ONLY}
    text = json.dumps(compared, sort_keys=True, separators=(",", ":"), default=str)
    return "regtune-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def resolve_study_name(study_name: str | None, identity: dict[str, Any]) -> str:
    """The study's name: ``study_name`` as given (default ``regtune``), or :func:`auto_study_name` for ``auto``."""
    from regtune.config import AUTO_STUDY_NAME

    if study_name == AUTO_STUDY_NAME:
        return auto_study_name(identity)
    return study_name or "regtune"


def check_identity(study: optuna.Study, identity: dict[str, Any], created: bool) -> None:
    """Record what the study is about, or refuse to mix other data or settings into it."""
    from regtune.errors import ConfigError

    stored = study.user_attrs.get("regtune")
    if stored is None:
        if not created and study.get_trials(deepcopy=False):
            raise ConfigError(f"study {study.study_name!r} was not made by regtune: use another {named('study_name')}")
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
            + f": use another {named('study_name')}, or the same data and settings"
        )


#: Identity keys shown for information but not compared (a worker may read the data from another path).
IDENTITY_INFO_ONLY = (
    "source",
    "regtune_version",
    "n_columns_encoded",
    "rows_dropped",
    "n_classes",
    "target_variance",
)


def _short(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= 40 else text[:37] + "..."


def run_search(
    evaluator: Evaluator,
    space: SearchSpace,
    *,
    n_trials: int | None = None,
    seed: int,
    timeout: float | None = None,
    progress: ProgressFn | None = None,
    prune: bool = True,
    storage: str | None = None,
    study_name: str | None = None,
    identity: dict[str, Any] | None = None,
    search: str = "tpe",
    add_trials: int | None = None,
    scoring: str | None = None,
) -> SearchOutcome:
    """Run the search until the study holds its budget of counted trials (or, with ``search`` "hybrid" or
    "gradient", until the gradient and refine phases have nothing left to propose).

    The budget is ``n_trials``, the total the study should reach (default 60), or the trials the study holds
    when the run starts plus ``add_trials`` (:func:`regtune.config.trial_budget`). With ``n_trials``, a
    resumed study (the same command run again on a persistent ``storage``) only runs what is missing, and
    several processes running the same command on one storage share the work. A trial counts when it
    completes or is pruned; a trial started when the total was already reached is marked surplus and
    dropped. ``progress`` is told where the search stands when it starts and after each trial
    (:data:`ProgressFn`, :class:`SearchState`).
    """
    import optuna

    from regtune.config import trial_budget

    study, created = open_study(storage, study_name, seed, prune)
    if identity is not None:
        check_identity(study, identity, created)
    start = time.monotonic()
    stored = {p.trial for p in points_from_trials(study.get_trials(deepcopy=False))}
    n_trials = trial_budget(len(_counts(study)[0]), n_trials, add_trials)
    objective = Objective(evaluator, space, n_trials=n_trials)
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
    notify = _notifier(progress)
    seconds: list[float] = []
    first = _counts(study)[0]

    def state(finished: list[optuna.trial.FrozenTrial], event: str) -> SearchState:
        scored = [
            t
            for t in finished
            if t.value is not None
            and math.isfinite(t.value)
            and f"lambda_{t.params.get('penalty')}" in t.params  # a damaged journal can lose a parameter
        ]
        best = max(scored, key=lambda t: t.value or 0.0) if scored else None
        penalty = str(best.params["penalty"]) if best is not None else None
        return SearchState(
            done=min(len(finished), n_trials),
            total=n_trials,
            best=best.value if best is not None else None,
            best_penalty=penalty,
            best_lambda=float(best.params[f"lambda_{penalty}"]) if best is not None else None,
            best_l1_ratio=_l1_ratio(best) if best is not None and penalty == "elasticnet" else None,
            stored=len(first),
            elapsed_s=time.monotonic() - start,
            trial_seconds=tuple(seconds),
            study_name=study.study_name,
            resumed=not created,
            scoring=scoring,
            timeout=timeout,
            event=event,
        )

    def done_cb(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if trial.datetime_start is not None and trial.datetime_complete is not None:
            seconds.append((trial.datetime_complete - trial.datetime_start).total_seconds())
        if progress is not None:
            notify(state(_counts(study)[0], "trial"))

    def out_of_time() -> bool:
        return timeout is not None and time.monotonic() - start >= timeout

    interrupted = converged = False
    try:
        with handled(), protected(), warnings.catch_warnings(), quiet_storage_threads():
            warnings.simplefilter("ignore", UserWarning)  # refine points outside the original range
            notify(state(first, "start"))
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # fail_stale_trials
            while not out_of_time():
                check_interrupt()
                if storage is not None:
                    recover_dead_workers(study, local=not rdb)
                counted, running, waiting = _counts(study)
                failure = common_failure(counted, space.penalties)
                if failure is not None:
                    raise DataError(
                        f"every trial fails: the first {FAIL_FAST_TRIALS} of each penalty stopped with {failure}:"
                        " check the data and the settings"
                    )
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
                    points = points_from_trials(study.get_trials(deepcopy=False))
                    phase = "gradient"
                    proposal = propose_gradient(points, space) if gradient else None
                    if proposal is None:
                        phase = "refine"
                        proposal = propose_refinement(points, space)
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
    except RegtuneError:
        raise
    except Exception as exc:  # a database locked or gone mid-run: one line, the trials done are kept
        lost = storage_failure(exc)
        if lost is None:
            raise
        raise lost from None
    with handled():
        try:
            with protected():
                trials = study.get_trials(deepcopy=False)
                points = points_from_trials(trials)
        except KeyboardInterrupt:  # a signal while reading the curve: kept until it was read
            interrupted = True
    me = worker_id()
    mine = {t.number for t in trials if t.user_attrs.get("worker") == me}
    new = sum(p.trial in mine and p.trial not in stored for p in points)
    return SearchOutcome(study, points, interrupted, created, converged, len(stored), new, n_trials)


def _summaries(backend: Any) -> list[optuna.study.StudySummary]:
    """The studies of an opened storage; a database without Optuna's tables is a StorageError."""
    import optuna
    import sqlalchemy.exc

    from regtune.storage import StorageError

    try:
        return optuna.get_all_study_summaries(backend, include_best_trial=False)
    except (sqlalchemy.exc.SQLAlchemyError, optuna.exceptions.StorageInternalError) as exc:
        cause: BaseException = exc.__cause__ or exc
        detail = str(getattr(cause, "orig", None) or cause).strip().splitlines()
        raise StorageError(
            f"cannot read the studies ({detail[0] if detail else type(exc).__name__}): is it a study storage"
            " written by regtune? check the URL"
        ) from None


def load_stored(storage: str, study_name: str | None) -> tuple[optuna.Study, dict[str, Any]]:
    """An existing regtune study and what it is about, or a StorageError that says what to do."""
    import optuna

    from regtune.config import AUTO_STUDY_NAME
    from regtune.storage import StorageError, mask_url, open_storage

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    backend = open_storage(storage, create=False)
    names = [s.study_name for s in _summaries(backend)]
    name = study_name or ("regtune" if "regtune" in names or len(names) != 1 else names[0])
    if name not in names:
        listed = ", ".join(names[:8]) if names else "none"
        if name == AUTO_STUDY_NAME:
            raise StorageError(
                f"{named('study_name')} auto is derived from the data, which is not read here (studies in"
                f" {mask_url(storage)}: {listed}): give the study's name, see `regtune studies`"
            )
        raise StorageError(
            f"no study {name!r} in {mask_url(storage)} (studies: {listed}): give {named('study_name')},"
            " see `regtune studies`"
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
    backend = open_storage(storage, create=False)
    rows = []
    for summary in _summaries(backend):
        study = optuna.load_study(study_name=summary.study_name, storage=backend)
        points = points_from_trials(study.get_trials(deepcopy=False))
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
