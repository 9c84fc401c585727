"""What an output format is: an option (declared like every setting) and a renderer of a result.

Every public module of :mod:`regtune.report` that defines ``OUTPUT`` (an :class:`Output`) is an output
format: the CLI offers its option on the commands it names, a settings file may set it, and
:func:`regtune.report.emit` writes it. Three kinds:

- ``file``: the rendered text or bytes go to PATH (``-``: standard output, which then carries nothing
  else), written atomically;
- ``append``: appended to PATH (a Markdown summary into ``$GITHUB_STEP_SUMMARY``);
- ``console``: renderables printed with the table (before its notes, or after everything).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from regtune.errors import ConfigError, RegtuneError, named
from regtune.settings import OUTPUTS, Setting

if TYPE_CHECKING:
    from regtune.pictures import Pictures
    from regtune.result import TuneResult


@dataclass
class OutputContext:
    """What outputs share while a result is written: each output's value, the quality gate's verdict,
    the command line, and the pictures (gathered once, on first use)."""

    values: dict[str, Any]
    gate: str | None = None
    #: The command line that made the result (masked: no password), for the reports.
    command: str | None = None
    #: Show the raw numbers behind the words in the terminal (``--verbose``).
    verbose: bool = False
    #: Whether some active output draws the coefficient path (it costs about 30 fits).
    with_path: bool = False
    _pictures: Pictures | None = field(default=None, repr=False)

    def pictures(self, result: TuneResult) -> Pictures:
        if self._pictures is None:
            from regtune.pictures import gather_pictures

            self._pictures = gather_pictures(result, with_path=self.with_path)
        return self._pictures

    def links(self) -> dict[str, str]:
        """label → path of the files the active outputs write (for the Markdown summary)."""
        from regtune.report import outputs

        return {
            o.link: str(self.values[o.setting.name])
            for o in outputs()
            if o.link and o.active(self.values.get(o.setting.name))
        }


class Output:
    """An output format. Subclasses set :attr:`setting` and implement :meth:`render`."""

    setting: ClassVar[Setting]
    #: Further options that shape this format (read from ``context.values``); giving one without
    #: :attr:`setting` is an error.
    options: ClassVar[tuple[Setting, ...]] = ()
    kind: ClassVar[str] = "file"
    #: The commands that offer the option.
    commands: ClassVar[tuple[str, ...]] = ("tune", "show")
    #: Whether ``-`` (standard output) is a valid destination.
    stdout: ClassVar[bool] = True
    #: The file name endings allowed (empty: any), and how the error says them.
    suffixes: ClassVar[tuple[str, ...]] = ()
    suffix_help: ClassVar[str] = ""
    #: Whether it draws pictures, and whether those include the coefficient path.
    pictures: ClassVar[bool] = False
    coefficient_path: ClassVar[bool] = False
    #: The label of its file in the Markdown summary's links (None: not linked).
    link: ClassVar[str | None] = None
    #: Where a console output goes: "body" (before the notes under the table) or "end" (after them).
    place: ClassVar[str] = "end"
    #: Writing order (the Markdown summary comes after the files it links).
    order: ClassVar[int] = 50

    @property
    def name(self) -> str:
        return self.setting.name

    def active(self, value: Any) -> bool:
        return value is not None and value is not False and value != 0

    def check(self, value: Any, inputs: tuple[str, ...] = ()) -> None:
        """Refuse a bad destination before any work is done (``inputs``: files it must not be)."""
        if not isinstance(value, str):
            return
        if value == "-" and not self.stdout:
            flag = named(self.name)
            raise ConfigError(f"{flag} needs a file path, not -: e.g. {flag} {self.example()}")
        if value != "-" and self.suffixes and Path(value).suffix.lower() not in self.suffixes:
            allowed = self.suffix_help or " or ".join(self.suffixes)
            raise ConfigError(f"{named(self.name)} {value}: the file name must end in {allowed}")
        if value != "-" and self.kind in ("file", "append"):
            check_destination(value, named(self.name), inputs)

    def example(self) -> str:
        return "PATH"

    def render(self, result: TuneResult, value: Any, context: OutputContext) -> Any:
        """The text or bytes to write (``file``, ``append``), or a list of renderables (``console``)."""
        raise NotImplementedError


def output_setting(name: str, help: str, **declaration: Any) -> Setting:
    """The option of an output format (panel Outputs, a PATH unless said otherwise)."""
    declaration.setdefault("type", str | None)
    declaration.setdefault("metavar", "PATH")
    return Setting(name=name, help=help, panel=OUTPUTS, **declaration)


def same_file(a: str, b: str) -> bool:
    """Whether paths ``a`` and ``b`` name one file (through links too)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def check_destination(path: str, flag: str, inputs: tuple[str, ...] = ()) -> None:
    """Refuse, before any work, an output path that cannot be written or that is one of ``inputs``
    (regtune never writes its input)."""
    for source in inputs:
        if source not in ("", "-") and not source.startswith("builtin:") and same_file(path, source):
            raise ConfigError(
                f"{flag} {path} is the input file {source}: regtune never writes its input; choose another path"
            )
    target = Path(path)
    if target.is_dir():
        raise ConfigError(f"{flag} {path} is a folder: give a file path")
    folder = Path(os.path.realpath(target)).parent
    if not folder.is_dir():
        raise ConfigError(f"{flag} {path}: the folder {folder} does not exist; create it first")
    if not os.access(folder, os.W_OK) and not (target.exists() and os.access(target, os.W_OK)):
        raise ConfigError(f"{flag} {path}: the folder {folder} is not writable (read-only, or no permission)")


