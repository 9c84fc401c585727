"""``regtune show``: the result of a stored study, without running trials."""

from __future__ import annotations

import inspect
from typing import Annotated, Any

import typer

from regtune.cli._common import DEBUG, command, command_line, convert, errors, option, stdout_console
from regtune.settings import STORAGE, Setting

HELP = (
    "Print the table of a stored study without running trials (no refit model: non-zero counts are the fold"
    " means, and the pictures have no coefficient path)."
)


def _declarations() -> tuple[list[Setting], list[Setting]]:
    from regtune.config import TuneConfig
    from regtune.report import output_settings

    own = {d.name: d for d in TuneConfig.declarations()}
    storage = Setting(
        name="storage",
        type=str,
        help="Where the study is kept (as for tune).",
        panel=STORAGE,
        envvar="REGTUNE_STORAGE",
        metavar="PATH|URL",
    )
    study_name = Setting(
        name="study_name",
        type=str | None,
        help="The study (default: regtune, or the only one).",
        panel=STORAGE,
        envvar="REGTUNE_STUDY_NAME",
        metavar="NAME",
    )
    return [storage, study_name, own["rule"]], list(output_settings("show"))


def register(app: typer.Typer) -> None:
    mine, outs = _declarations()
    storage = mine[0]
    required = inspect.Parameter(
        "storage",
        inspect.Parameter.KEYWORD_ONLY,
        annotation=Annotated[
            str,
            typer.Option(
                "--storage", help=storage.help, rich_help_panel=storage.panel, envvar=storage.envvar, metavar="PATH|URL"
            ),
        ],
    )
    from regtune.cli.tune import VERBOSE

    params = [required, *(option(d) for d in (*mine[1:], *outs, VERBOSE, DEBUG))]
    command(app, "show", show, params, help=HELP)


def show(ctx: typer.Context, **values: Any) -> None:
    from regtune.api import show as show_study
    from regtune.report import OutputContext, check_outputs, emit

    _, outs = _declarations()
    with errors(values["debug"]):
        chosen = {o.name: convert(o, values[o.name]) for o in outs}
        check_outputs(chosen, inputs=(values["storage"],))
        result = show_study(values["storage"], values["study_name"], rule=values["rule"])
        console = stdout_console()
        context = OutputContext(chosen, command=command_line(ctx), verbose=values["verbose"])
        for part in emit(result, chosen, context):
            console.print(part)
