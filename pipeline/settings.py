"""Tenant settings that rules, reports, named queries and notebooks share.

"Off-hours" means the tenant's, not UTC: every rule and chart that speaks of working
hours takes them from here. There is one set per warehouse, kept in its `settings` table
(`rmslog settings show|set|unset|import`); every `detect` run records the set it used.
A TOML file is still accepted (`--config FILE`, `$RMSLOG_CONFIG`, `./rmslog.toml`) and is
imported into the warehouse, so `detect`, `report` and `query` never disagree::

    [tenant]
    timezone = "Europe/Berlin"      # IANA name
    work_days = [1, 2, 3, 4, 5]     # ISO weekdays, Monday = 1
    work_start = 8                  # first working hour (local), inclusive
    work_end = 18                   # end of the working day (local), exclusive
    service_accounts = ["microsoftrmsonline@%", "Aadrm_S-1-7-0"]   # SQL LIKE patterns
    geoip = "GeoLite2-City.mmdb"    # MaxMind-format City database (relative: to this file)
    corporate_networks = ["203.0.113.0/24"]   # VPN exits and other corporate egress (CIDR)
    service_networks = []           # extra Microsoft/service ranges (CIDR), beside the built-in

    [rules.denied-burst]            # rule parameter overrides (as `detect --param`)
    min_failures = 20

Adding a setting is one change: a field of `Settings` made with `_setting(...)`. Its
section and name make its key (`tenant.timezone`), its default and kind make the parser,
and every setting is bound to SQL under its field name (`$timezone`).
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import duckdb

from pipeline.errors import UsageError
from pipeline.geo import parse_networks

ENV_CONFIG = "RMSLOG_CONFIG"
DEFAULT_CONFIG = "rmslog.toml"
#: Key prefix of rule parameter overrides: `rules.<rule>.<param>`.
RULES_PREFIX = "rules."


def _setting(section: str, default: object, help: str, kind: str) -> Any:
    """A field of `Settings`: stored as `<section>.<name>`, parsed by `kind`."""
    return field(default=default, metadata={"section": section, "help": help, "kind": kind})


@dataclass(frozen=True)
class Settings:
    timezone: str = _setting("tenant", "UTC", "the tenant's clock (IANA time zone)", "str")
    work_days: tuple[int, ...] = _setting(
        "tenant", (1, 2, 3, 4, 5), "working days, ISO weekdays (Monday = 1)", "ints"
    )
    work_start: int = _setting("tenant", 8, "first working hour, local, inclusive", "int")
    work_end: int = _setting("tenant", 18, "end of the working day, local, exclusive", "int")
    #: Identities that act for the service, allow-listed by user-centred rules (LIKE patterns).
    service_accounts: tuple[str, ...] = _setting(
        "tenant",
        ("microsoftrmsonline@%", "Aadrm_S-1-7-0"),
        "accounts the user-centred rules ignore (SQL LIKE patterns)",
        "strs",
    )
    #: MaxMind-format City database (`.mmdb`) giving addresses a place; None: no geography.
    geoip: str | None = _setting(
        "tenant",
        None,
        "MaxMind-format City database (.mmdb) for locations; none: no geography",
        "str",
    )
    #: Declared corporate egress (VPN exits, proxies): where traffic leaves the company's
    #: network, not where a person is. Rules treat them as no location.
    corporate_networks: tuple[str, ...] = _setting(
        "tenant", (), "corporate egress (VPN exits, proxies) as CIDRs: no location", "strs"
    )
    #: Service ranges beside the built-in Microsoft ones (`pipeline.geo.MICROSOFT_NETWORKS`).
    service_networks: tuple[str, ...] = _setting(
        "tenant", (), "service ranges (CIDRs) beside the built-in Microsoft ones", "strs"
    )
    #: Key Vault reconciliation (issue 13): the identities (`appid` claims) whose key use
    #: is RMS's, the tenant's key names (none: every key in the Key Vault logs), and how
    #: long both logs get to arrive before a window is judged.
    rms_appids: tuple[str, ...] = _setting(
        "keyvault",
        ("00000012-0000-0000-c000-000000000000",),
        "appids whose Key Vault calls are RMS's (default: the Azure Rights Management "
        "service principal)",
        "strs",
    )
    tenant_keys: tuple[str, ...] = _setting(
        "keyvault", (), "names of the tenant's keys in Key Vault; none: every key logged", "strs"
    )
    arrival_minutes: int = _setting(
        "keyvault",
        30,
        "minutes both logs get to arrive before a reconciliation window is judged",
        "int",
    )
    #: Rule parameter overrides, `("rule.param", "value")` sorted; `detect --param` wins.
    rule_params: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise UsageError(f"unknown time zone {self.timezone!r} in settings") from e
        if not (0 <= self.work_start < self.work_end <= 24):
            raise UsageError("settings need 0 <= work_start < work_end <= 24")
        if not set(self.work_days) <= set(range(1, 8)):
            raise UsageError("work_days are ISO weekdays 1 (Monday) to 7 (Sunday)")
        if self.arrival_minutes < 0:
            raise UsageError("keyvault.arrival_minutes must be 0 or more")
        object.__setattr__(self, "rule_params", tuple(sorted(dict(self.rule_params).items())))
        parse_networks(self.corporate_networks, "corporate_networks in settings")
        parse_networks(self.service_networks, "service_networks in settings")

    def geoip_path(self) -> Path | None:
        """The location database, when one is set."""
        return Path(self.geoip) if self.geoip else None

    def sql_params(self) -> dict[str, object]:
        """The settings as DuckDB parameters, for rules and report queries that declare them."""
        return {f.name: _sql_value(getattr(self, f.name)) for f in _setting_fields()}

    def rule_overrides(self) -> dict[str, str]:
        """Stored rule parameter overrides as `{"rule.param": "value"}`."""
        return dict(self.rule_params)

    def as_dict(self) -> dict[str, object]:
        """Every setting by key (`tenant.timezone`, `rules.<rule>.<param>`), JSON-ready."""
        out: dict[str, object] = {
            key_of(f): _sql_value(getattr(self, f.name)) for f in _setting_fields()
        }
        out.update({RULES_PREFIX + k: v for k, v in self.rule_params})
        return out

    def as_json(self) -> str:
        """Canonical JSON text of `as_dict` (sorted keys): recorded with each detect run."""
        return json.dumps(self.as_dict(), sort_keys=True)

    def describe(self) -> str:
        """One line for report headers and stderr: the clock, hours and overrides."""
        days = ",".join(str(d) for d in self.work_days)
        text = (
            f"time zone {self.timezone}, working hours {self.work_start:02d}:00-"
            f"{self.work_end:02d}:00 on ISO days {days}, "
            f"{len(self.service_accounts)} service-account pattern(s)"
        )
        if self.rule_params:
            text += ", rule overrides " + ", ".join(f"{k}={v}" for k, v in self.rule_params)
        return text


def _sql_value(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


def _setting_fields() -> list[Any]:
    return [f for f in fields(Settings) if "section" in f.metadata]


def key_of(f: Any) -> str:
    return f"{f.metadata['section']}.{f.name}"


def setting_keys() -> dict[str, str]:
    """`{key: help}` for every setting (rule overrides excluded)."""
    return {key_of(f): f.metadata["help"] for f in _setting_fields()}


def _parse(kind: str, key: str, raw: object) -> object:
    """A TOML value or a command-line string as the Python value of a setting's kind."""
    try:
        if isinstance(raw, str) and kind in ("ints", "strs"):
            text = raw.strip()
            raw = (
                json.loads(text)
                if text.startswith("[")
                else [p.strip() for p in text.split(",") if p.strip()]
            )
        if kind == "str" and isinstance(raw, str):
            return raw
        if kind == "int" and not isinstance(raw, bool):
            return int(raw)  # type: ignore[call-overload]  # str or int: int() says which fails
        if kind == "ints" and isinstance(raw, list):
            return tuple(int(v) for v in raw)
        if kind == "strs" and isinstance(raw, list) and all(isinstance(v, str) for v in raw):
            return tuple(raw)
    except (ValueError, TypeError, json.JSONDecodeError):
        pass
    expected = {
        "str": "text",
        "int": "an integer",
        "ints": "a list of integers",
        "strs": "a list of strings",
    }[kind]
    raise UsageError(f"setting {key} must be {expected}, got {raw!r}")


