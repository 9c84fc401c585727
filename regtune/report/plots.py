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
    """Vertical lines at λ.min (dotted) and λ.1se (dashed), named in the legend with their values, so that
    no label sits on the points (one line when they coincide)."""
    from regtune.report.table import fmt_num

    if lam_min is not None and lam_min == lam_1se:
        ax.axvline(lam_min, linestyle=":", color="0.25", linewidth=1.1, label=f"λ.min = λ.1se = {fmt_num(lam_min)}")
        return
    if lam_min is not None:
        ax.axvline(lam_min, linestyle=":", color="0.25", linewidth=1.1, label=f"λ.min = {fmt_num(lam_min)}")
    if lam_1se is not None:
        ax.axvline(lam_1se, linestyle="--", color="0.45", linewidth=1.0, label=f"λ.1se = {fmt_num(lam_1se)}")


def _score_axis(ax: Any, scoring: str) -> None:
    """The y axis in the score's own terms: a loss positive and by its name (``CV MSE``, lower is better),
    the numbers as the table writes them (no offset such as ``1e6`` above the axis)."""
    from matplotlib.ticker import FuncFormatter

    from regtune.report.table import fmt_num, score_label

    better = "lower is better" if scoring.startswith("neg_") else "higher is better"
    ax.set_ylabel(f"CV {score_label(scoring)} ({better})")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: fmt_num(y)))


def _rug(ax: Any, lambdas: list[float], label: str) -> None:
    """Trials without a comparable score (pruned after a few folds) as ticks along the bottom of the axes:
    where they were tried, off the score's scale."""
    if lambdas:
        ax.plot(
            lambdas,
            [0.0] * len(lambdas),
            linestyle="none",
            marker="|",
            ms=10,
            mew=1.5,
            color=STYLE["pruned"]["color"],
            transform=ax.get_xaxis_transform(),
            clip_on=False,
            label=label,
        )


