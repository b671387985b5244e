"""Read Azure Key Vault AuditEvent logs (`insights-logs-auditevent`) into typed records.

A blob (`.../y=YYYY/m=MM/d=DD/h=HH/m=00/PT1H.json`, maybe `.gz`) is JSON Lines (one
record per line, since 2018-11) or one object `{"records": [ ... ]}` (older blobs); the
kind is told by the file's first non-blank bytes, never by its name alone. Both are read
in chunks of about `CHUNK_BYTES` from where the manifest stopped, so memory stays
bounded whatever the blob's size, and a blob that grew during its hour is read on from
its last complete record. Every record ends up stored, a duplicate (its `record_id`, the
SHA-256 of its canonical JSON, is stored already) or rejected with file, line and reason.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import pyarrow as pa

from pipeline.errors import LogFormatError
from pipeline.ingest.lines import BOM
from pipeline.ingest.source import (
    CHUNK_BYTES,
    FileDone,
    FileSkipped,
    Known,
    Resume,
    _Cursor,
    _position,
    is_gzip,
    open_log,
    read_block,
)
from pipeline.ingest.w3c import RAW_LINE_MAX_BYTES, Header

#: `ingested_files.kind` of a Key Vault file (RMS files are `rms`).
KIND = "keyvault"
#: In folders, files with these names are looked at (and taken when their content is JSON).
SUFFIXES = (".json", ".json.gz", ".jsonl", ".jsonl.gz")
#: The two layouts.
JSON_LINES, RECORDS = "json-lines", "records"
#: A record of the `{"records": [...]}` form longer than this is rejected with the rest of
#: the file (a bound on memory: the records of real blobs are a few KiB).
MAX_RECORD_CHARS = 16 << 20
#: How much of a file's beginning `sniff` looks at.
SNIFF_BYTES = 64 << 10
#: The Azure Rights Management service principal (the default `keyvault.rms_appids`).
RMS_APPID = "00000012-0000-0000-c000-000000000000"

_OID = "http://schemas.microsoft.com/identity/claims/objectidentifier"
_UPN = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"
_RECORDS_OPEN = re.compile(r'\s*\{\s*"records"\s*:\s*\[')
_RECORDS_SNIFF = re.compile(rb'\s*\{\s*"records"\s*:')
_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(Z|z|[+-]\d{2}:?\d{2})?"
)
_WS = " \t\r\n"

COLUMNS = (
    ("ts", pa.timestamp("us")),
    ("record_id", pa.string()),
    ("operation", pa.string()),
    ("operation_version", pa.string()),
    ("category", pa.string()),
    ("result_type", pa.string()),
    ("result_signature", pa.string()),
    ("result_description", pa.string()),
    ("http_status", pa.int32()),
    ("duration_ms", pa.int64()),
    ("caller_ip", pa.string()),
    ("appid", pa.string()),
    ("object_id", pa.string()),
    ("upn", pa.string()),
    ("resource_id", pa.string()),
    ("key_vault", pa.string()),
    ("key_id", pa.string()),
    ("key_name", pa.string()),
    ("key_version", pa.string()),
    ("algorithm", pa.string()),
    ("correlation_id", pa.string()),
    ("client_info", pa.string()),
    ("request_uri", pa.string()),
    ("is_access_policy_match", pa.bool_()),
    ("source_file", pa.string()),
    ("source_line", pa.int64()),
    ("source_offset", pa.int64()),
    ("raw_json", pa.string()),
)
SCHEMA = pa.schema(list(COLUMNS))
REJECT_SCHEMA = pa.schema(
    [
        ("source_file", pa.string()),
        ("source_line", pa.int64()),
        ("reason", pa.string()),
        ("raw_line", pa.string()),
        ("raw_bytes", pa.int64()),
        ("raw_sha256", pa.string()),
    ]
)


def sniff(path: Path) -> str | None:
    """`JSON_LINES` or `RECORDS` when the file's first non-blank bytes open a JSON object;
    None otherwise (an RMS log, or not a log: the RMS path decides)."""
    try:
        stream = open_log(path)
    except LogFormatError:
        return None
    try:
        head = read_block(stream, 4096, path)  # an RMS log shows its `#` at once
        if head.removeprefix(BOM).lstrip(b" \t\r\n").startswith(b"{") and b"\n" not in head:
            head += read_block(stream, SNIFF_BYTES - len(head), path)
    except LogFormatError:
        return None
    finally:
        stream.close()
    head = head.removeprefix(BOM).lstrip(b" \t\r\n")
    if not head.startswith(b"{"):
        return None
    if _RECORDS_SNIFF.match(head):
        return RECORDS
    # Other JSON (a simulator's ground-truth.json, a settings export) is not a Key Vault
    # log: a record names its time and operation in its first few hundred bytes.
    first = head.split(b"\n", 1)[0]
    return JSON_LINES if b'"operationName"' in first and b'"time"' in first else None


@dataclass(frozen=True, slots=True)
class KvBatch:
    """Records of one chunk of a Key Vault file, ready for DuckDB."""

    key: str
    rows: pa.Table  # SCHEMA
    rejects: pa.Table  # REJECT_SCHEMA
    data_lines: int  # records and rejected lines in the chunk
    first: bool
    last: bool


@dataclass
class _Collect:
    """Rows and rejects of the chunk being read."""

    key: str
    rows: dict[str, list[Any]] = field(default_factory=lambda: {n: [] for n, _ in COLUMNS})
    rejects: list[tuple[str, int, str, str, int, str]] = field(default_factory=list)

    def record(self, obj: object, raw: str, line: int, offset: int) -> None:
        row = to_row(obj)
        if isinstance(row, str):
            self.reject(line, row, raw.encode("utf-8", "surrogateescape"))
            return
        row.update(
            source_file=self.key, source_line=line, source_offset=offset, raw_json=raw.strip()
        )
        for name, _ in COLUMNS:
            self.rows[name].append(row.get(name))

    def reject(self, line: int, reason: str, raw: bytes) -> None:
        text = raw[:RAW_LINE_MAX_BYTES].decode("utf-8", errors="replace").strip()
        sha = hashlib.sha256(raw).hexdigest()
        self.rejects.append((self.key, line, reason, text, len(raw), sha))

    def batch(self, first: bool, last: bool) -> KvBatch:
        rows = pa.table(self.rows, schema=SCHEMA)
        rejects = pa.table(
            {n: [r[i] for r in self.rejects] for i, n in enumerate(REJECT_SCHEMA.names)},
            schema=REJECT_SCHEMA,
        )
        data_lines = rows.num_rows + rejects.num_rows
        return KvBatch(self.key, rows, rejects, data_lines, first, last)

    def empty(self) -> bool:
        return not self.rejects and not self.rows["ts"]


def parse_time(text: str) -> datetime | None:
    """An ISO 8601 instant (`2026-11-03T14:02:11.5910000Z`) as naive UTC, to the
    microsecond (digits beyond are cut); no zone means UTC."""
    m = _TIME.fullmatch(text.strip())
    if not m:
        return None
    y, mo, d, h, mi, s, frac, zone = m.groups()
    try:
        ts = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s))
    except ValueError:
        return None
    if frac:
        ts += timedelta(microseconds=int(frac[:6].ljust(6, "0")))
    if zone and zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        ts -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return ts


def _text(value: object) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if -(2**31) <= value < 2**31 else None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _key_parts(key_id: str | None) -> tuple[str | None, str | None, str | None]:
    """(vault, key name, key version) of a key URI `https://{vault}.vault.azure.net/keys/
    {name}/{version}`; the vault alone for other objects."""
    if not key_id:
        return None, None, None
    try:
        url = urlsplit(key_id)
    except ValueError:
        return None, None, None
    vault = (url.hostname or "").split(".")[0].lower() or None
    parts = [p for p in url.path.split("/") if p]
    if len(parts) >= 2 and parts[0].lower() == "keys":
        return vault, parts[1], parts[2] if len(parts) > 2 else None
    return vault, None, None


def to_row(obj: object) -> dict[str, Any] | str:
    """A record's typed columns, or the reason it is rejected."""
    if not isinstance(obj, dict):
        return "not a JSON object"
    time = obj.get("time")
    if not isinstance(time, str) or not time.strip():
        return "missing time"
    ts = parse_time(time)
    if ts is None:
        return f"time is not an ISO 8601 instant: {time[:64]!r}"
    operation = obj.get("operationName")
    if not isinstance(operation, str) or not operation.strip():
        return "missing operationName"
    try:
        canonical = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        encoded = canonical.encode("utf-8")
    except UnicodeEncodeError:
        return "holds an unpaired UTF-16 surrogate escape"
    props = obj.get("properties")
    props = props if isinstance(props, dict) else {}
    identity = obj.get("identity")
    claim = identity.get("claim") if isinstance(identity, dict) else None
    claim = claim if isinstance(claim, dict) else {}
    key_id = _text(props.get("id"))
    vault, key_name, key_version = _key_parts(key_id)
    resource = _text(obj.get("resourceId"))
    if vault is None and resource:
        m = re.search(r"/VAULTS/([^/]+)", resource, re.IGNORECASE)
        vault = m.group(1).lower() if m else None
    policy = props.get("isAccessPolicyMatch")
    return {
        "ts": ts,
        "record_id": hashlib.sha256(encoded).hexdigest(),
        "operation": operation.strip(),
        "operation_version": _text(obj.get("operationVersion")),
        "category": _text(obj.get("category")),
        "result_type": _text(obj.get("resultType")),
        "result_signature": _text(obj.get("resultSignature")),
        "result_description": _text(obj.get("resultDescription")),
        "http_status": _int(props.get("httpStatusCode")),
        "duration_ms": _int(obj.get("durationMs")),
        "caller_ip": _text(obj.get("callerIpAddress")),
        "appid": _text(claim.get("appid")),
        "object_id": _text(claim.get(_OID, claim.get("oid"))),
        "upn": _text(claim.get(_UPN, claim.get("upn"))),
        "resource_id": resource,
        "key_vault": vault,
        "key_id": key_id,
        "key_name": key_name,
        "key_version": key_version,
        "algorithm": _text(props.get("algorithm")),
        "correlation_id": _text(obj.get("correlationId")),
        "client_info": _text(props.get("clientInfo")),
        "request_uri": _text(props.get("requestUri")),
        "is_access_policy_match": policy if isinstance(policy, bool) else None,
    }


