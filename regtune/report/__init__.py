"""Everything a result is shown as: the terminal table, and the output formats (one module each).

An output format is a module here that defines ``OUTPUT`` (:class:`regtune.report._output.Output`):
its option and its renderer. :func:`outputs` finds them all; :func:`emit` writes the active ones for a
result and returns what goes to the terminal. Adding a format is adding one module.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from typing import TYPE_CHECKING, Any

from regtune.errors import ConfigError, named
from regtune.report._output import Output, OutputContext, append_output, write_output

if TYPE_CHECKING:
    from rich.console import RenderableType

    from regtune.result import TuneResult
    from regtune.settings import Setting

__all__ = ["Output", "OutputContext", "check_outputs", "emit", "output_settings", "outputs"]


@cache
def outputs() -> tuple[Output, ...]:
    """Every output format, in writing order."""
    found: list[Output] = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        output = getattr(module, "OUTPUT", None)
        if isinstance(output, Output):
            found.append(output)
    return tuple(sorted(found, key=lambda o: (o.order, o.name)))


def outputs_for(command: str) -> tuple[Output, ...]:
    return tuple(o for o in outputs() if command in o.commands)


def output_settings(command: str | None = None) -> tuple[Setting, ...]:
    """The options of the output formats (those ``command`` offers): each format's own, then its
    further options (:attr:`Output.options`)."""
    chosen = outputs() if command is None else outputs_for(command)
    return tuple(s for o in chosen for s in (o.setting, *o.options))


def check_outputs(values: dict[str, Any], inputs: tuple[str, ...] = ()) -> None:
    """Refuse bad output destinations before any work: each format's own check (never one of the
    ``inputs``), two formats that both want standard output, and two that would write one file."""
    from regtune.report._output import same_file

    to_stdout = []
    files: list[tuple[str, str]] = []
    for output in outputs():
        value = values.get(output.name)
        extra = [o.name for o in output.options if values.get(o.name) not in (None, False)]
        if extra and not output.active(value):
            flag = named(output.name)
            raise ConfigError(
                f"{named(extra[0])} shapes {flag}: add {flag} {output.example()}, or drop {named(extra[0])}"
            )
        if output.active(value):
            output.check(value, inputs)
            if output.kind == "file" and value == "-":
                to_stdout.append(output.name)
            elif isinstance(value, str) and output.kind in ("file", "append"):
                for other, path in files:
                    if same_file(path, value):
                        raise ConfigError(
                            f"{named(other)} and {named(output.name)} both write {value}: give each its own file"
                        )
                files.append((output.name, value))
    if len(to_stdout) > 1:
        a, b = to_stdout[:2]
        raise ConfigError(f"{named(a)} - and {named(b)} - both want stdout: write one of them to a file")


def emit(result: TuneResult, values: dict[str, Any], context: OutputContext | None = None) -> list[RenderableType]:
    """Write every active output of ``values`` (output name → value) for ``result``; return what the
    terminal shows (the table and the console outputs), or nothing when an output took standard output."""
    from regtune.report.table import render_table

    context = context or OutputContext(values)
    active = [o for o in outputs() if o.active(values.get(o.name))]
    context.values = values
    context.with_path = any(o.coefficient_path for o in active)
    console: dict[str, list[RenderableType]] = {"body": [], "end": []}
    for output in active:
        value = values[output.name]
        if output.kind == "console":
            continue
        content = output.render(result, value, context)
        if output.kind == "append":
            append_output(str(value), content)
        else:
            write_output(str(value), content)
    if any(o.kind == "file" and values[o.name] == "-" for o in active):
        return []
    for output in active:
        if output.kind == "console":
            console[output.place] += output.render(result, values[output.name], context)
    return render_table(result, extra=console["body"], verbose=context.verbose) + console["end"]
