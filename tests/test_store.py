"""The store's fallback: a regular file DuckDB cannot read goes through the general path,
given to the store when it is made (no patching after construction)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import DATA, warehouse_contents

from pipeline.ingest import fast, ingest_paths
from pipeline.warehouse import open_warehouse


def _ingest(db: Path, folder: Path) -> int:
    with open_warehouse(db) as con:
        return ingest_paths(con, [folder], fast_min_bytes=0).files_read_by_duckdb


def test_files_duckdb_cannot_read_are_stored_by_the_general_path_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _ingest(tmp_path / "fast.duckdb", DATA / "quotes") > 0

    def refuse(self: fast.Staged, con: object) -> int:
        raise fast.FastPathMiss("as if DuckDB could not read the file")

    monkeypatch.setattr(fast.Staged, "_read", refuse)
    assert _ingest(tmp_path / "fallback.duckdb", DATA / "quotes") == 0
    assert warehouse_contents(tmp_path / "fallback.duckdb") == warehouse_contents(
        tmp_path / "fast.duckdb"
    )
