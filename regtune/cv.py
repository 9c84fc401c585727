"""Cross-validated evaluation of one (penalty, λ, l1_ratio): fold by fold, on the cached folds."""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import closing, nullcontext, suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from regtune.errors import ConfigError, RegtuneError, named

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    import numpy as np

    from regtune.folds import Fold
    from regtune.models import Family, FitOutcome, Penalty
    from regtune.models._base import Jacobian

    #: ((d coef, d intercept) / d log λ, (d coef, d intercept) / d l1_ratio or None) of a fold's solution.
    Tangent = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray] | None]
    #: A fit's start: (coef, intercept).
    Start = tuple[np.ndarray, np.ndarray]

REGRESSION_MODULE = "sklearn.metrics._regression"
CLASSIFICATION_MODULES = ("sklearn.metrics._classification", "sklearn.metrics._ranking")
#: As cv.glmnet and LassoCV: mean squared error for regression (fold-averaged R² is unstable on small
#: folds and breaks the 1-SE rule there), log-loss for classification.
DEFAULT_SCORING = {"regression": "neg_mean_squared_error", "classification": "neg_log_loss"}


def resolve_scorer(name: str | None, task: str, family: Family | None = None) -> tuple[str, Any]:
    """The scorer for ``name`` (default: the family's, else per task), checked to fit the task; a scorer the
    family computes itself (its deviance) comes from the family. The scorers regtune computes itself
    (the family's, :class:`FastScorer`'s) do not import scikit-learn's metrics."""
    name = name or (family.default_scoring if family is not None else "") or DEFAULT_SCORING[task]
    own = family.scorer(name) if family is not None else None
    if own is not None:
        return name, own
    if FastScorer.TASKS.get(name) == task:
        return name, FastScorer(name)
    from sklearn.metrics import get_scorer, get_scorer_names

    if name not in get_scorer_names():
        import difflib

        # Suggest only scorers of this task (never a clustering metric for a regression).
        fitting = [n for n in get_scorer_names() if _fits(get_scorer(n), task)]
        close = difflib.get_close_matches(name, fitting, n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}?" if close else f"e.g. {DEFAULT_SCORING[task]}"
        raise ConfigError(f"unknown scorer {name!r}: use a scikit-learn scorer name for {task} ({hint})")
    scorer = get_scorer(name)
    if not _fits(scorer, task):
        kind = "classification" if task == "regression" else "regression"
        raise ConfigError(
            f"scorer {name!r} does not fit a {task} task (it is a {kind} or clustering metric):"
            f" use e.g. {DEFAULT_SCORING[task]}"
        )
    return name, scorer


def _fits(scorer: Any, task: str) -> bool:
    """Whether a scikit-learn scorer measures ``task`` (by the module of its metric)."""
    module = getattr(getattr(scorer, "_score_func", None), "__module__", "")
    return module == REGRESSION_MODULE if task == "regression" else module in CLASSIFICATION_MODULES


