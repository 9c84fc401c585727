"""The predictions of ``regtune predict`` as CSV."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


def predictions_csv(frame: pd.DataFrame) -> str:
    """Predictions as CSV; floats are written in full (shortest round-trip form), so reading them back
    gives the predicted values exactly."""
    text: str = frame.to_csv(index=False, lineterminator="\n")
    return text
