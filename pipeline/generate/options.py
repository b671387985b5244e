"""Generator options: what tenant to simulate and how to write its logs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipeline.errors import UsageError
from pipeline.generate.calendar import REGION_TIMEZONES
from pipeline.generate.scenarios import ALL_SCENARIOS, SCENARIOS
from pipeline.generate.vault import FORMATS as KEYVAULT_FORMATS
from pipeline.schema import LOG_VERSIONS, Topology

LAYOUTS = ("daily", "blobs")
MIN_USERS = 5


@dataclass(frozen=True)
class GenerateOptions:
    """A simulated tenant and the shape of its logs. Same options and seed, same bytes."""

    start: date = date(2026, 11, 2)
    days: int = 14
    users: int = 60
    seed: int = 7
    topology: Topology = Topology.BYOK_LEGACY
    region: str = "na"
    log_version: str = "1.1-admin"
    gzip: bool = False
    layout: str = "daily"  # daily: rmslog-YYYY-MM-DD.log; blobs: 000000001.log, ...
    scenarios: tuple[str, ...] = ()  # incidents to inject (none: a clean tenant)
    byok_from: date | None = None  # Microsoft-managed before; clients switch over weeks
    timezone: str | None = None  # the tenant's working-hours zone; None: by region
    blob_minutes: int = 60  # blobs layout: minutes of arrivals per blob
    keyvault_logs: bool = False  # also the vault's AuditEvent log (byok-keyvault only)
    keyvault_format: str = "jsonl"  # jsonl, or records: {"records": [...]} per blob

    def __post_init__(self) -> None:
        _check(self.log_version in LOG_VERSIONS, "--log-version", self.log_version, LOG_VERSIONS)
        _check(self.region in REGION_TIMEZONES, "--region", self.region, REGION_TIMEZONES)
        _check(self.layout in LAYOUTS, "--layout", self.layout, LAYOUTS)
        _check(
            self.keyvault_format in KEYVAULT_FORMATS,
            "--keyvault-format",
            self.keyvault_format,
            KEYVAULT_FORMATS,
        )
        if self.keyvault_logs and self.topology != Topology.BYOK_KEYVAULT:
            raise UsageError("--keyvault-logs needs --topology byok-keyvault")
        if self.keyvault_format != "jsonl" and not self.keyvault_logs:
            raise UsageError("--keyvault-format needs --keyvault-logs")
        for name in self.scenarios:
            _check(name in ALL_SCENARIOS, "--scenarios", name, ALL_SCENARIOS)
        if self.days < 1 or self.users < MIN_USERS:
            raise UsageError(f"need --days >= 1 and --users >= {MIN_USERS}")
        if self.blob_minutes < 1 or 1440 % self.blob_minutes:
            raise UsageError("--blob-minutes must divide a day (1440 minutes), e.g. 15 or 60")
        if self.byok_from is not None and self.topology == Topology.MICROSOFT_MANAGED:
            raise UsageError("--byok-from needs a BYOK --topology (byok-legacy or byok-keyvault)")
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise UsageError(f"unknown --timezone {self.timezone!r} (use an IANA name)") from e

    @property
    def tz(self) -> str:
        """The tenant's time zone: `timezone`, else the region's."""
        return self.timezone or REGION_TIMEZONES[self.region]

    def as_dict(self) -> dict[str, object]:
        """The options as JSON-ready values (the ground truth records them)."""
        return {
            "start": self.start.isoformat(),
            "days": self.days,
            "users": self.users,
            "seed": self.seed,
            "topology": str(self.topology),
            "byok_from": self.byok_from.isoformat() if self.byok_from else None,
            "region": self.region,
            "timezone": self.tz,
            "log_version": self.log_version,
            "layout": self.layout,
            "gzip": self.gzip,
            "scenarios": list(self.scenarios),
            "blob_minutes": self.blob_minutes,
            **(
                {"keyvault_logs": True, "keyvault_format": self.keyvault_format}
                if self.keyvault_logs
                else {}
            ),
        }


def _check(ok: bool, option: str, value: object, known: object) -> None:
    if not ok:
        raise UsageError(f"{option}: unknown value {value!r}; known: {', '.join(map(str, known))}")  # type: ignore[call-overload]


def parse_scenarios(text: str, keyvault: bool = False) -> tuple[str, ...]:
    """`all`, `none`, or a comma-separated list of scenario names, validated. `all` is
    every scenario with `keyvault` (--keyvault-logs), else those of the RMS log only."""
    value = text.strip()
    if value == "all":
        return ALL_SCENARIOS if keyvault else SCENARIOS
    if value in ("none", ""):
        return ()
    names = tuple(dict.fromkeys(n.strip() for n in value.split(",") if n.strip()))
    for name in names:
        _check(name in ALL_SCENARIOS, "--scenarios", name, ("all", "none", *ALL_SCENARIOS))
    return names
