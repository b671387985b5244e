"""Atomic file writes (pipeline/files.py): all or nothing, nothing left behind."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from pipeline import files


def test_a_file_is_written_whole_with_shareable_permissions(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    files.write_bytes_atomically(target, [b"one ", memoryview(b"two")])
    assert target.read_bytes() == b"one two"
    assert stat.S_IMODE(target.stat().st_mode) == files.FILE_MODE
    assert os.listdir(tmp_path) == ["out.txt"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    target.write_text("old")

    def half(tmp: Path) -> None:
        tmp.write_text("half of the new")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        files.write_atomically(target, half)
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["report.html"]


def test_an_interrupted_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "x.csv"
    with pytest.raises(KeyboardInterrupt), files.atomic_open(target) as f:
        f.write(b"a,b\n")
        raise KeyboardInterrupt
    assert os.listdir(tmp_path) == []


def test_a_device_is_written_directly(tmp_path: Path) -> None:
    files.write_bytes_atomically(Path(os.devnull), [b"gone"])
    assert os.listdir(tmp_path) == []


def test_the_temporary_file_sits_beside_the_target_and_is_hidden(tmp_path: Path) -> None:
    target = tmp_path / "logs" / "rmslog-2026-11-02.log"
    target.parent.mkdir()
    with files.atomic_path(target) as tmp:
        assert tmp.parent == target.parent
        assert tmp.name.startswith(".rmslog-2026-11-02.log.")
        tmp.write_text("x")
    assert target.read_text() == "x"
