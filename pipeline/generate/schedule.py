"""When incidents happen: each requested scenario once per 7-day block of the period.

The day and time of each incident depend only on the seed, the block and the
scenario, so a chunked (or endless, `--follow`) run injects the same incidents.
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
from pipeline.generate.scenarios import DURATION, KEY_SCENARIOS, Context, Injected, inject

BLOCK_DAYS = 7
#: Local time windows (earliest start, latest start) by scenario; others use WORK_WINDOW.
NIGHT_WINDOW = (time(0, 30), time(1, 30))
WORK_WINDOW = (time(9, 30), time(15, 0))
SPIKE_LOCAL = time(10, 30)


@dataclass
class Injector:
    """Plans and builds the incidents of a period, and hands out each UTC day's share."""

    ctx: Context
    scenarios: tuple[str, ...]
    first_day: date
    days: int | None  # None = endless (follow mode)
    built: dict[tuple[int, int], Injected] = field(default_factory=dict)
    planned_blocks: set[int] = field(default_factory=set)

    @property
    def _period(self) -> tuple[int, int | None]:
        start = _epoch(self.first_day)
        return start, None if self.days is None else start + self.days * 86400

    def events_for_day(self, index: int) -> pl.DataFrame:
        """Injected events whose time falls on day `index` of the period."""
        for block in {(index - 1) // BLOCK_DAYS, index // BLOCK_DAYS, (index + 1) // BLOCK_DAYS}:
            self._plan(block)
        lo = _epoch(self.first_day) + index * 86400
        parts = [
            inc.events.filter((pl.col("sec") >= lo) & (pl.col("sec") < lo + 86400))
            for _, inc in sorted(self.built.items())
        ]
        return concat_events(parts)

    def incidents(self) -> list[Injected]:
        """Every incident built so far, in schedule order."""
        return [self.built[k] for k in sorted(self.built)]

    def _plan(self, block: int) -> None:
        if block < 0 or block in self.planned_blocks:
            return
        self.planned_blocks.add(block)
        first = block * BLOCK_DAYS
        last = first + BLOCK_DAYS if self.days is None else min(first + BLOCK_DAYS, self.days)
        for k, scenario in enumerate(self.scenarios):
            rng = np.random.default_rng([self.ctx.world.seed, 4242, block, k])
            start = self._start(scenario, k, block, range(first, last), rng)
            if start is not None:
                self.built[(block, k)] = inject(self.ctx, scenario, rng, start)

    def _start(
        self, scenario: str, k: int, block: int, days: range, rng: np.random.Generator
    ) -> int | None:
        """The incident's first second: a fitting day of the block, at a fitting local time."""
        order = np.argsort(hash_uniform(self.ctx.world.seed, 4243, block, k, np.array(days)))
        candidates = [self.first_day + timedelta(days=days[i]) for i in order]
        for strict in (True, False):
            for day in candidates:
                start = self._time_on(scenario, day, rng)
                if self._fits(scenario, start, day, strict):
                    return start
        return None

    def _time_on(self, scenario: str, day: date, rng: np.random.Generator) -> int:
        tz = ZoneInfo(self.ctx.world.tz)
        if scenario == "key-volume-spike":
            at = datetime.combine(day, SPIKE_LOCAL, tz).astimezone(UTC)
            return int(at.timestamp()) // 3600 * 3600
        lo, hi = NIGHT_WINDOW if scenario == "off-hours-reading" else WORK_WINDOW
        earliest = datetime.combine(day, lo, tz).astimezone(UTC).timestamp()
        latest = datetime.combine(day, hi, tz).astimezone(UTC).timestamp()
        return int(earliest + rng.integers(0, int(latest - earliest) + 1))

    def _fits(self, scenario: str, start: int, day: date, strict: bool) -> bool:
        lo, hi = self._period
        if start < lo or (hi is not None and start + DURATION[scenario] >= hi):
            return False
        if scenario in KEY_SCENARIOS:
            share = self.ctx.keys.share(start)
            if share == 0.0 or (strict and share < 1.0):
                return False
        return not strict or calendar.is_working_day(day, self.ctx.world.region)


def _epoch(day: date) -> int:
    return int(datetime.combine(day, time(0), UTC).timestamp())