def with_values(base: Settings, values: Mapping[str, object]) -> Settings:
    """`base` with settings changed by key; `rules.<rule>.<param>` keys set rule overrides.

    Values may be TOML values or command-line strings. Unknown keys are refused.
    """
    by_key = {key_of(f): f for f in _setting_fields()}
    changes: dict[str, object] = {}
    rules = dict(base.rule_params)
    for key, raw in values.items():
        if key.startswith(RULES_PREFIX):
            name = key.removeprefix(RULES_PREFIX)
            rule_id, dot, param = name.rpartition(".")
            if not dot or not rule_id or not param:
                raise UsageError(f"setting {key}: name a rule parameter as rules.<rule>.<param>")
            rules[name] = str(raw).lower() if isinstance(raw, bool) else str(raw)
            continue
        f = by_key.get(key)
        if f is None:
            raise UsageError(
                f"unknown setting {key!r}; known: {', '.join(by_key)}, rules.<rule>.<param>"
            )
        changes[f.name] = _parse(f.metadata["kind"], key, raw)
    return replace(base, **changes, rule_params=tuple(rules.items()))  # type: ignore[arg-type]


def without(base: Settings, key: str) -> Settings:
    """`base` with one setting back at its default (or one rule override removed)."""
    if key.startswith(RULES_PREFIX):
        rules = dict(base.rule_params)
        if rules.pop(key.removeprefix(RULES_PREFIX), None) is None:
            raise UsageError(f"no stored rule override {key!r}")
        return replace(base, rule_params=tuple(rules.items()))
    by_key = {key_of(f): f for f in _setting_fields()}
    if key not in by_key:
        raise UsageError(f"unknown setting {key!r}; known: {', '.join(by_key)}")
    f = by_key[key]
    return replace(base, **{f.name: f.default})


