"""``regtune datasets``: the datasets bundled with scikit-learn."""

from __future__ import annotations

import typer

from regtune.cli._common import stdout_console


def register(app: typer.Typer) -> None:
    app.command()(datasets)


def datasets() -> None:
    """List the datasets bundled with scikit-learn that `regtune tune builtin:NAME` can use."""
    from regtune.data import list_builtins
    from regtune.report.table import datasets_table

    stdout_console().print(datasets_table(list_builtins()))
