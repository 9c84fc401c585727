"""What every command shares: options built from declarations, the settings file, errors → exit codes,
and the consoles.

A command's options are not written out by hand: :func:`option` turns a :class:`regtune.settings.Setting`
(of TuneConfig, of a model family, of an output format, or of the command itself) into a Typer option in
its help panel, and :func:`command` registers a function whose signature is built from them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from regtune.errors import EXIT_ERROR, EXIT_INTERRUPTED, ConfigError, RegtuneError
from regtune.settings import OTHER, Setting

if TYPE_CHECKING:
    from rich.console import Console

#: Options every command has.
DEBUG = Setting(name="debug", type=bool, default=False, help="Show a traceback on errors.", panel=OTHER)
#: How the command line spells the parameters of library calls that are not settings of a run.
PARAMETERS = (Setting(name="id_column", flag="--id"),)


def one_line(message: str) -> str:
    """``message`` as one printable line: control characters (a newline in a column name) and bytes that
    are not text shown escaped, so an error is always a single line whatever the data held."""
    escaped = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in message)
    return escaped.encode("utf-8", "backslashreplace").decode("utf-8")


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    typer.echo(f"Error: {one_line(message)}", err=True)
    raise typer.Exit(code)


def stdout_console() -> Console:
    """The console of results. Without markup: a column or study named ``[/]`` is text, not a tag."""
    from rich.console import Console

    console = Console(highlight=False, markup=False)
    if not console.is_terminal:
        # Piped (| tee, a CI log): the terminal's width when there is one (rich asks stdin and stderr, or
        # $COLUMNS), else 80; never wider, or every line of the table would break where it is read.
        console = Console(highlight=False, markup=False, no_color=True)
    return console


# --- settings named by their flags -------------------------------------------------------------------


def known_settings() -> dict[str, Setting]:
    """Every setting the command line knows, by name: the run's, the models', the outputs', the CLI's."""
    from regtune.cli.tune import CLI_SETTINGS
    from regtune.config import TuneConfig
    from regtune.models import model_settings
    from regtune.report import output_settings

    found: dict[str, Setting] = {}
    every = (*TuneConfig.declarations(), *model_settings(), *output_settings(), *CLI_SETTINGS, DEBUG)
    for s in (*every, *PARAMETERS):
        found.setdefault(s.name, s)
    return found


def flag_namer() -> Callable[[str, bool], str]:
    """How an error message names a setting on the command line: by its flag (``--no-prune`` when off)."""
    known = known_settings()

    def name(setting: str, negative: bool) -> str:
        decl = known.get(setting)
        if decl is None or not decl.cli:
            return setting
        return decl.negative if negative and decl.negative else decl.cli_flag

    return name


@contextmanager
def errors(debug: bool) -> Iterator[None]:
    """Regtune's errors as one ``Error: …`` line and their exit code (a traceback with ``--debug``)."""
    from regtune.storage import mask_url

    try:
        yield
    except RegtuneError as exc:
        if debug:
            raise
        fail(mask_url(exc.render(flag_namer())), exc.exit_code)
    except KeyboardInterrupt:
        if debug:
            raise
        fail("interrupted", EXIT_INTERRUPTED)
    except (typer.Exit, typer.Abort):
        raise
    except BrokenPipeError:  # the reader of stdout left (`| head`): nobody to tell, nothing more to write
        import os
        import sys

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(EXIT_ERROR) from None
    except MemoryError:
        if debug:
            raise
        fail("out of memory: use fewer rows or columns (--drop), or fewer --n-jobs")
    except Exception as exc:  # a bug: still one line, the traceback with --debug
        if debug:
            raise
        text = str(exc).strip().splitlines()
        fail(
            mask_url(f"unexpected {type(exc).__name__}: {text[0] if text else ''}: this is a bug in regtune;"
                     " run again with --debug for the traceback and report it")
        )  # fmt: skip


# --- options from declarations -------------------------------------------------------------------------


def _help(decl: Setting) -> str:
    text = decl.help() if callable(decl.help) else decl.help
    if decl.envvar:
        text += f" [env: {decl.envvar}]"
    return text.replace("[", "\\[")  # rich markup: a literal bracket


def option(decl: Setting) -> inspect.Parameter:
    """The Typer option of a setting: its flag(s), help panel, value type and default.

    A setting with choices takes one of them; one with a parser (a comma-separated list) takes the text,
    which :func:`convert` parses; a boolean is a switch (``--prune/--no-prune``).
    """
    from typing import Literal

    names = [decl.cli_flag, *([decl.short] if decl.short else [])]
    kind: Any
    default: Any = decl.default
    extra: dict[str, Any] = {}
    base = decl.type
    if base is bool:
        kind = bool
        names = [f"{decl.cli_flag}/{decl.negative}" if decl.negative else decl.cli_flag, *names[1:]]
        extra["metavar"] = ""
    elif decl.allowed is not None:
        kind = Literal[decl.allowed]
        extra["metavar"] = decl.metavar or decl.name.upper()
    elif decl.parse is not None or base not in (int, float, int | None, float | None):
        kind = str | None
        default = None
        extra["metavar"] = decl.metavar or "TEXT"
    else:
        kind = base
        extra["metavar"] = decl.metavar or ("N" if base in (int, int | None) else "X")
    info = typer.Option(
        *names,
        help=_help(decl),
        rich_help_panel=decl.panel,
        envvar=decl.envvar,
        show_envvar=False,
        show_default=_shown_default(decl),
        **extra,
    )
    return inspect.Parameter(
        decl.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=Annotated[kind, info]
    )