def read_keyvault(
    path: Path,
    key: str,
    known: Known | None,
    layout: str,
    *,
    chunk_bytes: int = CHUNK_BYTES,
    resume: Resume | None = None,
) -> Iterator[KvBatch | FileDone | FileSkipped]:
    """Batches of the file's records not read yet, then FileDone (or FileSkipped when a
    known file has nothing new). Raises LogFormatError only before the first batch."""
    try:
        size = path.stat().st_size
    except OSError as e:
        raise LogFormatError(f"{path}: cannot read: {e}") from e
    stream = open_log(path)
    try:
        cursor, changed = _position(path, stream, known, resume)
        if changed is not None:
            stream.close()
            stream = open_log(path)
        start, start_line = cursor.pos, cursor.lines + 1
        if start:
            cursor.range_hasher = hashlib.sha256()
        reader = _json_lines if layout == JSON_LINES else _records
        pending = yield from reader(path, key, stream, cursor, chunk_bytes)
    finally:
        stream.close()
    if known is not None and changed is None and cursor.pos == start:
        yield FileSkipped(key)
        return
    sha = cursor.hasher.hexdigest()
    state = Resume(cursor.pos, sha, cursor.hasher.copy(), cursor.lines, Header())
    yield FileDone(
        key,
        size,
        sha,
        cursor.pos,
        start_line,
        Header(),
        pending,
        state,
        read_start=start,
        range_sha256=cursor.range_hasher.hexdigest() if start else sha,
        changed=changed,
        path_given=str(path),
        kind=KIND,
    )