def draw_cv_curve(ax: Any, curve: PenaltyCurve, scoring: str) -> None:
    """One penalty's CV curve on ``ax``, as ``cv.glmnet``'s plot: mean ± SE of the complete trials against
    log λ (a loss as itself, lower is better), λ.min and λ.1se marked, non-zero counts on a top axis. Pruned
    trials are a rug along the bottom (their mean covers only the folds they ran: off the scale); when the
    points differ in l1_ratio, their colour says it, with a colour bar."""
    from matplotlib.ticker import NullLocator

    if not curve.trials:
        ax.set_title(curve.penalty, fontsize=10)
        _note(ax, f"no trial of {curve.penalty}")
        return
    sign = -1.0 if scoring.startswith("neg_") else 1.0
    mixed = len({r for r, k in zip(curve.l1_ratios, curve.kinds, strict=True) if k != "failed"}) > 1
    for which in ("complete", "unconverged"):
        idx = [i for i, k in enumerate(curve.kinds) if k == which]
        if not idx:
            continue
        style = STYLE[which]
        lams = [curve.lambdas[i] for i in idx]
        means = [sign * curve.means[i] for i in idx]
        ses = [0.0 if not math.isfinite(curve.ses[i]) else curve.ses[i] for i in idx]
        label = f"{style['label']} ({len(idx)})"
        ax.errorbar(lams, means, yerr=ses, fmt="none", ecolor="0.6", capsize=2, zorder=1)
        if mixed:
            points = ax.scatter(
                lams,
                means,
                c=[curve.l1_ratios[i] for i in idx],
                cmap="viridis",
                vmin=0.0,
                vmax=1.0,
                s=22,
                marker="o",
                edgecolors="0.2" if which == "complete" else "tab:orange",
                linewidths=0.5 if which == "complete" else 1.2,
                zorder=2,
                label=label,
            )
        else:
            ax.plot(
                lams,
                means,
                linestyle="none",
                marker="o",
                ms=4.5,
                color=style["color"],
                mfc=style.get("mfc", style["color"]),
                zorder=2,
                label=label,
            )
    if mixed:
        bar = ax.figure.colorbar(points, ax=ax, pad=0.01, fraction=0.05)
        bar.set_label("l1_ratio (1: lasso, 0: ridge)", fontsize=8)
        bar.ax.tick_params(labelsize=7)
    pruned = [curve.lambdas[i] for i, k in enumerate(curve.kinds) if k == "pruned"]
    _rug(ax, pruned, f"pruned, at their λ ({len(pruned)})")
    failed = curve.count("failed")
    if failed:
        ax.plot([], [], linestyle="none", label=f"failed, not drawn ({failed})")
    _mark_lambdas(ax, curve.lambda_min, curve.lambda_1se)
    ax.set_xscale("log")
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("λ (log scale)")
    _score_axis(ax, scoring)
    ticks = curve.nonzero_ticks()
    if ticks:
        top = ax.secondary_xaxis("top")
        top.set_xticks([lam for lam, _ in ticks], labels=[str(n) for _, n in ticks])
        top.xaxis.set_minor_locator(NullLocator())  # no log minor-tick labels among the counts
        top.tick_params(labelsize=8)
        top.set_xlabel("non-zero coefficients (fold mean)", fontsize=8)
    chosen = " (chosen)" if curve.chosen else ""
    ax.set_title(f"{curve.penalty}{chosen}", fontsize=10)
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
    """Each complete trial's CV score by trial number and the best so far; pruned trials as a rug along the
    bottom (off the score's scale), failed ones counted in the legend."""
    sign = -1.0 if scoring.startswith("neg_") else 1.0
    for which in ("complete", "unconverged"):
        style = STYLE[which]
        idx = [i for i, k in enumerate(history.kinds) if k == which]
        if idx:
            ax.plot(
                [history.trials[i] for i in idx],
                [sign * history.means[i] for i in idx],
                linestyle="none",
                marker=style["marker"],
                color=style["color"],
                mfc=style.get("mfc", style["color"]),
                ms=4,
                label=f"{which} ({len(idx)})",
            )
    pruned = [float(t) for t, k in zip(history.trials, history.kinds, strict=True) if k == "pruned"]
    _rug(ax, pruned, f"pruned ({len(pruned)})")
    failed = history.kinds.count("failed")
    if failed:
        ax.plot([], [], linestyle="none", label=f"failed, not drawn ({failed})")
    best = [sign * b for b in history.best_so_far]
    ax.step(history.trials, best, where="post", color="tab:blue", label="best so far")
    ax.set_xlabel("trial")
    _score_axis(ax, scoring)
    ax.set_title("search history", fontsize=10)
    ax.legend(fontsize=7, loc="best")


def _save(fig: Any, fmt: str, dpi: int = 100) -> bytes:
    buffer = io.BytesIO()
    metadata = {"Date": None} if fmt == "svg" else None
    fig.savefig(buffer, format=fmt, dpi=dpi, metadata=metadata)
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


#: The pictures of the HTML report are drawn at the size they are shown (inches × 96 CSS px) and saved at
#: twice that resolution: their text is as large as the page's small print, and sharp on any screen.
PANEL_DPI = 192
PANEL_SIZES = {"cv": (4.4, 3.5), "path": (5.8, 4.2), "history": (5.8, 4.2)}


def render_panels(
    curves: list[PenaltyCurve], history: SearchHistory, path: CoefPath | None, *, scoring: str
) -> dict[str, bytes]:
    """The pictures one by one as PNG (for the HTML report): ``cv_<penalty>`` for each penalty's CV curve,
    ``path`` (when given), ``history``; each at the size the report shows it (:data:`PANEL_SIZES`)."""
    from matplotlib.figure import Figure

    panels: dict[str, bytes] = {}
    for curve in curves:
        fig = Figure(figsize=PANEL_SIZES["cv"], layout=LAYOUT)
        draw_cv_curve(fig.add_subplot(), curve, scoring)
        panels[f"cv_{curve.penalty}"] = _save(fig, "png", PANEL_DPI)
    if path is not None:
        fig = Figure(figsize=PANEL_SIZES["path"], layout=LAYOUT)
        draw_path(fig.add_subplot(), path)
        panels["path"] = _save(fig, "png", PANEL_DPI)
    fig = Figure(figsize=PANEL_SIZES["history"], layout=LAYOUT)
    draw_history(fig.add_subplot(), history, scoring)
    panels["history"] = _save(fig, "png", PANEL_DPI)
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
