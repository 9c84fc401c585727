"""regtune: choose how strongly to regularize a model, by cross-validation over λ and the penalty.

Public API: :func:`tune`, :class:`TuneResult`, :class:`TuneConfig`, and the scikit-learn estimators
:class:`RegTuneRegressor` and :class:`RegTuneClassifier`. Heavy libraries load on first use.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("regtune")
except PackageNotFoundError:  # pragma: no cover - running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
__all__ = ["RegTuneClassifier", "RegTuneRegressor", "TuneConfig", "TuneResult", "__version__", "tune"]

if TYPE_CHECKING:
    from regtune.api import tune
    from regtune.config import TuneConfig
    from regtune.estimator import RegTuneClassifier, RegTuneRegressor
    from regtune.result import TuneResult


def __getattr__(name: str) -> Any:
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
