"""How Python data reaches DuckDB SQL: by a name given on purpose, for as long as it is needed.

Warehouse connections turn DuckDB's replacement scans off (`warehouse.connection_config`),
so SQL never finds a Python variable by its name. A Python object is used either as a
relation (`con.from_arrow(table)`, joined and inserted through the relation API, which
`pipeline/ingest/store.py` does for every chunk: a registered view would live in the open
transaction and keep each chunk's table alive until the commit), or, for a small table that
a statement joins by name, registered here for the length of a `with` block.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb


@contextmanager
def registered(con: duckdb.DuckDBPyConnection, name: str, data: object) -> Iterator[str]:
    """`data` (an Arrow table, a Polars frame) readable as `name` by `con`'s SQL inside the
    block, and unregistered when it ends, whatever happens."""
    con.register(name, data)
    try:
        yield name
    finally:
        con.unregister(name)