def _blocks(stream: IO[bytes], chunk_bytes: int, path: Path) -> Iterator[tuple[bytes, bool]]:
    """The file's blocks, each with whether it is the last (one block read ahead)."""
    block = read_block(stream, chunk_bytes, path)
    while block:
        after = read_block(stream, chunk_bytes, path)
        yield block, not after
        block = after


def _consume(cursor: _Cursor, body: bytes) -> None:
    cursor.hasher.update(body)
    if cursor.range_hasher is not None:
        cursor.range_hasher.update(body)
    cursor.pos += len(body)
    cursor.lines += body.count(b"\n")


def _json_lines(
    path: Path, key: str, stream: IO[bytes], cursor: _Cursor, chunk_bytes: int
) -> Generator[KvBatch, None, int]:
    """One record per line; blank lines are not records. A line without its LF waits
    (the blob may grow), except in a `.gz` file, which is complete."""
    carry, first = b"", True
    for block, last in _blocks(stream, chunk_bytes, path):
        data = carry + block if carry else block
        end = len(data) if last and is_gzip(path) else data.rfind(b"\n") + 1
        body, carry = data[:end], data[end:]
        if not body:
            continue
        out = _Collect(key)
        line, offset = cursor.lines + 1, cursor.pos
        for raw in body.split(b"\n"):
            size = len(raw) + 1
            text = raw.removeprefix(BOM) if offset == 0 else raw
            if text.strip():
                _one_line(out, text, line, offset + (len(raw) - len(text)))
            line, offset = line + 1, offset + size
        _consume(cursor, body)
        if not out.empty():
            yield out.batch(first, last)
            first = False
    if carry and _complete_record(carry):
        # A finished blob whose last line has no LF: a line that already parses as one
        # JSON object is whole (appending to it could only make it invalid), so it is
        # stored now; should the blob grow, its next line starts after this one's LF.
        out = _Collect(key)
        _one_line(out, carry, cursor.lines + 1, cursor.pos)
        _consume(cursor, carry)
        carry = b""
        yield out.batch(first, True)
    return len(carry)


