"""The tenant's clock: time zone per region, public holidays, and the hourly rhythm.

People work in local time; the logs are in UTC. Everything here turns a local
rhythm into weights per UTC hour of one UTC day (24 values), so the simulator
draws event times in UTC directly. Python work is per day and hour, never per row.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

#: Default tenant time zone per service region (`--timezone` overrides it).
REGION_TIMEZONES: dict[str, str] = {
    "na": "America/New_York",
    "eu": "Europe/Berlin",
    "ap": "Asia/Singapore",
}

#: Relative activity of people per local hour 0..23: office hours, a lunch dip,
#: a thin evening tail, and nobody at all between 02:00 and 05:00.
PEOPLE_BY_HOUR = np.array(
    [
        *(0.02, 0.01, 0, 0, 0, 0.02, 0.10, 0.40, 0.90, 1.00, 1.00, 0.95),  # 00-11
        *(0.70, 0.85, 0.95, 0.90, 0.80, 0.55, 0.25, 0.15, 0.12, 0.10, 0.07, 0.04),  # 12-23
    ]
)
#: People who work late: a later start and a long evening, into the first hour after midnight.
LATE_BY_HOUR = np.array(
    [
        *(0.10, 0.04, 0, 0, 0, 0, 0.02, 0.10, 0.35, 0.80, 1.00, 1.00),  # 00-11
        *(0.75, 0.85, 0.95, 0.95, 0.90, 0.80, 0.65, 0.55, 0.50, 0.40, 0.30, 0.20),  # 12-23
    ]
)
#: The night shift (at the office, 22:00-06:00 local) and a little before and after.
NIGHT_BY_HOUR = np.array(
    [
        *(0.95, 0.90, 0.80, 0.70, 0.60, 0.45, 0.15, 0.02, 0, 0, 0, 0),  # 00-11
        *(0, 0, 0, 0, 0, 0, 0.02, 0.05, 0.15, 0.40, 0.85, 1.00),  # 12-23
    ]
)
#: When people are awake (a phone's background check-ins): 07:00-23:00 local.
AWAKE_BY_HOUR = np.array([0.1, 0, 0, 0, 0, 0, 0.3, *([1.0] * 16), 0.4])
#: Rhythm by profile (tenant.DAY, LATE, NIGHT).
PROFILE_HOURS = (PEOPLE_BY_HOUR, LATE_BY_HOUR, NIGHT_BY_HOUR)
#: Online services (Exchange Online, the connector's servers) never sleep.
SERVICES_BY_HOUR = 0.45 + 0.55 * PEOPLE_BY_HOUR
#: Share of a working day's activity on weekends and public holidays.
QUIET_DAY_FACTOR = 0.08
#: Local hour at which a person's "day" (and so their location) changes.
DAY_BOUNDARY_HOUR = 4

Weights = npt.NDArray[np.float64]


def easter(year: int) -> date:
    """Western Easter Sunday (anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month, day = divmod(h + ell - 7 * m + 114, 31)
    return date(year, month, day + 1)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The `n`-th (1-based; -1 = last) `weekday` (Mon=0) of a month."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


@lru_cache(maxsize=64)
def holidays(region: str, year: int) -> frozenset[date]:
    """Public holidays of the region's main country (US, Germany, Singapore) in `year`."""
    fixed = {"na": ((1, 1), (7, 4), (12, 25)), "eu": ((1, 1), (5, 1), (10, 3), (12, 25), (12, 26))}
    days = {date(year, m, d) for m, d in fixed.get(region, ((1, 1), (5, 1), (8, 9), (12, 25)))}
    if region == "na":
        thanksgiving = _nth_weekday(year, 11, 3, 4)
        days |= {_nth_weekday(year, 5, 0, -1), _nth_weekday(year, 9, 0, 1), thanksgiving}
        days.add(thanksgiving + timedelta(days=1))
    elif region == "eu":
        e = easter(year)
        days |= {e + timedelta(days=k) for k in (-2, 1, 39, 50)}
    else:
        days.add(easter(year) - timedelta(days=2))
    return frozenset(days)


def is_working_day(day: date, region: str) -> bool:
    return day.weekday() < 5 and day not in holidays(region, day.year)


@lru_cache(maxsize=256)
def month_end_days(region: str, year: int, month: int) -> frozenset[date]:
    """Month-end close: the last two working days of the month and the first of the next."""
    first = date(year, month, 1)
    nxt = date(year + month // 12, month % 12 + 1, 1)
    days = [first + timedelta(days=k) for k in range((nxt - first).days)]
    work = [d for d in days if is_working_day(d, region)]
    after = [nxt + timedelta(days=k) for k in range(10)]
    return frozenset([*work[-2:], next(d for d in after if is_working_day(d, region))])


def is_month_end(day: date, region: str) -> bool:
    prev = day.replace(day=1) - timedelta(days=1)
    return day in month_end_days(region, day.year, day.month) or day in month_end_days(
        region, prev.year, prev.month
    )


@lru_cache(maxsize=4096)
def local_hours(day: date, tz: str) -> tuple[tuple[int, ...], tuple[date, ...], tuple[int, ...]]:
    """For each UTC hour of `day`: local hour, local date, and UTC offset in seconds."""
    zone = ZoneInfo(tz)
    base = datetime(day.year, day.month, day.day, tzinfo=UTC)
    local = [(base + timedelta(hours=h)).astimezone(zone) for h in range(24)]
    offsets = tuple(int(t.utcoffset().total_seconds()) for t in local)  # type: ignore[union-attr]
    return tuple(t.hour for t in local), tuple(t.date() for t in local), offsets


def utc_hour_weights(
    day: date, tz: str, region: str, profile: Weights, quiet: float | None = None
) -> Weights:
    """Activity weight of each UTC hour of `day` for a local-time `profile`; weekends and
    holidays get `quiet` (default QUIET_DAY_FACTOR) of a working day's activity."""
    hours, dates, _ = local_hours(day, tz)
    low = QUIET_DAY_FACTOR if quiet is None else quiet
    factor = [1.0 if is_working_day(d, region) else low for d in dates]
    weights: Weights = np.asarray(profile, dtype=np.float64)[list(hours)] * np.array(factor)
    return weights


def utc_offsets(day: date, tz: str) -> npt.NDArray[np.int64]:
    """UTC offset (seconds) in force during each UTC hour of `day`."""
    return np.array(local_hours(day, tz)[2], dtype=np.int64)


def working_day_weight(profile: Weights) -> float:
    """Total weight of an ordinary working day, to normalise rates per day."""
    return float(np.asarray(profile).sum())


def local_seconds(sec: npt.NDArray[np.int64], tz: str) -> npt.NDArray[np.int64]:
    """Local wall-clock time (as epoch-like seconds) of UTC `sec`, vectorised per hour."""
    if len(sec) == 0:
        return np.asarray(sec, dtype=np.int64)
    days = sec // 86400
    uniq, inv = np.unique(days, return_inverse=True)
    table = np.stack([utc_offsets(date(1970, 1, 1) + timedelta(days=int(d)), tz) for d in uniq])
    return np.asarray(sec + table[inv, (sec % 86400) // 3600], dtype=np.int64)
