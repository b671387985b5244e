"""Report periods: which UTC days a report covers, and the label its file names carry.

Periods are whole UTC days, like the logs themselves (`Get-AipServiceUserLog` writes one
file per UTC day). `--period day|week|month` is the day, ISO week or month that holds
the anchor date (`--from`, else yesterday); `--from/--to` without `--period` is a range of
days, both included; no option at all is everything in the warehouse.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from pipeline.errors import UsageError


class PeriodKind(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


class Clock(StrEnum):
    """`report --clock`: the clock of the report's time axis and its tables' first time
    column. `utc` (the default): UTC, like the logs, with the tenant's wall-clock time
    beside it in the tables; `local`: the tenant's time zone (setting `tenant.timezone`)
    first, UTC beside it. The periods themselves stay whole UTC days either way."""

    UTC = "utc"
    LOCAL = "local"


@dataclass(frozen=True)
class Period:
    """A half-open span of UTC days `[start, end)`; None for both means all the data."""

    label: str
    start: date | None = None
    end: date | None = None  # first day NOT included

    def describe(self) -> str:
        """The period in words, for the report's headline."""
        if self.start is None or self.end is None:
            return "all data in the warehouse"
        last = self.end - timedelta(days=1)
        if last == self.start:
            return f"{self.start.isoformat()} (UTC day)"
        return f"{self.start.isoformat()} to {last.isoformat()} (UTC days, both included)"


EVERYTHING = Period(label="all")


def period_of(kind: PeriodKind, anchor: date) -> Period:
    """The day, ISO week (Monday first) or month that holds `anchor`."""
    if kind is PeriodKind.DAY:
        return Period(anchor.isoformat(), anchor, anchor + timedelta(days=1))
    if kind is PeriodKind.WEEK:
        monday = anchor - timedelta(days=anchor.isoweekday() - 1)
        year, week, _ = anchor.isocalendar()
        return Period(f"{year}-W{week:02d}", monday, monday + timedelta(days=7))
    first = anchor.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return Period(f"{first:%Y-%m}", first, following)


def resolve_period(
    *,
    start: date | None = None,
    end: date | None = None,
    kind: PeriodKind | None = None,
    yesterday: bool = False,
    today: date | None = None,
) -> Period:
    """The period the command-line options ask for; a UsageError when they contradict."""
    today = today or datetime.now(UTC).date()
    if yesterday and start is not None:
        raise UsageError("give either --yesterday or --from DATE, not both")
    if end is not None and (kind is not None or yesterday):
        raise UsageError("--to makes a range of days; it cannot be combined with --period")
    if kind is not None or yesterday:
        anchor = start or today - timedelta(days=1)
        return period_of(kind or PeriodKind.DAY, anchor)
    if start is None:
        if end is not None:
            raise UsageError("--to needs --from (the first day of the range)")
        return EVERYTHING
    last = end or start
    if last < start:
        raise UsageError(f"--to {last} is before --from {start}")
    if last == start:
        return period_of(PeriodKind.DAY, start)
    return Period(f"{start.isoformat()}_{last.isoformat()}", start, last + timedelta(days=1))
