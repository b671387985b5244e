"""Test helpers for the generator: a minimal W3C reader written from the fact sheet
(independent of `pipeline.ingest`), and reference detection rules in plain SQL.

The reader keeps values exactly as written (quotes included) so tests can check
quoting; `unquoted()` strips one pair of single quotes and maps `''` to NULL.
"""

from __future__ import annotations

import gzip
import ipaddress
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import maxminddb
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
    """Read every log file under `folder` (not ground-truth.json nor geoip.mmdb) line by line."""
    rows: list[dict[str, object]] = []
    out = LogFolder(pl.DataFrame())
    files = sorted(p for p in folder.iterdir() if p.suffix not in (".json", ".mmdb"))
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
    """An in-memory DuckDB with table `r` (snake_case columns, values unquoted) and table
    `g`: every address's location from the folder's geoip.mmdb (lat, lon, radius km) and
    whether it is a declared corporate network (a VPN exit, from the ground truth)."""
    frame = unquoted(read_folder(folder).records)
    frame = frame.rename({c: c.replace("-", "_") for c in frame.columns})
    con = duckdb.connect()
    con.register("frame", frame)
    con.execute("CREATE TABLE r AS SELECT * FROM frame")
    con.unregister("frame")
    con.register("geo", locations(folder, frame["c_ip"].unique().to_list()))
    con.execute("CREATE TABLE g AS SELECT * FROM geo")
    con.unregister("geo")
    return con


def locations(folder: Path, ips: list[str]) -> pl.DataFrame:
    """Location of each address by the folder's geoip.mmdb, read with `maxminddb`."""
    truth = json.loads((folder / "ground-truth.json").read_text(encoding="utf-8"))
    nets = truth.get("world", {}).get("networks", [])
    declared = [ipaddress.ip_network(n["network"]) for n in nets if n["kind"] == "vpn-exit"]
    rows = []
    with maxminddb.open_database(str(folder / "geoip.mmdb")) as db:
        for ip in ips:
            rec: Any = db.get(ip)
            loc = rec["location"] if rec else None
            addr = ipaddress.ip_address(ip)
            rows.append(
                {
                    "c_ip": ip,
                    "lat": loc["latitude"] if loc else None,
                    "lon": loc["longitude"] if loc else None,
                    "radius": loc["accuracy_radius"] if loc else None,
                    "declared": any(addr in n for n in declared),
                }
            )
    schema = {
        "c_ip": pl.String,
        "lat": pl.Float64,
        "lon": pl.Float64,
        "radius": pl.Float64,
        "declared": pl.Boolean,
    }
    return pl.DataFrame(rows, schema=schema)


#: Reference rules: what a sensible detection would do. Each returns (entity, first_ts,
#: last_ts). `$svc` holds the service identities' LIKE patterns, `$keys` the key operations.
PEOPLE = "user_id IS NOT NULL AND NOT list_bool_or(list_transform($svc, lambda p: user_id LIKE p))"
REFERENCE_RULES = {
    # Distinct documents opened off hours in a local day, against the person's own other
    # days: night-shift and late workers read at night every day, an insider does not.
    "off-hours-reading": """
        WITH x AS (SELECT *, timezone($tz, timezone('UTC', ts)) AS loc FROM r
                   WHERE request_type IN ('AcquireLicense', 'FECreateEndUserLicenseV1')
                     AND PEOPLE),
        d AS (SELECT user_id, CAST(loc AS DATE) AS day, count(DISTINCT content_id) AS n,
                     min(ts) AS t1, max(ts) AS t2 FROM x
              WHERE hour(loc) < 8 OR hour(loc) >= 18 OR isodow(loc) > 5 GROUP BY 1, 2),
        b AS (SELECT *, max(n) OVER (PARTITION BY user_id ORDER BY day ROWS BETWEEN
                     UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING EXCLUDE CURRENT ROW) AS usual
              FROM d)
        SELECT user_id, t1, t2 FROM b WHERE n >= 25 AND n > 3 * coalesce(usual, 0)""",
    # Consecutive requests of a person from places farther apart (less both accuracy
    # radii) than an airliner flies in the time between; declared VPN exits are skipped.
    "impossible-travel": """
        WITH u AS (SELECT user_id, ts, c_ip, lat, lon, radius FROM r JOIN g USING (c_ip)
                   WHERE PEOPLE AND NOT declared AND lat IS NOT NULL),
        s AS (SELECT *, lag(ts) OVER w AS pts, lag(lat) OVER w AS plat, lag(lon) OVER w AS plon,
                     lag(radius) OVER w AS prad
              FROM u WINDOW w AS (PARTITION BY user_id ORDER BY ts, c_ip)),
        k AS (SELECT user_id, pts, ts, 2 * 6371 * asin(sqrt(
                       pow(sin(radians(lat - plat) / 2), 2) + cos(radians(plat)) * cos(radians(lat))
                       * pow(sin(radians(lon - plon) / 2), 2))) - radius - prad AS km,
                     greatest(epoch(ts) - epoch(pts), 1) AS secs
              FROM s WHERE pts IS NOT NULL)
        SELECT user_id, min(pts), max(ts) FROM k WHERE km > 0 AND km / secs * 3600 > 900
        GROUP BY user_id, CAST(ts AS DATE)""",
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
    # Six or more users' documents within an hour: a helpdesk's busy day is spread out.
    "admin-browsing": """
        WITH a AS (SELECT user_id, acting_as_user, min(ts) AS ts FROM r
                   WHERE admin_action = 'True' AND acting_as_user IS NOT NULL
                   GROUP BY user_id, acting_as_user, CAST(ts AS DATE)),
        w AS (SELECT x.user_id, x.ts FROM a x JOIN a y ON x.user_id = y.user_id
              AND y.ts BETWEEN x.ts AND x.ts + INTERVAL 60 MINUTE
              GROUP BY x.user_id, x.ts HAVING count(DISTINCT y.acting_as_user) >= 6)
        SELECT user_id, min(ts), max(ts) FROM w GROUP BY user_id, CAST(ts AS DATE)""",
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