def _complete_record(tail: bytes) -> bool:
    try:
        return isinstance(json.loads(tail), dict)
    except (ValueError, UnicodeDecodeError):
        return False


def _one_line(out: _Collect, raw: bytes, line: int, offset: int) -> None:
    try:
        text = raw.decode("utf-8")
        obj = json.loads(text)
    except UnicodeDecodeError:
        out.reject(line, "not valid UTF-8", raw)
        return
    except ValueError as e:
        out.reject(line, f"not valid JSON: {e}", raw)
        return
    records = obj.get("records") if isinstance(obj, dict) and "time" not in obj else None
    if isinstance(records, list):  # a `{"records": [...]}` blob on one line, among lines
        for record in records:
            out.record(record, json.dumps(record, ensure_ascii=False), line, offset)
        return
    out.record(obj, text, line, offset)


class _RecordsText:
    """The text of a `{"records": [...]}` file, decoded as it is read, with the byte
    offset and line of its first character (the cursor's)."""

    def __init__(self, cursor: _Cursor) -> None:
        self.cursor = cursor
        self.text = ""
        self.pos = 0
        self.decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")

    def feed(self, block: bytes, final: bool) -> None:
        self.text = self.text[self.pos :] + self.decoder.decode(block, final)
        self.pos = 0

    def advance(self, to: int) -> bytes:
        """Consume the text up to `to`; its bytes."""
        body = self.text[self.pos : to].encode("utf-8", "surrogateescape")
        _consume(self.cursor, body)
        self.pos = to
        return body

    def skip_space(self) -> None:
        to = self.pos
        while to < len(self.text) and self.text[to] in _WS:
            to += 1
        self.advance(to)


