"""``--coef N``: the N largest coefficients of the refit model, under the table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from regtune.report._output import Output, OutputContext, output_setting

if TYPE_CHECKING:
    from rich.console import RenderableType

    from regtune.result import TuneResult


def coef_table(result: TuneResult, n: int) -> RenderableType:
    """The intercept, then the ``n`` largest coefficients (by magnitude, standardized) of the refit model,
    with their values on the original scale of each column (the table's number format, :func:`fmt_num`)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from regtune.report.table import fmt_num

    top = sorted(result.coefficients, key=lambda c: abs(c[1]), reverse=True)[:n]
    original = dict(result.original.coefficients)
    table = Table(
        title=f"top {len(top)} of {len(result.coefficients)} coefficients",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        padding=(0, 1, 0, 0),
        header_style="bold",
    )
    table.add_column("feature", overflow="fold")
    table.add_column("standardized", justify="right", no_wrap=True)
    table.add_column("original scale", justify="right", no_wrap=True)
    for name, b, b0 in result.original.intercepts:
        table.add_row(Text(name), fmt_num(b), fmt_num(b0))
    for name, value in top:
        table.add_row(Text(name), fmt_num(value), fmt_num(original.get(name, value)))
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
