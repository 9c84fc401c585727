"""Errors regtune raises on purpose, each with the exit code the CLI maps it to.

Every message is one line that says what is wrong and how to fix it; the CLI prints it as
``Error: <message>`` on stderr. Exit codes (see the README):

0 done · 1 a regtune error · 2 usage error (Typer/Click) · 3 quality gate failed · 130 interrupted.

A message names a setting with :func:`named` (``f"{named('lambda_min')} must be positive"``): a Python
caller reads the setting's own name (``lambda_min must be positive``), the command line its flag
(``--lambda-min must be positive``) — :meth:`RegtuneError.render`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_GATE = 3
EXIT_INTERRUPTED = 130

#: ``⟦name⟧`` or ``⟦name=False⟧`` (the negative form of a boolean setting) inside a message.
_MARK = re.compile(r"⟦([a-z_][a-z0-9_]*)(=False)?⟧")


def named(setting: str, value: bool | None = None) -> str:
    """A setting's name inside an error message; ``value=False`` names a boolean setting switched off."""
    return f"⟦{setting}{'=False' if value is False else ''}⟧"


def render_names(text: str, namer: Callable[[str, bool], str] | None = None) -> str:
    """``text`` with every :func:`named` mark replaced by ``namer(setting, negative)`` (default: the
    setting's name, ``name=False`` for the negative form)."""

    def python(setting: str, negative: bool) -> str:
        return f"{setting}=False" if negative else setting

    show = namer or python
    return _MARK.sub(lambda m: show(m.group(1), m.group(2) is not None), text)


class RegtuneError(Exception):
    """Base of every error regtune raises on purpose: bad data, bad settings, storage problems."""

    exit_code = EXIT_ERROR

    def __str__(self) -> str:
        return render_names(super().__str__())

    def render(self, namer: Callable[[str, bool], str]) -> str:
        """The message with settings named by ``namer(setting, negative)`` (the CLI: their flags)."""
        return render_names(super().__str__(), namer)


class DataError(RegtuneError):
    """The input table cannot be used as asked (missing file, bad target, too few rows...)."""


class ConfigError(RegtuneError):
    """A setting is invalid or contradicts another one."""


class Interrupted(RegtuneError):
    """Stopped by Ctrl-C or SIGTERM before anything could be reported."""

    exit_code = EXIT_INTERRUPTED


class ModelError(RegtuneError):
    """A model file cannot be used: not a regtune model, another regtune version, untrusted content."""
