"""regtune: choose how strongly to regularize a model, by cross-validation over λ and the penalty.

Public API: :func:`tune`, :class:`TuneResult`, :class:`TuneConfig`. Heavy libraries load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["TuneConfig", "TuneResult", "__version__", "tune"]

if TYPE_CHECKING:
    from regtune.api import tune
    from regtune.config import TuneConfig
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
    raise AttributeError(f"module 'regtune' has no attribute {name!r}")
