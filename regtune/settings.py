"""How a setting is declared: once, with everything the library, the config file and the CLI need.

A setting of :class:`regtune.TuneConfig` is a dataclass field whose default is ``setting(default, …)``;
a model family declares its own (``--hidden`` of ``mlp``) as :class:`Setting` objects with a name, a type
and a default; an output format (``--json``, ``--plot``) declares its option the same way. From these
declarations come the TuneConfig's validation, the keys a config file may use, and the CLI's flags, help
panels and value parsing — the way scikit-learn's ``_parameter_constraints`` replaces ``if`` ladders.

This module imports nothing heavy: ``regtune --help`` reads it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from typing import Any

from regtune.errors import ConfigError, named

#: Help panels of ``regtune tune --help``, in order.
INPUT = "Input"
CV = "Cross-validation"
SEARCH = "Search"
MODEL = "Model"
ENGINE = "Engine (larger than memory)"
OUTPUTS = "Outputs"
STORAGE = "Storage and CI"
OTHER = "Other"
PANELS = (INPUT, CV, SEARCH, MODEL, ENGINE, OUTPUTS, STORAGE, OTHER)

Check = Callable[[Any], "str | None"]


@dataclass(frozen=True)
class Setting:
    """One setting: what it is, how the command line spells it, and what values it takes.

    ``check(value)`` returns a complaint (``"must be at least 2, got 1"``) or None; the error names the
    setting before it. ``parse(text)`` turns a command-line or config-file string into the value (a
    comma-separated list into a tuple); it raises :class:`ConfigError` on bad text.
    """

    name: str = ""
    type: Any = None
    default: Any = None
    help: str = ""
    panel: str = OTHER
    #: ``--name-with-dashes`` unless given; ``short`` is a one-letter alias (``-y``).
    flag: str | None = None
    short: str | None = None
    #: For a boolean: the flag that switches it off (``--no-prune``); None: a plain on-switch.
    negative: str | None = None
    metavar: str | None = None
    envvar: str | None = None
    #: The allowed values (or a function giving them, for choices that come from a registry).
    choices: tuple[str, ...] | Callable[[], tuple[str, ...]] | None = None
    check: Check | None = None
    parse: Callable[[str], Any] | None = None
    #: Whether the command line offers it (False: library and config file only).
    cli: bool = True
    #: A model setting given for a model that does not declare it: what the error says it does
    #: (``{model}`` is the model that has it).
    misuse: str = "applies to {model} only"

    @property
    def cli_flag(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")

    @property
    def allowed(self) -> tuple[str, ...] | None:
        return self.choices() if callable(self.choices) else self.choices

    def config_keys(self) -> tuple[str, ...]:
        """The keys a config file may use: the name with ``-`` or ``_``, and the flag's spelling."""
        keys = {self.name, self.name.replace("_", "-"), self.cli_flag.lstrip("-"), self.cli_flag.lstrip("-")}
        keys |= {k.replace("-", "_") for k in list(keys)}
        return tuple(sorted(keys))

    def validate(self, value: Any) -> Any:
        """``value`` checked (choices, then ``check``); a :class:`ConfigError` that names the setting if not."""
        allowed = self.allowed
        if allowed is not None and value is not None and value not in allowed:
            raise ConfigError(f"unknown {self.name} {value!r}: use {_one_of(allowed)}")
        if self.check is not None and value is not None:
            complaint = self.check(value)
            if complaint:
                raise ConfigError(f"{named(self.name)} {complaint}")
        return value

    def from_text(self, text: str) -> Any:
        return self.parse(text) if self.parse is not None else text


def setting(default: Any = None, **declaration: Any) -> Any:
    """A TuneConfig field with its declaration (the field's name and type complete it)."""
    return field(default=default, metadata={"setting": Setting(default=default, **declaration)})


def declared(cls: type) -> tuple[Setting, ...]:
    """The settings declared by the fields of dataclass ``cls``, with their names and types filled in."""
    hints = _hints(cls)
    found = []
    for f in fields(cls):
        decl = f.metadata.get("setting")
        if isinstance(decl, Setting):
            found.append(replace(decl, name=f.name, type=hints.get(f.name, decl.type)))
    return tuple(found)


def _hints(cls: type) -> dict[str, Any]:
    import typing

    try:
        return typing.get_type_hints(cls)
    except Exception:  # pragma: no cover - a forward reference that cannot be resolved
        return {}


def _one_of(values: tuple[str, ...]) -> str:
    if len(values) <= 2:
        return " or ".join(values)
    return ", ".join(values[:-1]) + " or " + values[-1]


# Checks shared by declarations: each returns a complaint or None.


def at_least(low: float) -> Check:
    def check(value: Any) -> str | None:
        return None if value >= low else f"must be at least {low:g}, got {value}"

    return check


def positive_number(value: Any) -> str | None:
    import math

    return None if value > 0 and math.isfinite(value) else f"must be a positive number, got {value}"


def split_list(value: str | None) -> tuple[str, ...]:
    """Split a comma-separated flag value (``"a, b,c"``) into a tuple of non-empty names."""
    if value is None:
        return ()
    return tuple(part.strip() for part in str(value).split(",") if part.strip())
