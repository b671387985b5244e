"""Atomic file writes: the one way rmslog writes a file that someone may read meanwhile.

A file is written to a temporary file in the same folder, flushed to disk (fsync), then
renamed over the target, and the folder is flushed so the rename itself survives a power
cut. A reader sees the old file or the new one, never half of one; a failure (an
exception, a full disk, Ctrl-C) removes the temporary file and leaves the target as it was.
Reports, exports, query results (`--out`), generated logs, the location database and the
lake's commit records all go through here.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

#: Permissions of a written file (`mkstemp` makes 0600; outputs are meant to be shared).
FILE_MODE = 0o644


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """A temporary path beside `target` to write to; when the block ends normally the
    file is fsynced and renamed over `target`, otherwise it is removed. A `target` that
    is not a regular file (`/dev/null`, a named pipe) is written directly."""
    if target.exists() and not target.is_file():
        yield target
        return
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        _fsync_file(tmp)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_open(target: Path) -> Iterator[IO[bytes]]:
    """A binary file to write `target` through, atomically (see `atomic_path`)."""
    with atomic_path(target) as tmp, tmp.open("wb") as f:
        yield f


def write_atomically(target: Path, write: Callable[[Path], object]) -> None:
    """Call `write(tmp)` to write the file, then put it in place atomically."""
    with atomic_path(target) as tmp:
        write(tmp)


def write_bytes_atomically(target: Path, parts: Iterable[bytes | memoryview]) -> None:
    """Write `parts`, one after the other, to `target` atomically."""
    with atomic_open(target) as f:
        for part in parts:
            f.write(part)


def _fsync_file(path: Path) -> None:
    with path.open("rb+") as f:
        os.fsync(f.fileno())


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # a folder that cannot be opened (Windows): the rename stands alone
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems do not sync folders; the file itself is on disk
    finally:
        os.close(fd)
