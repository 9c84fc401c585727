"""Pictures of a result (matplotlib, no display needed): CV curves, coefficient path, search history.

They draw the data of :mod:`regtune.curves` and :mod:`regtune.coefpath`; nothing is computed here. Figures
are built with ``matplotlib.figure.Figure`` (no pyplot, no global backend state) and saved as PNG or SVG.
The output format ``--plot`` writes them all into one file.
"""

from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING, Any, Final

from regtune.report._output import Output, OutputContext, output_setting

if TYPE_CHECKING:
    from regtune.coefpath import CoefPath
    from regtune.curves import PenaltyCurve, SearchHistory
    from regtune.result import TuneResult

FORMATS = ("png", "svg")
LAYOUT: Final = "constrained"
#: How each kind of trial is drawn on a CV curve (failed trials have no score and are not drawn).
STYLE = {
    "complete": {"marker": "o", "color": "tab:red", "label": "CV mean ± 1 SE"},
    "unconverged": {"marker": "o", "color": "tab:orange", "label": "fits did not converge", "mfc": "none"},
    "pruned": {"marker": "x", "color": "0.6", "label": "pruned (mean of the folds run)"},
}
#: Lines of more than this many coefficients are drawn, but only the largest are named in the legend.
PATH_LEGEND = 10


