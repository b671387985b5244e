"""SQL files under `queries/`: finding them and reading their `--` headers.

Every statement the package runs against the warehouse lives in a `.sql` file that
opens with a header of `-- key: value` lines, for example::

    -- name: key-calls-per-day
    -- description: Tenant-key calls per UTC day and operation.
    -- param: from_ts TIMESTAMP = 1970-01-01 00:00:00 | first instant included
    -- columns: day, operation, calls

`param` may repeat. Parameters are bound as DuckDB `$name` parameters, never spliced.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from pipeline.errors import QueryError

_HEADER = re.compile(r"^--\s*([a-z_-]+)\s*:\s*(.*?)\s*$")
_PARAM = re.compile(r"^(\w+)\s+(\w+(?:\([\d,\s]*\))?(?:\[\])?)(?:\s*=\s*(.*?))?\s*(?:\|\s*(.*))?$")


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    type: str
    default: str | None
    description: str


@dataclass(frozen=True, slots=True)
class SqlFile:
    path: Path
    sql: str
    meta: dict[str, str]
    params: tuple[Param, ...] = field(default=())

    @property
    def name(self) -> str:
        return self.meta.get("name") or self.meta.get("id") or self.path.stem

    @property
    def description(self) -> str:
        return self.meta.get("description", "")

    @property
    def columns(self) -> tuple[str, ...]:
        raw = self.meta.get("columns", "")
        return tuple(c.strip() for c in raw.split(",") if c.strip())


@cache
def queries_dir() -> Path:
    """The `queries/` folder: packaged inside the wheel, or beside the package in a checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "queries", here.parent / "queries"):
        if candidate.is_dir():
            return candidate
    raise QueryError(f"cannot find the queries/ folder near {here}; reinstall rmslog")


def read_sql_file(path: Path) -> SqlFile:
    """Parse one SQL file and its header."""
    text = path.read_text(encoding="utf-8")
    meta: dict[str, str] = {}
    params: list[Param] = []
    for line in text.splitlines():
        if not line.startswith("--"):
            if line.strip():
                break
            continue
        m = _HEADER.match(line)
        if not m:
            continue
        key, value = m.group(1), m.group(2)
        if key == "param":
            params.append(_parse_param(path, value))
        else:
            meta[key] = value
    return SqlFile(path=path, sql=text, meta=meta, params=tuple(params))


def _parse_param(path: Path, spec: str) -> Param:
    m = _PARAM.match(spec)
    if not m:
        raise QueryError(f"{path}: malformed '-- param:' header {spec!r}")
    name, type_, default, description = m.groups()
    return Param(
        name,
        type_.upper(),
        default if default not in (None, "") else None,
        (description or "").strip(),
    )


def sql_files(subdir: str) -> list[SqlFile]:
    """Every `*.sql` under `queries/<subdir>`, sorted by file name."""
    folder = queries_dir() / subdir
    return [read_sql_file(p) for p in sorted(folder.glob("*.sql"))]


def sql_file(subdir: str, name: str) -> SqlFile:
    """One SQL file by its header name (or file stem) under `queries/<subdir>`."""
    for f in sql_files(subdir):
        if name in (f.name, f.path.stem):
            return f
    raise QueryError(f"no query named {name!r} in queries/{subdir}; see `rmslog queries`")
