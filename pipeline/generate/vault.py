"""The Azure Key Vault AuditEvent log of the simulated tenant key's vault (`--keyvault-logs`).

Every RMS tenant-key call (`KeyVaultDecryptRequest`, `KeyVaultSignDigest`,
`KeyVaultGetKeyInfoRequest`) is also a Key Vault operation (`KeyDecrypt`, `KeySign`,
`KeyGet`) by the Azure Rights Management service principal, with Key Vault's own clock
(the RMS second plus its fraction and a jitter of up to a few hundred milliseconds) and
its own arrival: a record lands in the hourly blob of the hour Key Vault *received* it,
2 s to 10 min after its time. A monitoring application reads the key now and then.
Incidents (`pipeline.generate.scenarios`) add records of other identities, drop a lost
hour's blob, or turn RMS's calls into 403s.

Records are built as a frame (time in 100 ns ticks, receipt, a template index, caller
address, duration) and turned into JSON text in one vectorised pass: everything but the
time, duration and address comes from a small table of pre-encoded templates. A day is
processed when the RMS simulation has produced it; records received after the day end
wait for the next day, so only a day's records are in memory.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import polars as pl

from pipeline.generate.events import RT, SUCCESS
from pipeline.generate.ids import random_guids
from pipeline.generate.tenant import Tenant
from pipeline.generate.writer import write_atomic

#: The Azure Rights Management service principal (the BYOK instructions grant it the key).
RMS_APPID: Final = "00000012-0000-0000-c000-000000000000"
OID_CLAIM: Final = "http://schemas.microsoft.com/identity/claims/objectidentifier"
UPN_CLAIM: Final = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"
API_VERSION: Final = "7.4"
CONTAINER: Final = "insights-logs-auditevent"
#: `jsonl`: one record per line (since 2018-11-01); `records`: one `{"records": [...]}`.
FORMATS: Final = ("jsonl", "records")
#: RMS key-call request types and the Key Vault operation each one is.
OPERATION_OF: Final = {
    "KeyVaultDecryptRequest": "KeyDecrypt",
    "KeyVaultSignDigest": "KeySign",
    "KeyVaultGetKeyInfoRequest": "KeyGet",
}
ALGORITHM: Final = {"KeyDecrypt": "RSA-OAEP", "KeySign": "RS256"}
#: What follows the key URI in the request for each operation.
REQUEST_SUFFIX: Final = {
    "KeyDecrypt": "/decrypt",
    "KeySign": "/sign",
    "KeyGet": "",
    "KeyBackup": "/backup",
    "KeyCreate": "/create",
    "KeyUpdate": "",
}
#: HTTP status -> (resultType, resultSignature).
STATUS: Final = {
    200: ("Success", "OK"),
    401: ("Failure", "Unauthorized"),
    403: ("Failure", "Forbidden"),
}
#: Key Vault's clock against the RMS second: up to this much either way (ms).
JITTER_MS: Final = 300
#: Receipt: this many seconds after the record's time (mean ~1 min, never beyond 10 min).
RECEIPT_SECONDS: Final = (2.0, 600.0)
RECEIPT_MEAN_SECONDS: Final = 60.0
#: Monitoring: a KeyGet of the tenant key every MONITOR_EVERY_HOURS hours, a KeyList a day.
MONITOR_EVERY_HOURS: Final = 6
TICKS: Final = 10_000_000  # 100 ns ticks per second (`time` has 7 fractional digits)
HOUR_TICKS: Final = 3600 * TICKS
RMS_CLIENT: Final = "Azure Rights Management Service"
MONITOR_CLIENT: Final = (
    "azsdk-net-Security.KeyVault.Keys/4.5.0 (.NET 6.0.25; Microsoft Windows 10.0.20348)"
)
_KEY_CODES: Final = {RT[name]: op for name, op in OPERATION_OF.items()}

SCHEMA: Final = pl.Schema(
    {
        "ticks": pl.Int64,  # the record's time, 100 ns since the epoch
        "recv": pl.Int64,  # when Key Vault received it (ticks): which blob it is in
        "tpl": pl.Int32,  # index into VaultPlan's templates
        "ip": pl.String,
        "dur": pl.Int32,  # durationMs
    }
)


@dataclass(frozen=True)
class Identity:
    """Who called Key Vault, as `identity.claim` shows it."""

    role: str  # rms, monitoring, admin, foreign (ground truth only)
    appid: str
    oid: str
    upn: str | None = None

    def claim(self) -> dict[str, str]:
        out = {OID_CLAIM: self.oid}
        if self.upn is not None:
            out[UPN_CLAIM] = self.upn
        out["appid"] = self.appid
        return out

    def as_dict(self) -> dict[str, str | None]:
        return {"role": self.role, "appid": self.appid, "oid": self.oid, "upn": self.upn}


@dataclass
class VaultPlan:
    """The simulated vault, its tenant key and the identities that use it."""

    subscription: str
    resource_group: str
    vault: str
    key: str
    version: str
    rms: Identity
    monitor: Identity
    monitor_ip: str
    templates: list[tuple[str, str, str]] = field(default_factory=list)
    _index: dict[tuple[object, ...], int] = field(default_factory=dict)

    @classmethod
    def build(cls, seed: int, tenant: Tenant) -> VaultPlan:
        """The vault of `tenant`: names and ids depend only on the seed."""
        rng = np.random.default_rng([seed, 13])
        ids = random_guids(rng, 5).to_list()
        stem = tenant.domain.split(".")[0][:12]
        return cls(
            subscription=ids[0],
            resource_group="rg-aip-byok",
            vault=f"kv-{stem}-aip",
            key="aip-tenant-key",
            version=ids[1].replace("-", ""),
            rms=Identity("rms", RMS_APPID, ids[2]),
            monitor=Identity("monitoring", ids[3], ids[4]),
            monitor_ip=f"20.{42 + int(rng.integers(0, 8))}.{int(rng.integers(0, 256))}."
            f"{int(rng.integers(1, 255))}",
        )

    @property
    def resource_id(self) -> str:
        return (
            f"/SUBSCRIPTIONS/{self.subscription}/RESOURCEGROUPS/{self.resource_group}"
            f"/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/{self.vault}"
        ).upper()

    @property
    def vault_uri(self) -> str:
        return f"https://{self.vault}.vault.azure.net"

    def key_id(self, version: str | None = None) -> str:
        """The key's URI, with `version` (the tenant key's by default; "" for none)."""
        v = self.version if version is None else version
        return f"{self.vault_uri}/keys/{self.key}" + (f"/{v}" if v else "")

    def blob_folder(self, hour_start: int) -> str:
        """The blob's folder (relative to OUT) for the hour starting at `hour_start`."""
        t = datetime.fromtimestamp(hour_start, UTC)
        return f"{CONTAINER}/resourceId={self.resource_id}/y={t:%Y}/m={t:%m}/d={t:%d}/h={t:%H}/m=00"

    def template(
        self,
        operation: str,
        status: int,
        who: Identity,
        client: str,
        *,
        version: str | None = None,
        target: str = "key",
    ) -> int:
        """Index of the template of one kind of record (created on first use).

        `target`: `key` (the key, `version` as in `key_id`), `keys` (the vault's key list),
        `vault` (the vault itself, an access-policy change through Azure Resource Manager).
        """
        spec = (operation, status, who, client, version, target)
        if spec in self._index:
            return self._index[spec]
        result_type, signature = STATUS[status]
        if target == "vault":
            rid = self.resource_id.lower()
            uri = f"https://management.azure.com{rid}?api-version=2023-07-01"
            prop_id = f"{self.vault_uri}/"
        elif target == "keys":
            prop_id = f"{self.vault_uri}/keys"
            uri = f"{prop_id}?api-version={API_VERSION}"
        else:
            prop_id = self.key_id(version)
            uri = f"{prop_id}{REQUEST_SUFFIX.get(operation, '')}?api-version={API_VERSION}"
        props: dict[str, object] = {
            "id": prop_id,
            "clientInfo": client,
            "requestUri": uri,
            "httpStatusCode": status,
            "isAccessPolicyMatch": status == 200,
        }
        if operation in ALGORITHM:
            props["algorithm"] = ALGORITHM[operation]
        props["tlsVersion"] = "TLS1_2"
        head = json.dumps(
            {
                "resourceId": self.resource_id,
                "operationName": operation,
                "operationVersion": API_VERSION,
                "category": "AuditEvent",
                "resultType": result_type,
                "resultSignature": signature,
                "resultDescription": "",
            },
            separators=(",", ":"),
        )
        tail = json.dumps(
            {"correlationId": "", "identity": {"claim": who.claim()}, "properties": props},
            separators=(",", ":"),
        )
        self.templates.append(
            ("," + head[1:-1] + ',"durationMs":"', '","callerIpAddress":"', '",' + tail[1:])
        )
        self._index[spec] = len(self.templates) - 1
        return len(self.templates) - 1

    def document(self) -> dict[str, object]:
        """The vault as the ground truth's `world.keyvault` describes it."""
        return {
            "resource_id": self.resource_id,
            "vault": self.vault,
            "key_id": self.key_id(),
            "identities": [self.rms.as_dict(), self.monitor.as_dict()],
            "monitoring_ip": self.monitor_ip,
        }


