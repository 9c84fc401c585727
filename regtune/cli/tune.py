"""``regtune tune``: flags → TuneConfig → :func:`regtune.tune` → the output formats."""

from __future__ import annotations

import inspect
import signal
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from regtune.cli._common import (
    DEBUG,
    command,
    command_line,
    convert,
    errors,
    from_config_file,
    keep_freed_memory,
    option,
    stdout_console,
)
from regtune.errors import EXIT_GATE, EXIT_INTERRUPTED
from regtune.settings import OTHER, STORAGE, Setting

if TYPE_CHECKING:
    from regtune.config import TuneConfig
    from regtune.result import TuneResult

#: Settings of the command line itself (a settings file may set them too).
FAIL_UNDER = Setting(
    name="fail_under",
    type=float | None,
    help="Exit 3 (after printing the result) when the chosen CV score is below this (greater is better: a"
    " loss is negative, so --fail-under -3000 fails when the MSE is above 3000).",
    panel=STORAGE,
    metavar="SCORE",
)
CONFIG = Setting(
    name="config_file",
    type=str | None,
    flag="--config",
    help="Settings file (TOML; keys are the flag names). Default: regtune.toml, or [tool.regtune] in"
    " pyproject.toml, in the working directory. Flags and REGTUNE_* variables override it.",
    panel=OTHER,
    metavar="PATH",
)
QUIET = Setting(
    name="quiet",
    type=bool,
    default=False,
    short="-q",
    help="No progress on stderr (the bar in a terminal, the lines in a CI log); the study line, notes and"
    " errors still show.",
    panel=OTHER,
)
VERBOSE = Setting(
    name="verbose",
    type=bool,
    default=False,
    short="-v",
    help="Also print the raw numbers behind the words under the table (the hypergradient at λ.min).",
    panel=OTHER,
)
CLI_SETTINGS = (FAIL_UNDER, QUIET, VERBOSE, CONFIG)

HELP = "Cross-validate penalty × λ on a table and report the chosen penalty."
EXAMPLES = """Examples:

  regtune tune builtin:diabetes

  regtune tune data.csv --target price --json result.json

  regtune tune builtin:diabetes --model mlp --hidden 64,32

  cat data.csv | regtune tune - -y price --json - > result.json"""

SOURCE_HELP = (
    "The table: a CSV or TSV file (also .gz, .zst), Parquet or Feather, recognised by its content; several"
    ' files or a quoted glob ("parts/*.csv") with the same columns; - for standard input; or builtin:NAME'
    " (see `regtune datasets`)."
)


def _declarations() -> tuple[list[Setting], list[Setting], list[Setting]]:
    """(the run's settings, the models' settings, the output formats' options) offered by ``tune``."""
    from regtune.config import TuneConfig
    from regtune.models import model_settings
    from regtune.report import output_settings

    run = [d for d in TuneConfig.declarations() if d.cli]
    return run, list(model_settings()), list(output_settings("tune"))


def register(app: typer.Typer) -> None:
    run, models, outs = _declarations()
    source = inspect.Parameter(
        "source",
        inspect.Parameter.KEYWORD_ONLY,
        annotation=Annotated[list[str], typer.Argument(help=SOURCE_HELP)],
    )
    params = [source, *(option(d) for d in (*run, *models, *outs, FAIL_UNDER, QUIET, VERBOSE, CONFIG, DEBUG))]
    command(app, "tune", tune, params, help=HELP, epilog=EXAMPLES)


def tune(ctx: typer.Context, **values: Any) -> None:
    from regtune.report import OutputContext, check_outputs, emit

    run, models, outs = _declarations()
    sources: list[str] = list(values.pop("source"))
    source: str | list[str] = sources[0] if len(sources) == 1 else sources
    result = None
    gate = None
    with errors(values["debug"]):
        values = from_config_file(
            ctx, values["config_file"], (*run, *models, *outs, FAIL_UNDER, QUIET, VERBOSE), values
        )
        chosen = {o.name: convert(o, values[o.name]) for o in outs}
        config = _config(ctx, run, models, values)
        check_outputs(chosen, inputs=(*_inputs(sources), config.storage or ""))
        with _sigterm_as_interrupt():
            result = _run(source, config, quiet=values["quiet"])
        gate = _gate(result, values["fail_under"])
        console = stdout_console()
        context = OutputContext(chosen, gate=gate, command=command_line(ctx), verbose=values["verbose"])
        for part in emit(result, chosen, context):
            console.print(part)
    if result is not None and result.interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)
    if gate is not None and gate.startswith("failed"):
        typer.echo(f"Error: quality gate {gate}", err=True)
        raise typer.Exit(EXIT_GATE)


def _config(ctx: typer.Context, run: list[Setting], models: list[Setting], values: dict[str, Any]) -> TuneConfig:
    """The TuneConfig of the flags (and settings file); a model setting counts when it was given."""
    from typer._click.core import ParameterSource

    from regtune.config import TuneConfig

    settings = {d.name: convert(d, values[d.name]) for d in run}
    given = {
        d.name: convert(d, values[d.name])
        for d in models
        if values[d.name] is not None
        and (ctx.get_parameter_source(d.name) is not ParameterSource.DEFAULT or values[d.name] != d.default)
    }
    return TuneConfig.of(**settings, **given)


def _inputs(sources: list[str]) -> list[str]:
    """The files the sources name (globs expanded), so that no output overwrites one; as given if a
    pattern matches nothing (the run then says so)."""
    from regtune.errors import DataError
    from regtune.tables import expand_sources

    try:
        return expand_sources(sources)
    except DataError:
        return sources


def _run(source: str | list[str], config: TuneConfig, quiet: bool = False) -> TuneResult:
    """Run the library's tune() with its progress on stderr (a bar in a terminal, plain lines elsewhere)."""
    keep_freed_memory()
    from rich.console import Console

    from regtune.api import tune as run_tune
    from regtune.report.progress import progress_display
    from regtune.storage import mask_url

    storage = mask_url(config.storage) if config.storage else None
    with progress_display(Console(stderr=True), storage, quiet) as progress:
        return run_tune(source, config, progress=progress)


def _gate(result: TuneResult, fail_under: float | None) -> str | None:
    """The quality-gate verdict as text ("passed: …" / "failed: …"), None without --fail-under."""
    if fail_under is None:
        return None
    mean = result.chosen.point.mean
    verdict = "passed" if mean >= fail_under else "failed"
    sign = "≥" if verdict == "passed" else "<"
    return f"{verdict}: CV mean {mean:.6g} {sign} --fail-under {fail_under:g}"


def _sigterm_as_interrupt() -> AbstractContextManager[None]:
    """SIGTERM (a CI timeout) stops the run like Ctrl-C: the running trial is abandoned, the rest kept
    (never in the middle of a storage write: :mod:`regtune.interrupts`)."""
    from regtune.interrupts import handled

    return handled((signal.SIGINT, signal.SIGTERM))
