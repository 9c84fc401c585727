"""BLAS on one thread while a solver runs: its products are small (p × p, a working set's Hessian, one pass
over the n × p matrix), and more threads cost more in synchronisation than they save.

Measured on the 2-core machine: ``regtune tune nmes1988.csv --family poisson`` took 6.7–8.2 s of CPU with
two BLAS threads and 2.9–3.1 s with one; ``regtune tune digits.csv`` (multinomial) 64–67 s wall and
107–110 s of CPU with two, 20 s and 21 s with one. Light to import (threadpoolctl is loaded on first use),
so the families' modules, which ``regtune --help`` reads, can use the decorator.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

#: threadpoolctl's controller, and whether SciPy's BLAS was loaded when it was built.
_CONTROLLER: list[Any] = []


def one_blas_thread() -> Any:
    """A context in which BLAS runs on one thread. (threadpoolctl's controller is built once, and again
    once SciPy's linear algebra is loaded: a limit then costs ~10 µs.)

    NumPy and SciPy each bring their own OpenBLAS. A controller knows only the libraries loaded when it
    was built, and SciPy's is loaded with ``scipy.linalg``, often after the first solver call: its
    factorisations then ran on two threads inside the "one-thread" solvers, and with ``--n-jobs 2`` two
    fold workers kept four busy threads on two cores (digits: 32.7 s at ``-j 2`` against 14.3 s at
    ``-j 1``)."""
    scipy_loaded = "scipy.linalg" in sys.modules
    if not _CONTROLLER or _CONTROLLER[1] != scipy_loaded:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER[:] = [ThreadpoolController(), scipy_loaded]
    return _CONTROLLER[0].limit(limits=1, user_api="blas")


def on_one_blas_thread(fn: Callable[P, R]) -> Callable[P, R]:
    """``fn`` run under :func:`one_blas_thread` (a solver, or a hypergradient's Hessian solve)."""

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with one_blas_thread():
            return fn(*args, **kwargs)

    return run
