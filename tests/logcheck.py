"""Test helpers for the generator: a minimal W3C reader written from the fact sheet
(independent of `pipeline.ingest`), and reference detection rules in plain SQL.

The reader keeps values exactly as written (quotes included) so tests can check
quoting; `unquoted()` strips one pair of single quotes and maps `''` to NULL.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl

KEY_OPERATIONS = (
    "KMSPDecrypt",
    "KMSPSignDigest",
    "Decrypt",
    "SignDigest",
    "KeyVaultDecryptRequest",
    "KeyVaultSignDigest",
)
SERVICE_ACCOUNTS = ("microsoftrmsonline@%", "Aadrm_S-1-7-0")


@dataclass
class LogFolder:
    """Every data line of a folder, as raw strings, with the headers each file had."""

    records: pl.DataFrame  # one column per W3C field + file, line
    headers: dict[str, list[str]] = field(default_factory=dict)  # file -> its '#' lines
    fields: dict[str, tuple[str, ...]] = field(default_factory=dict)  # file -> #Fields


def _text(path: Path) -> str:
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    return data.decode("utf-8")


def read_folder(folder: Path) -> LogFolder:
    """Read every log file under `folder` (not ground-truth.json) line by line."""
    rows: list[dict[str, object]] = []
    out = LogFolder(pl.DataFrame())
    files = sorted(p for p in folder.iterdir() if p.name != "ground-truth.json")
    for path in files:
        text = _text(path)
        assert text.endswith("\n"), f"{path.name}: last line is not terminated"
        fields: tuple[str, ...] = ()
        out.headers[path.name] = []
        for number, line in enumerate(text[:-1].split("\n"), start=1):
            if line.startswith("#"):
                out.headers[path.name].append(line)
                if line.startswith("#Fields: "):
                    fields = tuple(line.removeprefix("#Fields: ").split(" "))
                continue
            values = line.split("\t")
            assert len(values) == len(fields), f"{path.name}:{number}: {len(values)} fields"
            rows.append(
                {"file": path.name, "line": number, **dict(zip(fields, values, strict=True))}
            )
        out.fields[path.name] = fields
    out.records = pl.DataFrame(rows, infer_schema_length=None)
    return out


def unquoted(records: pl.DataFrame) -> pl.DataFrame:
    """Strip one pair of single quotes from every string field; '' and empty become NULL;
    add `ts` (UTC) from date + time."""
    strip = [
        pl.col(c).str.strip_prefix("'").str.strip_suffix("'").replace("", None).alias(c)
        for c in records.columns
        if records.schema[c] == pl.String and c not in ("date", "time")
    ]
    ts = pl.concat_str("date", pl.lit(" "), "time").str.to_datetime("%Y-%m-%d %H:%M:%S")
    return records.with_columns(*strip, ts.alias("ts"))


def requests_table(folder: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with table `r` (snake_case columns, values unquoted)."""
    frame = unquoted(read_folder(folder).records)
    frame = frame.rename({c: c.replace("-", "_") for c in frame.columns})
    con = duckdb.connect()
    con.register("frame", frame)
    con.execute("CREATE TABLE r AS SELECT * FROM frame")
    con.unregister("frame")
    return con


