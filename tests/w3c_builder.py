"""Hand-made RMS usage logs for tests: a few records, any log version, as the service writes."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import count
from pathlib import Path

from pipeline.schema import LOG_VERSIONS, VERSION_HEADER

_ROW = count(1)
QUOTED = {
    "user-id",
    "result",
    "owner-email",
    "issuer",
    "file-name",
    "date-published",
    "c-info",
    "admin-action",
    "acting-as-user",
}
WORD = "MSIPC;version=1.0.4.2;AppName=WINWORD.EXE;AppVersion=16.0;OSName=Windows;OSVersion=10"


@dataclass
class Rec:
    """One log record; `ts` is 'YYYY-MM-DD HH:MM:SS' UTC. Unset ids are made up."""

    ts: str
    kind: str
    user: str | None = None
    result: str = "Success"
    corr: str | None = None
    content: str | None = None
    owner: str | None = None
    file: str | None = None
    ip: str | None = "198.51.100.7"
    admin: bool | None = None
    acting: str | None = None
    row: str | None = None
    c_info: str | None = WORD

    def values(self) -> dict[str, str | None]:
        day, time = self.ts.split(" ")
        return {
            "date": day,
            "time": time,
            "row-id": self.row or f"row-{next(_ROW)}",
            "request-type": self.kind,
            "user-id": self.user,
            "result": self.result,
            "correlation-id": self.corr,
            "content-id": self.content,
            "owner-email": self.owner,
            "issuer": self.owner,
            "template-id": "{c3d2e1f0-a9b8-4c7d-8e6f-5a4b3c2d1e0f}" if self.content else None,
            "file-name": self.file,
            "date-published": "2026-01-05T10:00:00" if self.content else None,
            "c-info": self.c_info,
            "c-ip": self.ip,
            "admin-action": "True" if self.admin else None,
            "acting-as-user": self.acting,
        }


def _cell(name: str, value: str | None) -> str:
    if name in QUOTED:
        return f"'{value or ''}'"
    return value or ""


def write_log(path: Path, records: list[Rec], version: str = "1.1-admin") -> Path:
    """Write `records` as one W3C log file of `version` (1.0, 1.1 or 1.1-admin)."""
    fields = LOG_VERSIONS[version]
    lines = [
        "#Software: RMS",
        f"#Version: {VERSION_HEADER[version]}",
        "#Fields: " + " ".join(fields),
    ]
    for rec in records:
        values = rec.values()
        lines.append("\t".join(_cell(f, values[f]) for f in fields))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def licence(ts: str, user: str, corr: str, key_ops: tuple[str, ...], **kw: object) -> list[Rec]:
    """An AcquireLicense and the tenant-key calls it causes (same second, same correlation-id)."""
    first = Rec(ts, "AcquireLicense", user=user, corr=corr, **kw)  # type: ignore[arg-type]
    return [first, *(Rec(ts, op, corr=corr, ip="40.90.4.10", c_info=None) for op in key_ops)]