def write_output(path: str, text: str | bytes) -> None:
    """Write ``text`` to ``path`` (``-`` is stdout).

    A regular file is replaced atomically (a failed write leaves the old file, or none, and no partial
    one); a symbolic link is written through (its target is replaced, the link stays); a FIFO or a
    device (``/dev/stdout``) is written into, never replaced by a regular file.
    """
    if path == "-":
        if isinstance(text, bytes):
            sys.stdout.buffer.write(text)
        else:
            sys.stdout.write(text)
        sys.stdout.flush()
        return
    data = text if isinstance(text, bytes) else text.encode("utf-8")
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise RegtuneError(f"cannot write {path}: {exc.strerror or exc}") from None
    if mode is not None and stat.S_ISDIR(mode):
        raise RegtuneError(f"cannot write {path}: it is a folder (give a file path)")
    if mode is not None and not stat.S_ISREG(mode):
        _write_special(path, data, stat.S_ISFIFO(mode))
        return
    target = Path(os.path.realpath(path))  # through a symbolic link: the link stays, its target changes
    tmp = target.with_name(f".{target.name}.regtune-tmp")
    try:
        if isinstance(text, bytes):
            tmp.write_bytes(text)
        else:
            tmp.write_text(text, encoding="utf-8")
        if mode is not None:
            os.chmod(tmp, stat.S_IMODE(mode))  # the replaced file's permissions, not the umask's
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):  # on a read-only file system even this fails
            tmp.unlink(missing_ok=True)
        raise RegtuneError(
            f"cannot write {path}: {exc.strerror or exc} (check that the folder exists, is writable and has space)"
        ) from None


def _write_special(path: str, data: bytes, fifo: bool) -> None:
    """Write into a FIFO or a device as ``cat > PATH`` would; a FIFO that nobody reads is an error, not a
    wait without end."""
    import fcntl

    try:
        fd = os.open(path, os.O_WRONLY | (os.O_NONBLOCK if fifo else 0))
    except OSError as exc:
        if fifo and exc.errno == errno.ENXIO:
            raise RegtuneError(f"cannot write {path}: no process reads this FIFO (start its reader first)") from None
        raise RegtuneError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        if fifo:
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    except OSError as exc:
        raise RegtuneError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def append_output(path: str, text: str) -> None:
    """Append ``text`` to ``path`` (a FIFO is written into, and one that nobody reads is an error)."""
    with contextlib.suppress(OSError):
        if stat.S_ISFIFO(os.stat(path).st_mode):
            _write_special(path, text.encode("utf-8"), fifo=True)
            return
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise RegtuneError(f"cannot append to {path}: {exc.strerror or exc} (check the path)") from None
