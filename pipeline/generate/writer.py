"""Turn events into W3C usage-log text and write files the way the service does.

Formatting is one Polars `concat_str` over dictionary gathers per file; the lines end
in "\n", so the Arrow buffer behind them is the file body and is written as is. Files
are formatted and written by a background thread (overlapping the next chunk's
simulation) and atomically: a hidden temporary name, then a rename, so a watcher never
sees half a file. Gzip uses mtime 0 and no file name: same input, same bytes.
"""

from __future__ import annotations

import gzip
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.files import atomic_open
from pipeline.generate.events import DOC_FULL, DOC_NONE, RESULTS, RT_NAMES
from pipeline.generate.ids import (
    corr_salt,
    fixed_strings,
    keyed_bytes,
    keyed_guids,
    row_salt,
    write_guids,
)
from pipeline.generate.tenant import Tenant
from pipeline.schema import LOG_VERSIONS, VERSION_HEADER

GZIP_LEVEL = 6
#: Pending writes allowed before the simulation waits for the disk.
MAX_PENDING = 4
#: Threads that format and write files (the main thread simulates).
WORKERS = 2


def header_lines(log_version: str) -> str:
    """The three header lines every blob and daily file starts with."""
    fields = " ".join(LOG_VERSIONS[log_version])
    return f"#Software: RMS\n#Version: {VERSION_HEADER[log_version]}\n#Fields: {fields}\n"


class LineFormatter:
    """Formats event frames as data lines of one log version (quoting as the service does:
    user-id, result, owner-email, issuer, file-name, date-published, c-info, admin-action
    and acting-as-user inside single quotes; GUIDs, types and addresses bare).

    Adjacent fields with few combinations share one dictionary (user-id + result;
    admin-action + acting-as-user), and the large document dictionary is gathered
    contiguously with Arrow first: both keep `concat_str` fast.
    """

    def __init__(self, tenant: Tenant, log_version: str, seed: int) -> None:
        self.version = log_version
        self.salts = row_salt(seed), corr_salt(seed)
        self.admin = "admin-action" in LOG_VERSIONS[log_version]
        self.n_docs = len(tenant.documents)
        self.rtypes = pl.Series(RT_NAMES)
        users = _quoted(tenant.user_ids)
        results = _quoted(pl.Series(RESULTS))
        self.n_results = len(RESULTS)
        self.user_result = _pairs(users, results)
        self.cinfos = _quoted(tenant.cinfos)
        # The last field of each line carries the line's "\n".
        admin_acting = pl.concat([pl.Series(["''\t''"]), _pairs(pl.Series(["'True'"]), users)])
        self.admin_acting = _ended(admin_acting)
        self.ips = tenant.ips if self.admin else _ended(tenant.ips)
        self.segments = self._doc_segments(tenant, users).to_arrow()

    def _doc_segments(self, tenant: Tenant, users: pl.Series) -> pl.Series:
        """Index 0: no document; 1..D: every field; D+1..2D: content-id only."""
        docs = tenant.documents
        cid = docs.content_id
        if self.version == "1.0":
            return pl.concat([pl.Series([""]), cid, cid])
        published = pl.Series(docs.published * 1_000_000).cast(pl.Datetime("us"))
        full = pl.select(
            pl.concat_str(
                [
                    pl.lit(cid),
                    pl.lit(users.gather(tenant.people.user[docs.owner])),
                    pl.lit(_quoted(docs.issuer)),
                    pl.lit(docs.template_id),
                    pl.lit(_quoted(docs.file_name)),
                    "'" + pl.lit(published).dt.strftime("%Y-%m-%dT%H:%M:%S") + "'",
                ],
                separator="\t",
            ).alias("s")
        )["s"]
        blank = "\t''\t''\t\t''\t''"
        id_only = pl.select((pl.lit(cid) + pl.lit(blank)).alias("s"))["s"]
        return pl.concat([pl.Series([blank]), full, id_only])

    def _segment_index(self, events: pl.DataFrame) -> npt.NDArray[np.int64]:
        doc = events["doc"].to_numpy().astype(np.int64)
        mode = events["docmode"].to_numpy()
        full = np.where(mode == DOC_FULL, doc + 1, doc + 1 + self.n_docs)
        return np.where(mode == DOC_NONE, 0, full)

    def _prefix(self, events: pl.DataFrame) -> pl.Series:
        """`date<TAB>time<TAB>row-id`: fixed width, so built as one byte matrix in NumPy."""
        sec = events["sec"].to_numpy()
        day = sec // 86400
        first = int(day.min()) if len(day) else 0
        last = int(day.max()) + 1 if len(day) else 0
        dates = np.frombuffer("".join(_iso_day(d) for d in range(first, last)).encode(), np.uint8)
        out = np.empty((len(sec), 56), dtype=np.uint8)
        out[:, :10] = dates.reshape(-1, 10)[day - first]
        out[:, 10] = out[:, 19] = ord("\t")
        out[:, 11:19] = _CLOCK[sec % 86400]
        write_guids(keyed_bytes(events["row_key"].to_numpy(), self.salts[0]), out, 20)
        return fixed_strings(out)

    def lines(self, events: pl.DataFrame) -> pl.DataFrame:
        """One `line` per event, in the frame's order."""
        segments = pc.take(self.segments, pa.array(self._segment_index(events)))
        index = pl.DataFrame(
            {
                "ur": events["user"].to_numpy().astype(np.int64) * self.n_results
                + events["result"].to_numpy(),
                "aa": np.where(events["admin"].to_numpy(), 1 + events["acting"].to_numpy(), 0),
            }
        )
        cells = [
            pl.lit(self._prefix(events)),
            pl.lit(self.rtypes).gather(events["rtype"]),
            pl.lit(self.user_result).gather(index["ur"]),
            pl.lit(keyed_guids(events["corr_key"].to_numpy(), self.salts[1])),
            pl.lit(pl.Series(segments)),
            pl.lit(self.cinfos).gather(events["cinfo"]),
            pl.lit(self.ips).gather(events["ip"]),
        ]
        if self.admin:
            cells.append(pl.lit(self.admin_acting).gather(index["aa"]))
        return pl.select(pl.concat_str(cells, separator="\t").alias("line"))


