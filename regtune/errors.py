"""Errors regtune raises on purpose, each with the exit code the CLI maps it to.

Every message is one line that says what is wrong and how to fix it; the CLI prints it as
``Error: <message>`` on stderr. Exit codes (see the README):

0 done · 1 a regtune error · 2 usage error (Typer/Click) · 3 quality gate failed · 130 interrupted.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_GATE = 3
EXIT_INTERRUPTED = 130


class RegtuneError(Exception):
    """Base of every error regtune raises on purpose: bad data, bad settings, storage problems."""

    exit_code = EXIT_ERROR


class DataError(RegtuneError):
    """The input table cannot be used as asked (missing file, bad target, too few rows...)."""


class ConfigError(RegtuneError):
    """A setting is invalid or contradicts another one."""


class Interrupted(RegtuneError):
    """Stopped by Ctrl-C or SIGTERM before anything could be reported."""

    exit_code = EXIT_INTERRUPTED


class ModelError(RegtuneError):
    """A model file cannot be used: not a regtune model, another regtune version, untrusted content."""
