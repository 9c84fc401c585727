"""regtune: choose how strongly to regularize a model, by cross-validation over λ and the penalty.

Public API: :func:`tune`, :class:`TuneResult`, :class:`TuneConfig`, and the scikit-learn estimators
:class:`RegTuneRegressor` and :class:`RegTuneClassifier`. Heavy libraries load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["RegTuneClassifier", "RegTuneRegressor", "TuneConfig", "TuneResult", "__version__", "tune"]

if TYPE_CHECKING:
    __version__: str
    from regtune.api import tune
    from regtune.config import TuneConfig
    from regtune.estimator import RegTuneClassifier, RegTuneRegressor
    from regtune.result import TuneResult


def __getattr__(name: str) -> Any:
    if name == "__version__":  # read on first use: importlib.metadata costs 25 ms of every start
        from importlib.metadata import PackageNotFoundError, version

        global __version__
        try:
            __version__ = version("regtune")
        except PackageNotFoundError:  # pragma: no cover - a source tree that was never installed
            __version__ = "0.0.0+unknown"
        return __version__
    if name == "tune":
        from regtune.api import tune

        return tune
    if name == "TuneConfig":
        from regtune.config import TuneConfig

        return TuneConfig
    if name == "TuneResult":
        from regtune.result import TuneResult

        return TuneResult
    if name in ("RegTuneRegressor", "RegTuneClassifier"):
        from regtune import estimator

        return getattr(estimator, name)
    raise AttributeError(f"module 'regtune' has no attribute {name!r}")