def _ended(values: pl.Series) -> pl.Series:
    return pl.select((pl.lit(values) + pl.lit("\n")).alias("e"))["e"]


def _quoted(values: pl.Series) -> pl.Series:
    return pl.select((pl.lit("'") + pl.lit(values) + pl.lit("'")).alias("q"))["q"]


def _pairs(left: pl.Series, right: pl.Series) -> pl.Series:
    """Every `left\tright`, left-major (index = i * len(right) + j)."""
    frame = pl.DataFrame({"l": left.alias("l")}).join(
        pl.DataFrame({"r": right.alias("r")}), how="cross", maintain_order="left_right"
    )
    return frame.select(pl.concat_str("l", "r", separator="\t").alias("p"))["p"]


#: "HH:MM:SS" for every second of a day, as an (86400, 8) byte matrix.
_CLOCK = np.frombuffer(
    "".join(f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86400)).encode(),
    np.uint8,
).reshape(86400, 8)


def _iso_day(day: int) -> str:
    return (date(1970, 1, 1) + timedelta(days=day)).isoformat()


def _buffers(lines: pl.DataFrame) -> list[memoryview]:
    """The bytes of newline-terminated lines, straight from their Arrow buffers."""
    array = lines.to_series().to_arrow()
    chunks = array.chunks if isinstance(array, pa.ChunkedArray) else [array]
    views = []
    for chunk in chunks:
        if len(chunk) == 0:
            continue
        wide = pa.types.is_large_string(chunk.type)
        offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int64 if wide else np.int32)
        lo, hi = int(offsets[chunk.offset]), int(offsets[chunk.offset + len(chunk)])
        views.append(memoryview(chunk.buffers()[2])[lo:hi])
    return views


def write_atomic(path: Path, parts: list[bytes | memoryview], gz: bool = False) -> None:
    """Write `parts` to `path` atomically (`pipeline.files`), gzipped with `gz`."""
    with atomic_open(path) as f:
        if gz:
            # The name in the gzip header is the file's own, not the temporary one's.
            with gzip.GzipFile(
                path.name, mode="wb", compresslevel=GZIP_LEVEL, fileobj=f, mtime=0
            ) as z:
                for part in parts:
                    z.write(part)
        else:
            for part in parts:
                f.write(part)


class Sink:
    """Formats and writes log files on a background thread, in submission order, so the
    simulation of the next chunk overlaps the text and disk work of this one."""

    def __init__(self, out_dir: Path, formatter: LineFormatter, gz: bool) -> None:
        self.out_dir = out_dir
        self.formatter = formatter
        self.header = header_lines(formatter.version)
        self.gz = gz
        self.files: list[Path] = []
        self._pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="rmslog-writer")
        self._pending: list[Future[None]] = []
        out_dir.mkdir(parents=True, exist_ok=True)

    def write(self, name: str, events: pl.DataFrame) -> Path:
        """Queue one file: header, then one line per event; returns its final path."""
        path = self.out_dir / (name + (".gz" if self.gz else ""))
        self.files.append(path)
        self._pending.append(self._pool.submit(self._write, path, events))
        while len(self._pending) > MAX_PENDING:
            self._pending.pop(0).result()
        return path

    def _write(self, path: Path, events: pl.DataFrame) -> None:
        lines = self.formatter.lines(events)
        write_atomic(path, [self.header.encode("utf-8"), *_buffers(lines)], self.gz)

    def flush(self) -> None:
        """Wait until every queued file is on disk (re-raising a write error)."""
        while self._pending:
            self._pending.pop(0).result()

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._pool.shutdown(wait=True)