def records(
    rng: np.random.Generator,
    ticks: npt.NDArray[np.int64],
    tpl: npt.ArrayLike,
    ip: pl.Series | str,
    dur: npt.ArrayLike,
) -> pl.DataFrame:
    """Records at `ticks`, with a receipt delay each (scalars broadcast)."""
    n = len(ticks)
    delay = np.clip(RECEIPT_SECONDS[0] + rng.exponential(RECEIPT_MEAN_SECONDS, n), *RECEIPT_SECONDS)
    ips = ip if isinstance(ip, pl.Series) else pl.Series([ip] * n, dtype=pl.String)
    return pl.DataFrame(
        {
            "ticks": ticks,
            "recv": ticks + (delay * TICKS).astype(np.int64),
            "tpl": np.broadcast_to(np.asarray(tpl, dtype=np.int32), n),
            "ip": ips.alias("ip"),
            "dur": np.broadcast_to(np.asarray(dur, dtype=np.int32), n),
        },
        schema=SCHEMA,
    )


def empty_records() -> pl.DataFrame:
    return pl.DataFrame(schema=SCHEMA)


def key_call_mask(events: pl.DataFrame) -> npt.NDArray[np.bool_]:
    """Which of `events` are RMS key calls that Key Vault logs."""
    return np.isin(events["rtype"].to_numpy(), np.array(list(_KEY_CODES), dtype=np.uint8))


