"""Labelled incidents: what each scenario injects, as events with their row ids.

Every builder takes its own random stream and a start time chosen by the schedule,
returns the entity a finding should name and the injected events (including the
tenant-key calls its requests cause). Definitions are documented in docs/simulator.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
import polars as pl

from pipeline.generate.activity import Day, World, person_ips
from pipeline.generate.clients import APPS, MOBILE_PLATFORMS
from pipeline.generate.events import (
    DENIED,
    DOC_FULL,
    DOC_ID_ONLY,
    RT,
    SUCCESS,
    concat_events,
    empty_events,
    make_events,
    rtype_codes,
)
from pipeline.generate.ids import guid
from pipeline.generate.keys import KeyPlan, fail_key_calls, key_calls, orphan_calls
from pipeline.generate.places import ATTACKER_MIN_KM, distances_km
from pipeline.generate.vault import TICKS, Identity, VaultPlan, empty_records, records

I64 = npt.NDArray[np.int64]
TENANT_KEY = "tenant-key"

#: Scenarios of the RMS usage log (what `--scenarios all` means without --keyvault-logs).
SCENARIOS = (
    "off-hours-reading",
    "impossible-travel",
    "denied-burst",
    "orphan-key-calls",
    "admin-browsing",
    "revoked-document-opened",
    "key-volume-spike",
)
#: Scenarios that show in the Key Vault log: need --keyvault-logs and byok-keyvault.
#: Entities as the Key Vault rules name them: foreign-key-use the caller's object id (oid
#: claim), key-log-mismatch `tenant-key`, key-management the key's name, key-access-failures
#: the refused caller's object id (RMS's service principal).
VAULT_SCENARIOS = (
    "foreign-key-use",
    "key-log-mismatch",
    "key-management",
    "key-access-failures",
)
ALL_SCENARIOS = SCENARIOS + VAULT_SCENARIOS
#: Scenarios that need tenant-key calls (a BYOK topology).
KEY_SCENARIOS = frozenset({"orphan-key-calls", "key-volume-spike"})
#: Scenarios that need the admin columns (log version 1.1-admin).
ADMIN_SCENARIOS = frozenset({"admin-browsing"})
#: Longest span of each scenario, seconds (the schedule keeps it inside the period).
DURATION = {
    "off-hours-reading": 3 * 3600,
    "impossible-travel": 1800,
    "denied-burst": 900,
    "orphan-key-calls": 1800,
    "admin-browsing": 2 * 3600,
    "revoked-document-opened": 7 * 3600,
    "key-volume-spike": 3600,
    "foreign-key-use": 1800,
    "key-log-mismatch": 3600,
    "key-management": 1800,
    "key-access-failures": 1800,
}
#: A spike adds this many times the usual busiest-hour key volume.
SPIKE_FACTOR = 6.0
#: The insider's reading stays below this share of the busiest-hour key volume per hour.
INSIDER_SHARE = 0.8


#: Well-known first-party application ids an identity may call Key Vault with.
AZURE_CLI_APPID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
AZURE_POWERSHELL_APPID = "1950a258-227b-4e31-a9cf-717495945fc2"
SDK_CLIENT = "azsdk-python-keyvault-keys/4.9.0 Python/3.11.9 (Linux-6.5.0-1025-azure-x86_64)"
POWERSHELL_CLIENT = "PowerShell/7.4.6 Az.KeyVault/6.3.0"
PORTAL_CLIENT = "AzurePortal/1.0 (Microsoft.KeyVault)"


@dataclass(frozen=True)
class Context:
    world: World
    keys: KeyPlan
    peak_key_calls: float  # expected key calls in a working day's busiest hour
    vault: VaultPlan | None = None  # with --keyvault-logs


@dataclass(frozen=True)
class VaultPart:
    """What an incident does to the Key Vault log."""

    records: pl.DataFrame  # records it adds (vault.SCHEMA)
    window: tuple[int, int]  # first and last second of the incident (the ground truth's)
    identity: Identity | None = None  # the non-RMS caller, if any
    ip: str | None = None
    lost_hour: int | None = None  # key-log-mismatch: start of the hour whose blob is lost
    fail_window: tuple[int, int] | None = None  # key-access-failures: RMS refused, lo <= s < hi

    def detail(self) -> dict[str, object]:
        """The ground truth's `keyvault` entry of the incident."""
        out: dict[str, object] = {"records": self.records.height}
        if self.identity is not None:
            out["identity"] = self.identity.as_dict()
            out["ip"] = self.ip
        if self.lost_hour is not None:
            out["lost_hour"] = _iso(self.lost_hour)
        if self.fail_window is not None:
            out["failures"] = [_iso(self.fail_window[0]), _iso(self.fail_window[1])]
        return out