class FastScorer:
    """The value of a common scikit-learn scorer, computed directly with NumPy.

    scikit-learn's scorers validate their inputs on every call (≈3–11 ms here, more than many fold
    fits). These compute the same numbers (tested against the scorers to 1e-12) for ``r2``,
    ``neg_mean_squared_error`` (least squares' :class:`~regtune.models.least_squares.SquaredError`),
    ``neg_log_loss`` and ``accuracy``; anything unusual (a label the model has not seen) falls back to the
    scikit-learn scorer.
    """

    #: The scorers computed here, and the task each measures.
    TASKS: ClassVar[dict[str, str]] = {
        "r2": "regression",
        "neg_mean_squared_error": "regression",
        "neg_log_loss": "classification",
        "accuracy": "classification",
    }

    def __init__(self, name: str) -> None:
        self.name = name

    def fallback(self, model: Any, X: Any, y: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
        """scikit-learn's own scorer (imported only when needed)."""
        from sklearn.metrics import get_scorer

        return apply_scorer(get_scorer(self.name), model, X, y, sample_weight)

    def __call__(self, model: Any, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
        import numpy as np

        if self.TASKS[self.name] == "regression":  # the squared error of least squares' own scorer
            from regtune.models.least_squares import SquaredError

            return SquaredError(self.name)(model, X, y, sample_weight)
        w = np.ones(len(y)) if sample_weight is None else sample_weight
        total_w = float(w.sum())
        classes = model.classes_
        idx = np.searchsorted(classes, y)
        if np.any(idx >= len(classes)) or np.any(classes[np.minimum(idx, len(classes) - 1)] != y):
            return self.fallback(model, X, y, sample_weight)
        if self.name == "accuracy":
            return float(w @ (model.predict(X) == y)) / total_w
        proba = model.predict_proba(X)
        eps = np.finfo(proba.dtype).eps
        picked = np.clip(proba[np.arange(len(y)), idx], eps, 1 - eps)
        return float(w @ np.log(picked)) / total_w


def apply_scorer(scorer: Any, model: Any, X: Any, y: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
    """``scorer(model, X, y)``: with ``sample_weight``, the weighted mean of the rows' losses (as cv.glmnet
    scores a fold; every scikit-learn scorer and regtune's own take ``sample_weight``)."""
    if sample_weight is None:
        return float(scorer(model, X, y))
    return float(scorer(model, X, y, sample_weight=sample_weight))


@dataclass
class Evaluation:
    """Fold scores of one configuration, and how its fits went."""

    fold_scores: list[float]
    converged: bool
    n_nonzero: float
    n_unconverged: int
    #: False when ``report`` stopped the evaluation early (a pruned trial): fewer fold scores.
    complete: bool = True
    #: Mean over folds of d score / d log λ (of the evaluator's ``hyper`` quantity); None if not computed.
    d_log_lambda: float | None = None
    #: Mean over folds of d score / d l1_ratio (elastic net only).
    d_l1_ratio: float | None = None


@dataclass
class FoldResult:
    """What one fold's fit returns: its score and its solution (kept for warm starts)."""

    score: float
    converged: bool
    n_nonzero: int
    coef: np.ndarray
    intercept: np.ndarray
    #: (d score / d log λ, d score / d l1_ratio or None), or None when not computed or not defined.
    grad: tuple[float, float | None] | None = None
    #: How the solution moves: ((d coef, d intercept) / d log λ, the same / d l1_ratio or None), when the
    #: hypergradient computed it and the family predicts its warm starts (``Family.warm_predictor``).
    tangent: Tangent | None = None

    @classmethod
    def of(
        cls,
        outcome: FitOutcome,
        score: float,
        grad: tuple[float, float | None] | None = None,
        tangent: Tangent | None = None,
    ) -> FoldResult:
        """A fold's result from its fit's outcome (a score that is not finite is NaN)."""
        finite = score if math.isfinite(score) else math.nan
        return cls(finite, outcome.converged, outcome.n_nonzero, outcome.coef, outcome.intercept, grad, tangent)


def fold_hypergradient(
    family: Family, fold: Fold, outcome: FitOutcome, quantity: str, penalty: Penalty, jac: Jacobian | None = None
) -> tuple[float, float | None] | None:
    """d (fold test score) / d log λ and / d l1_ratio at the fold's solution ``outcome`` (from ``jac``, the
    family's Jacobian there, when the caller has it)."""
    if jac is None:
        jac = family.jacobian(fold, outcome, penalty)
    if jac is None:
        return None
    g_lam = family.score_derivative(quantity, fold, outcome, *jac.d_log_lambda)
    if g_lam is None or not math.isfinite(g_lam):
        return None
    g_r = None
    if jac.d_l1_ratio is not None:
        g_r = family.score_derivative(quantity, fold, outcome, *jac.d_l1_ratio)
        if g_r is None or not math.isfinite(g_r):
            return None
    return g_lam, g_r


def fit_and_score(
    family: Family,
    fold: Fold,
    scorer: Any,
    penalty: Penalty,
    tol: float,
    warm: tuple[np.ndarray, np.ndarray] | None,
    hyper: str | None = None,
) -> FoldResult:
    import warnings

    with warnings.catch_warnings():
        # A fit on hostile numbers warns on every trial (overflow, invalid value): the trial's outcome says
        # what happened; the families record convergence themselves.
        warnings.simplefilter("ignore")
        outcome = family.fit_fold(fold, penalty, tol, warm)
        score = apply_scorer(scorer, family.scoring_model(outcome, fold), fold.X_test, fold.y_test, fold.weight_test)
        grad = None
        tangent = None
        if hyper is not None:
            try:
                jac = family.jacobian(fold, outcome, penalty)
                grad = fold_hypergradient(family, fold, outcome, hyper, penalty, jac)
            except (ValueError, ArithmeticError):  # LinAlgError too: the trial stands, without a derivative
                jac, grad = None, None
            if jac is not None and grad is not None and family.warm_predictor:
                tangent = (jac.d_log_lambda, jac.d_l1_ratio)
    return FoldResult.of(outcome, score, grad, tangent)


class WarmStarts:
    """Solutions already computed, per (fold, penalty): a new fit starts from the nearest one.

    With ``predict`` (and the solution's tangent known), the start is that solution moved to the new
    (λ, l1_ratio) to first order — a coefficient the step would carry across zero stays at zero — when
    the distance is at most PREDICT_LOG_LAMBDA in log λ and PREDICT_L1_RATIO in l1_ratio: on digits
    (multinomial elastic net) a warm-started fit then starts about ten times closer to its optimum.
    """

    PREDICT_LOG_LAMBDA = 1.0
    PREDICT_L1_RATIO = 0.25

    def __init__(self) -> None:
        self._store: dict[tuple[int, str], list[tuple[float, float, np.ndarray, np.ndarray, Tangent | None]]] = {}

    def nearest(self, fold: int, penalty: Penalty, predict: bool = False) -> tuple[np.ndarray, np.ndarray] | None:
        entries = self._store.get((fold, penalty.kind))
        if not entries:
            return None
        target = math.log(penalty.lam)
        best = min(entries, key=lambda e: abs(e[0] - target) + 4.0 * abs(e[1] - penalty.l1_ratio))
        d_log, d_r = target - best[0], penalty.l1_ratio - best[1]
        tangent = best[4]
        if (
            not predict
            or tangent is None
            or abs(d_log) > self.PREDICT_LOG_LAMBDA
            or abs(d_r) > self.PREDICT_L1_RATIO
            or (d_r != 0 and tangent[1] is None)
        ):
            return best[2], best[3]
        import numpy as np

        coef = best[2] + d_log * tangent[0][0]
        intercept = best[3] + d_log * tangent[0][1]
        if d_r != 0 and tangent[1] is not None:
            coef = coef + d_r * tangent[1][0]
            intercept = intercept + d_r * tangent[1][1]
        coef[np.sign(coef) != np.sign(best[2])] = 0.0
        return coef, intercept

    def remember(self, fold: int, penalty: Penalty, result: FoldResult) -> None:
        entry = (math.log(penalty.lam), penalty.l1_ratio, result.coef, result.intercept, result.tangent)
        self._store.setdefault((fold, penalty.kind), []).append(entry)


class Evaluator:
    """Scores configurations on fixed, preprocessed folds with one family and one scorer.

    With ``n_jobs`` > 1 the folds of a configuration are fitted by that many worker processes (forked
    after the fold caches are built, so each holds the folds and their caches without copying); a worker
    takes the next fold as soon as it is free (:meth:`FoldPool.stream`). Scores are still reported in
    fold order, a fold's start comes from its own earlier solutions, and a pruned trial's fits still
    running are discarded, so the trials, their fold scores and the pruning decisions are the same as
    with ``n_jobs`` = 1, to rounding (on digits a worker's fold score differed from the main process's in
    the last bit).
    """

    def __init__(
        self,
        folds: list[Fold],
        family: Family,
        scorer: Any,
        tol: float,
        n_jobs: int = 1,
        hyper: str | None = None,
    ) -> None:
        self.folds = folds
        self.family = family
        self.scorer = scorer
        self.tol = tol
        #: The quantity whose hypergradient each complete evaluation carries (``Family.hyper_quantity``).
        self.hyper = hyper
        self.fits = 0
        self.warm = WarmStarts()
        self.n_jobs = max(1, min(n_jobs, len(folds)))
        self._pool: FoldPool | None = None

    def __enter__(self) -> Evaluator:
        if self.n_jobs > 1:
            for fold in self.folds:
                self.family.prepare_fold(fold)
            self._pool = FoldPool(self, self.n_jobs)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def start_for(self, penalty: Penalty) -> Start | None:
        """A start for a fit of every row at ``penalty``: the mean over the folds of each fold's start there
        (its nearest solution, moved along its tangent when the family predicts), or None when a fold has
        none or the family's fit is not the optimum of a convex objective, the same from any start (only
        the families with a hypergradient are: SGD's epochs, even warm-started, and a network's training
        start where they start). The folds' columns are the whole table's unless a level of
        a category is missing from a fold's training rows; then the shapes differ and a caller that checks
        them starts cold. (On digits the two refits took 0.13 s from it, 0.44 s from zero, to the same
        optimality conditions: their coefficients equal to 4e-6.)"""
        import numpy as np

        if not (self.family.warm_starts and self.family.has_jacobian):
            return None
        starts = [self.warm.nearest(f.index, penalty, self.family.warm_predictor) for f in self.folds]
        known = [s for s in starts if s is not None]
        if not known or len(known) < len(starts) or len({(s[0].shape, s[1].shape) for s in known}) > 1:
            return None
        return np.mean([s[0] for s in known], axis=0), np.mean([s[1] for s in known], axis=0)

    def evaluate(self, penalty: Penalty, report: Callable[[float, int], bool] | None = None) -> Evaluation:
        """Fit and score every fold; ``report(score, fold)`` is called after each fold and stops the
        evaluation when it returns True (pruning).

        A fit that raises propagates (ValueError, ArithmeticError or RuntimeError); a score that is not
        finite is returned as NaN.
        """
        scores: list[float] = []
        grads: list[tuple[float, float | None] | None] = []
        unconverged = 0
        nonzero = 0
        together = getattr(self.family, "fit_folds_together", None)
        warm = self.family.warm_starts
        predict = self.family.warm_predictor
        # Each fold starts from its own earlier solutions only, so every start is known before any fit.
        tasks = [(f.index, penalty, self.warm.nearest(f.index, penalty, predict) if warm else None) for f in self.folds]
        results: Iterable[FoldResult]
        if together is not None:
            # A family that fits every fold at once (the Dask engine's logistic regression: one pass over the
            # rows per Newton step of all the folds) gets them in one batch.
            results = together(self.folds, penalty, self.tol, [t[2] for t in tasks], self.scorer, self.hyper)
        elif self._pool is not None:
            results = self._pool.stream(tasks)
        else:
            results = (
                fit_and_score(self.family, f, self.scorer, penalty, self.tol, t[2], self.hyper)
                for f, t in zip(self.folds, tasks, strict=True)
            )
        ordered = iter(results)
        with closing(ordered) if isinstance(ordered, Generator) else nullcontext():
            # closed early (a pruned trial): the pool waits for the fits still running and drops them
            for fold, result in zip(self.folds, ordered, strict=False):
                self.fits += 1
                if warm:
                    self.warm.remember(fold.index, penalty, result)
                unconverged += not result.converged
                nonzero += result.n_nonzero
                scores.append(result.score)
                grads.append(result.grad)
                if report is not None and report(result.score, fold.index) and len(scores) < len(self.folds):
                    return Evaluation(scores, unconverged == 0, nonzero / len(scores), unconverged, complete=False)
        evaluation = Evaluation(scores, unconverged == 0, nonzero / len(self.folds), unconverged)
        if grads and all(g is not None for g in grads):
            known = [g for g in grads if g is not None]
            evaluation.d_log_lambda = math.fsum(g[0] for g in known) / len(known)
            r_parts = [g[1] for g in known if g[1] is not None]
            if len(r_parts) == len(known):
                evaluation.d_l1_ratio = math.fsum(r_parts) / len(r_parts)
        return evaluation


def _die_with_parent(parent: int) -> None:
    """Have the kernel kill this process when its parent dies (Linux ``PR_SET_PDEATHSIG``), so that a
    parent killed with SIGKILL leaves no fold worker behind; elsewhere the worker sees its pipe close."""
    import ctypes
    import os
    import signal
    import sys

    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before the call above took effect
        os._exit(1)


def _worker(conn: Connection, evaluator: Evaluator, parent: int) -> None:
    """A fold worker: fit and score the folds it is sent until told to stop (None) or its parent is gone."""
    import os
    import signal

    from threadpoolctl import threadpool_limits

    _die_with_parent(parent)
    # One BLAS thread per worker: the limit below holds for the libraries loaded now, the variables for
    # those loaded later (SciPy's OpenBLAS is its own library, loaded with scipy.linalg).
    os.environ.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the parent's handler (it would print a traceback)
    with threadpool_limits(limits=1):
        while True:
            try:
                task = conn.recv()
            except (EOFError, OSError):  # the parent closed the pipe or died
                break
            if task is None:
                break
            index, penalty, warm = task
            try:
                result: Any = fit_and_score(
                    evaluator.family,
                    evaluator.folds[index],
                    evaluator.scorer,
                    penalty,
                    evaluator.tol,
                    warm,
                    evaluator.hyper,
                )
            except (ValueError, ArithmeticError, RuntimeError) as exc:
                result = exc
            conn.send(result)
    conn.close()


class WorkerLost(RegtuneError):
    """A fold worker process died in the middle of a trial."""


class FoldPool:
    """``n`` forked processes, one pipe each; a fold goes to the first free worker.

    The workers die with the parent (:func:`_die_with_parent`); a worker that dies is reported by
    name (:class:`WorkerLost`), or as an interruption when a signal to the whole process group (Ctrl-C,
    SIGTERM) stopped it.
    """

    def __init__(self, evaluator: Evaluator, n: int) -> None:
        import multiprocessing
        import os

        ctx = multiprocessing.get_context("fork")
        self.conns = []
        self.procs = []
        for _ in range(n):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_worker, args=(child, evaluator, os.getpid()), daemon=True)
            proc.start()
            child.close()
            self.conns.append(parent)
            self.procs.append(proc)

    def stream(self, tasks: list[tuple[Any, ...]]) -> Iterator[FoldResult]:
        """The results of ``tasks``, in their order; each worker takes the next task as soon as it is free
        (no round waits for its slowest fold: on digits at ``-j 2`` the rounds' waits were 7 % of the pool's
        time, on churn 9 %). A fit that raised is raised in its place. Closed early (a pruned trial),
        or on a fit's error, it waits for the tasks still running and drops their results, so that every
        pipe is empty for the next trial."""
        from multiprocessing.connection import wait

        queue = list(enumerate(tasks))
        running: dict[int, int] = {}  # worker → position of its task
        done: dict[int, Any] = {}
        lost = False

        def send(worker: int) -> None:
            position, task = queue.pop(0)
            try:
                self.conns[worker].send(task)
            except OSError:
                raise self._lost(worker) from None
            running[worker] = position

        try:
            for worker in range(len(self.conns)):
                if queue:
                    send(worker)
            for position in range(len(tasks)):
                while position not in done:
                    for conn in wait([self.conns[w] for w in running]):
                        worker = self.conns.index(conn)  # type: ignore[arg-type]
                        try:
                            done[running.pop(worker)] = self.conns[worker].recv()
                        except (EOFError, OSError):
                            raise self._lost(worker) from None
                        if queue:
                            send(worker)
                result = done.pop(position)
                if isinstance(result, BaseException):
                    raise result
                yield result
        except (WorkerLost, KeyboardInterrupt):
            lost = True  # the run ends: nothing to keep in step
            raise
        finally:
            if not lost:
                for worker in list(running):
                    # a worker lost now is found by the next trial's first send or receive
                    with suppress(EOFError, OSError):
                        self.conns[worker].recv()

    def _lost(self, worker: int) -> BaseException:
        import signal

        proc = self.procs[worker]
        proc.join(timeout=1.0)
        code = proc.exitcode
        if code is not None and -code in (signal.SIGINT, signal.SIGTERM):
            return KeyboardInterrupt()  # the whole group was stopped: an interruption, not a failure
        if code is not None and code < 0:
            how = f"was killed by {signal.Signals(-code).name}" + (" (out of memory?)" if -code == 9 else "")
        else:
            how = f"exited with code {code}" if code is not None else "stopped answering"
        return WorkerLost(
            f"fold worker {worker + 1} (pid {proc.pid}) {how} in the middle of a trial: the trials already"
            f" completed are kept; run again, with fewer {named('n_jobs')} if memory is short"
        )

    def close(self) -> None:
        for conn in self.conns:
            try:
                conn.send(None)
                conn.close()
            except OSError:
                pass
        for proc in self.procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
