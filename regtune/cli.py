"""The ``regtune`` command line: flags → TuneConfig → one library call → renderers.

No numerics here. Errors regtune raises on purpose become one ``Error: …`` line on stderr and the
exit code of :mod:`regtune.errors`; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from regtune import __version__
from regtune.errors import EXIT_ERROR, EXIT_INTERRUPTED, RegtuneError

if TYPE_CHECKING:
    from rich.console import Console

    from regtune.result import TuneResult

app = typer.Typer(
    name="regtune",
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class TaskChoice(StrEnum):
    auto = "auto"
    regression = "regression"
    classification = "classification"


class RuleChoice(StrEnum):
    min = "min"
    one_se = "1se"


def _fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(code)


def _stdout_console() -> Console:
    from rich.console import Console

    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=max(console.width, 120), no_color=True)
    return console


def write_output(path: str, text: str) -> None:
    """Write ``text`` to ``path`` (``-`` is stdout) atomically: a failed write leaves no partial file."""
    if path == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    target = Path(path)
    tmp = target.with_name(f".{target.name}.regtune-tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise RegtuneError(
            f"cannot write {path}: {exc.strerror or exc} (check that the folder exists and has space)"
        ) from None


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"regtune {__version__}")
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


@app.command()
def datasets() -> None:
    """List the datasets bundled with scikit-learn that `regtune tune builtin:NAME` can use."""
    from rich.table import Table

    from regtune.data import list_builtins

    table = Table(title="built-in datasets (use as builtin:NAME)", title_justify="left")
    table.add_column("name")
    table.add_column("task")
    table.add_column("description")
    for name, task, desc in list_builtins():
        table.add_row(name, task, desc)
    _stdout_console().print(table)


@app.command()
def tune(
    source: Annotated[
        str,
        typer.Argument(
            help="CSV file (.csv or .csv.gz), - for standard input, or builtin:NAME (see `regtune datasets`)."
        ),
    ],
    target: Annotated[str | None, typer.Option("--target", "-y", help="Target column (required for files).")] = None,
    features: Annotated[
        str | None, typer.Option(help="Feature columns, comma-separated (default: all others).")
    ] = None,
    drop: Annotated[str | None, typer.Option(help="Columns to leave out, comma-separated (e.g. ID columns).")] = None,
    categorical: Annotated[
        str | None, typer.Option(help="Numeric columns to treat as categorical, comma-separated.")
    ] = None,
    task: Annotated[TaskChoice, typer.Option(help="Task; auto detects it from the target.")] = TaskChoice.auto,
    penalty: Annotated[
        str, typer.Option("--penalty", help="Penalties to choose from, comma-separated: l1, l2, elasticnet.")
    ] = "l1,l2,elasticnet",
    folds: Annotated[int, typer.Option("--folds", "-k", help="Number of CV folds.")] = 5,
    repeats: Annotated[int, typer.Option(help="Repeat K-fold CV this many times with new shuffles.")] = 1,
    groups: Annotated[str | None, typer.Option(help="Column of groups kept within one fold (GroupKFold).")] = None,
    fold_column: Annotated[
        str | None, typer.Option(help="Column of your own fold ids (like glmnet's foldid); not a feature.")
    ] = None,
    scoring: Annotated[
        str | None,
        typer.Option(help="A scikit-learn scorer name (default r2 for regression, neg_log_loss for classification)."),
    ] = None,
    n_trials: Annotated[int, typer.Option("--n-trials", "-n", help="Number of trials (configurations).")] = 60,
    timeout: Annotated[float | None, typer.Option(help="Stop starting new trials after this many seconds.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of folds, sampler and models: same seed, same result.")] = 0,
    rule: Annotated[
        RuleChoice,
        typer.Option(help="Which λ is chosen: min (best CV mean) or 1se (largest λ within one SE)."),
    ] = RuleChoice.min,
    lambda_min: Annotated[float | None, typer.Option(help="Smallest λ to search (default from the data).")] = None,
    lambda_max: Annotated[float | None, typer.Option(help="Largest λ to search (default from the data).")] = None,
    json_out: Annotated[
        str | None,
        typer.Option("--json", help="Write the result JSON to PATH, or - for stdout (then stdout is JSON only)."),
    ] = None,
    trials_csv: Annotated[
        str | None,
        typer.Option("--trials-csv", help="Write the CV curve (one row per trial) as CSV to PATH or -."),
    ] = None,
    prune: Annotated[
        bool, typer.Option("--prune/--no-prune", help="Stop trials that are clearly worse after a few folds.")
    ] = True,
    n_jobs: Annotated[
        int, typer.Option("--n-jobs", "-j", help="Worker processes fitting the folds of a trial in parallel.")
    ] = 1,
    coef: Annotated[int, typer.Option(help="Also show the N largest coefficients of the refit model.")] = 0,
    debug: Annotated[bool, typer.Option(help="Show a traceback on errors.")] = False,
) -> None:
    """Cross-validate penalty × λ on a table and report the chosen penalty.

    Examples:

      regtune tune builtin:diabetes

      regtune tune data.csv --target price --json result.json

      cat data.csv | regtune tune - -y price --json - > result.json
    """
    from regtune.config import TuneConfig, split_list

    if json_out == "-" and trials_csv == "-":
        _fail("--json - and --trials-csv - both want stdout: write one of them to a file")
    try:
        config = TuneConfig(
            target=target,
            features=split_list(features),
            drop=split_list(drop),
            categorical=split_list(categorical),
            task=task.value,
            penalties=split_list(penalty),
            folds=folds,
            repeats=repeats,
            groups=groups,
            fold_column=fold_column,
            scoring=scoring,
            n_trials=n_trials,
            timeout=timeout,
            seed=seed,
            rule=rule.value,
            lambda_min=lambda_min,
            lambda_max=lambda_max,
            prune=prune,
            n_jobs=n_jobs,
        )
        result = _run(source, config)
        _render(result, json_out=json_out, trials_csv=trials_csv, coef=coef)
    except RegtuneError as exc:
        if debug:
            raise
        _fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        if debug:
            raise
        _fail("interrupted", EXIT_INTERRUPTED)
    if result.interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)


def _run(source: str, config: object) -> TuneResult:
    """Run the library's tune() with a progress bar on stderr when stderr is a terminal."""
    from rich.console import Console

    from regtune.api import tune as run_tune
    from regtune.config import TuneConfig

    assert isinstance(config, TuneConfig)
    err = Console(stderr=True)
    if not err.is_terminal:
        return run_tune(source, config)

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("tuning"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("best {task.fields[best]}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        job = bar.add_task("tune", total=config.n_trials, best="—")

        def progress(done: int, total: int, best: float | None) -> None:
            bar.update(job, completed=done, total=total, best="—" if best is None else f"{best:.4g}")

        return run_tune(source, config, progress=progress)


def _render(result: TuneResult, *, json_out: str | None, trials_csv: str | None, coef: int) -> None:
    from regtune.report.files import curve_csv, to_json
    from regtune.report.table import render_table

    if json_out is not None:
        write_output(json_out, to_json(result))
    if trials_csv is not None:
        write_output(trials_csv, curve_csv(result))
    if json_out != "-" and trials_csv != "-":
        console = _stdout_console()
        for part in render_table(result, coef=coef):
            console.print(part)


def run() -> None:
    """Console-script entry point."""
    app()