@dataclass(frozen=True)
class Injected:
    scenario: str
    entity: str
    events: pl.DataFrame
    vault: VaultPart | None = None


Builder = Callable[[Context, np.random.Generator, int], tuple[str, pl.DataFrame]]


def _day(ctx: Context, rng: np.random.Generator, sec: int) -> Day:
    return Day(ctx.world, datetime.fromtimestamp(sec, UTC).date(), rng)


def _ordinary_person(
    ctx: Context, rng: np.random.Generator, avoid: npt.ArrayLike = (), online: npt.ArrayLike = ()
) -> int:
    """A random employee who is not an administrator (nor in `avoid`), and who is not in
    the air at any of the `online` seconds (wherever they are: on a trip is fine)."""
    n = len(ctx.world.tenant.people)
    banned = set(np.asarray(ctx.world.tenant.admins).tolist()) | set(np.asarray(avoid).tolist())
    candidates = np.array([p for p in range(n) if p not in banned] or list(range(n)))
    return _online_one(ctx, rng, candidates, online)


def _online_one(
    ctx: Context, rng: np.random.Generator, candidates: npt.ArrayLike, online: npt.ArrayLike
) -> int:
    """A random one of `candidates` who is online at every second of `online`."""
    order = rng.permutation(np.asarray(candidates))
    times = np.asarray(online, dtype=np.int64)
    for person in order[:200]:
        if ctx.world.locate(np.full(len(times), person), times)[1].all():
            return int(person)
    return int(order[0])


def _spread(rng: np.random.Generator, start: int, n: int, span: int) -> I64:
    return np.sort(start + rng.integers(0, max(span, 1), n)).astype(np.int64)


def _user_id(ctx: Context, user: int) -> str:
    return str(ctx.world.tenant.user_ids[user])


def _opens(
    ctx: Context,
    rng: np.random.Generator,
    person: npt.ArrayLike,
    sec: I64,
    doc: npt.ArrayLike,
    result: npt.ArrayLike = SUCCESS,
) -> pl.DataFrame:
    """AcquireLicense requests on a desktop, from wherever each person is at the time."""
    t = ctx.world.tenant
    person = np.broadcast_to(np.asarray(person, dtype=np.int32), sec.shape)
    doc = np.asarray(doc, dtype=np.int32)
    ip, online = ctx.world.locate(person, sec)
    return make_events(
        rng,
        sec,
        RT["AcquireLicense"],
        t.people.user[person],
        ip,
        result=result,
        doc=doc,
        docmode=DOC_FULL,
        cinfo=t.cinfo_of(t.people.desktop[person], t.documents.app[doc]),
        keep=online,
    )


def _with_keys(ctx: Context, rng: np.random.Generator, requests: pl.DataFrame) -> pl.DataFrame:
    return concat_events([requests, key_calls(rng, requests, ctx.keys)])


def _readable_docs(ctx: Context, sec: int) -> npt.NDArray[np.int64]:
    docs = ctx.world.tenant.documents
    return np.flatnonzero(docs.consumable & (docs.published < sec))


def off_hours_reading(
    ctx: Context, rng: np.random.Generator, start: int
) -> tuple[str, pl.DataFrame]:
    """One insider opens many distinct documents in the middle of the (local) night."""
    person = _ordinary_person(ctx, rng, online=start + np.arange(0, 4 * 3600, 600))
    per_hour = max(20.0, INSIDER_SHARE * ctx.peak_key_calls / 2)
    pool = _readable_docs(ctx, start)
    n = min(int(rng.integers(40, 90)), int(2.5 * per_hour), len(pool))
    span = int(max(3600, 3600 * n / per_hour))
    sec = _spread(rng, start + 60, n, span - 60)
    opens = _opens(ctx, rng, person, sec, rng.choice(pool, n, replace=False))
    t = ctx.world.tenant
    hello = make_events(
        rng,
        np.array([start, start + 2]),
        rtype_codes(("FindServiceLocationsForUser", "AcquireTemplates")),
        t.people.user[person],
        person_ips(ctx.world, np.array([person, person]), np.array([start, start + 2])),
        cinfo=t.cinfo_of(t.people.desktop[person], APPS.index("word")),
    )
    return _user_id(ctx, int(t.people.user[person])), _with_keys(
        ctx, rng, concat_events([hello, opens])
    )