def _records(
    path: Path, key: str, stream: IO[bytes], cursor: _Cursor, chunk_bytes: int
) -> Generator[KvBatch, None, int]:
    """`{"records": [ {...}, ... ]}`, parsed record by record (`raw_decode`), so only the
    record being read and one block are in memory. A file resumed after bytes already
    read continues inside the array."""
    decoder = json.JSONDecoder()
    text = _RecordsText(cursor)
    state = "open" if cursor.pos == 0 else "next"
    first, last = True, False
    while not last:
        block = read_block(stream, chunk_bytes, path)
        last = not block  # read on until a read is empty: nothing is read ahead
        text.feed(block, last)
        out = _Collect(key)
        while True:
            if state == "open":
                if text.pos == 0 and cursor.pos == 0 and text.text.startswith("\ufeff"):
                    text.advance(1)
                m = _RECORDS_OPEN.match(text.text, text.pos)
                if m is None:
                    if last or len(text.text) - text.pos > 4096:
                        _reject_rest(out, text, stream, path, "not a Key Vault records object")
                        state = "done"
                    break
                text.advance(m.end())
                state = "next"
                continue
            if state in ("next", "close"):
                text.skip_space()
                if text.pos >= len(text.text):
                    break
                ch = text.text[text.pos]
                if state == "close":
                    if ch == "}":
                        text.advance(text.pos + 1)
                        state = "done"
                        continue
                    _reject_rest(out, text, stream, path, "text after the records array")
                    state = "done"
                    break
                if ch == ",":
                    text.advance(text.pos + 1)
                    continue
                if ch == "]":
                    text.advance(text.pos + 1)
                    state = "close"
                    continue
                try:
                    obj, end = decoder.raw_decode(text.text, text.pos)
                except json.JSONDecodeError as e:
                    incomplete = e.pos >= len(text.text) or e.msg.startswith("Unterminated")
                    too_long = len(text.text) - text.pos > MAX_RECORD_CHARS
                    if incomplete and not too_long and not last:
                        break  # read on
                    if incomplete and not too_long and last and not is_gzip(path):
                        break  # the blob may still grow: wait
                    reason = f"not valid JSON: {e.msg}" if not too_long else "record too long"
                    _reject_rest(out, text, stream, path, f"{reason}; the rest of the file")
                    state = "done"
                    break
                line, offset = cursor.lines + 1, cursor.pos
                raw = text.text[text.pos : end]
                text.advance(end)
                out.record(obj, raw, line, offset)
                continue
            # done: only blanks may follow
            text.skip_space()
            if text.pos < len(text.text):
                _reject_rest(out, text, stream, path, "text after the records object")
            break
        if not out.empty():
            yield out.batch(first, last)
            first = False
    return len(text.text[text.pos :].encode("utf-8", "surrogateescape"))


def _reject_rest(
    out: _Collect, text: _RecordsText, stream: IO[bytes], path: Path, reason: str
) -> None:
    """One reject for everything from here to the end of the file (read and hashed on, so
    the manifest covers the whole file)."""
    line = text.cursor.lines + 1
    hasher = hashlib.sha256()
    head = text.advance(len(text.text))
    hasher.update(head)
    excerpt, total = head[:RAW_LINE_MAX_BYTES], len(head)
    while block := read_block(stream, CHUNK_BYTES, path):
        _consume(text.cursor, block)
        hasher.update(block)
        total += len(block)
        if len(excerpt) < RAW_LINE_MAX_BYTES:
            excerpt += block[: RAW_LINE_MAX_BYTES - len(excerpt)]
    text.text, text.pos = "", 0
    shown = excerpt.decode("utf-8", errors="replace").strip()
    out.rejects.append((out.key, line, reason, shown, total, hasher.hexdigest()))
