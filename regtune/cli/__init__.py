"""The ``regtune`` command line: one module per command, each a thin wrapper over one library call.

No numerics here. Errors regtune raises on purpose become one ``Error: …`` line on stderr and the
exit code of :mod:`regtune.errors`; ``--debug`` shows the traceback instead. The options of ``tune``
and ``show`` are built from the settings' declarations (:mod:`regtune.settings`): TuneConfig's, the
model families' and the output formats'.
"""

from __future__ import annotations

from typing import Annotated

import typer

import regtune
from regtune.cli import datasets, predict, show, studies, tune

app = typer.Typer(
    name="regtune",
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"regtune {regtune.__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version_callback, is_eager=True, help="Show the version and exit."),
    ] = False,
) -> None:
    """Choose how strongly to regularize a model: K-fold CV over λ and the penalty (L1, L2, elastic net).

    Exit codes: 0 done, 1 error (bad data or settings), 2 usage error, 3 quality gate failed,
    130 interrupted.
    """


for _module in (datasets, tune, show, studies, predict):
    _module.register(app)


def run() -> None:
    """Console-script entry point.

    A command imports hundreds of modules (NumPy, pandas, Optuna, …) that allocate millions of objects
    that live until exit; with the default thresholds the cyclic garbage collector walks them again and
    again while they load (0.3–0.4 s of a 2.6 s run on a small machine). A process that runs one command
    collects less often instead; the library (``import regtune``) leaves the collector as it is.
    """
    import gc

    gc.set_threshold(50_000, 20, 100)
    app()