def rms_records(
    rng: np.random.Generator, events: pl.DataFrame, plan: VaultPlan, ips: pl.Series
) -> pl.DataFrame:
    """One Key Vault record per RMS key call in `events`: same operation, same caller
    address, Key Vault's own clock; a failed call (result not Success) is a 403."""
    calls = events.filter(pl.Series(key_call_mask(events)))
    n = calls.height
    if not n:
        return empty_records()
    rtype = calls["rtype"].to_numpy()
    ok = calls["result"].to_numpy() == SUCCESS
    lut = np.zeros((2, 256), dtype=np.int32)
    for code, op in _KEY_CODES.items():
        lut[0, code] = plan.template(op, 200, plan.rms, RMS_CLIENT)
        lut[1, code] = plan.template(op, 403, plan.rms, RMS_CLIENT)
    tpl = lut[np.where(ok, 0, 1), rtype]
    frac = rng.integers(0, TICKS, n) + rng.integers(-JITTER_MS, JITTER_MS + 1, n) * 10_000
    ticks = calls["sec"].to_numpy() * TICKS + frac
    dur = np.where(ok, rng.integers(8, 90, n), rng.integers(2, 12, n))
    return records(rng, ticks, tpl, ips.gather(calls["ip"].to_numpy()), dur)


def monitor_records(rng: np.random.Generator, day_start: int, plan: VaultPlan) -> pl.DataFrame:
    """The monitoring application: a KeyGet every few hours and a KeyList once a day."""
    slots = np.arange(0, 24, MONITOR_EVERY_HOURS) * 3600
    sec = day_start + slots + rng.integers(60, 3000, len(slots))
    get = plan.template("KeyGet", 200, plan.monitor, MONITOR_CLIENT)
    listing = plan.template("KeyList", 200, plan.monitor, MONITOR_CLIENT, target="keys")
    sec = np.r_[sec, day_start + 3 * 3600 + int(rng.integers(0, 1800))]
    tpl = np.r_[np.full(len(slots), get), listing]
    ticks = sec * TICKS + rng.integers(0, TICKS, len(sec))
    return records(rng, ticks, tpl, plan.monitor_ip, rng.integers(5, 40, len(sec)))


