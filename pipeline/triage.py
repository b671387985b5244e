"""The auditor's work on findings: triage (status, owner, note) and suppressions.

`detect` rewrites `findings` on every run; what an auditor records about a finding lives
beside it, keyed by the stable `finding_id`, so it survives every re-run (`--full` too)
and outlives a finding that stops firing:

- `finding_triage` is an append-only audit trail: every change is a new row (who, when,
  status, owner, note); the view `finding_status` is the latest state per finding.
- `suppressions` silences a rule for one entity until a date, with a reason and an owner.
  A suppressed finding is still computed and listed (the report's "suppressed" appendix);
  it only stops counting for `--fail-on`. Whether a suppression applies is judged when
  read, against the current date (a `now` argument, so tests choose the clock): an expired
  one stops applying by itself, and a lifted one is kept, with who lifted it and when.

Every value is bound as a DuckDB parameter, never formatted into SQL.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb

from pipeline.errors import UsageError
from pipeline.severity import SEVERITIES

#: Its tables (`finding_triage`, `suppressions`) come with migration 7 of
#: `pipeline.warehouse.MIGRATIONS`.
STATUSES = ("open", "investigating", "resolved", "false-positive", "benign")
#: Findings closed as not a threat: they no longer count for `--fail-on`.
CLOSED = ("false-positive", "benign")
#: Longest owner, note or reason kept (characters); longer text is refused, not cut.
MAX_TEXT = 4000

#: The findings as an auditor works them at `$now`: every current finding (firing) and
#: every triaged finding that stopped firing, with its latest triage state and the
#: suppression that applies to it at `$now` (the one that lasts longest), if any.
WORKED_FINDINGS = """
    WITH firing AS (
        SELECT finding_id, rule, severity, first_ts, last_ts, entity, summary, true AS firing
        FROM findings
    ),
    gone AS (
        SELECT s.finding_id, s.rule, NULL::VARCHAR AS severity, NULL::TIMESTAMP AS first_ts,
               NULL::TIMESTAMP AS last_ts, s.entity, NULL::VARCHAR AS summary,
               false AS firing
        FROM finding_status s ANTI JOIN findings f USING (finding_id)
    ),
    every AS (SELECT * FROM firing UNION ALL BY NAME SELECT * FROM gone)
    SELECT e.finding_id, e.rule, e.severity, e.first_ts, e.last_ts, e.entity, e.summary,
           e.firing, coalesce(s.status, 'open') AS status, s.owner, s.note,
           s.changed_at AS triaged_at, s.changed_by AS triaged_by,
           p.suppression_id IS NOT NULL AS suppressed, p.suppression_id,
           p.reason AS suppression_reason, p.owner AS suppression_owner,
           p.until AS suppressed_until
    FROM every e
    LEFT JOIN finding_status s USING (finding_id)
    LEFT JOIN active_suppressions(CAST($now AS TIMESTAMP)) p
        ON p.rule = e.rule AND p.entity = e.entity
