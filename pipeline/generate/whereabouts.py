"""Where each person is, and which address each of their devices shows, at any second.

A pure function of (seed, person, time): every chunk of days agrees on it without
sharing state. Laptops are at the office (one of the site's NAT addresses), at home
(the ISP's address, re-leased now and then), on the corporate VPN away from the office,
or at a hotel on a trip. Phones hop between Wi-Fi (office, home, hotel) and the mobile
carrier, whose address moves across the carrier's /16 pools every 5-60 minutes; on a
trip they roam on a carrier at the destination. During a flight nobody is online.

Trips are planned per person per 14-day block: a business trip (travellers only) or a
holiday (at home or abroad). Flights take the great-circle distance at 800 km/h plus
taxiing, so no journey in the logs is faster than an airliner.

Work is per unique (person, day) or (person, block), never per row in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from pipeline.generate import calendar
from pipeline.generate.ids import hash_bits, hash_uniform
from pipeline.generate.places import FLIGHT_KMH, FLIGHT_OVERHEAD_H, distances_km
from pipeline.generate.tenant import HOME_LEASES, NIGHT, Tenant

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]

TRIP_BLOCK_DAYS = 14
#: Chance of a holiday in a 14-day block without a business trip, its length and where.
HOLIDAY_RATE = 0.12
HOLIDAY_DAYS = (3, 9)
HOLIDAY_ABROAD = 0.4
#: Business trips: nights away (more for long-haul), and the share going abroad.
TRIP_NIGHTS = (1, 4)
LONG_HAUL_KM = 5000.0
BUSINESS_ABROAD = 0.35
#: VPN users connect through it on this share of days away from the office.
VPN_DAY_SHARE = 0.85
#: Phones keep one network for 5-60 minutes (per person and day), then move on.
PHONE_SEGMENT_MINUTES = (5, 60)

NONE, BUSINESS, HOLIDAY_HOME, HOLIDAY_ABROAD_KIND = 0, 1, 2, 3
TRIP_KINDS = ("none", "business", "holiday", "holiday")


@dataclass(frozen=True)
class Trips:
    """Trips of (person, block) pairs: kind, destination city and the four UTC moments."""

    kind: I32
    dest: I32
    depart: I64
    arrive: I64
    return_depart: I64
    return_arrive: I64


def _phase(seed: int, person: npt.ArrayLike) -> I64:
    """Day offset of each person's trip blocks (a table lookup: this runs per row)."""
    person = np.asarray(person)
    size = int(person.max()) + 1 if person.size else 0
    return np.asarray(_phases(seed, max(size, 1024))[person], dtype=np.int64)


@lru_cache(maxsize=8)
def _phases(seed: int, size: int) -> I64:
    n = 1 << (size - 1).bit_length()  # a power of two, so few sizes are cached
    return (hash_uniform(seed, 50, np.arange(n)) * TRIP_BLOCK_DAYS).astype(np.int64)


