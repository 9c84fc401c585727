"""The ``regtune`` command line: flags → TuneConfig → one library call → renderers.

No numerics here. Errors regtune raises on purpose become one ``Error: …`` line on stderr and the
exit code of :mod:`regtune.errors`; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from regtune import __version__
from regtune.errors import EXIT_ERROR, EXIT_GATE, EXIT_INTERRUPTED, ConfigError, RegtuneError
from regtune.storage import mask_url

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


class SearchChoice(StrEnum):
    tpe = "tpe"
    gradient = "gradient"
    hybrid = "hybrid"


class ModelChoice(StrEnum):
    linear = "linear"
    sgd = "sgd"
    mlp = "mlp"


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


def write_output(path: str, text: str | bytes) -> None:
    """Write ``text`` to ``path`` (``-`` is stdout) atomically: a failed write leaves no partial file."""
    if path == "-":
        if isinstance(text, bytes):
            sys.stdout.buffer.write(text)
        else:
            sys.stdout.write(text)
        sys.stdout.flush()
        return
    target = Path(path)
    tmp = target.with_name(f".{target.name}.regtune-tmp")
    try:
        if isinstance(text, bytes):
            tmp.write_bytes(text)
        else:
            tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise RegtuneError(
            f"cannot write {path}: {exc.strerror or exc} (check that the folder exists and has space)"
        ) from None


def append_output(path: str, text: str) -> None:
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise RegtuneError(f"cannot append to {path}: {exc.strerror or exc} (check the path)") from None


#: The `tune` settings a config file may set (its keys: these names, with - or _).
CONFIG_KEYS = (
    "target", "features", "drop", "categorical", "task", "penalty", "folds", "repeats", "groups", "fold_column",
    "scoring", "n_trials", "timeout", "seed", "rule", "lambda_min", "lambda_max", "prune", "n_jobs", "storage",
    "study_name", "fail_under", "summary_md", "json_out", "trials_csv", "coef", "plot", "report", "curve",
    "save_model", "search", "model", "hidden", "early_stopping",
)  # fmt: skip
#: Config keys spelled as their flag where the flag differs from the parameter name.
CONFIG_ALIASES = {"json": "json_out", "penalties": "penalty"}


def find_config(path: str | None) -> tuple[str, dict[str, object]] | None:
    """The settings table of ``path``, or of ./regtune.toml or ./pyproject.toml's [tool.regtune]."""
    import tomllib

    candidates = [Path(path)] if path else [Path("regtune.toml"), Path("pyproject.toml")]
    for candidate in candidates:
        if not candidate.exists():
            if path:
                raise ConfigError(f"config file not found: {path}")
            continue
        try:
            data = tomllib.loads(candidate.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{candidate} is not valid TOML ({exc}): fix the file") from None
        if candidate.name == "pyproject.toml" and not path:
            table = data.get("tool", {}).get("regtune")
            if table is None:
                continue
        elif candidate.name == "pyproject.toml":
            table = data.get("tool", {}).get("regtune", {})
        else:
            table = data.get("tool", {}).get("regtune", data) if "tool" in data else data
        if not isinstance(table, dict):
            raise ConfigError(f"{candidate}: [tool.regtune] must be a table of settings")
        return str(candidate), table
    return None


def apply_config_file(ctx: typer.Context, path: str | None, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with every setting left at its default taken from the config file, if any."""
    from typer._click.core import ParameterSource

    found = find_config(path)
    result = {key: values[key] for key in CONFIG_KEYS}
    if found is None:
        return result
    where, table = found
    params = {p.name: p for p in ctx.command.params}
    for raw_key, raw_value in table.items():
        key = raw_key.replace("-", "_")
        key = CONFIG_ALIASES.get(key, key)
        if key not in CONFIG_KEYS:
            close = __import__("difflib").get_close_matches(key, CONFIG_KEYS, n=1)
            hint = f" (did you mean {close[0].replace('_', '-')}?)" if close else ""
            raise ConfigError(f"unknown key {raw_key!r} in {where}{hint}: use the names of the tune flags")
        if ctx.get_parameter_source(key) not in (ParameterSource.DEFAULT, None):
            continue  # a flag or an environment variable wins
        value = ",".join(map(str, raw_value)) if isinstance(raw_value, list) else raw_value
        try:
            result[key] = params[key].process_value(ctx, value)
        except Exception as exc:  # click's BadParameter and friends
            raise ConfigError(f"bad value for {raw_key!r} in {where}: {exc}") from None
    return result


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
    ctx: typer.Context,
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
    model: Annotated[
        ModelChoice,
        typer.Option(
            help="Model family: linear (least squares / logistic regression, solved exactly), sgd "
            "(SGDRegressor / SGDClassifier) or mlp (MLPRegressor / MLPClassifier trained by Adam, L2 only)."
        ),
    ] = ModelChoice.linear,
    penalty: Annotated[
        str | None,
        typer.Option(
            "--penalty",
            help="Penalties to choose from, comma-separated: l1, l2, elasticnet (default: all the model fits).",
        ),
    ] = None,
    hidden: Annotated[
        str | None, typer.Option(help="Hidden layer sizes of --model mlp, comma-separated (default 100; 0: none).")
    ] = None,
    early_stopping: Annotated[
        bool,
        typer.Option(
            "--early-stopping/--no-early-stopping",
            help="--model mlp: stop training on a seeded inner validation split (10% of the training rows).",
        ),
    ] = True,
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
    n_trials: Annotated[
        int,
        typer.Option(
            "--n-trials",
            "-n",
            help="Number of trials (configurations); --search gradient may stop earlier, once the optimum is "
            "pinned. With --storage: the total the study should reach, counting trials of earlier runs and other "
            "workers.",
        ),
    ] = 60,
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
    search: Annotated[
        SearchChoice,
        typer.Option(
            help="How λ is searched: tpe (TPE, then bisection), gradient (log-spaced points, then hypergradient "
            "steps; stops once the optimum is pinned), hybrid (hypergradient steps first, then TPE for the rest of "
            "the budget, new best points refined by more steps).",
        ),
    ] = SearchChoice.hybrid,
    n_jobs: Annotated[
        int, typer.Option("--n-jobs", "-j", help="Worker processes fitting the folds of a trial in parallel.")
    ] = 1,
    storage: Annotated[
        str | None,
        typer.Option(
            envvar="REGTUNE_STORAGE",
            help="Keep the study: a journal file path, sqlite:///file.db or postgresql://user:pw@host/db. "
            "Running the same command again resumes it; several processes on one storage share it.",
        ),
    ] = None,
    study_name: Annotated[
        str | None, typer.Option(envvar="REGTUNE_STUDY_NAME", help="Name of the study in --storage (default regtune).")
    ] = None,
    fail_under: Annotated[
        float | None, typer.Option(help="Exit 3 (after printing the result) when the chosen CV mean is below this.")
    ] = None,
    summary_md: Annotated[
        str | None, typer.Option(help="Append a Markdown summary to PATH (e.g. $GITHUB_STEP_SUMMARY).")
    ] = None,
    config_file: Annotated[
        str | None,
        typer.Option(
            "--config",
            help="Settings file (TOML; keys are the flag names). Default: regtune.toml, or [tool.regtune] in "
            "pyproject.toml, in the working directory. Flags and REGTUNE_* variables override it.",
        ),
    ] = None,
    coef: Annotated[int, typer.Option(help="Also show the N largest coefficients of the refit model.")] = 0,
    plot: Annotated[
        str | None,
        typer.Option(
            help="Draw the CV curve of each penalty, the coefficient path of the chosen one and the search "
            "history into PATH (.png or .svg)."
        ),
    ] = None,
    report: Annotated[
        str | None,
        typer.Option(
            help="Write a self-contained HTML report (table, choices, pictures, coefficients) to PATH (.html)."
        ),
    ] = None,
    curve: Annotated[
        bool, typer.Option("--curve", help="Print a text sketch of the chosen penalty's CV curve under the table.")
    ] = False,
    save_model: Annotated[
        str | None,
        typer.Option(help="Save the refit pipeline and the result to PATH (a skops-based file for `regtune predict`)."),
    ] = None,
    debug: Annotated[bool, typer.Option(help="Show a traceback on errors.")] = False,
) -> None:
    """Cross-validate penalty × λ on a table and report the chosen penalty.

    Examples:

      regtune tune builtin:diabetes

      regtune tune data.csv --target price --json result.json

      regtune tune builtin:diabetes --model mlp --hidden 64,32

      cat data.csv | regtune tune - -y price --json - > result.json
    """
    from regtune.config import TuneConfig, parse_hidden, split_list

    if json_out == "-" and trials_csv == "-":
        _fail("--json - and --trials-csv - both want stdout: write one of them to a file")
    try:
        values = apply_config_file(ctx, config_file, locals())
        (target, features, drop, categorical, task, penalty, folds, repeats, groups, fold_column, scoring,
         n_trials, timeout, seed, rule, lambda_min, lambda_max, prune, n_jobs, storage, study_name, fail_under,
         summary_md, json_out, trials_csv, coef, plot, report, curve, save_model, search, model, hidden,
         early_stopping) = (values[k] for k in CONFIG_KEYS)  # fmt: skip
        outputs = Outputs(json_out, trials_csv, coef, summary_md, plot, report, curve, save_model)
        outputs.check()
        if penalty is not None and not split_list(penalty):
            raise ConfigError("--penalty is empty: give one or more of l1, l2, elasticnet")
        config = TuneConfig(
            target=target,
            features=split_list(features),
            drop=split_list(drop),
            categorical=split_list(categorical),
            task=task.value,
            penalties=split_list(penalty),
            model=model.value,
            hidden=parse_hidden(hidden),
            early_stopping=early_stopping,
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
            storage=storage,
            study_name=study_name,
            search=search.value,
        )
        with _sigterm_as_interrupt():
            result = _run(source, config)
        gate = _gate(result, fail_under)
        _render(result, outputs, gate=gate)
    except RegtuneError as exc:
        if debug:
            raise
        _fail(mask_url(str(exc)), exc.exit_code)
    except KeyboardInterrupt:
        if debug:
            raise
        _fail("interrupted", EXIT_INTERRUPTED)
    if result.interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)
    if gate is not None and gate.startswith("failed"):
        typer.echo(f"Error: quality gate {gate}", err=True)
        raise typer.Exit(EXIT_GATE)


@app.command()
def show(
    storage: Annotated[str, typer.Option(envvar="REGTUNE_STORAGE", help="Where the study is kept (as for tune).")],
    study_name: Annotated[
        str | None, typer.Option(envvar="REGTUNE_STUDY_NAME", help="The study (default: regtune, or the only one).")
    ] = None,
    rule: Annotated[RuleChoice, typer.Option(help="Which λ is chosen: min or 1se.")] = RuleChoice.min,
    json_out: Annotated[
        str | None, typer.Option("--json", help="Write the result JSON to PATH, or - for stdout.")
    ] = None,
    plot: Annotated[
        str | None,
        typer.Option(help="Draw the CV curves and the search history into PATH (.png or .svg); no coefficient path."),
    ] = None,
    report: Annotated[str | None, typer.Option(help="Write a self-contained HTML report to PATH (.html).")] = None,
    curve: Annotated[
        bool, typer.Option("--curve", help="Print a text sketch of the chosen penalty's CV curve.")
    ] = False,
    debug: Annotated[bool, typer.Option(help="Show a traceback on errors.")] = False,
) -> None:
    """Print the table of a stored study without running trials (non-zero counts: the fold means;
    the pictures have no coefficient path: a stored study has no refit model)."""
    from regtune.api import show as show_study

    try:
        outputs = Outputs(json_out=json_out, plot=plot, report=report, curve=curve)
        outputs.check()
        result = show_study(storage, study_name, rule=rule.value)
        _render(result, outputs)
    except RegtuneError as exc:
        if debug:
            raise
        _fail(mask_url(str(exc)), exc.exit_code)


@app.command()
def studies(
    storage: Annotated[str, typer.Option(envvar="REGTUNE_STORAGE", help="Where the studies are kept.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    debug: Annotated[bool, typer.Option(help="Show a traceback on errors.")] = False,
) -> None:
    """List the studies in a storage with their trial counts and best CV means."""
    import json

    from rich.table import Table

    from regtune.api import studies as list_all

    try:
        rows = list_all(storage)
    except RegtuneError as exc:
        if debug:
            raise
        _fail(mask_url(str(exc)), exc.exit_code)
    if json_out:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=f"studies in {mask_url(storage)}", title_justify="left")
    for col in ("name", "source", "target", "scoring", "trials", "complete", "pruned", "failed", "best CV mean"):
        table.add_column(col, justify="right" if col not in ("name", "source", "target", "scoring") else "left")
    for r in rows:
        best = "—" if r["best_cv_mean"] is None else f"{r['best_cv_mean']:.5g}"
        table.add_row(
            r["name"], str(r["source"]), str(r["target"]), str(r["scoring"]), str(r["n_trials"]),
            str(r["complete"]), str(r["pruned"]), str(r["failed"]), best,
        )  # fmt: skip
    _stdout_console().print(table)


@app.command()
def predict(
    model: Annotated[str, typer.Argument(help="A model file written by `regtune tune … --save-model PATH`.")],
    data: Annotated[str, typer.Argument(help="CSV file (.csv or .csv.gz) or - for standard input.")],
    output: Annotated[
        str, typer.Option("--output", "-o", help="Write the predictions as CSV to PATH, or - for stdout.")
    ] = "-",
    id_column: Annotated[
        str | None, typer.Option("--id", help="A column of the data to copy into the output (e.g. a row id).")
    ] = None,
    debug: Annotated[bool, typer.Option(help="Show a traceback on errors.")] = False,
) -> None:
    """Apply a saved model to new rows: one output row per input row, in order.

    Regression writes `prediction`; classification writes `prediction` (the class) and `proba_<class>`
    per class. The model's training columns must all be present; other columns are ignored (and named
    on stderr).

    Example: regtune predict model.regtune new.csv --id id --output predictions.csv
    """
    from regtune.data import read_table
    from regtune.modelfile import load_model
    from regtune.modelfile import predict as apply_model
    from regtune.report.files import predictions_csv

    try:
        saved = load_model(model)
        prediction = apply_model(saved, read_table(data), id_column)
        write_output(output, predictions_csv(prediction.frame))
    except RegtuneError as exc:
        if debug:
            raise
        _fail(str(exc), exc.exit_code)
    if prediction.ignored:
        shown = ", ".join(prediction.ignored[:10]) + (", …" if len(prediction.ignored) > 10 else "")
        typer.echo(f"note: ignored {len(prediction.ignored)} column(s) the model does not use: {shown}", err=True)


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


def _gate(result: TuneResult, fail_under: float | None) -> str | None:
    """The quality-gate verdict as text ("passed: …" / "failed: …"), None without --fail-under."""
    if fail_under is None:
        return None
    mean = result.chosen.point.mean
    verdict = "passed" if mean >= fail_under else "failed"
    sign = "≥" if verdict == "passed" else "<"
    return f"{verdict}: CV mean {mean:.6g} {sign} --fail-under {fail_under:g}"


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (a CI timeout) stops the run like Ctrl-C: the running trial is abandoned, the rest kept
    (never in the middle of a storage write: :mod:`regtune.interrupts`)."""
    from regtune.interrupts import handled

    with handled((signal.SIGINT, signal.SIGTERM)):
        yield


@dataclass(frozen=True)
class Outputs:
    """What a command writes besides the table (the output flags of tune and show)."""

    json_out: str | None = None
    trials_csv: str | None = None
    coef: int = 0
    summary_md: str | None = None
    plot: str | None = None
    report: str | None = None
    curve: bool = False
    save_model: str | None = None

    def check(self) -> None:
        """Refuse bad output names before any work is done."""
        from regtune.artifacts import plot_format, report_path

        if self.plot is not None:
            plot_format(self.plot)
        if self.report is not None:
            report_path(self.report)
        if self.save_model == "-":
            raise ConfigError("--save-model needs a file path, not -: e.g. --save-model model.regtune")


def _render(result: TuneResult, outputs: Outputs, gate: str | None = None) -> None:
    from regtune.report.files import curve_csv, to_json
    from regtune.report.table import render_table

    pictures = None
    if outputs.plot or outputs.report or outputs.curve:
        from regtune.artifacts import gather_pictures

        pictures = gather_pictures(result, with_path=bool(outputs.plot or outputs.report))
    if outputs.json_out is not None:
        write_output(outputs.json_out, to_json(result))
    if outputs.trials_csv is not None:
        write_output(outputs.trials_csv, curve_csv(result))
    if outputs.plot is not None and pictures is not None:
        from regtune.artifacts import figure, plot_format

        write_output(outputs.plot, figure(result, pictures, plot_format(outputs.plot)))
    if outputs.report is not None and pictures is not None:
        from regtune.artifacts import html_report

        write_output(outputs.report, html_report(result, pictures))
    if outputs.save_model is not None:
        from regtune.modelfile import model_bytes

        write_output(outputs.save_model, model_bytes(result))
    if outputs.summary_md is not None:
        from regtune.report.markdown import summary_markdown

        links = {"HTML report": outputs.report, "plots": outputs.plot, "model": outputs.save_model}
        append_output(
            outputs.summary_md, summary_markdown(result, gate, {k: v for k, v in links.items() if v is not None})
        )
    if outputs.json_out != "-" and outputs.trials_csv != "-":
        console = _stdout_console()
        for part in render_table(result, coef=outputs.coef):
            console.print(part)
        if outputs.curve and pictures is not None:
            from rich.text import Text

            from regtune.artifacts import curve_sketch

            console.print(Text(curve_sketch(result, pictures).rstrip("\n"), no_wrap=True, overflow="ignore"))


def run() -> None:
    """Console-script entry point."""
    app()