def impossible_travel(
    ctx: Context, rng: np.random.Generator, start: int
) -> tuple[str, pl.DataFrame]:
    """A session of one account from a distant country minutes after its owner's own use,
    wherever the owner is (at the office, at home, on the phone, on a trip)."""
    t = ctx.world.tenant
    person = _ordinary_person(ctx, rng, online=start + np.arange(0, 1800, 300))
    day = _day(ctx, rng, start)
    before = _spread(rng, start, 2, 120)
    after = np.array([start + int(rng.integers(900, 1500))])
    own = _opens(
        ctx, rng, person, np.r_[before, after], day.pick_docs(3, t.people.team[[person] * 3])
    )
    plan = t.plan
    here = int(plan.ip_city[int(own["ip"][0])])
    far = distances_km(np.full(len(plan.attacker_cities), here), plan.attacker_cities)
    options = np.flatnonzero(far >= ATTACKER_MIN_KM)
    pick = int(rng.choice(options if len(options) else np.arange(len(far))))
    ip = int(plan.attacker_first[pick] + rng.integers(0, plan.attacker_hosts))
    n = int(rng.integers(3, 7))
    sec = _spread(rng, int(before[-1]) + int(rng.integers(180, 480)), n, 300)
    platform = int(rng.choice(MOBILE_PLATFORMS))
    doc = day.pick_docs(n, t.people.team[[person] * n])
    stolen = make_events(
        rng,
        sec,
        np.where(np.arange(n) == 0, RT["FindServiceLocationsForUser"], RT["AcquireLicense"]),
        t.people.user[person],
        ip,
        doc=np.where(np.arange(n) == 0, -1, doc),
        docmode=np.where(np.arange(n) == 0, 0, DOC_FULL),
        cinfo=t.cinfo_of(platform, t.documents.app[doc]),
    )
    return _user_id(ctx, int(t.people.user[person])), _with_keys(
        ctx, rng, concat_events([own, stolen])
    )


def denied_burst(ctx: Context, rng: np.random.Generator, start: int) -> tuple[str, pl.DataFrame]:
    """Dozens of AccessDenied for one user within minutes: documents they have no rights to."""
    person = _ordinary_person(ctx, rng, online=start + np.arange(0, 900, 300))
    n = int(rng.integers(25, 61))
    sec = _spread(rng, start, n, int(rng.integers(180, 600)))
    doc = _day(ctx, rng, start).pick_docs(n)
    requests = _opens(ctx, rng, person, sec, doc, result=DENIED)
    return _user_id(ctx, int(ctx.world.tenant.people.user[person])), requests


def orphan_key_calls(
    ctx: Context, rng: np.random.Generator, start: int
) -> tuple[str, pl.DataFrame]:
    """Tenant-key calls whose correlation ids no request in the logs carries."""
    n = int(rng.integers(10, 26))
    return TENANT_KEY, orphan_calls(
        rng, _spread(rng, start, n, int(rng.integers(300, 1200))), ctx.keys
    )


def admin_browsing(ctx: Context, rng: np.random.Generator, start: int) -> tuple[str, pl.DataFrame]:
    """An administrator opens, in admin mode, the documents of many other users in a row."""
    t = ctx.world.tenant
    admin = _online_one(ctx, rng, t.admins, start + np.arange(0, 7200, 600))
    others = np.array([p for p in range(len(t.people)) if p != admin])
    victims = rng.choice(others, min(len(others), int(rng.integers(8, 16))), replace=False)
    views = rng.integers(2, 6, len(victims))
    case = np.repeat(np.arange(len(victims)), views)
    rank = np.arange(len(case)) - np.repeat(np.cumsum(views) - views, views)
    begin = start + np.cumsum(rng.integers(60, 400, len(victims)))
    sec = begin[case] + rank * rng.integers(15, 90, len(case))
    views_rt = rtype_codes(
        ("GetSingle", "LoadEventsForTimeline", "GetRecipients", "LoadEventsForMap")
    )
    kind = np.where(rank == 0, RT["GetAllDocs"], views_rt[rng.integers(0, 4, len(case))])
    who = np.full(len(case), admin, dtype=np.int32)
    events = make_events(
        rng,
        sec,
        kind,
        t.people.user[admin],
        person_ips(ctx.world, who, sec),
        admin=True,
        acting=t.people.user[victims[case]],
    )
    return _user_id(ctx, int(t.people.user[admin])), events


