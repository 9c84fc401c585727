"""A text sketch of a CV curve for the terminal and CI logs: plain ASCII, no colour codes.

::

    CV curve of l1 (chosen): mean r2 by λ (log scale)      m λ.min   s λ.1se
                   m     s
      0.4902 |  *  *** *  :
             |         :  :
      0.4650 |         :  *
             +------------------
              0.0076          5.8

Complete trials are ``*``, trials whose fits did not converge ``o``; pruned and failed trials are left
out and counted below the sketch.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from regtune.report._output import Output, OutputContext, output_setting

if TYPE_CHECKING:
    from rich.console import RenderableType

    from regtune.curves import PenaltyCurve
    from regtune.result import TuneResult

WIDTH = 60
HEIGHT = 12
MARKS = {"complete": "*", "unconverged": "o"}


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def sketch_curve(curve: PenaltyCurve, scoring: str, width: int = WIDTH, height: int = HEIGHT) -> str:
    """The curve's complete trials as a ``width`` × ``height`` character plot (log λ across, mean up),
    with columns marked ``m`` (λ.min) and ``s`` (λ.1se)."""
    shown = [i for i, k in enumerate(curve.kinds) if k in MARKS]
    chosen = " (chosen)" if curve.chosen else ""
    head = f"CV curve of {curve.penalty}{chosen}: mean {scoring} by λ (log scale)   m λ.min   s λ.1se"
    left_out = [f"{curve.count(k)} {k}" for k in ("pruned", "failed") if curve.count(k)]
    foot = f"  ({', '.join(left_out)} not drawn)" if left_out else ""
    if not shown:
        return f"{head}\n  no complete trial to draw{foot}\n"
    lams = [curve.lambdas[i] for i in shown]
    means = [curve.means[i] for i in shown]
    marks = [(lam, ch) for lam, ch in ((curve.lambda_min, "m"), (curve.lambda_1se, "s")) if lam is not None]
    x_lo = math.log10(min(lams + [lam for lam, _ in marks]))
    x_hi = math.log10(max(lams + [lam for lam, _ in marks]))
    y_lo, y_hi = min(means), max(means)

    def col(lam: float) -> int:
        return 0 if x_hi == x_lo else round((math.log10(lam) - x_lo) / (x_hi - x_lo) * (width - 1))

    def row(mean: float) -> int:
        return 0 if y_hi == y_lo else round((y_hi - mean) / (y_hi - y_lo) * (height - 1))

    grid = [[" "] * width for _ in range(height)]
    top = [" "] * width
    for lam, ch in marks:
        c = col(lam)
        top[c] = "m" if top[c] == "m" else ch
        for r in range(height):
            grid[r][c] = ":"
    for i, lam, mean in zip(shown, lams, means, strict=True):
        grid[row(mean)][col(lam)] = MARKS[curve.kinds[i]]
    label_w = max(len(_fmt(y_hi)), len(_fmt(y_lo)))
    lines = [head, " " * (label_w + 3) + "".join(top).rstrip()]
    for r, cells in enumerate(grid):
        label = _fmt(y_hi) if r == 0 else _fmt(y_lo) if r == height - 1 else ""
        lines.append(f"{label:>{label_w}} | {''.join(cells).rstrip()}")
    lines.append(" " * (label_w + 1) + "+-" + "-" * width)
    lo_text, hi_text = _fmt(10**x_lo), _fmt(10**x_hi)
    lines.append(" " * (label_w + 3) + lo_text + " " * max(1, width - len(lo_text) - len(hi_text)) + hi_text)
    if foot:
        lines.append(foot)
    return "\n".join(lines) + "\n"


class CurveSketch(Output):
    """``--curve``: the sketch under the table (not with ``--json -``: standard output is data then)."""

    setting = output_setting(
        "curve",
        "Print a text sketch of the chosen penalty's CV curve under the table.",
        type=bool,
        default=False,
        metavar=None,
    )
    kind = "console"
    pictures = True
    order = 80

    def render(self, result: TuneResult, value: Any, context: OutputContext) -> list[RenderableType]:
        from rich.text import Text

        from regtune.pictures import curve_sketch

        text = curve_sketch(result, context.pictures(result)).rstrip("\n")
        return [Text(text, no_wrap=True, overflow="ignore")]


OUTPUT = CurveSketch()