def lines(frame: pl.DataFrame, plan: VaultPlan) -> pl.Series:
    """One JSON text per record (no line ends), in the frame's order."""
    if frame.is_empty():
        return pl.Series("line", [], dtype=pl.String)
    heads, mids, tails = (pl.Series([t[i] for t in plan.templates]) for i in range(3))
    ticks = pl.col("ticks")
    stamp = pl.from_epoch(ticks // 10, time_unit="us").dt.strftime("%Y-%m-%dT%H:%M:%S")
    frac = (ticks % TICKS).cast(pl.String).str.zfill(7)
    return frame.select(
        pl.concat_str(
            [
                pl.lit('{"time":"'),
                stamp,
                pl.lit("."),
                frac,
                pl.lit('Z"'),
                pl.lit(heads).gather(pl.col("tpl")),
                pl.col("dur").cast(pl.String),
                pl.lit(mids).gather(pl.col("tpl")),
                pl.col("ip"),
                pl.lit(tails).gather(pl.col("tpl")),
            ]
        ).alias("line")
    )["line"]


@dataclass
class VaultLog:
    """Writes the vault's hourly blobs day by day (`add_day`, then `close`)."""

    out_dir: Path
    plan: VaultPlan
    ips: pl.Series  # the tenant's address dictionary
    seed: int
    fmt: str = "jsonl"
    files: list[Path] = field(default_factory=list)
    records: int = 0
    carry: pl.DataFrame = field(default_factory=empty_records)

    def add_day(
        self,
        day_number: int,
        events: pl.DataFrame,
        extra: list[pl.DataFrame],
        lost_hours: set[int],
    ) -> None:
        """The records of UTC day `day_number` (days since the epoch): RMS's key calls in
        `events`, monitoring, and `extra` (incident records of the day); writes every blob
        whose hour has ended, leaving out the `lost_hours` (epoch seconds of hour starts)."""
        rng = np.random.default_rng([self.seed, 13, day_number])
        start = day_number * 86400
        frame = pl.concat(
            [
                self.carry,
                rms_records(rng, events, self.plan, self.ips),
                monitor_records(rng, start, self.plan),
                *extra,
            ],
            how="vertical",
        )
        end = (start + 86400) * TICKS
        self.carry = frame.filter(pl.col("recv") >= end)
        self._write(frame.filter(pl.col("recv") < end), lost_hours)

    def close(self, lost_hours: set[int]) -> None:
        """Write what is still waiting (records received after the last day)."""
        self._write(self.carry, lost_hours)
        self.carry = empty_records()

    def _write(self, frame: pl.DataFrame, lost_hours: set[int]) -> None:
        if frame.is_empty():
            return
        frame = frame.sort("recv", "ticks", maintain_order=True)
        hours = frame["recv"].to_numpy() // HOUR_TICKS
        cuts = np.flatnonzero(np.diff(hours)) + 1
        bounds = np.r_[0, cuts, len(hours)]
        for lo, hi in itertools.pairwise(bounds):
            hour = int(hours[lo]) * 3600
            if hour in lost_hours:
                continue
            text = lines(frame.slice(int(lo), int(hi - lo)), self.plan)
            self._blob(hour, text)

    def _blob(self, hour: int, text: pl.Series) -> None:
        folder = self.out_dir / self.plan.blob_folder(hour)
        folder.mkdir(parents=True, exist_ok=True)
        if self.fmt == "records":
            body = '{"records":[\n' + ",\n".join(text.to_list()) + "\n]}\n"
        else:
            body = "\n".join(text.to_list()) + "\n"
        path = folder / "PT1H.json"
        write_atomic(path, [body.encode("utf-8")])
        self.files.append(path)
        self.records += len(text)