def revoked_document_opened(
    ctx: Context, rng: np.random.Generator, start: int
) -> tuple[str, pl.DataFrame]:
    """An owner revokes a document; hours later someone asks for a licence to open it."""
    t = ctx.world.tenant
    docs = t.documents
    pool = np.flatnonzero(~docs.consumable & (docs.published < start))
    pool = rng.permutation(pool if len(pool) else np.arange(len(docs)))
    owners = docs.owner[pool[:50]]
    online = ctx.world.locate(owners, np.full(len(owners), start))[1]
    doc = int(pool[int(np.argmax(online))])
    owner = int(docs.owner[doc])
    revoke = make_events(
        rng,
        [start],
        RT["RevokeAccess"],
        t.people.user[owner],
        person_ips(ctx.world, np.array([owner]), np.array([start])),
        doc=doc,
        docmode=DOC_ID_ONLY,
    )
    m = int(rng.integers(2, 5))
    sec = _spread(rng, start + 3600, m, 5 * 3600)
    reader = _ordinary_person(ctx, rng, avoid=[owner], online=sec)
    result = np.where(rng.random(m) < 0.5, SUCCESS, DENIED)
    result[int(rng.integers(0, m))] = SUCCESS
    attempts = _opens(ctx, rng, reader, sec, np.full(m, doc), result=result)
    return str(docs.content_id[doc]), _with_keys(ctx, rng, concat_events([revoke, attempts]))


def key_volume_spike(
    ctx: Context, rng: np.random.Generator, start: int
) -> tuple[str, pl.DataFrame]:
    """An hour with several times the usual key volume: clients re-acquire licences en masse."""
    people = ctx.world.tenant.people
    n = int(max(100, SPIKE_FACTOR * ctx.peak_key_calls / 2))
    person = rng.choice(len(people), n, p=people.activity / people.activity.sum()).astype(np.int32)
    sec = start + rng.integers(0, 3600, n)
    doc = _day(ctx, rng, start).pick_docs(n, people.team[person])
    return TENANT_KEY, _with_keys(ctx, rng, _opens(ctx, rng, person, sec, doc))


BUILDERS: dict[str, Builder] = {
    "off-hours-reading": off_hours_reading,
    "impossible-travel": impossible_travel,
    "denied-burst": denied_burst,
    "orphan-key-calls": orphan_key_calls,
    "admin-browsing": admin_browsing,
    "revoked-document-opened": revoked_document_opened,
    "key-volume-spike": key_volume_spike,
}


def _iso(sec: int) -> str:
    return datetime.fromtimestamp(sec, UTC).replace(tzinfo=None).isoformat()


def _vault(ctx: Context) -> VaultPlan:
    if ctx.vault is None:  # skipped_scenarios keeps Key Vault scenarios out without one
        raise ValueError("a Key Vault scenario needs --keyvault-logs")
    return ctx.vault


def _at(rng: np.random.Generator, sec: npt.ArrayLike) -> I64:
    """Key Vault ticks within each second of `sec`."""
    s = np.asarray(sec, dtype=np.int64)
    return np.asarray(s * TICKS + rng.integers(0, TICKS, len(s)), dtype=np.int64)


def _someone(ctx: Context, rng: np.random.Generator, appid: str, person: int) -> Identity:
    """An identity of an employee signed in to `appid` (its own object id)."""
    upn = _user_id(ctx, int(ctx.world.tenant.people.user[person]))
    oid = guid(np.random.default_rng([ctx.world.seed, 14, person]))  # the person's, always
    return Identity("foreign", appid, oid, upn)


def foreign_key_use(ctx: Context, rng: np.random.Generator, start: int) -> tuple[str, VaultPart]:
    """Another identity decrypts with the tenant key: an employee's account through the
    Azure CLI, from a hosting provider's address far away (not Microsoft, not the tenant)."""
    plan = _vault(ctx)
    t = ctx.world.tenant
    who = _someone(ctx, rng, AZURE_CLI_APPID, _ordinary_person(ctx, rng))
    pick = int(rng.integers(0, len(t.plan.attacker_first)))
    ip = str(t.ips[int(t.plan.attacker_first[pick] + rng.integers(0, t.plan.attacker_hosts))])
    n = int(rng.integers(3, 13))
    sec = np.r_[
        start, _spread(rng, start + int(rng.integers(20, 90)), n, int(rng.integers(120, 1200)))
    ]
    ops = ["KeyGet"] + ["KeySign" if rng.random() < 0.2 else "KeyDecrypt" for _ in range(n)]
    tpl = [plan.template(op, 200, who, SDK_CLIENT) for op in ops]
    recs = records(rng, _at(rng, sec), tpl, ip, rng.integers(10, 120, len(sec)))
    return who.oid, VaultPart(recs, (int(sec[0]), int(sec[-1])), who, ip)


