"""The process around every command: exit codes, signals, `--debug` anywhere, `--version`.

Every command of `rmslog` runs inside `RmslogGroup.invoke`, which turns whatever ends it
into one line on stderr and a documented exit code (`pipeline.errors.ExitCode`):
rmslog's own errors keep their code; Ctrl-C or SIGTERM, at any moment, is 130
(`pipeline.interrupts`); a full disk or read-only file system under an output is 7; a
damaged or truncated warehouse file is 4; anything else is a bug: 70, never a traceback
(`--debug` shows it) and never 1, which means "findings".

Imports stay light: this runs before every command, `--help` included. Typer is all it
loads; rich (a tenth of a second) only when something is printed on stderr (`err`).
"""

from __future__ import annotations

import errno
import signal
import sys
import traceback
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from typer.core import TyperGroup

from pipeline.dberrors import is_damaged_warehouse
from pipeline.errors import ExitCode, RmslogError
from pipeline.interrupts import interrupted, settle, signal_name, stop_cleanly

if TYPE_CHECKING:
    from rich.console import Console


class _Stderr:
    """rich's Console on stderr, made the first time something is printed: a command that
    says nothing there (`--help`, a query to stdout) never imports rich."""

    _made: Console | None = None

    @property
    def console(self) -> Console:
        if self._made is None:
            from rich.console import Console

            self._made = Console(stderr=True)
        return self._made

    def __getattr__(self, name: str) -> Any:
        return getattr(self.console, name)


err = _Stderr()


def escape(text: str) -> str:
    """rich's `escape` (markup in `text` printed literally), loading rich when first used."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


state = {"debug": False, "told": False}

DEBUG_FLAG = "--debug"
#: OS errors that mean "an output cannot be written here", whatever the file.
OUTPUT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS})
_PASS_THROUGH = (typer.Exit, typer.Abort, typer.TyperException)


def say_error(message: str) -> None:
    """One line on stderr; `message` is printed literally (log content is not markup)."""
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def outcome(e: BaseException) -> tuple[ExitCode, str]:
    """The exit code and the one line to print for an exception that ended a command."""
    sig = interrupted()
    if sig is not None or isinstance(e, KeyboardInterrupt):
        settle()
        by = signal_name(sig if sig is not None else signal.SIGINT)
        return ExitCode.INTERRUPTED, (
            f"interrupted by {by}: stopped; the warehouse keeps what was committed"
        )
    if isinstance(e, RmslogError):
        return e.exit_code, str(e)
    if isinstance(e, OSError) and e.errno in OUTPUT_ERRNOS:
        where = f" {e.filename}" if e.filename else ""
        return ExitCode.OUTPUT, f"cannot write{where}: {e.strerror or e}"
    if is_damaged_warehouse(e):
        return ExitCode.WAREHOUSE, (
            f"the warehouse could not be read or written (a damaged or truncated file?): "
            f"{_first_line(e)}"
        )
    return ExitCode.INTERNAL, (
        f"internal error ({type(e).__name__}: {_first_line(e)}); "
        "run again with --debug to see where, and please report it"
    )


def fail(e: BaseException) -> NoReturn:
    """Print `e` as one line (with --debug, the traceback first) and exit with its code."""
    code, message = outcome(e)
    if code == ExitCode.INTERRUPTED:
        if not state["told"]:
            err.print(message, highlight=False, markup=False, soft_wrap=True)
        state["told"] = True
    else:
        if state["debug"]:
            traceback.print_exception(e)
        say_error(message)
    raise typer.Exit(int(code)) from None


def take_debug(args: Sequence[str]) -> tuple[list[str], bool]:
    """`args` without `--debug` (anywhere before a `--`), and whether it was there."""
    args = list(args)
    end = args.index("--") if "--" in args else len(args)
    kept = [a for a in args[:end] if a != DEBUG_FLAG]
    return kept + args[end:], len(kept) < end


def show_version(value: bool) -> None:
    """`--version`: print `rmslog X.Y.Z` and exit."""
    if value:
        from importlib.metadata import version

        typer.echo(f"rmslog {version('rmslog')}")
        raise typer.Exit()


def tell_stop() -> None:
    """Say once that a signal stopped the command."""
    _, message = outcome(KeyboardInterrupt())
    if not state["told"]:
        err.print(message, highlight=False, markup=False, soft_wrap=True)
    state["told"] = True


class RmslogGroup(TyperGroup):
    """The `rmslog` group: every command runs under `fail` and `stop_cleanly`."""

    def main(  # type: ignore[override]  # same parameters, narrowed for our use
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        args, debug = take_debug(sys.argv[1:] if args is None else args)
        state["debug"], state["told"] = debug, False
        try:
            with stop_cleanly():
                try:
                    return super().main(
                        args=args,
                        prog_name=prog_name,
                        complete_var=complete_var,
                        standalone_mode=standalone_mode,
                        **extra,
                    )
                except (SystemExit, KeyboardInterrupt):
                    # A signal while the command line was parsed (before `invoke`) or as
                    # it exits: Typer says nothing, or Python a traceback; say it as
                    # everywhere.
                    if interrupted() is None:
                        raise
                    tell_stop()
                    raise SystemExit(int(ExitCode.INTERRUPTED)) from None
        except KeyboardInterrupt:
            # A second signal (or a re-delivered one) while the first stop was being
            # cleaned up or reported: it is the same stop, not a crash.
            if interrupted() is None:
                raise
            tell_stop()
            raise SystemExit(int(ExitCode.INTERRUPTED)) from None

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except _PASS_THROUGH:
            if interrupted() is not None:  # e.g. a command's own Exit while stopping
                fail(KeyboardInterrupt())
            raise
        except (SystemExit, GeneratorExit):
            raise
        except BaseException as e:
            fail(e)