def _shown_default(decl: Setting) -> bool | str:
    if decl.type is bool or (decl.default in (None, (), 0) and decl.type is not int):
        return False
    return str(decl.default)


def convert(decl: Setting, raw: Any) -> Any:
    """A value of the command line or the settings file as the setting's own value (parsed, checked)."""
    if raw is None:
        return decl.default
    if decl.parse is not None and isinstance(raw, str):
        return decl.parse(raw)
    return raw


def from_config_file(
    ctx: typer.Context, path: str | None, decls: Iterable[Setting], values: dict[str, Any]
) -> dict[str, Any]:
    """``values`` with every option left at its default taken from the settings file, if any (a flag or
    an environment variable wins); raw values as a flag would give them."""
    from typer._click.core import ParameterSource

    from regtune.config import read_config

    decls = list(decls)
    found = read_config(path, decls)
    if found is None:
        return values
    where, table = found
    params = {p.name: p for p in ctx.command.params}
    merged = dict(values)
    for name, raw in table.items():
        if ctx.get_parameter_source(name) not in (ParameterSource.DEFAULT, None) or name not in params:
            continue
        text = ",".join(map(str, raw)) if isinstance(raw, list) else raw
        try:
            merged[name] = params[name].process_value(ctx, text)
        except Exception as exc:  # click's BadParameter and friends
            key = next(k for k in _keys(decls, name))
            raise ConfigError(f"bad value for {key!r} in {where}: {exc}") from None
    return merged


def command_line(ctx: typer.Context) -> str:
    """The command as typed (the arguments and the options given on the command line, in declaration
    order), quoted for a shell, with any password of a storage URL masked: what the reports record."""
    import shlex

    from typer._click.core import ParameterSource

    from regtune.storage import mask_url

    words = ["regtune", str(ctx.info_name)]
    for param in ctx.command.params:
        if param.name is None or ctx.get_parameter_source(param.name) is not ParameterSource.COMMANDLINE:
            continue
        value = ctx.params.get(param.name)
        if param.param_type_name == "argument":  # several files or globs: each its own word
            words += [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]
            continue
        flag = param.opts[0]
        if getattr(param, "is_flag", False):
            words.append(flag if value else (param.secondary_opts or [flag])[0])
            continue
        for one in value if isinstance(value, (list, tuple)) else [value]:
            text = ",".join(map(str, one)) if isinstance(one, (list, tuple)) else str(one)
            words += [flag, mask_url(text) if param.name == "storage" else text]
    return shlex.join(words)


def _keys(decls: list[Setting], name: str) -> Iterator[str]:
    for decl in decls:
        if decl.name == name:
            yield from decl.config_keys()


# --- commands with declared options -------------------------------------------------------------------


def command(
    app: typer.Typer,
    name: str,
    body: Callable[..., None],
    params: list[inspect.Parameter],
    *,
    help: str,
    epilog: str | None = None,
) -> None:
    """Register ``body(ctx, **values)`` as command ``name`` with the options ``params``."""

    def run(ctx: typer.Context, **values: Any) -> None:
        body(ctx, **values)

    ctx_param = inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context)
    run.__signature__ = inspect.Signature([ctx_param, *params])  # type: ignore[attr-defined]
    run.__annotations__ = {}
    run.__doc__ = help
    run.__name__ = name
    app.command(name, epilog=epilog, no_args_is_help=False)(run)


def keep_freed_memory() -> bool:
    """Let glibc keep the memory a fit frees for the next fit instead of handing it back to the kernel;
    True when set.

    The solvers allocate and free arrays of megabytes at every Newton step; with glibc's defaults those
    come from fresh pages every time (mmap, or a heap top trimmed back), and the page faults cost a sixth
    of a run in system time (``regtune tune`` on digits: 1.44 M minor faults, 4.2 s system of 24.5 s CPU;
    with mmap only above 32 MiB and trimming above 256 MiB: 61 k faults, 0.45 s, the same peak memory).
    A setting of this process (and its -j workers), so the command's, not the library's. Elsewhere than
    glibc: nothing to do.
    """
    import sys

    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(mallopt(m_mmap_threshold, 32 * 2**20)) and bool(mallopt(m_trim_threshold, 256 * 2**20))