def key_log_mismatch(ctx: Context, rng: np.random.Generator, start: int) -> tuple[str, VaultPart]:
    """The blob of one working hour never reaches the storage account: Key Vault shows no
    record received in that hour, while RMS logs its key calls as usual."""
    hour = start // 3600 * 3600
    return TENANT_KEY, VaultPart(empty_records(), (hour, hour + 3599), lost_hour=hour)


def key_management(ctx: Context, rng: np.random.Generator, start: int) -> tuple[str, VaultPart]:
    """An administrator backs up the tenant key with Azure PowerShell from their own
    address (KeyBackup); half the time also creates a new key version (KeyCreate)."""
    plan = _vault(ctx)
    t = ctx.world.tenant
    admin = _online_one(ctx, rng, t.admins, start + np.arange(0, 1200, 300))
    who = _someone(ctx, rng, AZURE_POWERSHELL_APPID, admin)
    who = Identity("admin", who.appid, who.oid, who.upn)
    ip = str(t.ips[int(person_ips(ctx.world, np.array([admin]), np.array([start]))[0])])
    sec = [start]
    tpl = [plan.template("KeyBackup", 200, who, POWERSHELL_CLIENT, version="")]
    if rng.random() < 0.5:
        sec.append(sec[-1] + int(rng.integers(60, 600)))
        version = guid(rng).replace("-", "")
        tpl.append(plan.template("KeyCreate", 200, who, POWERSHELL_CLIENT, version=version))
    recs = records(rng, _at(rng, sec), tpl, ip, rng.integers(20, 300, len(sec)))
    return plan.key, VaultPart(recs, (sec[0], sec[-1]), who, ip)


def key_access_failures(
    ctx: Context, rng: np.random.Generator, start: int
) -> tuple[str, pl.DataFrame, VaultPart]:
    """An administrator changes the vault's access policy and RMS loses its permissions
    for 5-20 minutes: every RMS key call is refused (403), users' opens fail and are
    retried; then the policy is put back. Both changes are VaultPatch records."""
    plan = _vault(ctx)
    t = ctx.world.tenant
    admin = _online_one(ctx, rng, t.admins, np.array([start]))
    who = _someone(ctx, rng, AZURE_POWERSHELL_APPID, admin)
    who = Identity("admin", who.appid, who.oid, who.upn)
    ip = str(t.ips[int(person_ips(ctx.world, np.array([admin]), np.array([start]))[0])])
    end = start + int(rng.integers(300, 1200))
    patch = plan.template("VaultPatch", 200, who, PORTAL_CLIENT, target="vault")
    recs = records(rng, _at(rng, [start - 1, end]), patch, ip, rng.integers(200, 900, 2))
    people = t.people
    m = int(rng.integers(8, 21))
    person = rng.choice(len(people), m, p=people.activity / people.activity.sum()).astype(np.int32)
    sec = _spread(rng, start + 5, m, end - start - 10)
    doc = _day(ctx, rng, start).pick_docs(m, people.team[person])
    opens = _opens(ctx, rng, person, sec, doc)
    failed = fail_key_calls(_with_keys(ctx, rng, opens), [(start, end)])
    part = VaultPart(recs, (start - 1, end), who, ip, fail_window=(start, end))
    return plan.rms.oid, failed, part


def inject(ctx: Context, scenario: str, rng: np.random.Generator, start: int) -> Injected:
    if scenario == "key-access-failures":
        entity, events, part = key_access_failures(ctx, rng, start)
        return Injected(scenario, entity, events.sort("sec", maintain_order=True), part)
    if scenario in VAULT_BUILDERS:
        entity, part = VAULT_BUILDERS[scenario](ctx, rng, start)
        return Injected(scenario, entity, empty_events(), part)
    entity, events = BUILDERS[scenario](ctx, rng, start)
    return Injected(scenario, entity, events.sort("sec", maintain_order=True))


VAULT_BUILDERS: dict[str, Callable[[Context, np.random.Generator, int], tuple[str, VaultPart]]] = {
    "foreign-key-use": foreign_key_use,
    "key-log-mismatch": key_log_mismatch,
    "key-management": key_management,
}
