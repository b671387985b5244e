"""Turn events into W3C usage-log text and write files the way the service does.

Formatting is one Polars `concat_str` over dictionary gathers per chunk. Files are
written by a background thread (I/O overlaps the next chunk's simulation) and
atomically: a hidden temporary name, then a rename, so a watcher never sees half a
file. Gzip uses mtime 0 and no file name, so the same input gives the same bytes.
"""

from __future__ import annotations

import gzip
import io
import os
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date, time, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.generate.events import DOC_FULL, DOC_NONE, RESULTS, RT_NAMES
from pipeline.generate.tenant import Tenant
from pipeline.schema import LOG_VERSIONS, VERSION_HEADER

GZIP_LEVEL = 6
#: Pending writes allowed before the simulation waits for the disk.
MAX_PENDING = 3


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

    def __init__(self, tenant: Tenant, log_version: str) -> None:
        self.version = log_version
        self.admin = "admin-action" in LOG_VERSIONS[log_version]
        self.n_docs = len(tenant.documents)
        self.rtypes = pl.Series(RT_NAMES)
        users = _quoted(tenant.user_ids)
        results = _quoted(pl.Series(RESULTS))
        self.n_results = len(RESULTS)
        self.user_result = _pairs(users, results)
        self.cinfos = _quoted(tenant.cinfos)
        self.ips = tenant.ips
        self.admin_acting = pl.concat([pl.Series(["''\t''"]), _pairs(pl.Series(["'True'"]), users)])
        self.segments = self._doc_segments(tenant, users).to_arrow()
        self.times = pl.select(
            pl.time_range(time(0), time(23, 59, 59), "1s", eager=True).dt.strftime("%H:%M:%S")
        ).to_series()

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

    def lines(self, events: pl.DataFrame) -> pl.DataFrame:
        """One `line` per event, in the frame's order."""
        sec = events["sec"].to_numpy()
        day = sec // 86400
        first = int(day.min()) if len(day) else 0
        dates = pl.Series(
            [_iso_day(d) for d in range(first, int(day.max()) + 1)] if len(day) else []
        )
        segments = pc.take(self.segments, pa.array(self._segment_index(events)))
        index = pl.DataFrame(
            {
                "date": day - first,
                "time": sec % 86400,
                "ur": events["user"].to_numpy().astype(np.int64) * self.n_results
                + events["result"].to_numpy(),
                "aa": np.where(events["admin"].to_numpy(), 1 + events["acting"].to_numpy(), 0),
            }
        )
        cells = [
            pl.lit(dates).gather(index["date"]),
            pl.lit(self.times).gather(index["time"]),
            events["row_id"],
            pl.lit(self.rtypes).gather(events["rtype"]),
            pl.lit(self.user_result).gather(index["ur"]),
            events["correlation_id"],
            pl.lit(pl.Series(segments)),
            pl.lit(self.cinfos).gather(events["cinfo"]),
            pl.lit(self.ips).gather(events["ip"]),
        ]
        if self.admin:
            cells.append(pl.lit(self.admin_acting).gather(index["aa"]))
        return pl.select(pl.concat_str(cells, separator="\t").alias("line"))


def _quoted(values: pl.Series) -> pl.Series:
    return pl.select((pl.lit("'") + pl.lit(values) + pl.lit("'")).alias("q"))["q"]


def _pairs(left: pl.Series, right: pl.Series) -> pl.Series:
    """Every `left\tright`, left-major (index = i * len(right) + j)."""
    frame = pl.DataFrame({"l": left.alias("l")}).join(
        pl.DataFrame({"r": right.alias("r")}), how="cross", maintain_order="left_right"
    )
    return frame.select(pl.concat_str("l", "r", separator="\t").alias("p"))["p"]


def _iso_day(day: int) -> str:
    return (date(1970, 1, 1) + timedelta(days=day)).isoformat()


def _encode(header: str, lines: pl.DataFrame, gz: bool) -> bytes:
    buf = io.BytesIO()
    buf.write(header.encode("utf-8"))
    if lines.height:
        lines.write_csv(buf, include_header=False, quote_style="never")
    data = buf.getvalue()
    return gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0) if gz else data


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a hidden temporary file and a rename."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class Sink:
    """Formats and writes log files on a background thread, in submission order, so the
    simulation of the next chunk overlaps the text and disk work of this one."""

    def __init__(self, out_dir: Path, formatter: LineFormatter, gz: bool) -> None:
        self.out_dir = out_dir
        self.formatter = formatter
        self.header = header_lines(formatter.version)
        self.gz = gz
        self.files: list[Path] = []
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rmslog-writer")
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
        write_atomic(path, _encode(self.header, lines, self.gz))

    def flush(self) -> None:
        """Wait until every queued file is on disk (re-raising a write error)."""
        while self._pending:
            self._pending.pop(0).result()

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._pool.shutdown(wait=True)