"""


def who(by: str | None = None) -> str:
    """The person recorded for a change: `--by`, else the OS user."""
    if by is not None and by.strip():
        return by.strip()
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container): the uid, honestly
        return f"uid {os.getuid()}"


def _text(value: str | None, what: str, *, required: bool = False) -> str | None:
    if value is None or not value.strip():
        if required:
            raise UsageError(f"{what} must not be empty")
        return None
    if len(value) > MAX_TEXT:
        raise UsageError(f"{what} is {len(value):,} characters; at most {MAX_TEXT:,} are kept")
    return value


@dataclass(frozen=True)
class Change:
    """One row of the audit trail."""

    change_id: int
    finding_id: str
    rule: str | None
    entity: str | None
    status: str
    owner: str | None
    note: str | None
    changed_at: datetime
    changed_by: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "change_id": self.change_id,
            "finding_id": self.finding_id,
            "rule": self.rule,
            "entity": self.entity,
            "status": self.status,
            "owner": self.owner,
            "note": self.note,
            "changed_at": self.changed_at.isoformat(sep=" ") + "Z",
            "changed_by": self.changed_by,
        }


_CHANGE_COLUMNS = "change_id, finding_id, rule, entity, status, owner, note, changed_at, changed_by"


def record_triage(
    con: duckdb.DuckDBPyConnection,
    finding_id: str,
    *,
    status: str | None,
    owner: str | None,
    note: str | None,
    by: str | None,
    now: datetime,
) -> Change:
    """Append one change for `finding_id`: the new status and owner (each kept from the
    finding's latest state when not given) and the note. The finding must be current or
    have a triage history (one that stopped firing can still be closed)."""
    if status is not None and status not in STATUSES:
        raise UsageError(f"--status must be one of {', '.join(STATUSES)}, not {status!r}")
    owner, note = _text(owner, "--owner"), _text(note, "--note")
    if status is None and owner is None and note is None:
        raise UsageError("give at least one of --status, --owner, --note")
    found = con.execute(
        "SELECT rule, entity FROM findings WHERE finding_id = $id", {"id": finding_id}
    ).fetchall()
    before = con.execute(
        "SELECT rule, entity, status, owner FROM finding_status WHERE finding_id = $id",
        {"id": finding_id},
    ).fetchall()
    if not found and not before:
        raise UsageError(
            f"no finding {finding_id!r}: neither a current finding nor one with a triage "
            "history (see `rmslog findings`)"
        )
    rule, entity = found[0] if found else before[0][:2]
    previous_status, previous_owner = (before[0][2], before[0][3]) if before else ("open", None)
    con.execute("BEGIN")
    try:
        change_id = int(
            con.execute("SELECT coalesce(max(change_id), 0) + 1 FROM finding_triage").fetchall()[0][
                0
            ]
        )
        change = Change(
            change_id=change_id,
            finding_id=finding_id,
            rule=rule,
            entity=entity,
            status=status or previous_status,
            owner=owner if owner is not None else previous_owner,
            note=note,
            changed_at=now,
            changed_by=who(by),
        )
        con.execute(
            f"INSERT INTO finding_triage ({_CHANGE_COLUMNS}) "  # noqa: S608 (fixed names)
            "VALUES ($change_id, $finding_id, $rule, $entity, $status, $owner, $note, "
            "$changed_at, $changed_by)",
            {
                "change_id": change.change_id,
                "finding_id": change.finding_id,
                "rule": change.rule,
                "entity": change.entity,
                "status": change.status,
                "owner": change.owner,
                "note": change.note,
                "changed_at": change.changed_at,
                "changed_by": change.changed_by,
            },
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return change


def triage_history(con: duckdb.DuckDBPyConnection, finding_id: str) -> list[Change]:
    """Every change recorded for a finding, oldest first."""
    rows = con.execute(
        f"SELECT {_CHANGE_COLUMNS} FROM finding_triage WHERE finding_id = $id "  # noqa: S608
        "ORDER BY change_id",
        {"id": finding_id},
    ).fetchall()
    return [Change(*row) for row in rows]


def finding_exists(con: duckdb.DuckDBPyConnection, finding_id: str) -> bool:
    """A current finding, or one with a triage history."""
    row = con.execute(
        "SELECT (SELECT count(*) FROM findings WHERE finding_id = $id) "
        "+ (SELECT count(*) FROM finding_triage WHERE finding_id = $id)",
        {"id": finding_id},
    ).fetchall()
    return bool(row[0][0])


#: Columns `list_findings` yields, in order (the `findings --json` schema).
FINDING_COLUMNS = (
    "finding_id",
    "rule",
    "severity",
    "first_ts",
    "last_ts",
    "entity",
    "summary",
    "firing",
    "status",
    "owner",
    "note",
    "triaged_at",
    "triaged_by",
    "suppressed",
    "suppression_id",
    "suppression_reason",
    "suppression_owner",
    "suppressed_until",
)


def list_findings(
    con: duckdb.DuckDBPyConnection,
    *,
    now: datetime,
    statuses: list[str] | None = None,
    rules: list[str] | None = None,
    severity: str | None = None,
    batch: int = 1000,
) -> Iterator[dict[str, Any]]:
    """The findings as worked at `now`, most severe first, filtered; streamed in batches
    (a warehouse with a million findings is never held in memory)."""
    for s in statuses or []:
        if s not in STATUSES:
            raise UsageError(f"--status must be one of {', '.join(STATUSES)}, not {s!r}")
    if severity is not None and severity not in SEVERITIES:
        raise UsageError(f"--severity must be one of {', '.join(SEVERITIES)}, not {severity!r}")
    at_least = SEVERITIES[SEVERITIES.index(severity) :] if severity else list(SEVERITIES)
    sql = f"""
        SELECT {", ".join(FINDING_COLUMNS)} FROM ({WORKED_FINDINGS})
        WHERE (len($statuses) = 0 OR list_contains($statuses, status))
          AND (len($rules) = 0 OR list_contains($rules, rule))
          AND ($severity IS NULL OR list_contains($at_least, severity)
               OR (severity IS NOT NULL AND NOT list_contains($known, severity)))
        ORDER BY firing DESC,
                 CASE severity WHEN 'low' THEN 1 WHEN 'medium' THEN 2 WHEN 'high' THEN 3
                      ELSE 4 END DESC,
                 first_ts, finding_id
    """  # noqa: S608 (fixed SQL; every value is a parameter)
    cursor = con.execute(
        sql,
        {
            "now": now,
            "statuses": statuses or [],
            "rules": rules or [],
            "severity": severity,
            "at_least": list(at_least),
            "known": list(SEVERITIES),
        },
    )
    while chunk := cursor.fetchmany(batch):
        for row in chunk:
            yield dict(zip(FINDING_COLUMNS, row, strict=True))


def failing_findings(
    con: duckdb.DuckDBPyConnection,
    threshold: str,
    *,
    now: datetime,
    rules: list[str] | None = None,
) -> int:
    """Current findings at or above `threshold` that count for `--fail-on`: not closed as
    false-positive or benign, not suppressed at `now` (an unknown severity counts as the
    worst, as everywhere)."""
    if threshold not in SEVERITIES:
        raise UsageError(f"severity must be one of {', '.join(SEVERITIES)}, not {threshold!r}")
    at_least = list(SEVERITIES[SEVERITIES.index(threshold) :])
    row = con.execute(
        f"""SELECT count(*) FROM ({WORKED_FINDINGS})
            WHERE firing AND NOT suppressed AND NOT list_contains($closed, status)
              AND (len($rules) = 0 OR list_contains($rules, rule))
              AND (list_contains($at_least, severity) OR NOT list_contains($known, severity))
        """,  # noqa: S608 (fixed SQL; every value is a parameter)
        {
            "now": now,
            "closed": list(CLOSED),
            "rules": rules or [],
            "at_least": at_least,
            "known": list(SEVERITIES),
        },
    ).fetchall()
    return int(row[0][0])


@dataclass(frozen=True)
class Suppression:
    suppression_id: int
    rule: str
    entity: str
    reason: str
    owner: str
    until: date
    created_at: datetime
    created_by: str
    lifted_at: datetime | None
    lifted_by: str | None

    def state(self, now: datetime) -> str:
        """active, expired or lifted, at `now`."""
        if self.lifted_at is not None:
            return "lifted"
        return "active" if now < expires_at(self.until) else "expired"

    def as_dict(self, now: datetime) -> dict[str, Any]:
        return {
            "suppression_id": self.suppression_id,
            "rule": self.rule,
            "entity": self.entity,
            "reason": self.reason,
            "owner": self.owner,
            "until": self.until.isoformat(),
            "state": self.state(now),
            "created_at": self.created_at.isoformat(sep=" ") + "Z",
            "created_by": self.created_by,
            "lifted_at": None
            if self.lifted_at is None
            else self.lifted_at.isoformat(sep=" ") + "Z",
            "lifted_by": self.lifted_by,
        }


def expires_at(until: date) -> datetime:
    """A suppression `--until DAY` applies through that UTC day: it ends at the next midnight."""
    return datetime(until.year, until.month, until.day) + timedelta(days=1)


_SUPPRESSION_COLUMNS = (
    "suppression_id, rule, entity, reason, owner, until, created_at, created_by, "
    "lifted_at, lifted_by"
)


def add_suppression(
    con: duckdb.DuckDBPyConnection,
    *,
    rule: str,
    entity: str,
    reason: str,
    owner: str,
    until: date,
    by: str | None,
    now: datetime,
) -> Suppression:
    """Record a suppression of `rule` for `entity` through the UTC day `until`."""
    from pipeline.detect.rules import list_rules

    known = [r.id for r in list_rules()]
    if rule not in known:
        raise UsageError(f"unknown rule {rule!r}; known: {', '.join(known)}")
    entity_text = _text(entity, "--entity", required=True)
    reason_text = _text(reason, "--reason", required=True)
    owner_text = _text(owner, "--owner", required=True)
    if expires_at(until) <= now:
        raise UsageError(
            f"--until {until.isoformat()} is in the past (today is {now:%Y-%m-%d} UTC)"
        )
    con.execute("BEGIN")
    try:
        sid = int(
            con.execute("SELECT coalesce(max(suppression_id), 0) + 1 FROM suppressions").fetchall()[
                0
            ][0]
        )
        con.execute(
            f"INSERT INTO suppressions ({_SUPPRESSION_COLUMNS}) "  # noqa: S608 (fixed names)
            "VALUES ($id, $rule, $entity, $reason, $owner, $until, $now, $by, NULL, NULL)",
            {
                "id": sid,
                "rule": rule,
                "entity": entity_text,
                "reason": reason_text,
                "owner": owner_text,
                "until": until,
                "now": now,
                "by": who(by),
            },
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return _suppression(con, sid)


def _suppression(con: duckdb.DuckDBPyConnection, sid: int) -> Suppression:
    rows = con.execute(
        f"SELECT {_SUPPRESSION_COLUMNS} FROM suppressions "  # noqa: S608 (fixed names)
        "WHERE suppression_id = $id",
        {"id": sid},
    ).fetchall()
    if not rows:
        raise UsageError(f"no suppression {sid} (see `rmslog suppress --list`)")
    return Suppression(*rows[0])


def lift_suppression(
    con: duckdb.DuckDBPyConnection, sid: int, *, by: str | None, now: datetime
) -> Suppression:
    """End a suppression now; its row stays, with who lifted it and when."""
    current = _suppression(con, sid)
    if current.lifted_at is not None:
        raise UsageError(
            f"suppression {sid} was already lifted on {current.lifted_at:%Y-%m-%d %H:%M} UTC "
            f"by {current.lifted_by}"
        )
    con.execute(
        "UPDATE suppressions SET lifted_at = $now, lifted_by = $by WHERE suppression_id = $id",
        {"now": now, "by": who(by), "id": sid},
    )
    return _suppression(con, sid)


def list_suppressions(
    con: duckdb.DuckDBPyConnection, *, now: datetime, everything: bool = False
) -> list[Suppression]:
    """The suppressions active at `now` (every one ever made with `everything`)."""
    rows = con.execute(
        f"SELECT {_SUPPRESSION_COLUMNS} FROM suppressions "  # noqa: S608 (fixed names)
        "ORDER BY suppression_id"
    ).fetchall()
    found = [Suppression(*row) for row in rows]
    return found if everything else [s for s in found if s.state(now) == "active"]


_FINGERPRINT = (
    "md5(concat_ws('|', severity, first_ts, last_ts, entity, summary, "
    "CAST(evidence_row_ids AS VARCHAR)))"
)


def snapshot_findings(con: duckdb.DuckDBPyConnection) -> None:
    """Remember each finding's content (a temp table) so that `finding_changes` can tell,
    after a detect run, which findings are new, changed or gone."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE findings_before AS "  # noqa: S608 (fixed SQL)
        f"SELECT finding_id, {_FINGERPRINT} AS fingerprint FROM findings"
    )