def block_of(seed: int, person: npt.ArrayLike, sec: npt.ArrayLike) -> I64:
    """Each person's trip block holding UTC second `sec` (blocks start on staggered days)."""
    return (np.asarray(sec) // 86400 + _phase(seed, person)) // TRIP_BLOCK_DAYS


def standard_offset(tz: str) -> int:
    """The zone's UTC offset in mid-January (seconds): trips are timed with it."""
    return int(calendar.utc_offsets(date(2026, 1, 15), tz)[12])


def trips(tenant: Tenant, seed: int, tz: str, person: I32, block: I64) -> Trips:
    """The trip (or none) of each (person, block); every moment lies inside the block."""
    people, plan = tenant.people, tenant.plan

    def h(k: int) -> F64:
        return hash_uniform(seed, 60 + k, person, block)

    business = h(0) < people.trips[person]
    holiday = ~business & (h(1) < HOLIDAY_RATE)
    abroad = np.where(business, h(2) < BUSINESS_ABROAD, h(2) < HOLIDAY_ABROAD)
    pick = h(3)
    dom = plan.domestic[(pick * len(plan.domestic)).astype(np.int64)]
    far = plan.abroad[(pick * len(plan.abroad)).astype(np.int64)]
    flies = business | (holiday & abroad)
    dest = np.where(flies, np.where(abroad, far, dom), plan.home_city)
    km = distances_km(np.full(len(dest), plan.home_city), dest)
    flight = np.where(flies, 3600 * (km / FLIGHT_KMH + FLIGHT_OVERHEAD_H), 0).astype(np.int64)
    lo, hi = TRIP_NIGHTS
    nights = np.where(
        business,
        lo + (h(4) * (hi - lo + 1)).astype(np.int64) + 2 * (km > LONG_HAUL_KM),
        HOLIDAY_DAYS[0] + (h(4) * (HOLIDAY_DAYS[1] - HOLIDAY_DAYS[0] + 1)).astype(np.int64),
    )
    first = 1 + (h(5) * (11 - nights)).astype(np.int64)  # first + nights <= 11
    base = (block * TRIP_BLOCK_DAYS - _phase(seed, person)) * 86400 - standard_offset(tz)
    leave_h = np.where(business, 6 + 4 * h(6), np.where(flies, 8 + 6 * h(6), 0.0))
    back_h = np.where(flies, 13 + 6 * h(7), 0.0)
    depart = base + first * 86400 + (leave_h * 3600).astype(np.int64)
    ret = base + (first + nights) * 86400 + (back_h * 3600).astype(np.int64)
    kind = np.where(
        business,
        BUSINESS,
        np.where(holiday, np.where(abroad, HOLIDAY_ABROAD_KIND, HOLIDAY_HOME), NONE),
    )
    return Trips(
        kind.astype(np.int32), dest.astype(np.int32), depart, depart + flight, ret, ret + flight
    )


@dataclass(frozen=True)
class Status:
    """Where a person is at each queried second."""

    flying: B
    away: B  # at the trip's destination
    on_holiday: B
    dest: I32
    block: I64


def pairs(person: I32, key: I64, n_people: int) -> tuple[I32, I64, I64]:
    """Distinct (person, key) pairs and each row's pair: a dense grid of every person by
    the few keys present when that is small, else the unique pairs (no sort of big calls)."""
    if len(key) == 0:
        return person[:0], key[:0], key[:0]
    lo = int(key.min())
    span = int(key.max()) - lo + 1
    if span * n_people <= 2 * len(key):
        grid_p = np.repeat(np.arange(n_people, dtype=np.int32), span)
        grid_k = np.tile(np.arange(lo, lo + span, dtype=np.int64), n_people)
        return grid_p, grid_k, person.astype(np.int64) * span + (key - lo)
    both = person.astype(np.int64) * (1 << 32) + key
    uniq, inv = np.unique(both, return_inverse=True)
    return (uniq >> 32).astype(np.int32), uniq & 0xFFFFFFFF, inv.astype(np.int64)


def status(tenant: Tenant, seed: int, tz: str, person: I32, sec: I64) -> Status:
    """Trip status at each (person, sec), computed once per (person, block)."""
    block = block_of(seed, person, sec)
    p, b, inv = pairs(person, block, len(tenant.people))
    t = trips(tenant, seed, tz, p, b)
    kind, dep, arr = t.kind[inv], t.depart[inv], t.arrive[inv]
    rdep, rarr = t.return_depart[inv], t.return_arrive[inv]
    has = kind != NONE
    flying = has & (((sec >= dep) & (sec < arr)) | ((sec >= rdep) & (sec < rarr)))
    away = has & (kind != HOLIDAY_HOME) & (sec >= arr) & (sec < rdep)
    holiday = (kind >= HOLIDAY_HOME) & (sec >= dep) & (sec < rarr)
    return Status(flying, away, holiday, t.dest[inv], block)


def _working(pday: I64, region: str) -> B:
    uniq, inv = np.unique(pday, return_inverse=True)
    flags = [
        calendar.is_working_day(date(1970, 1, 1) + timedelta(days=int(d)), region) for d in uniq
    ]
    return np.asarray(np.array(flags, dtype=bool)[inv])


def _unit(bits: npt.NDArray[np.uint64], part: int) -> F64:
    """The `part`-th 16 bits of 64 hash bits as a number in [0, 1)."""
    return ((bits >> np.uint64(16 * part)) & np.uint64(0xFFFF)).astype(np.float64) / 65536.0


def _index(u: F64, n: int) -> I64:
    return np.minimum((u * n).astype(np.int64), n - 1)


def locate(
    tenant: Tenant,
    seed: int,
    tz: str,
    region: str,
    person: npt.ArrayLike,
    sec: npt.ArrayLike,
    phone: npt.ArrayLike = False,
) -> tuple[I32, B]:
    """The address each (person, sec) request comes from, on a phone or not, and whether
    the person is online at all (not in the air)."""
    person = np.asarray(person, dtype=np.int32)
    sec = np.asarray(sec, dtype=np.int64)
    phone = np.broadcast_to(np.asarray(phone, dtype=bool), sec.shape)
    if len(sec) == 0:
        return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=bool)
    people, plan = tenant.people, tenant.plan
    lsec = calendar.local_seconds(sec, tz)
    lhour = (lsec % 86400) / 3600
    night = people.profile[person] == NIGHT
    pday = (lsec - np.where(night, 14, 4) * 3600) // 86400
    # Per (person, day): work place, home lease, VPN exit.
    p, d, inv = pairs(person, pday, len(people))
    working = _working(d, region)
    wfh = hash_uniform(seed, 2, p, d) < people.wfh[p]
    lease = (
        (d + (hash_uniform(seed, 5, p) * 365).astype(np.int64)) // people.lease_days[p]
    ) % HOME_LEASES
    home = people.home_ip[p] + lease
    nat = people.office_ip[p] + _index(hash_uniform(seed, 4, p, d), 4)
    vpn_on = people.vpn[p] & (hash_uniform(seed, 21, p, d) < VPN_DAY_SHARE)
    exit_ = np.where(
        hash_uniform(seed, 22, p, d) < 0.8,
        people.vpn_exit[p],
        _index(hash_uniform(seed, 23, p, d), len(plan.vpn_first)),
    )
    vpn = plan.vpn_first[exit_] + _index(hash_uniform(seed, 24, p, d), plan.vpn_hosts)
    segment = 60 * (
        PHONE_SEGMENT_MINUTES[0]
        + (PHONE_SEGMENT_MINUTES[1] - PHONE_SEGMENT_MINUTES[0])
        * hash_uniform(seed, 31, p, d) ** 1.5
    )
    on_shift = np.where(
        night, (lhour >= 20) | (lhour < 7), (lhour >= 6) & (lhour < people.leave_hour[person])
    )
    at_office = (working & ~wfh)[inv] & on_shift
    trip = status(tenant, seed, tz, person, sec)
    hotel_first = plan.hotel_first[trip.dest]
    hotel = hotel_first + _index(hash_uniform(seed, 25, person, trip.block), plan.hotel_hosts)
    away = trip.away & (hotel_first >= 0)
    place = np.where(away, hotel, np.where(at_office, nat[inv], home[inv]))
    desktop = np.where(~at_office & vpn_on[inv], vpn[inv], place)
    ip = desktop.astype(np.int32)
    if phone.any():
        rows = np.flatnonzero(phone)
        pp, ss = person[rows], sec[rows]
        seg = (ss + (hash_uniform(seed, 32, pp) * 3600).astype(np.int64)) // segment[inv[rows]]
        pd_ = pday[rows]
        bits = hash_bits(seed, 33, pp, pd_, seg)
        on_wifi = _unit(bits, 0) < people.phone_wifi[pp]
        pools = plan.carrier_first.shape[1]
        pool = _index(_unit(bits, 1), pools)
        host = _index(_unit(bits, 2), plan.carrier_hosts)
        cell = plan.carrier_first[people.carrier[pp], pool] + host
        roam_first = plan.roaming_first[trip.dest[rows], _index(_unit(bits, 3), 2)]
        roam = roam_first + host % plan.roaming_hosts
        cell = np.where(away[rows] & (roam_first >= 0), roam, cell)
        ip[rows] = np.where(on_wifi, place[rows], cell)
    return ip, ~trip.flying


def at_noon(tenant: Tenant, seed: int, tz: str, day_start: int) -> Status:
    """Every person's trip status at local noon of the UTC day starting at `day_start`."""
    n = len(tenant.people)
    person = np.arange(n, dtype=np.int32)
    noon = np.full(n, day_start + 43200 - standard_offset(tz), dtype=np.int64)
    return status(tenant, seed, tz, person, noon)