# --------------------------------------------------------------------------- TOML files


def read_toml(path: Path) -> Settings:
    """Settings from a TOML file (`[tenant]`, other sections, `[rules.<rule>]`)."""
    if not path.exists():
        raise UsageError(f"settings file {path} does not exist")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"{path}: invalid TOML: {e}") from e
    except OSError as e:
        raise UsageError(f"cannot read settings file {path}: {e.strerror or e}") from e
    sections = {f.metadata["section"] for f in _setting_fields()}
    values: dict[str, object] = {}
    for section, table in data.items():
        if section == "rules" and isinstance(table, dict):
            for rule_id, params in table.items():
                if not isinstance(params, dict):
                    raise UsageError(f"{path}: [rules.{rule_id}] must be a table of parameters")
                values.update({f"rules.{rule_id}.{k}": v for k, v in params.items()})
            continue
        if section not in sections or not isinstance(table, dict):
            raise UsageError(f"{path}: unknown section [{section}]; known: {sorted(sections)}")
        known = {f.name for f in _setting_fields() if f.metadata["section"] == section}
        unknown = set(table) - known
        if unknown:
            raise UsageError(
                f"{path}: unknown [{section}] keys {sorted(unknown)}; known: {sorted(known)}"
            )
        values.update({f"{section}.{k}": v for k, v in table.items()})
    geoip = values.get("tenant.geoip")
    if isinstance(geoip, str) and geoip:
        # A relative path is relative to the settings file, not to where rmslog runs.
        values["tenant.geoip"] = str(path.parent / Path(geoip).expanduser())
    return with_values(Settings(), values)


