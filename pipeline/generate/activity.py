"""Simulated requests of a tenant over a period, with the tenant-key calls they cause.

All per-record work is NumPy/Polars; Python loops only over request types.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl

from pipeline.generate.ids import random_guids
from pipeline.generate.tenant import Tenant
from pipeline.schema import REQUESTS_POLARS_SCHEMA, Topology

#: Share of user requests by type (protect, consume, discovery, tracking, admin).
REQUEST_MIX: dict[str, float] = {
    "AcquireLicense": 0.40,
    "FECreateEndUserLicenseV1": 0.06,
    "Certify": 0.05,
    "GetClientLicensorCert": 0.05,
    "FECreatePublishingLicenseV1": 0.02,
    "FindServiceLocationsForUser": 0.14,
    "AcquireTemplates": 0.08,
    "AcquireTemplateInformation": 0.08,
    "GetAllDocs": 0.03,
    "GetSingle": 0.03,
    "LoadEventsForSummary": 0.02,
    "GetTenantFunctionalState": 0.02,
    "GetConfiguration": 0.02,
}
#: Tenant-key operations caused by a successful request, per topology.
KEY_CALLS: dict[Topology, dict[str, tuple[str, ...]]] = {
    Topology.BYOK_LEGACY: {
        "AcquireLicense": ("KMSPDecrypt", "KMSPSignDigest"),
        "FECreateEndUserLicenseV1": ("KMSPDecrypt", "KMSPSignDigest"),
        "Certify": ("KMSPSignDigest",),
        "GetClientLicensorCert": ("KMSPSignDigest",),
        "FECreatePublishingLicenseV1": ("KMSPSignDigest",),
    },
    Topology.BYOK_KEYVAULT: {
        "AcquireLicense": ("KeyVaultDecryptRequest", "KeyVaultSignDigest"),
        "FECreateEndUserLicenseV1": ("KeyVaultDecryptRequest", "KeyVaultSignDigest"),
        "Certify": ("KeyVaultSignDigest",),
        "GetClientLicensorCert": ("KeyVaultSignDigest",),
        "FECreatePublishingLicenseV1": ("KeyVaultSignDigest",),
    },
    Topology.MICROSOFT_MANAGED: {},
}
CONSUMING = ("AcquireLicense", "FECreateEndUserLicenseV1")
FAILURE_RATE = 0.03
FAILURE_TEXT = "AccessDenied"

#: A simulated record: the `requests` columns without lineage.
EVENT_SCHEMA = pl.Schema(
    (name, dtype)
    for name, dtype in REQUESTS_POLARS_SCHEMA.items()
    if name not in ("source_file", "source_line")
)


def simulate_requests(
    rng: np.random.Generator,
    tenant: Tenant,
    start: date,
    days: int,
    per_user_day: float = 12.0,
) -> pl.DataFrame:
    """User requests over `days` from `start`: working-hour, weekday rhythm."""
    users = tenant.users
    day_idx = np.arange(days)
    weekday = np.array([(start + timedelta(days=int(d))).weekday() for d in day_idx])
    day_factor = np.where(weekday >= 5, 0.08, 1.0)
    lam = np.outer(users["activity"].to_numpy(), day_factor) * per_user_day
    counts = rng.poisson(lam)  # users x days
    user_of = np.repeat(np.repeat(np.arange(len(users)), days), counts.ravel())
    day_of = np.repeat(np.tile(day_idx, len(users)), counts.ravel())
    n = len(user_of)
    seconds = np.clip(rng.normal(13.0 * 3600, 2.6 * 3600, n), 0, 86399).astype(np.int64)
    base = np.datetime64(start.isoformat(), "us")
    ts = base + (day_of * 86400 + seconds) * np.timedelta64(1, "s")
    names = list(REQUEST_MIX)
    probs = np.array(list(REQUEST_MIX.values()))
    kind = rng.choice(len(names), n, p=probs / probs.sum())
    ok = rng.random(n) >= FAILURE_RATE
    docs = tenant.documents
    pop = docs["popularity"].to_numpy()
    doc_of = rng.choice(len(docs), n, p=pop / pop.sum())
    frame = pl.DataFrame(
        {
            "ts": ts,
            "user_idx": user_of.astype(np.int64),
            "doc_idx": doc_of.astype(np.int64),
            "request_type": pl.Series(names).gather(kind),
            "ok": ok,
        }
    )
    frame = frame.join(users.select("user_idx", "user_id", "home_ip", "c_info"), on="user_idx")
    frame = frame.join(docs.drop("popularity"), on="doc_idx", how="left")
    is_doc = pl.col("request_type").is_in(CONSUMING)
    return frame.select(
        "ts",
        random_guids(rng, n).alias("row_id"),
        "request_type",
        "user_id",
        pl.when("ok").then(pl.lit("Success")).otherwise(pl.lit(FAILURE_TEXT)).alias("result"),
        random_guids(rng, n).alias("correlation_id"),
        *[pl.when(is_doc).then(pl.col(c)).alias(c) for c in ("content_id", "owner_email")],
        pl.when(is_doc).then(pl.col("owner_email")).alias("issuer"),
        *[
            pl.when(is_doc).then(pl.col(c)).alias(c)
            for c in ("template_id", "file_name", "date_published")
        ],
        "c_info",
        pl.col("home_ip").alias("c_ip"),
        pl.lit(None, pl.Boolean).alias("admin_action"),
        pl.lit(None, pl.String).alias("acting_as_user"),
    ).sort("ts")


def key_calls_for(
    rng: np.random.Generator, requests: pl.DataFrame, topology: Topology, service_ip: str
) -> pl.DataFrame:
    """The tenant-key calls that successful requests cause: same correlation-id, no user."""
    parts = []
    for origin, ops in KEY_CALLS[topology].items():
        src = requests.filter((pl.col("request_type") == origin) & (pl.col("result") == "Success"))
        for op in ops:
            parts.append(src.select("ts", "correlation_id", pl.lit(op).alias("request_type")))
    if not parts:
        return pl.DataFrame(schema=EVENT_SCHEMA)
    calls = pl.concat(parts)
    n = calls.height
    delay = pl.Series(rng.integers(0, 1_000_000, n)).cast(pl.Duration("us"))  # within 1 s
    columns = {
        "ts": (pl.col("ts") + pl.lit(delay)).dt.truncate("1s"),
        "row_id": pl.lit(random_guids(rng, n)),
        "request_type": pl.col("request_type"),
        "result": pl.lit("Success"),
        "correlation_id": pl.col("correlation_id"),
        "c_ip": pl.lit(service_ip),
    }
    return calls.select(
        columns.get(c, pl.lit(None)).cast(t).alias(c) for c, t in EVENT_SCHEMA.items()
    )


def simulate(
    rng: np.random.Generator, tenant: Tenant, start: date, days: int, topology: Topology
) -> pl.DataFrame:
    """Every record of the period, user requests and key calls, in time order."""
    requests = simulate_requests(rng, tenant, start, days)
    calls = key_calls_for(rng, requests, topology, tenant.key_service_ip)
    return pl.concat([requests.cast(EVENT_SCHEMA), calls.cast(EVENT_SCHEMA)]).sort(
        "ts", maintain_order=True
    )
