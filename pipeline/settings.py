"""Tenant settings that rules and charts share: working hours and service identities.

"Off-hours" means the tenant's, not UTC: every rule and chart that speaks of working
hours takes them from here. Settings come from a TOML file: `--config FILE`, else
`$RMSLOG_CONFIG`, else `./rmslog.toml` when present, else the defaults below::

    [tenant]
    timezone = "Europe/Berlin"      # IANA name
    work_days = [1, 2, 3, 4, 5]     # ISO weekdays, Monday = 1
    work_start = 8                  # first working hour (local), inclusive
    work_end = 18                   # end of the working day (local), exclusive
    service_accounts = ["microsoftrmsonline@%", "Aadrm_S-1-7-0"]   # SQL LIKE patterns
    geoip = "GeoLite2-City.mmdb"    # MaxMind-format City database (relative: to this file)
    corporate_networks = ["203.0.113.0/24"]   # VPN exits and other corporate egress (CIDR)
    service_networks = []           # extra Microsoft/service ranges (CIDR), beside the built-in
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipeline.errors import UsageError
from pipeline.geo import parse_networks

ENV_CONFIG = "RMSLOG_CONFIG"
DEFAULT_CONFIG = "rmslog.toml"


@dataclass(frozen=True)
class Settings:
    timezone: str = "UTC"
    work_days: tuple[int, ...] = (1, 2, 3, 4, 5)
    work_start: int = 8
    work_end: int = 18
    #: Identities that act for the service, allow-listed by user-centred rules (LIKE patterns).
    service_accounts: tuple[str, ...] = ("microsoftrmsonline@%", "Aadrm_S-1-7-0")
    #: MaxMind-format City database (`.mmdb`) giving addresses a place; None: no geography.
    geoip: str | None = None
    #: Declared corporate egress (VPN exits, proxies), CIDR: where traffic leaves the
    #: company's network, not where a person is. Rules treat them as no location.
    corporate_networks: tuple[str, ...] = ()
    #: Service ranges beside the built-in Microsoft ones (`pipeline.geo.MICROSOFT_NETWORKS`).
    service_networks: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise UsageError(f"unknown time zone {self.timezone!r} in settings") from e
        if not (0 <= self.work_start < self.work_end <= 24):
            raise UsageError("settings need 0 <= work_start < work_end <= 24")
        if not set(self.work_days) <= set(range(1, 8)):
            raise UsageError("work_days are ISO weekdays 1 (Monday) to 7 (Sunday)")
        parse_networks(self.corporate_networks, "corporate_networks in settings")
        parse_networks(self.service_networks, "service_networks in settings")

    def geoip_path(self) -> Path | None:
        """The location database, when one is set."""
        return Path(self.geoip) if self.geoip else None

    def sql_params(self) -> dict[str, object]:
        """The settings as DuckDB parameters, for rules and report queries that declare them."""
        return {
            "timezone": self.timezone,
            "work_days": list(self.work_days),
            "work_start": self.work_start,
            "work_end": self.work_end,
            "service_accounts": list(self.service_accounts),
        }


def load_settings(path: Path | None = None) -> Settings:
    """Settings from `path`, `$RMSLOG_CONFIG` or `./rmslog.toml`; defaults when none exists."""
    explicit = path or (Path(os.environ[ENV_CONFIG]) if os.environ.get(ENV_CONFIG) else None)
    candidate = explicit or Path(DEFAULT_CONFIG)
    if not candidate.exists():
        if explicit:
            raise UsageError(f"settings file {explicit} does not exist")
        return Settings()
    try:
        data = tomllib.loads(candidate.read_text(encoding="utf-8")).get("tenant", {})
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"{candidate}: invalid TOML: {e}") from e
    known = {f.name for f in fields(Settings)}
    unknown = set(data) - known
    if unknown:
        raise UsageError(
            f"{candidate}: unknown [tenant] keys {sorted(unknown)}; known: {sorted(known)}"
        )
    values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    geoip = values.get("geoip")
    if geoip is not None:
        if not isinstance(geoip, str) or not geoip:
            raise UsageError(f"{candidate}: geoip must be the path of a .mmdb file")
        # A relative path is relative to the settings file, not to where rmslog runs.
        values["geoip"] = str(candidate.parent / Path(geoip).expanduser())
    return Settings(**values)
