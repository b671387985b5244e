"""Everyone else in the logs: Exchange Online's service identity, the RMS connector,
anonymous discovery, partner recipients, administrators, helpdesk and revocations.

Service identities work around the clock from many Microsoft addresses; they are
ordinary traffic, which user-centred rules must allow-list (`service_accounts`).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl

from pipeline.generate import calendar
from pipeline.generate.activity import Day
from pipeline.generate.events import (
    DENIED,
    DOC_FULL,
    DOC_ID_ONLY,
    DOC_NONE,
    RT,
    SUCCESS,
    concat_events,
    make_events,
    rtype_codes,
)

I64 = npt.NDArray[np.int64]

#: Exchange Online, per person per working day: (request type, rate, opens a document).
EXCHANGE_MIX: tuple[tuple[str, float, bool], ...] = (
    ("AcquireLicense", 0.9, True),
    ("AcquirePreLicense", 0.25, True),
    ("GetClientLicensorCert", 0.2, False),
    ("BECreateEndUserLicenseV1", 0.08, True),
    ("BEGetAllTemplatesV1", 0.04, False),
    ("AcquireTemplates", 0.03, False),
    ("Certify", 0.02, False),
)
#: The connector's on-premises servers (Exchange, SharePoint) per person per working day.
CONNECTOR_MIX: tuple[tuple[str, float, bool], ...] = (
    ("AcquireLicense", 0.2, True),
    ("GetClientLicensorCert", 0.04, False),
)
SERVICE_QUIET = 0.35  # weekend share of a service's working-day volume
#: Administrators, per admin per working day.
ADMIN_MIX: tuple[tuple[str, float], ...] = (
    ("GetConfiguration", 1.0),
    ("GetTenantFunctionalState", 0.3),
    ("GetAllTemplates", 0.5),
    ("GetTemplateById", 0.3),
    ("ExportTemplateById", 0.02),
    ("UpdateTemplate", 0.03),
    ("AddTemplate", 0.01),
    ("GetConnectorAuthorizations", 0.05),
)
ADMIN_TENANT_VIEWS = (("GetAllDocs", 0.05), ("AllDocsCsv", 0.02))  # admin mode, whole tenant
#: Helpdesk cases per helpdesk admin per working day: 0, 1 or 2 on most days; on a busy
#: day (a share of HELPDESK_BUSY_DAY) 4-9 users, spread over the day.
HELPDESK_CASES = (0.55, 0.30, 0.15)
HELPDESK_BUSY_DAY = 0.08
HELPDESK_BUSY_CASES = (4, 9)
HELPDESK_VIEWS = ("GetSingle", "LoadEventsForTimeline", "GetRecipients", "LoadEventsForMap")
REVOKE_PER_PERSON_DAY = 0.004
EXTERNAL_OPEN_PER_DAY = 0.4
EXTERNAL_DENY_RATE = 0.05


def _service_stream(
    day: Day, mix: tuple[tuple[str, float, bool], ...], user: int, ips: npt.ArrayLike, cinfo: int
) -> pl.DataFrame:
    n_people = len(day.world.tenant.people)
    w = day.weights(calendar.SERVICES_BY_HOUR, SERVICE_QUIET)
    rates = np.array([rate for _, rate, _ in mix]) * n_people * w.sum()
    counts = day.rng.poisson(rates)
    kind = np.repeat(np.arange(len(mix)), counts)
    opens = np.array([o for _, _, o in mix])[kind]
    ips = np.asarray(ips)
    doc = np.where(opens, day.pick_docs(len(kind)), -1)
    return make_events(
        day.rng,
        day.times(len(kind), w),
        rtype_codes(tuple(t for t, _, _ in mix))[kind],
        user,
        ips[day.rng.integers(0, len(ips), len(kind))],
        doc=doc,
        docmode=np.where(opens, DOC_FULL, DOC_NONE),
        cinfo=cinfo,
    )


def exchange_events(day: Day) -> pl.DataFrame:
    t = day.world.tenant
    return _service_stream(day, EXCHANGE_MIX, t.service_user, t.service_ips, t.service_cinfo)


def connector_events(day: Day) -> pl.DataFrame:
    """The RMS connector: its servers' traffic, and an authorisation check every 15 minutes."""
    t = day.world.tenant
    relayed = _service_stream(
        day, CONNECTOR_MIX, t.connector_user, [t.connector_ip], t.connector_cinfo
    )
    checks = day.start + np.arange(0, 86400, 900) + day.rng.integers(0, 40, 96)
    daily = np.array([day.start + int(day.rng.integers(3600, 7200))])
    polls = make_events(
        day.rng, checks, RT["GetConnectorAuthorizations"], t.connector_user, t.connector_ip
    )
    certify = make_events(day.rng, daily, RT["ServerCertify"], t.connector_user, t.connector_ip)
    return concat_events([relayed, polls, certify])


def anonymous_events(day: Day) -> pl.DataFrame:
    """Service discovery before sign-in: FindServiceLocationsForUser with no user."""
    people = day.world.tenant.people
    w = day.weights(calendar.PEOPLE_BY_HOUR)
    n = int(day.rng.poisson(0.3 * len(people) * w.sum()))
    person = day.rng.integers(0, len(people), n).astype(np.int32)
    sec = day.times(n, w)
    ip, online = day.world.locate(person, sec)
    return make_events(day.rng, sec, RT["FindServiceLocationsForUser"], 0, ip, keep=online)


