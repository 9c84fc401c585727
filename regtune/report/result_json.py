"""``--json PATH|-``: the ``regtune.result/2`` document (DESIGN.md §4)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from regtune.report._output import Output, OutputContext, output_setting

if TYPE_CHECKING:
    from regtune.result import TuneResult


def to_json(result: TuneResult) -> str:
    return json.dumps(result.to_dict(), indent=2, allow_nan=False) + "\n"


class ResultJSON(Output):
    setting = output_setting(
        "json_out",
        "Write the result JSON to PATH, or - for stdout (then stdout is JSON only).",
        flag="--json",
        metavar="PATH|-",
    )
    order = 10

    def render(self, result: TuneResult, value: Any, context: OutputContext) -> str:
        return to_json(result)


OUTPUT = ResultJSON()
