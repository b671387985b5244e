"""The Parquet lake: stored rows as Hive-partitioned Parquet for engines beyond DuckDB.

Layout: `LAKE/requests/day=YYYY-MM-DD/part-<uuid>.parquet`, with every `requests`
column; `day` (the UTC date of `ts`) lives in the folder name only, as Hive layout wants.

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
_COMMIT = "commit.json"


class Lake:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def stage(
        self,
        con: duckdb.DuckDBPyConnection,
        files: list[FileDone],
        span: tuple[datetime, datetime],
    ) -> Path | None:
        """Write the rows stored from `files` in this run (call inside their transaction);
        `span` bounds their times, so zone maps skip the rest of the warehouse."""
        staged = self.root / STAGING / uuid.uuid4().hex
        staged.mkdir(parents=True)
        reads = pa.table(
            {"path": [f.key for f in files], "start_line": [f.start_line for f in files]}
        )
        with registered(con, "_lake_files", reads):
            con.execute(
                "COPY (SELECT r.* EXCLUDE (run_id), CAST(r.ts AS DATE) AS day FROM requests r "
                "      JOIN _lake_files f "
                "        ON r.source_file = f.path AND r.source_line >= f.start_line "
                "      WHERE r.ts BETWEEN $lo AND $hi) "
                "TO $dir (FORMAT parquet, PARTITION_BY (day), FILENAME_PATTERN 'part-{uuid}')",
                {"dir": str(staged / "parts"), "lo": span[0], "hi": span[1]},
            ).fetchall()
        if not any((staged / "parts").glob("day=*/*.parquet")):
            shutil.rmtree(staged)
            return None
        record = [{"path": f.key, "bytes_consumed": f.consumed, "sha256": f.sha256} for f in files]
        write_bytes_atomically(staged / _COMMIT, [json.dumps(record).encode("utf-8")])
        return staged

    def publish(self, staged: Path) -> int:
        """Move staged parts into the lake (after the commit); return how many."""
        moved = 0
        for part in sorted((staged / "parts").glob("day=*/*.parquet")):
            target = self.root / TABLE / part.parent.name / part.name
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
