"""Test helper for the generator: a minimal W3C reader written from the fact sheet
(independent of `pipeline.ingest`). Whether the simulated incidents are detectable is
judged by the shipped rules themselves against the ground truth
(tests/test_detect_tenant.py), not by a second copy of them here.

The reader keeps values exactly as written (quotes included) so tests can check
quoting; `unquoted()` strips one pair of single quotes and maps `''` to NULL.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

KEY_OPERATIONS = (
    "KMSPDecrypt",
    "KMSPSignDigest",
    "Decrypt",
    "SignDigest",
    "KeyVaultDecryptRequest",
    "KeyVaultSignDigest",
)


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