def implicit_config() -> Path | None:
    """`$RMSLOG_CONFIG`, else `./rmslog.toml` when it exists."""
    if os.environ.get(ENV_CONFIG):
        return Path(os.environ[ENV_CONFIG])
    return Path(DEFAULT_CONFIG) if Path(DEFAULT_CONFIG).exists() else None


def load_settings(path: Path | None = None) -> Settings:
    """Settings from `path`, `$RMSLOG_CONFIG` or `./rmslog.toml`; defaults when none exists.

    Files only: commands use `effective_settings`, which prefers the warehouse's.
    """
    candidate = path or implicit_config()
    return read_toml(candidate) if candidate is not None else Settings()


# --------------------------------------------------------------------------- the warehouse


def stored_settings(con: duckdb.DuckDBPyConnection) -> Settings | None:
    """The warehouse's settings; None when none were ever stored (or, in a warehouse made
    before settings were stored and opened read-only, cannot be)."""
    try:
        rows = con.execute("SELECT key, value FROM main.settings ORDER BY key").fetchall()
    except duckdb.CatalogException:
        return None
    if not rows:
        return None
    return with_values(Settings(), {k: json.loads(v) for k, v in rows})


def store_settings(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """Make `settings` the warehouse's: every key that differs from the default, plus the
    time zone always (so a stored set is never empty and is seen as chosen)."""
    defaults = Settings().as_dict()
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = [
        (k, json.dumps(v), now)
        for k, v in settings.as_dict().items()
        if k == "tenant.timezone" or defaults.get(k, object()) != v
    ]
    con.execute("BEGIN")
    try:
        con.execute("DELETE FROM settings").fetchall()
        con.executemany("INSERT INTO settings VALUES (?, ?, ?)", rows)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


@dataclass(frozen=True)
class Resolved:
    """The settings a command uses, and where they came from (said on stderr)."""

    settings: Settings
    source: str  # "warehouse", "file PATH (stored)", "file PATH", "defaults"
    note: str | None = None  # something the user should hear about


def effective_settings(
    con: duckdb.DuckDBPyConnection, config: Path | None = None, *, store: bool = False
) -> Resolved:
    """The settings a command uses: the warehouse's one set.

    `config` (an explicit `--config FILE`) replaces the stored set when `store` (writable
    commands) and is used as is otherwise. Without it, the warehouse's stored set wins; a
    warehouse that has none takes `$RMSLOG_CONFIG` or `./rmslog.toml` (stored when `store`),
    else the defaults. An implicit file that disagrees with the stored set is named in
    `note`, never silently used.
    """
    stored = stored_settings(con)
    if config is not None:
        from_file = read_toml(config)
        if store:
            if from_file != stored:
                store_settings(con, from_file)
            return Resolved(from_file, f"file {config} (stored in the warehouse)")
        note = None
        if stored is not None and stored != from_file:
            note = (
                f"{config} differs from the warehouse's settings; using the file for this command"
            )
        return Resolved(from_file, f"file {config}", note)
    implicit = implicit_config()
    if stored is not None:
        note = None
        if implicit is not None and implicit.exists() and read_toml(implicit) != stored:
            note = (
                f"{implicit} differs from the settings stored in the warehouse, which are used; "
                f"`rmslog settings import {implicit}` makes the file's the warehouse's"
            )
        return Resolved(stored, "warehouse", note)
    if implicit is not None:
        from_file = read_toml(implicit)
        if store:
            store_settings(con, from_file)
            return Resolved(from_file, f"file {implicit} (stored in the warehouse)")
        return Resolved(from_file, f"file {implicit}")
    return Resolved(Settings(), "defaults")
