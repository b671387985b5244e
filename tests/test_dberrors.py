"""Each DuckDB error rmslog gives a meaning (and an exit code) to, raised by DuckDB itself:
a DuckDB upgrade that changes a class or rewords a message fails here first."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipeline import dberrors


def _raised(run: object) -> BaseException:
    assert callable(run)
    with pytest.raises(duckdb.Error) as caught:
        run()
    return caught.value


def test_a_conflicting_lock_is_an_io_exception_recognised_as_a_lock(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    duckdb.connect(str(db)).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, sys; c = duckdb.connect({str(db)!r}); print('held', flush=True); "
            "sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        for read_only in (False, True):
            e = _raised(lambda ro=read_only: duckdb.connect(str(db), read_only=ro))
            assert isinstance(e, duckdb.IOException)
            assert dberrors.is_lock_conflict(e)
            assert not dberrors.is_sandbox_refusal(e)
    finally:
        holder.kill()
        holder.wait()


def test_other_io_errors_are_not_locks(tmp_path: Path) -> None:
    e = _raised(lambda: duckdb.connect(str(tmp_path / "no" / "such" / "w.duckdb")))
    assert isinstance(e, duckdb.IOException)
    assert not dberrors.is_lock_conflict(e)


def test_a_write_on_a_read_only_warehouse_is_a_sandbox_refusal(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE TABLE t (x INTEGER)")
    with duckdb.connect(str(db), read_only=True) as con:
        e = _raised(lambda: con.execute("INSERT INTO t VALUES (1)"))
    assert isinstance(e, duckdb.InvalidInputException)
    assert dberrors.READ_ONLY in str(e).lower()
    assert dberrors.is_sandbox_refusal(e)


def test_a_setting_changed_after_the_lock_is_a_sandbox_refusal() -> None:
    with duckdb.connect() as con:
        con.execute("SET lock_configuration = true")
        e = _raised(lambda: con.execute("SET threads = 1"))
    assert isinstance(e, duckdb.InvalidInputException)
    assert dberrors.CONFIG_LOCKED in str(e).lower()
    assert dberrors.is_sandbox_refusal(e)


def test_file_access_when_disabled_is_a_permission_exception(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("a\n1\n")
    with duckdb.connect() as con:
        con.execute("SET enable_external_access = false")
        path = str(tmp_path / "x.csv")
        e = _raised(lambda: con.execute("SELECT * FROM read_csv($p)", {"p": path}))
    assert isinstance(e, duckdb.PermissionException)
    assert dberrors.is_sandbox_refusal(e)


def test_an_ordinary_invalid_input_is_not_a_refusal() -> None:
    with duckdb.connect() as con:
        e = _raised(lambda: con.execute("SELECT 'x'::INTEGER"))
    assert not dberrors.is_sandbox_refusal(e)
    assert not dberrors.is_damaged_warehouse(e)


def test_a_file_that_is_not_a_database_is_damaged(tmp_path: Path) -> None:
    bad = tmp_path / "bad.duckdb"
    bad.write_bytes(b"x" * 5000)
    e = _raised(lambda: duckdb.connect(str(bad)))
    assert dberrors.is_damaged_warehouse(e)
    assert not dberrors.is_lock_conflict(e)


def test_a_block_with_a_wrong_checksum_is_damaged_by_its_message(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute(
            "CREATE TABLE t AS SELECT range AS x, md5(range::VARCHAR) AS s FROM range(300000)"
        )
    data = bytearray(db.read_bytes())
    for offset in range(300_000, len(data) - 1, 4096):
        data[offset] ^= 0xFF
    db.write_bytes(bytes(data))

    def read() -> None:
        with duckdb.connect(str(db)) as con:
            con.execute("SELECT sum(x), count(DISTINCT s) FROM t").fetchall()

    e = _raised(read)
    assert dberrors.CORRUPT in str(e).lower()
    assert dberrors.is_damaged_warehouse(e)
