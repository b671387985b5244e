"""What a DuckDB error means for rmslog: by exception class where DuckDB has one, else
by its message, and the message matches live here only (tests/test_dberrors.py makes
DuckDB raise each one, so an upgrade that rewords them fails a test, not an exit code).

DuckDB 2.x raises, for the cases whose exit codes are a contract:

- another process holds the warehouse: `IOException` "Could not set lock on file ...
  Conflicting lock is held in ..." (the same class as a missing folder or a damaged file:
  only the text tells them apart);
- a write on a read-only warehouse, or a setting changed after `lock_configuration`:
  `InvalidInputException` "... attached in read-only mode!", "... the configuration has
  been locked" (the class is shared with any invalid input, so the text decides);
- file access after `enable_external_access = false`: `PermissionException` (by class);
- a damaged file: `IOException`, `SerializationException`, `FatalException` (by class)
  or a plain `Error` "Corrupt database file: computed checksum ...".

duckdb is not imported here: `pipeline.shell` runs before every command, `--help`
included, and asks only when duckdb is already loaded.
"""

from __future__ import annotations

import sys
from types import ModuleType

#: Message fragments (lower case) DuckDB uses where the class does not say enough.
LOCK_CONFLICT = ("could not set lock on file", "conflicting lock")
READ_ONLY = "read-only mode"
CONFIG_LOCKED = "configuration has been locked"
CORRUPT = "corrupt database file"


def _text(e: BaseException) -> str:
    return str(e).lower()


def _duckdb() -> ModuleType | None:
    return sys.modules.get("duckdb")


def is_lock_conflict(e: BaseException) -> bool:
    """Another process holds the warehouse's lock."""
    duckdb = _duckdb()
    return (
        duckdb is not None
        and isinstance(e, duckdb.IOException)
        and any(part in _text(e) for part in LOCK_CONFLICT)
    )


def is_sandbox_refusal(e: BaseException) -> bool:
    """The read-only, locked-down connection refused a statement: a write, a file access,
    a setting."""
    duckdb = _duckdb()
    if duckdb is None:
        return False
    if isinstance(e, duckdb.PermissionException):
        return True
    # DuckDB 2 raises both as `InvalidInputException`; the text decides, whatever the class
    return isinstance(e, duckdb.Error) and (READ_ONLY in _text(e) or CONFIG_LOCKED in _text(e))


def is_damaged_warehouse(e: BaseException) -> bool:
    """The warehouse file could not be read or written: damaged, truncated, unreadable."""
    duckdb = _duckdb()
    if duckdb is None:
        return False
    kinds = (duckdb.IOException, duckdb.SerializationException, duckdb.FatalException)
    return isinstance(e, kinds) or (isinstance(e, duckdb.Error) and CORRUPT in _text(e))