#: The keys of each entry of `detect --json`'s and `report --json`'s `changes`: the one
#: stable schema for handing findings on (docs/cli.md), `hand_off` writes it. `change` is
#: new, changed or removed since the last run (detect), or new in the report's period or
#: changed (continued into it) relative to the previous period (report).
CHANGE_COLUMNS = ("change", *FINDING_COLUMNS)


def json_value(value: Any) -> Any:
    """A warehouse value as the hand-off JSON writes it: a (naive, UTC) timestamp as ISO
    8601 with its zone (`2026-11-27T09:30:00+00:00`, like the report's JSON export), a day
    as `2026-11-27`; anything else unchanged."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def hand_off(row: Mapping[str, Any], columns: tuple[str, ...] = CHANGE_COLUMNS) -> dict[str, Any]:
    """One finding in the hand-off schema: exactly `columns`, in order (a missing key is a
    programming error, never a silently absent field), JSON-ready."""
    return {c: json_value(row[c]) for c in columns}


def finding_changes(
    con: duckdb.DuckDBPyConnection, *, now: datetime, batch: int = 1000
) -> Iterator[dict[str, Any]]:
    """Since `snapshot_findings`: findings that are new or whose content changed (with their
    triage status and suppression at `now`), then the ones removed; streamed."""
    cursor = con.execute(
        f"""SELECT CASE WHEN b.finding_id IS NULL THEN 'new' ELSE 'changed' END AS change,
                   {", ".join("w." + c for c in FINDING_COLUMNS)}
            FROM ({WORKED_FINDINGS}) w
            JOIN (SELECT finding_id, {_FINGERPRINT} AS fingerprint FROM findings) f
                USING (finding_id)
            LEFT JOIN findings_before b USING (finding_id)
            WHERE b.finding_id IS NULL OR b.fingerprint <> f.fingerprint
            UNION ALL
            SELECT 'removed', b.finding_id, {", ".join("NULL" for _ in FINDING_COLUMNS[1:])}
            FROM findings_before b ANTI JOIN findings f USING (finding_id)
            ORDER BY 1 DESC, 2
        """,  # noqa: S608 (fixed SQL; every value is a parameter)
        {"now": now},
    )
    while chunk := cursor.fetchmany(batch):
        for row in chunk:
            yield hand_off(dict(zip(CHANGE_COLUMNS, row, strict=True)))
