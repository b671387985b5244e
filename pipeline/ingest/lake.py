"""The Parquet lake: stored rows as Hive-partitioned Parquet for engines beyond DuckDB.

Layout (every folder is one table of the warehouse, with its columns):

- `LAKE/requests/day=YYYY-MM-DD/part-<uuid>.parquet`: the RMS records (`requests`
  without `run_id`); `day` (the UTC date of `ts`) lives in the folder name only, as Hive
  layout wants.
- `LAKE/keyvault_events/day=YYYY-MM-DD/part-<uuid>.parquet`: the Key Vault records, the
  same way (`keyvault_events` without `run_id`).
- `LAKE/integrity_events/part-<uuid>.parquet`, `LAKE/conflicts/part-<uuid>.parquet`: the
  chain-of-custody rows each commit wrote (with their `run_id`).
- `LAKE/ingested_files/part-<uuid>.parquet`: the manifest row of each file a commit read,
  as it stood after that commit, with the ingest run's `run_id`: a file's newest row (the
  highest `run_id`) is its state, as `ingested_files` holds it.

Exactly once, like the warehouse: inside a transaction, the rows that this run stored
from its files are written to `LAKE/_staging/<uuid>/` with a `commit.json` naming the
manifest rows the commit will write. After the commit the parts are moved into place
(a rename each). A run that died in between is settled by the next `--lake` run: parts
whose manifest row was committed are published, the others deleted.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from pipeline.duck import registered
from pipeline.files import write_bytes_atomically
from pipeline.ingest.source import FileDone

STAGING = "_staging"
TABLE = "requests"
#: Record tables, partitioned by the UTC day of `ts`: the staged folder of each, and the
#: rows of it one commit stored (`_lake_files`: the files read; `$run`: the ingest run).
_RECORDS = {
    TABLE: (
        "parts",
        "SELECT r.* EXCLUDE (run_id), CAST(r.ts AS DATE) AS day FROM requests r "
        "JOIN _lake_files f ON r.source_file = f.path AND r.source_line >= f.start_line "
        "WHERE r.ts BETWEEN $lo AND $hi AND r.run_id = $run",
    ),
    "keyvault_events": (
        "keyvault_events",
        "SELECT k.* EXCLUDE (run_id), CAST(k.ts AS DATE) AS day FROM keyvault_events k "
        "JOIN _lake_files f ON k.source_file = f.path AND k.source_line >= f.start_line "
        "WHERE k.ts BETWEEN $lo AND $hi AND k.run_id = $run",
    ),
}
#: Custody tables (small, not partitioned): what one commit wrote of each.
_CUSTODY = {
    "integrity_events": "SELECT * FROM integrity_events "
    "WHERE run_id = $run AND path IN (SELECT path FROM _lake_files)",
    "conflicts": "SELECT * FROM conflicts "
    "WHERE run_id = $run AND source_file IN (SELECT path FROM _lake_files)",
    "ingested_files": "SELECT *, CAST($run AS BIGINT) AS run_id FROM ingested_files "
    "WHERE path IN (SELECT path FROM _lake_files)",
}
#: Every table the lake holds, as folder names under LAKE/.
TABLES = (*_RECORDS, *_CUSTODY)
_COMMIT = "commit.json"


class Lake:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def stage(
        self,
        con: duckdb.DuckDBPyConnection,
        files: list[FileDone],
        span: tuple[datetime, datetime] | None,
        run_id: int,
    ) -> Path | None:
        """Write what this commit stores from `files` in ingest run `run_id` (call inside
        its transaction): the records, and the custody rows and manifest rows of the files.
        `span` bounds the records' times (None: no record stored), so zone maps skip the rest
        of the warehouse."""
        staged = self.root / STAGING / uuid.uuid4().hex
        staged.mkdir(parents=True)
        reads = pa.table(
            {"path": [f.key for f in files], "start_line": [f.start_line for f in files]}
        )
        with registered(con, "_lake_files", reads):
            lo, hi = span if span is not None else (None, None)
            for folder, query in _RECORDS.values() if span is not None else ():
                con.execute(
                    f"COPY ({query}) TO $dir "
                    "(FORMAT parquet, PARTITION_BY (day), FILENAME_PATTERN 'part-{uuid}')",
                    {"dir": str(staged / folder), "lo": lo, "hi": hi, "run": run_id},
                ).fetchall()
            for table, query in _CUSTODY.items():
                part = staged / "custody" / table / f"part-{uuid.uuid4()}.parquet"
                part.parent.mkdir(parents=True)
                (written,) = con.execute(
                    f"COPY ({query}) TO $file (FORMAT parquet)", {"file": str(part), "run": run_id}
                ).fetchall()[0]
                if not written:
                    part.unlink()
        if not _parts(staged):
            shutil.rmtree(staged)
            return None
        record = [{"path": f.key, "bytes_consumed": f.consumed, "sha256": f.sha256} for f in files]
        write_bytes_atomically(staged / _COMMIT, [json.dumps(record).encode("utf-8")])
        return staged

    def publish(self, staged: Path) -> int:
        """Move staged parts into the lake (after the commit); return how many."""
        moved = 0
        for part, target in _parts(staged):
            target = self.root / target
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(part, target)
            moved += 1
        shutil.rmtree(staged)
        return moved

    def recover(self, con: duckdb.DuckDBPyConnection) -> int:
        """Settle what a killed run left in staging; return parts published."""
        published = 0
        for staged in sorted((self.root / STAGING).glob("*")):
            if self._committed(con, staged / _COMMIT):
                published += self.publish(staged)
            else:
                shutil.rmtree(staged)
        return published

    @staticmethod
    def _committed(con: duckdb.DuckDBPyConnection, commit: Path) -> bool:
        """Did the transaction that staged these parts commit? Its files' manifest rows say
        so (they all commit together, so any one of them would do)."""
        try:
            records = json.loads(commit.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False  # died while staging: the transaction never committed
        for record in records:
            row = con.execute(
                "SELECT bytes_consumed, sha256 FROM ingested_files WHERE path = $p",
                {"p": record["path"]},
            ).fetchall()
            if not row:
                return False
            consumed, sha = row[0]
            same = consumed == record["bytes_consumed"] and sha == record["sha256"]
            if not (same or consumed > record["bytes_consumed"]):
                return False
        return True


def _parts(staged: Path) -> list[tuple[Path, Path]]:
    """The Parquet parts staged in `staged`, each with its place in the lake (relative)."""
    out = []
    for table, (folder, _) in _RECORDS.items():
        for part in sorted((staged / folder).glob("day=*/*.parquet")):
            out.append((part, Path(table) / part.parent.name / part.name))
    for table in _CUSTODY:
        for part in sorted((staged / "custody" / table).glob("*.parquet")):
            out.append((part, Path(table) / part.name))
    return out
