"""``regtune studies``: the studies in a storage."""

from __future__ import annotations

from typing import Annotated

import typer

from regtune.cli._common import errors, stdout_console


def register(app: typer.Typer) -> None:
    app.command()(studies)


def studies(
    storage: Annotated[str, typer.Option(envvar="REGTUNE_STORAGE", help="Where the studies are kept.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    debug: Annotated[bool, typer.Option(help="Show a traceback on errors.")] = False,
) -> None:
    """List the studies in a storage with their trial counts and best CV means."""
    import json

    from regtune.api import studies as list_all
    from regtune.report.table import studies_table
    from regtune.storage import mask_url

    with errors(debug):
        rows = list_all(storage)
    if json_out:
        typer.echo(json.dumps(rows, indent=2))
        return
    stdout_console().print(studies_table(rows, mask_url(storage)))
