"""``--coef N``: the N largest coefficients of the refit model, under the table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from regtune.report._output import Output, OutputContext, output_setting

if TYPE_CHECKING:
    from rich.console import RenderableType

    from regtune.result import TuneResult


def coef_table(result: TuneResult, n: int) -> RenderableType:
    """The ``n`` largest coefficients (by magnitude, standardized) of the refit model, with their values on
    the original scale of each column, and the intercept."""
    from rich.table import Table

    top = sorted(result.coefficients, key=lambda c: abs(c[1]), reverse=True)[:n]
    original = dict(result.original.coefficients)
    table = Table(
        title=f"top {len(top)} of {len(result.coefficients)} coefficients",
        title_justify="left",
    )
    table.add_column("feature")
    table.add_column("coefficient", justify="right")
    table.add_column("original scale", justify="right")
    for name, value in top:
        table.add_row(name, f"{value:+.4g}", f"{original.get(name, value):+.4g}")
    for name, b, b0 in result.original.intercepts:
        table.add_row(name, f"{b:+.4g}", f"{b0:+.4g}")
    return table


class Coefficients(Output):
    setting = output_setting(
        "coef", "Also show the N largest coefficients of the refit model.", type=int, default=0, metavar="N"
    )
    kind = "console"
    commands = ("tune",)
    place = "body"
    order = 70

    def render(self, result: TuneResult, value: Any, context: OutputContext) -> list[RenderableType]:
        return [coef_table(result, int(value))]


OUTPUT = Coefficients()
