"""Scoped reports: `report --user/--document/--ip/--app` restrict the report to records of
one or more users, documents, client IPs or applications.

The scope's values go into a temp table (`report_scope`, bound parameters, never SQL
text), and temp views of the same names shadow what the report's queries read: DuckDB
resolves an unqualified name in the temp catalog first, in queries, views and macros
alike, so every report query (and the rollup macros it calls) reads the scoped rows
without a second copy of the SQL. Values of one kind are alternatives (OR), kinds combine
(AND). A document matches its content id or its file name; an application the `AppName`
of `c_info`.

Scoped: `key_usage`, `key_calls_by_time`, `key_calls_by_origin`, `requests`,
`users_by_day` and `findings` (a finding is in scope when one of its evidence records is;
it then lists only those). Not scoped: `requests_by_hour` (how much of the period the logs
cover) and the data-completeness and manifest tables, which describe the logs themselves;
their raw rejected lines, which may hold anyone's records, are withheld.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

#: The temp views a scope installs, shadowing the warehouse's tables of the same name.
SHADOWED = (
    "key_usage",
    "key_calls_by_time",
    "key_calls_by_origin",
    "requests",
    "users_by_day",
    "findings",
)
KINDS = ("user", "document", "ip", "app")


@dataclass(frozen=True)
class Scope:
    """What a report is restricted to (all empty: the whole tenant)."""

    users: tuple[str, ...] = ()
    documents: tuple[str, ...] = ()
    ips: tuple[str, ...] = ()
    apps: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.users or self.documents or self.ips or self.apps)

    def pairs(self) -> list[tuple[str, str]]:
        return [
            (kind, value)
            for kind, values in zip(
                KINDS, (self.users, self.documents, self.ips, self.apps), strict=True
            )
            for value in dict.fromkeys(values)
        ]

    def describe(self, *, hide_people: bool = False) -> str:
        """`user kim@x, user al@x; app WINWORD.EXE`; under pseudonymisation user ids and IPs
        are counted, not named."""
        parts = []
        for kind, values in zip(
            KINDS, (self.users, self.documents, self.ips, self.apps), strict=True
        ):
            if not values:
                continue
            if hide_people and kind in ("user", "ip"):
                parts.append(f"{len(values)} {kind}(s), withheld (pseudonymised)")
            else:
                parts.append(", ".join(f"{kind} {v}" for v in dict.fromkeys(values)))
        return "; ".join(parts)

    def as_dict(self) -> dict[str, list[str]]:
        return {
            "users": list(self.users),
            "documents": list(self.documents),
            "ips": list(self.ips),
            "apps": list(self.apps),
        }


def _in_scope(user: str, content: str, file_name: str, ip: str, c_info: str) -> str:
    """The scope's predicate over a row's columns (fixed SQL: the values are in a table)."""

    def kind(k: str, test: str) -> str:
        return f"(NOT EXISTS (SELECT 1 FROM report_scope WHERE kind = '{k}') OR {test})"  # noqa: S608

    values = "(SELECT value FROM report_scope WHERE kind = '{}')"
    return " AND ".join(
        (
            kind("user", f"{user} IN {values.format('user')}"),
            kind(
                "document",
                f"({content} IN {values.format('document')} "
                f"OR {file_name} IN {values.format('document')})",
            ),
            kind("ip", f"{ip} IN {values.format('ip')}"),
            kind("app", f"c_info_field({c_info}, 'AppName') IN {values.format('app')}"),
        )
    )


def apply_scope(con: duckdb.DuckDBPyConnection, scope: Scope) -> None:
    """Install the scope's temp table and shadowing views on this connection."""
    db = con.execute("SELECT current_database()").fetchall()[0][0]
    base = '"' + str(db).replace('"', '""') + '".main.'
    row = _in_scope("user_id", "content_id", "file_name", "c_ip", "c_info")
    con.execute("CREATE OR REPLACE TEMP TABLE report_scope (kind VARCHAR, value VARCHAR)")
    con.executemany("INSERT INTO report_scope VALUES (?, ?)", scope.pairs())
    # Fixed SQL: table names and the predicate are constants; the values are in report_scope.
    view = "CREATE OR REPLACE TEMP VIEW {0} AS SELECT * FROM {1}{0} WHERE {2}"
    statements = (
        view.format("key_usage", base, row),
        view.format("requests", base, row),
        view.format("key_calls_by_origin", base, row),
        # Recomputed from the scoped key_usage (the rollup has no user or IP).
        "CREATE OR REPLACE TEMP VIEW key_calls_by_time AS SELECT * FROM "
        "key_calls_by_time_of(TIMESTAMP '-infinity', TIMESTAMP 'infinity')",
        "CREATE OR REPLACE TEMP VIEW users_by_day AS SELECT * FROM "
        "users_by_day_of(TIMESTAMP '-infinity', TIMESTAMP 'infinity')",
        f"""CREATE OR REPLACE TEMP VIEW findings AS
            WITH evidence AS (
                SELECT finding_id, unnest(evidence_row_ids) AS row_id,
                       unnest(generate_series(1, len(evidence_row_ids))) AS n
                FROM {base}findings
            ),
            kept AS (
                SELECT e.finding_id, list(e.row_id ORDER BY e.n) AS row_ids
                FROM evidence e SEMI JOIN requests r ON r.row_id = e.row_id
                GROUP BY e.finding_id
            )
            SELECT f.* REPLACE (k.row_ids AS evidence_row_ids)
            FROM {base}findings f JOIN kept k USING (finding_id)""",  # noqa: S608
    )
    for sql in statements:
        con.execute(sql)


def drop_scope(con: duckdb.DuckDBPyConnection) -> None:
    """Remove the shadowing views: the connection reads the warehouse again."""
    for name in SHADOWED:
        con.execute(f"DROP VIEW IF EXISTS temp.main.{name}")
    con.execute("DROP TABLE IF EXISTS temp.main.report_scope")