#: Reference rules: what a sensible detection would do. Each returns (entity, first_ts,
#: last_ts). `$svc` holds the service identities' LIKE patterns, `$keys` the key operations.
PEOPLE = "user_id IS NOT NULL AND NOT list_bool_or(list_transform($svc, lambda p: user_id LIKE p))"
REFERENCE_RULES = {
    "off-hours-reading": """
        WITH x AS (SELECT *, timezone($tz, timezone('UTC', ts)) AS loc FROM r
                   WHERE request_type IN ('AcquireLicense', 'FECreateEndUserLicenseV1')
                     AND PEOPLE)
        SELECT user_id, min(ts), max(ts) FROM x
        WHERE hour(loc) < 8 OR hour(loc) >= 18 OR isodow(loc) > 5
        GROUP BY user_id, CAST(loc AS DATE) HAVING count(DISTINCT content_id) >= 25""",
    "impossible-travel": """
        WITH u AS (SELECT user_id, ts, split_part(c_ip, '.', 1) || '.' || split_part(c_ip, '.', 2)
                          AS net FROM r WHERE PEOPLE),
        p AS (SELECT a.user_id, a.ts AS t1, b.ts AS t2 FROM u a JOIN u b
              ON a.user_id = b.user_id AND b.ts > a.ts AND b.ts <= a.ts + INTERVAL 10 MINUTE
              AND a.net <> b.net)
        SELECT user_id, min(t1), max(t2) FROM p GROUP BY user_id, CAST(t1 AS DATE)""",
    "denied-burst": """
        WITH d AS (SELECT user_id, ts FROM r WHERE result = 'AccessDenied' AND PEOPLE),
        w AS (SELECT a.user_id, a.ts FROM d a JOIN d b ON a.user_id = b.user_id
              AND b.ts BETWEEN a.ts AND a.ts + INTERVAL 10 MINUTE
              GROUP BY a.user_id, a.ts HAVING count(*) >= 15)
        SELECT user_id, min(ts), max(ts) + INTERVAL 10 MINUTE FROM w
        GROUP BY user_id, CAST(ts AS DATE)""",
    "orphan-key-calls": """
        SELECT 'tenant-key', min(ts), max(ts) FROM r
        WHERE list_contains($keys, request_type) AND correlation_id NOT IN
              (SELECT correlation_id FROM r WHERE NOT list_contains($keys, request_type))
        GROUP BY date_trunc('hour', ts)""",
    "admin-browsing": """
        SELECT user_id, min(ts), max(ts) FROM r
        WHERE admin_action = 'True' AND acting_as_user IS NOT NULL
        GROUP BY user_id, CAST(ts AS DATE) HAVING count(DISTINCT acting_as_user) >= 5""",
    "revoked-document-opened": """
        WITH v AS (SELECT content_id, min(ts) AS revoked FROM r
                   WHERE request_type = 'RevokeAccess' GROUP BY content_id)
        SELECT content_id, min(revoked), max(ts) FROM r JOIN v USING (content_id)
        WHERE request_type IN ('AcquireLicense', 'FECreateEndUserLicenseV1') AND ts > revoked
        GROUP BY content_id""",
    "key-volume-spike": """
        WITH h AS (SELECT date_trunc('hour', ts) AS hour, count(*) AS n, min(ts) AS t1,
                          max(ts) AS t2 FROM r
                   WHERE list_contains($keys, request_type) GROUP BY 1)
        SELECT 'tenant-key', t1, t2 FROM h
        WHERE n >= 3 * (SELECT quantile_cont(n, 0.9) FROM h)""",
}


@dataclass(frozen=True)
class Finding:
    rule: str
    entity: str
    first_ts: datetime
    last_ts: datetime


def reference_findings(con: duckdb.DuckDBPyConnection, tz: str) -> list[Finding]:
    found = []
    for rule, sql in REFERENCE_RULES.items():
        query = sql.replace("PEOPLE", PEOPLE)
        values = {"tz": tz, "svc": list(SERVICE_ACCOUNTS), "keys": list(KEY_OPERATIONS)}
        params = {k: v for k, v in values.items() if f"${k}" in query}
        for entity, lo, hi in con.execute(query, params).fetchall():
            found.append(Finding(rule, str(entity), lo, hi))
    return found


def matches(finding: Finding, incident: dict[str, object], slack: timedelta) -> bool:
    lo = datetime.fromisoformat(str(incident["first_ts"])) - slack
    hi = datetime.fromisoformat(str(incident["last_ts"])) + slack
    return (
        finding.rule == incident["scenario"]
        and finding.entity == incident["entity"]
        and finding.first_ts <= hi
        and finding.last_ts >= lo
    )
