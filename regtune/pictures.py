"""Pictures of a result: the data behind them gathered once, then handed to the renderers.

The output formats ``--plot``, ``--report`` and ``--curve`` (:mod:`regtune.report`) call these; so can a
script::

    result = regtune.tune("builtin:diabetes")
    pictures = gather_pictures(result)
    Path("cv.png").write_bytes(figure(result, pictures, "png"))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from regtune.coefpath import CoefPath
    from regtune.curves import PenaltyCurve, SearchHistory
    from regtune.result import TuneResult

#: Why a picture set has no coefficient path: a stored study has no refit model.
NO_PATH_STORED = "coefficient path: not available for a stored study (no refit model; run `regtune tune`)"


@dataclass
class Pictures:
    """The data of every picture of a result: CV curves, search history, coefficient path (or why not)."""

    curves: list[PenaltyCurve]
    history: SearchHistory
    path: CoefPath | None
    path_note: str


def gather_pictures(result: TuneResult, with_path: bool = True) -> Pictures:
    """The curves and history of ``result``, and the coefficient path of its chosen penalty when
    ``with_path`` and the result has a refit model (it costs about 30 fits)."""
    from regtune.curves import cv_curves, search_history

    path = None
    note = "coefficient path: not asked for"
    if with_path and result.refit_context is not None:
        from regtune.coefpath import coefficient_path

        path = coefficient_path(result)
        note = ""
    elif with_path:
        note = NO_PATH_STORED
    return Pictures(cv_curves(result), search_history(result), path, note)


def figure(result: TuneResult, pictures: Pictures, fmt: str) -> bytes:
    """Every picture in one PNG or SVG file (``--plot``)."""
    from regtune.report.plots import render_figure

    d = result.dataset
    return render_figure(
        pictures.curves,
        pictures.history,
        pictures.path,
        scoring=str(result.cv["scoring"]),
        title=f"regtune — {d['source']} → {d['target']} ({d['task']}, {result.family})",
        fmt=fmt,
        path_note=pictures.path_note,
    )


def curve_sketch(result: TuneResult, pictures: Pictures) -> str:
    """The text sketch of the chosen penalty's CV curve (``--curve``)."""
    from regtune.report.sketch import sketch_curve

    chosen = next(c for c in pictures.curves if c.chosen)
    return sketch_curve(chosen, str(result.cv["scoring"]))


def html_report(result: TuneResult, pictures: Pictures, command: str | None = None) -> str:
    """The self-contained HTML report (``--report``): the command line and date, summary, tables, pictures,
    coefficients, warnings."""
    from regtune.report.html import render_html
    from regtune.report.plots import render_panels

    images = render_panels(pictures.curves, pictures.history, pictures.path, scoring=str(result.cv["scoring"]))
    return render_html(result, images, notes=[pictures.path_note] if pictures.path_note else [], command=command)
