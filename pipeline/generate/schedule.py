"""When incidents happen: each requested scenario once per 7-day block of the period.

The day and time of each incident depend only on the seed, the block and the
scenario, so a chunked run injects the same incidents. An endless (`--follow`) run
cuts its history into the same blocks as a batch run of `days`, then continues with
whole weeks, so its history holds exactly the batch run's incidents.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from pipeline.generate import calendar
from pipeline.generate.events import concat_events
from pipeline.generate.ids import hash_uniform
from pipeline.generate.scenarios import (
    DURATION,
    KEY_SCENARIOS,
    VAULT_SCENARIOS,
    Context,
    Injected,
    inject,
)

BLOCK_DAYS = 7
#: Local time windows (earliest start, latest start) by scenario; others use WORK_WINDOW.
NIGHT_WINDOW = (time(0, 30), time(1, 30))
WORK_WINDOW = (time(9, 30), time(15, 0))
SPIKE_LOCAL = time(10, 30)
#: Key Vault incidents keep apart from each other (a lost hour would hide another's records)
#: and from the spike hour: local start windows.
VAULT_WINDOWS = {
    "key-management": (time(9, 30), time(10, 0)),
    "key-access-failures": (time(11, 15), time(12, 15)),
    "key-log-mismatch": (time(14, 30), time(14, 30)),  # the UTC hour holding 14:30 is lost
    "foreign-key-use": (time(16, 0), time(17, 30)),
}
#: Scenarios measured against the usual key volume: only once every client is on BYOK.
FULL_BYOK = frozenset({"key-volume-spike", "key-log-mismatch", "key-access-failures"})


@dataclass
class Injector:
    """Plans and builds the incidents of a period, and hands out each UTC day's share."""

    ctx: Context
    scenarios: tuple[str, ...]
    first_day: date
    days: int  # the period (the history, when endless)
    endless: bool = False
    built: dict[tuple[int, int], Injected] = field(default_factory=dict)
    planned_blocks: set[int] = field(default_factory=set)
    by_day: dict[int, list[pl.DataFrame]] = field(default_factory=dict)  # not yet handed out

    @property
    def _history_blocks(self) -> int:
        return -(-self.days // BLOCK_DAYS)

    def _limits(self, block: int) -> tuple[int, int | None]:
        """Earliest start and the end an incident of `block` must finish before."""
        start = _epoch(self.first_day)
        return start, start + self.days * 86400 if block < self._history_blocks else None

    def _block_of(self, day: int) -> int:
        if day < self.days:
            return day // BLOCK_DAYS
        return self._history_blocks + (day - self.days) // BLOCK_DAYS if self.endless else -1

    def _bounds(self, block: int) -> range:
        """The days of `block`: batch blocks cut at `days`, then whole weeks when endless."""
        if block < self._history_blocks:
            return range(block * BLOCK_DAYS, min((block + 1) * BLOCK_DAYS, self.days))
        first = self.days + (block - self._history_blocks) * BLOCK_DAYS
        return range(first, first + BLOCK_DAYS)

    def events_for_day(self, index: int) -> pl.DataFrame:
        """Injected events whose time falls on day `index` of the period."""
        for block in sorted({self._block_of(max(index + k, 0)) for k in (-1, 0, 1)}):
            self._plan(block)
        return concat_events(self.by_day.pop(index, []))

    def incidents(self) -> list[Injected]:
        """Every incident built so far, in schedule order."""
        return [self.built[k] for k in sorted(self.built)]

    def _plan(self, block: int) -> None:
        if block < 0 or block in self.planned_blocks:
            return
        self.planned_blocks.add(block)
        for k, scenario in enumerate(self.scenarios):
            rng = np.random.default_rng([self.ctx.world.seed, 4242, block, k])
            start = self._start(scenario, k, block, self._bounds(block), rng)
            if start is not None:
                injected = inject(self.ctx, scenario, rng, start)
                self.built[(block, k)] = injected
                self._file_by_day(injected.events)

    def _file_by_day(self, events: pl.DataFrame) -> None:
        """Keep the incident's events by day of the period, ready for `events_for_day`."""
        day = (events["sec"].to_numpy() - _epoch(self.first_day)) // 86400
        for index in np.unique(day):
            self.by_day.setdefault(int(index), []).append(events.filter(pl.Series(day == index)))

    def _start(
        self, scenario: str, k: int, block: int, days: range, rng: np.random.Generator
    ) -> int | None:
        """The incident's first second: a fitting day of the block, at a fitting local time."""
        order = np.argsort(hash_uniform(self.ctx.world.seed, 4243, block, k, np.array(days)))
        candidates = [self.first_day + timedelta(days=days[i]) for i in order]
        for strict in (True, False):
            for day in candidates:
                start = self._time_on(scenario, day, rng)
                if self._fits(scenario, start, day, strict, self._limits(block)):
                    return start
        return None

    def _time_on(self, scenario: str, day: date, rng: np.random.Generator) -> int:
        tz = ZoneInfo(self.ctx.world.tz)
        if scenario == "key-volume-spike":
            at = datetime.combine(day, SPIKE_LOCAL, tz).astimezone(UTC)
            return int(at.timestamp()) // 3600 * 3600
        lo, hi = NIGHT_WINDOW if scenario == "off-hours-reading" else WORK_WINDOW
        lo, hi = VAULT_WINDOWS.get(scenario, (lo, hi))
        earliest = datetime.combine(day, lo, tz).astimezone(UTC).timestamp()
        latest = datetime.combine(day, hi, tz).astimezone(UTC).timestamp()
        return int(earliest + rng.integers(0, int(latest - earliest) + 1))

    def _fits(
        self, scenario: str, start: int, day: date, strict: bool, limits: tuple[int, int | None]
    ) -> bool:
        lo, hi = limits
        if start < lo or (hi is not None and start + DURATION[scenario] >= hi):
            return False
        if scenario in KEY_SCENARIOS or scenario in VAULT_SCENARIOS:
            share = self.ctx.keys.share(start)
            full = strict or scenario in FULL_BYOK
            if share == 0.0 or (full and share < 1.0):
                return False
        return not strict or calendar.is_working_day(day, self.ctx.world.region)


def _epoch(day: date) -> int:
    return int(datetime.combine(day, time(0), UTC).timestamp())