def _mark_lambdas(ax: Any, lam_min: float | None, lam_1se: float | None) -> None:
    """Dotted vertical lines at λ.min and λ.1se, labelled at the top (one label when they coincide)."""
    marks = [(lam_min, "λ.min"), (lam_1se, "λ.1se")]
    if lam_min is not None and lam_min == lam_1se:
        marks = [(lam_min, "λ.min = λ.1se")]
    for lam, name in marks:
        if lam is not None:
            ax.axvline(lam, linestyle=":", color="0.3", linewidth=1)
            ax.annotate(
                name,
                (lam, 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(2, -12),
                textcoords="offset points",
                fontsize=7,
                color="0.3",
            )


def draw_cv_curve(ax: Any, curve: PenaltyCurve, scoring: str) -> None:
    """One penalty's CV curve on ``ax``, as ``cv.glmnet``'s plot: mean ± SE against log λ, dotted lines at
    λ.min and λ.1se, non-zero counts on a top axis."""
    from matplotlib.ticker import NullLocator

    if not curve.trials:
        ax.set_title(curve.penalty, fontsize=10)
        _note(ax, f"no trial of {curve.penalty}")
        return
    for which, style in STYLE.items():
        idx = [i for i, k in enumerate(curve.kinds) if k == which]
        if not idx:
            continue
        lams = [curve.lambdas[i] for i in idx]
        means = [curve.means[i] for i in idx]
        ses = [0.0 if not math.isfinite(curve.ses[i]) else curve.ses[i] for i in idx]
        label = f"{style['label']} ({len(idx)})"
        if which == "complete":
            ax.errorbar(
                lams, means, yerr=ses, fmt="o", color=style["color"], ecolor="0.55", ms=4, capsize=2, label=label
            )
        else:
            ax.plot(
                lams,
                means,
                linestyle="none",
                marker=style["marker"],
                color=style["color"],
                mfc=style.get("mfc", style["color"]),
                ms=5,
                label=label,
            )
    failed = curve.count("failed")
    if failed:
        ax.plot([], [], linestyle="none", label=f"failed, not drawn ({failed})")
    _mark_lambdas(ax, curve.lambda_min, curve.lambda_1se)
    ax.set_xscale("log")
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("λ (log scale)")
    ax.set_ylabel(f"CV {scoring}")
    ticks = curve.nonzero_ticks()
    if ticks:
        top = ax.secondary_xaxis("top")
        top.set_xticks([lam for lam, _ in ticks], labels=[str(n) for _, n in ticks])
        top.xaxis.set_minor_locator(NullLocator())  # no log minor-tick labels among the counts
        top.tick_params(labelsize=7)
        top.set_xlabel("non-zero coefficients", fontsize=8)
    chosen = " (chosen)" if curve.chosen else ""
    ax.set_title(f"{curve.penalty}{chosen}", fontsize=10)
    if curve.penalty == "elasticnet":
        ax.text(0.01, 0.01, "l1_ratio varies by trial", transform=ax.transAxes, fontsize=7, color="0.4")
    ax.legend(fontsize=7, loc="best")


def draw_path(ax: Any, path: CoefPath) -> None:
    """The coefficients of the refit model over λ (one line each), dotted lines at the chosen λ's."""
    from matplotlib.ticker import NullLocator

    order = sorted(range(len(path.names)), key=lambda j: -abs(path.coefs[-1, j]))
    named = set(order[:PATH_LEGEND])
    for j in range(len(path.names)):
        ax.plot(path.lambdas, path.coefs[:, j], linewidth=1, label=path.names[j] if j in named else None)
    _mark_lambdas(ax, path.lambda_min, path.lambda_1se)
    ax.axhline(0.0, color="0.8", linewidth=0.8)
    ax.set_xscale("log")
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("λ (log scale)")
    ax.set_ylabel("coefficient (standardized features)")
    ratio = f", l1_ratio={path.l1_ratio:.3g}" if path.penalty == "elasticnet" else ""
    ax.set_title(f"coefficient path: {path.penalty}{ratio}", fontsize=10)
    if named:
        extra = len(path.names) - len(named)
        ax.legend(fontsize=6, loc="best", title=f"+{extra} more" if extra > 0 else None, title_fontsize=6)


def draw_history(ax: Any, history: SearchHistory, scoring: str) -> None:
    """Each trial's CV mean by trial number (pruned and failed trials marked) and the best so far."""
    for which, style in STYLE.items():
        idx = [i for i, k in enumerate(history.kinds) if k == which]
        if idx:
            ax.plot(
                [history.trials[i] for i in idx],
                [history.means[i] for i in idx],
                linestyle="none",
                marker=style["marker"],
                color=style["color"],
                mfc=style.get("mfc", style["color"]),
                ms=4,
                label=f"{which} ({len(idx)})",
            )
    failed = history.kinds.count("failed")
    if failed:
        ax.plot([], [], linestyle="none", label=f"failed, not drawn ({failed})")
    ax.step(history.trials, history.best_so_far, where="post", color="tab:blue", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel(f"CV {scoring}")
    ax.set_title("search history", fontsize=10)
    ax.legend(fontsize=7, loc="best")


def _save(fig: Any, fmt: str) -> bytes:
    buffer = io.BytesIO()
    metadata = {"Date": None} if fmt == "svg" else None
    fig.savefig(buffer, format=fmt, dpi=100, metadata=metadata)
    return buffer.getvalue()


def _note(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True, fontsize=9, color="0.4", transform=ax.transAxes)
    ax.set_axis_off()


def render_figure(
    curves: list[PenaltyCurve],
    history: SearchHistory,
    path: CoefPath | None,
    *,
    scoring: str,
    title: str,
    fmt: str = "png",
    path_note: str = "coefficient path not computed",
) -> bytes:
    """All pictures in one figure: a CV curve per penalty on top, the coefficient path and the search
    history below. ``fmt`` is ``png`` or ``svg``; returns the file's bytes."""
    from matplotlib.figure import Figure

    cols = max(len(curves), 2)
    fig = Figure(figsize=(4.6 * cols, 8.2), layout=LAYOUT)
    fig.suptitle(title, fontsize=11)
    grid = fig.add_gridspec(2, cols)
    for i, curve in enumerate(curves):
        draw_cv_curve(fig.add_subplot(grid[0, i]), curve, scoring)
    half = cols // 2
    path_ax = fig.add_subplot(grid[1, :half])
    if path is not None:
        draw_path(path_ax, path)
    else:
        _note(path_ax, path_note)
    draw_history(fig.add_subplot(grid[1, half:]), history, scoring)
    return _save(fig, fmt)


def render_panels(
    curves: list[PenaltyCurve], history: SearchHistory, path: CoefPath | None, *, scoring: str
) -> dict[str, bytes]:
    """The pictures one by one as PNG (for the HTML report): ``cv_curves``, ``path`` (when given), ``history``."""
    from matplotlib.figure import Figure

    panels: dict[str, bytes] = {}
    fig = Figure(figsize=(4.6 * len(curves), 4.0), layout=LAYOUT)
    axes = fig.subplots(1, len(curves), squeeze=False)[0]
    for ax, curve in zip(axes, curves, strict=True):
        draw_cv_curve(ax, curve, scoring)
    panels["cv_curves"] = _save(fig, "png")
    if path is not None:
        fig = Figure(figsize=(7.0, 4.2), layout=LAYOUT)
        draw_path(fig.add_subplot(), path)
        panels["path"] = _save(fig, "png")
    fig = Figure(figsize=(7.0, 3.6), layout=LAYOUT)
    draw_history(fig.add_subplot(), history, scoring)
    panels["history"] = _save(fig, "png")
    return panels


class PlotFile(Output):
    """``--plot PATH``: every picture in one PNG or SVG file."""

    setting = output_setting(
        "plot",
        "Draw the CV curve of each penalty, the coefficient path of the chosen one and the search history into"
        " PATH (.png or .svg).",
    )
    stdout = False
    suffixes = (".png", ".svg")
    suffix_help = ".png or .svg"
    pictures = True
    coefficient_path = True
    link = "plots"
    order = 30

    def render(self, result: TuneResult, value: Any, context: OutputContext) -> bytes:
        from pathlib import Path

        from regtune.pictures import figure

        return figure(result, context.pictures(result), Path(str(value)).suffix.lower()[1:])


OUTPUT = PlotFile()
