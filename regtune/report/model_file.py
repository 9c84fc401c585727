"""``--save-model PATH``: the refit pipeline and the result in one model file (:mod:`regtune.modelfile`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from regtune.report._output import Output, OutputContext, output_setting

if TYPE_CHECKING:
    from regtune.result import TuneResult


class ModelFile(Output):
    setting = output_setting(
        "save_model",
        "Save the refit pipeline and the result to PATH (a skops-based file for `regtune predict`).",
    )
    commands = ("tune",)
    stdout = False
    link = "model"
    order = 50

    def example(self) -> str:
        return "model.regtune"

    def render(self, result: TuneResult, value: Any, context: OutputContext) -> bytes:
        from regtune.modelfile import model_bytes

        return model_bytes(result)


OUTPUT = ModelFile()
