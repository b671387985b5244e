"""What the tenant's people do on one UTC day: rhythm, devices, places and documents.

Each person's requests are Poisson counts spread over the UTC hours by the local
working rhythm. Where a person is (office, home, a trip) is a pure function of
(seed, person, local day), so every chunk of days agrees on it without sharing state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

import numpy as np
import numpy.typing as npt
import polars as pl

from pipeline.generate import calendar
from pipeline.generate.clients import APPS
from pipeline.generate.events import (
    DENIED,
    DOC_FULL,
    DOC_NONE,
    RT,
    SUCCESS,
    concat_events,
    make_events,
)
from pipeline.generate.places import CITIES
from pipeline.generate.tenant import Tenant
from pipeline.generate.whereabouts import Status, at_noon, locate

local_seconds = calendar.local_seconds

I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]

#: What people do on an ordinary working day at activity 1.0: (action, requests/day,
#: request type on a desktop, request type on a phone). Tracking runs in the portal.
ACTIONS: tuple[tuple[str, float, str, str], ...] = (
    ("open", 7.0, "AcquireLicense", "FECreateEndUserLicenseV1"),
    ("templates", 1.2, "AcquireTemplates", "FEGetAllTemplates"),
    ("template-info", 1.0, "AcquireTemplateInformation", "FEGetAllTemplates"),
    ("discover", 1.5, "FindServiceLocationsForUser", "FindServiceLocationsForUser"),
    ("certify", 0.08, "Certify", "FindServiceLocationsForUser"),
    ("track-all", 0.06, "GetAllDocs", "GetAllDocs"),
    ("track-single", 0.05, "GetSingle", "GetSingle"),
    ("track-summary", 0.03, "LoadEventsForSummary", "LoadEventsForSummary"),
    ("track-timeline", 0.02, "LoadEventsForTimeline", "LoadEventsForTimeline"),
    ("track-map", 0.02, "LoadEventsForMap", "LoadEventsForMap"),
    ("track-recipients", 0.02, "GetRecipients", "GetRecipients"),
    ("notify", 0.005, "UpdateNotificationSettings", "UpdateNotificationSettings"),
    ("search-users", 0.005, "SearchUsers", "SearchUsers"),
    ("export", 0.003, "DocumentEventsCsv", "DocumentEventsCsv"),
)
#: Protecting is a separate stream, scaled by each person's `creator` habit.
PROTECT_PER_DAY = 0.8
PROTECT_TYPES = ("GetClientLicensorCert", "FECreatePublishingLicenseV1")
DENY_RATE = 0.02
#: Clusters of denied opens by someone who mistypes, per person per working day.
MISTYPE_PER_PERSON_DAY = 0.02
MISTYPE_TRIES = (2, 8)
#: On holiday a person only glances at the phone now and then.
HOLIDAY_ACTIVITY = 0.04
#: Background check-ins of Office on a phone per awake day.
PHONE_SYNCS_PER_DAY = 6.0
#: Finance teams' activity on month-end close days.
MONTH_END_FACTOR = 2.5
RETRY_RATE = 0.3
TEAM_AFFINITY = 0.6

_OPEN = 0
_PORTAL_FROM = 5  # actions from here on run in the tracking portal (no c-info)
_TYPE_TABLE = np.array(
    [[RT[d], RT[m]] for _, _, d, m in ACTIONS] + [[RT[t] for t in PROTECT_TYPES]], dtype=np.uint8
)
_PROTECT = len(ACTIONS)
_MIX = np.array([rate for _, rate, _, _ in ACTIONS])


@dataclass(frozen=True, eq=False)
class World:
    """What every day of the simulation shares."""

    tenant: Tenant
    seed: int
    tz: str
    region: str
    benign: dict[str, list[dict[str, int]]] = field(default_factory=dict)

    def locate(
        self, person: npt.ArrayLike, sec: npt.ArrayLike, phone: npt.ArrayLike = False
    ) -> tuple[I32, npt.NDArray[np.bool_]]:
        """Address of each (person, sec) request, and whether the person is online."""
        return locate(self.tenant, self.seed, self.tz, self.region, person, sec, phone)

    def log_benign(self, kind: str, items: list[dict[str, int]]) -> None:
        """Record ordinary variety the ground truth lists (so false alarms can be explained)."""
        self.benign.setdefault(kind, []).extend(items)

    @cached_property
    def team_bounds(self) -> tuple[I64, I64]:
        """First and one-past-last document of each team (documents are sorted by team)."""
        teams = np.arange(int(self.tenant.people.team.max()) + 1)
        t = self.tenant.documents.team
        return np.searchsorted(t, teams, "left"), np.searchsorted(t, teams, "right")


@dataclass
class Day:
    """One UTC day being simulated."""

    world: World
    day: date
    rng: np.random.Generator

    @property
    def start(self) -> int:
        return (self.day - date(1970, 1, 1)).days * 86400

    def weights(
        self, profile: npt.NDArray[np.float64], quiet: float | None = None, tz: str | None = None
    ) -> npt.NDArray[np.float64]:
        """Per-UTC-hour weights, as a share of an ordinary working day (in `tz`, default
        the tenant's)."""
        zone = tz or self.world.tz
        w = calendar.utc_hour_weights(self.day, zone, self.world.region, profile, quiet)
        return w / calendar.working_day_weight(profile)

    def times(self, n: int, weights: npt.NDArray[np.float64]) -> I64:
        """`n` event times (epoch seconds) spread over the day's hours by `weights`."""
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        hour = self.rng.choice(24, n, p=weights / weights.sum())
        return self.start + hour * 3600 + self.rng.integers(0, 3600, n)

    @cached_property
    def noon(self) -> Status:
        """Where everyone is at local noon: at home, on a trip, on holiday."""
        return at_noon(self.world.tenant, self.world.seed, self.world.tz, self.start)

    @cached_property
    def factor(self) -> npt.NDArray[np.float64]:
        """Each person's activity today: holidays low, finance busy at month-end close."""
        world = self.world
        f = np.where(self.noon.on_holiday, HOLIDAY_ACTIVITY, 1.0)
        if calendar.is_month_end(self.day, world.region):
            f = np.where(world.tenant.people.finance, f * MONTH_END_FACTOR, f)
        return f

    @cached_property
    def zones(self) -> pl.Series:
        """The time zone each person keeps today: the destination's on a trip, else home."""
        away = self.noon.away
        zone = np.array([c.tz for c in CITIES], dtype=object)[self.noon.dest]
        return pl.Series(np.where(away, zone, self.world.tz), dtype=pl.String)

    @cached_property
    def doc_weights(self) -> npt.NDArray[np.float64]:
        """Cumulative popularity of the documents people can open today."""
        docs = self.world.tenant.documents
        open_ok = docs.consumable & (docs.published < self.start)
        return np.cumsum(np.where(open_ok, docs.popularity, 0.0))

    def pick_docs(self, n: int, team: I32 | None = None) -> I32:
        """`n` documents by popularity; with `team`, mostly from the reader's own team."""
        cum = self.doc_weights
        lo = np.zeros(n)
        hi = np.full(n, cum[-1])
        if team is not None:
            first, last = self.world.team_bounds
            t_lo = np.where(first[team] > 0, cum[np.maximum(first[team] - 1, 0)], 0.0)
            t_hi = np.where(last[team] > 0, cum[np.maximum(last[team] - 1, 0)], 0.0)
            own = (self.rng.random(n) < TEAM_AFFINITY) & (t_hi > t_lo)
            lo, hi = np.where(own, t_lo, lo), np.where(own, t_hi, hi)
        target = lo + self.rng.random(n) * (hi - lo)
        idx = np.searchsorted(cum, target, side="right")
        return np.minimum(idx, len(cum) - 1).astype(np.int32)


def person_ips(world: World, person: I32, sec: I64) -> I32:
    """The address of each person's laptop at `sec` (see `whereabouts.locate`)."""
    return world.locate(person, sec)[0]


def people_events(day: Day) -> pl.DataFrame:
    """Every request the tenant's people make on `day` (key calls come later)."""
    people = day.world.tenant.people
    factor = day.factor
    parts: list[tuple[I32, npt.NDArray[np.int64], I64]] = []
    zones = day.zones
    for profile, hours in enumerate(calendar.PROFILE_HOURS):
        mine = people.profile == profile
        for zone in sorted(set(zones.filter(pl.Series(mine)).to_list())):
            members = np.flatnonzero(mine & (zones == zone).to_numpy()).astype(np.int32)
            w = day.weights(hours, tz=zone)
            rate = people.activity[members] * factor[members] * w.sum()
            n_other = day.rng.poisson(rate * _MIX.sum())
            n_protect = day.rng.poisson(rate * people.creator[members] * PROTECT_PER_DAY)
            person = np.concatenate([np.repeat(members, n_other), np.repeat(members, n_protect)])
            action = np.concatenate(
                [
                    day.rng.choice(len(ACTIONS), int(n_other.sum()), p=_MIX / _MIX.sum()),
                    np.full(int(n_protect.sum()), _PROTECT),
                ]
            )
            parts.append((person.astype(np.int32), action, day.times(len(person), w)))
    person = np.concatenate([p for p, _, _ in parts]).astype(np.int32)
    action = np.concatenate([a for _, a, _ in parts])
    sec = np.concatenate([t for _, _, t in parts])
    return concat_events([_requests(day, person, action, sec), mistypes(day), phone_syncs(day)])


def phone_syncs(day: Day) -> pl.DataFrame:
    """Office on a phone checks in now and then while its owner is awake, workday or not
    (PHONE_SYNCS_PER_DAY: templates, service discovery), from wherever the phone is."""
    people = day.world.tenant.people
    owners = np.flatnonzero(people.mobile >= 0).astype(np.int32)
    zones = day.zones.gather(owners)
    parts, times = [], []
    for zone in sorted(set(zones.to_list())):
        who = owners[(zones == zone).to_numpy()]
        w = day.weights(calendar.AWAKE_BY_HOUR, 1.0, tz=zone)
        counts = day.rng.poisson(PHONE_SYNCS_PER_DAY * w.sum() * np.minimum(day.factor[who], 1.0))
        parts.append(np.repeat(who, counts))
        times.append(day.times(int(counts.sum()), w))
    person = np.concatenate(parts).astype(np.int32) if parts else owners[:0]
    sec = np.concatenate(times) if times else np.zeros(0, dtype=np.int64)
    kind = np.where(
        day.rng.random(len(person)) < 0.5,
        RT["FEGetAllTemplates"],
        RT["FindServiceLocationsForUser"],
    )
    ip, online = day.world.locate(person, sec, True)
    t = day.world.tenant
    return make_events(
        day.rng,
        sec,
        kind,
        people.user[person],
        ip,
        cinfo=t.cinfo_of(people.mobile[person], APPS.index("outlook")),
        keep=online,
    )


def _requests(day: Day, person: I32, action: npt.NDArray[np.int64], sec: I64) -> pl.DataFrame:
    """Turn (person, action, time) into request events with devices, places and documents;
    requests of people in the air are dropped."""
    tenant, people = day.world.tenant, day.world.tenant.people
    n = len(person)
    portal = (action >= _PORTAL_FROM) & (action != _PROTECT)
    on_phone = (
        ~portal & (people.mobile[person] >= 0) & (day.rng.random(n) < people.mobile_share[person])
    )
    is_open = action == _OPEN
    doc = np.where(is_open, day.pick_docs(n, people.team[person]), -1).astype(np.int32)
    other_app = np.where(day.rng.random(n) < 0.6, APPS.index("outlook"), APPS.index("word"))
    app = np.where(is_open, tenant.documents.app[np.maximum(doc, 0)], other_app)
    platform = np.where(on_phone, people.mobile[person], people.desktop[person])
    cinfo = np.where(portal, 0, tenant.cinfo_of(platform, app))
    denied = is_open & (day.rng.random(n) < DENY_RATE)
    ip, online = day.world.locate(person, sec, on_phone)
    events = make_events(
        day.rng,
        sec,
        _TYPE_TABLE[action, on_phone.astype(np.int64)],
        people.user[person],
        ip,
        result=np.where(denied, DENIED, SUCCESS),
        doc=doc,
        docmode=np.where(is_open, DOC_FULL, DOC_NONE),
        cinfo=cinfo,
        keep=online,
    )
    return pl.concat([events, retries(day, events.filter(pl.col("result") == DENIED))])


def mistypes(day: Day) -> pl.DataFrame:
    """People who mistype or follow a stale link: a few denied opens of one to three
    documents within minutes (MISTYPE_PER_PERSON_DAY clusters of 2-8 attempts)."""
    people = day.world.tenant.people
    w = day.weights(calendar.PEOPLE_BY_HOUR)
    n = int(day.rng.poisson(MISTYPE_PER_PERSON_DAY * len(people) * w.sum()))
    who = day.rng.choice(len(people), n, p=people.activity / people.activity.sum()).astype(np.int32)
    tries = day.rng.integers(MISTYPE_TRIES[0], MISTYPE_TRIES[1] + 1, n)
    person = np.repeat(who, tries)
    start = np.repeat(day.times(n, w), tries)
    span = np.repeat(day.rng.integers(60, 600, n), tries)
    sec = np.minimum(
        start + (day.rng.random(len(person)) * span).astype(np.int64), day.start + 86399
    )
    docs = (
        day.pick_docs(3 * n, people.team[np.repeat(who, 3)]).reshape(n, 3)
        if n
        else np.zeros((0, 3), np.int32)
    )
    doc = docs[np.repeat(np.arange(n), tries), day.rng.integers(0, 3, len(person))]
    ip, online = day.world.locate(person, sec)
    events = make_events(
        day.rng,
        sec,
        RT["AcquireLicense"],
        people.user[person],
        ip,
        result=DENIED,
        doc=doc,
        docmode=DOC_FULL,
        cinfo=day.world.tenant.cinfo_of(
            people.desktop[person], day.world.tenant.documents.app[doc]
        ),
        keep=online,
    )
    day.world.log_benign(
        "denial_clusters",
        [
            {"user": int(people.user[p]), "first": int(t), "attempts": int(k)}
            for p, t, k in zip(
                who.tolist(), day_starts(start, tries).tolist(), tries.tolist(), strict=True
            )
        ],
    )
    return events


def day_starts(values: I64, counts: npt.NDArray[np.int64]) -> I64:
    """The first of each run of `counts` repeated values."""
    return (
        np.asarray(values[np.cumsum(counts) - counts], dtype=np.int64)
        if len(counts)
        else values[:0]
    )


def retries(day: Day, denied: pl.DataFrame) -> pl.DataFrame:
    """Clients retry some denied opens once or twice within a minute: new requests, same doc."""
    n = denied.height
    times = np.where(day.rng.random(n) < RETRY_RATE, day.rng.integers(1, 3, n), 0)
    idx = np.repeat(np.arange(n), times)
    rank = np.arange(len(idx)) - np.repeat(np.cumsum(times) - times, times) + 1
    again = denied.gather(idx)
    sec = again["sec"].to_numpy() + rank * day.rng.integers(5, 30, len(idx))
    return make_events(
        day.rng,
        np.minimum(sec, day.start + 86399),
        again["rtype"].to_numpy(),
        again["user"].to_numpy(),
        again["ip"].to_numpy(),
        result=DENIED,
        doc=again["doc"].to_numpy(),
        docmode=again["docmode"].to_numpy(),
        cinfo=again["cinfo"].to_numpy(),
    )


def expected_key_calls_per_peak_hour(world: World) -> float:
    """Expected tenant-key calls caused by people in a working day's busiest hour."""
    people = world.tenant.people
    share = calendar.PEOPLE_BY_HOUR.max() / calendar.PEOPLE_BY_HOUR.sum()
    opens = people.activity.sum() * ACTIONS[_OPEN][1] * (1 - DENY_RATE)
    protects = (people.activity * people.creator).sum() * PROTECT_PER_DAY
    certify = people.activity.sum() * ACTIONS[4][1]
    return float(share * (2 * opens + protects + certify))
