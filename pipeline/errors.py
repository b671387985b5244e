"""One error tree for the whole package, and the exit codes the CLI maps them to.

Exit codes are a contract for scripts and cron jobs; they change only on purpose.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes of `rmslog`."""

    OK = 0
    FINDINGS = 1  # findings at or above --fail-on were found
    USAGE = 2  # bad command line (Typer/Click also uses 2)
    INPUT = 3  # unreadable or refused input files
    WAREHOUSE = 4  # the DuckDB warehouse could not be opened, locked, or written
    QUERY = 5  # a query failed (bad SQL, unknown name or parameter, a runtime error)
    QUERY_REFUSED = 6  # the read-only sandbox refused a query (write, file, extension, setting)
    OUTPUT = 7  # an output could not be written (unwritable --out, disk full)
    NO_DATA = 8  # --require-data: no log record covers the requested period
    STALE = 9  # --no-detect: findings do not cover the data of the period (under --fail-on)
    CHANGED = 10  # verify: a source file changed or went missing since it was read
    INTERNAL = 70  # a bug: please report it with --debug output
    INTERRUPTED = 130  # Ctrl-C or SIGTERM; data is left as a clean run leaves it


class RmslogError(Exception):
    """Root of every error rmslog raises on purpose."""

    exit_code: ExitCode = ExitCode.INTERNAL


class UsageError(RmslogError):
    """An option or argument is wrong."""

    exit_code = ExitCode.USAGE


class LogFormatError(RmslogError):
    """An input file is not an RMS usage log, or cannot be read."""

    exit_code = ExitCode.INPUT


class WarehouseError(RmslogError):
    """The warehouse could not be opened, is locked by another process, or is damaged."""

    exit_code = ExitCode.WAREHOUSE


class QueryError(RmslogError):
    """A query failed: bad SQL, an unknown name or parameter, or an error while running."""

    exit_code = ExitCode.QUERY


class QueryRefusedError(QueryError):
    """The read-only sandbox refused a query: it would write, touch files, or change settings."""

    exit_code = ExitCode.QUERY_REFUSED


class OutputError(RmslogError):
    """An output (a report, an export, a query result) could not be written."""

    exit_code = ExitCode.OUTPUT


class NoDataError(RmslogError):
    """`--require-data`: no log record covers the requested period."""

    exit_code = ExitCode.NO_DATA