def external_events(day: Day) -> pl.DataFrame:
    """Partner recipients opening documents shared with them, from their own networks."""
    t = day.world.tenant
    w = day.weights(calendar.PEOPLE_BY_HOUR)
    counts = day.rng.poisson(EXTERNAL_OPEN_PER_DAY * w.sum(), len(t.externals))
    who = np.repeat(np.arange(len(t.externals)), counts)
    doc = day.pick_docs(len(who))
    denied = day.rng.random(len(who)) < EXTERNAL_DENY_RATE
    return make_events(
        day.rng,
        day.times(len(who), w),
        RT["AcquireLicense"],
        t.externals[who],
        t.external_ip[who],
        result=np.where(denied, DENIED, SUCCESS),
        doc=doc,
        docmode=DOC_FULL,
        cinfo=t.cinfo_of(t.external_platform[who], t.documents.app[doc]),
    )


def admin_events(day: Day) -> pl.DataFrame:
    """Administrators' configuration and template work, and tenant-wide tracking views."""
    t = day.world.tenant
    w = day.weights(calendar.PEOPLE_BY_HOUR)
    mix = ADMIN_MIX + ADMIN_TENANT_VIEWS
    rates = np.array([r for _, r in mix]) * w.sum()
    counts = day.rng.poisson(np.tile(rates, len(t.admins))).reshape(len(t.admins), len(mix))
    admin = np.repeat(np.repeat(np.arange(len(t.admins)), len(mix)), counts.ravel())
    kind = np.repeat(np.tile(np.arange(len(mix)), len(t.admins)), counts.ravel())
    person = t.admins[admin]
    sec = day.times(len(person), w)
    ip, online = day.world.locate(person, sec)
    return make_events(
        day.rng,
        sec,
        rtype_codes(tuple(n for n, _ in mix))[kind],
        t.people.user[person],
        ip,
        admin=kind >= len(ADMIN_MIX),
        keep=online,
    )


def helpdesk_events(day: Day) -> pl.DataFrame:
    """Helpdesk looks at one user's documents in admin mode when asked: a few views."""
    t = day.world.tenant
    w = day.weights(calendar.PEOPLE_BY_HOUR)
    quiet = w.sum() < 0.5
    busy = day.rng.random(len(t.helpdesk)) < HELPDESK_BUSY_DAY
    cases = np.where(
        busy,
        day.rng.integers(HELPDESK_BUSY_CASES[0], HELPDESK_BUSY_CASES[1] + 1, len(t.helpdesk)),
        day.rng.choice(len(HELPDESK_CASES), len(t.helpdesk), p=HELPDESK_CASES),
    ) * (0 if quiet else 1)
    day.world.log_benign(
        "helpdesk_busy_days",
        [
            {"user": int(t.people.user[h]), "day": day.start, "cases": int(c)}
            for h, c, b in zip(t.helpdesk.tolist(), cases.tolist(), busy.tolist(), strict=True)
            if b and c
        ],
    )
    helper = np.repeat(t.helpdesk, cases)
    victim = (helper + 1 + day.rng.integers(0, len(t.people) - 1, len(helper))) % len(t.people)
    views = day.rng.integers(2, 5, len(helper))
    case = np.repeat(np.arange(len(helper)), views)
    rank = np.arange(len(case)) - np.repeat(np.cumsum(views) - views, views)
    sec = day.times(len(helper), w)[case] + rank * day.rng.integers(20, 120, len(case))
    sec = np.minimum(sec, day.start + 86399)
    kind = np.where(
        rank == 0, RT["GetAllDocs"], rtype_codes(HELPDESK_VIEWS)[day.rng.integers(0, 4, len(case))]
    )
    person = helper[case]
    ip, online = day.world.locate(person, sec)
    return make_events(
        day.rng,
        sec,
        kind,
        t.people.user[person],
        ip,
        admin=True,
        acting=t.people.user[victim[case]],
        keep=online,
    )


def revocation_events(day: Day) -> pl.DataFrame:
    """Owners revoke a document now and then (one that is never opened again)."""
    t = day.world.tenant
    w = day.weights(calendar.PEOPLE_BY_HOUR)
    pool = np.flatnonzero(~t.documents.consumable)
    n = int(day.rng.poisson(REVOKE_PER_PERSON_DAY * len(t.people) * w.sum())) if len(pool) else 0
    doc = pool[day.rng.integers(0, max(len(pool), 1), n)]
    owner = t.documents.owner[doc]
    sec = day.times(n, w)
    ip, online = day.world.locate(owner, sec)
    return make_events(
        day.rng,
        sec,
        RT["RevokeAccess"],
        t.people.user[owner],
        ip,
        doc=doc,
        docmode=DOC_ID_ONLY,
        keep=online,
    )


def others_events(day: Day) -> list[pl.DataFrame]:
    return [
        exchange_events(day),
        connector_events(day),
        anonymous_events(day),
        external_events(day),
        admin_events(day),
        helpdesk_events(day),
        revocation_events(day),
    ]


def expected_service_key_calls_per_hour(n_people: int) -> float:
    """Expected tenant-key calls from services in a working day's busiest hour."""
    share = calendar.SERVICES_BY_HOUR.max() / calendar.SERVICES_BY_HOUR.sum()
    opens = EXCHANGE_MIX[0][1] + CONNECTOR_MIX[0][1]
    signs = EXCHANGE_MIX[2][1] + EXCHANGE_MIX[6][1] + CONNECTOR_MIX[1][1]
    return float(share * n_people * (2 * opens + signs))
