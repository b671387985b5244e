"""The simulation, one UTC day at a time, and the two ways of cutting it into files.

A day's events depend only on (seed, options, day), so the days can be produced
in order, one chunk in memory at a time, for a finite period or for ever (`--follow`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import polars as pl

from pipeline.generate.activity import Day, World, expected_key_calls_per_peak_hour, people_events
from pipeline.generate.events import RT, concat_events
from pipeline.generate.keys import KeyPlan, fail_key_calls, key_calls, setup_checks
from pipeline.generate.options import GenerateOptions
from pipeline.generate.scenarios import ADMIN_SCENARIOS, KEY_SCENARIOS, VAULT_SCENARIOS, Context
from pipeline.generate.schedule import Injector
from pipeline.generate.services import expected_service_key_calls_per_hour, others_events
from pipeline.generate.tenant import build_tenant
from pipeline.generate.timing import arrivals
from pipeline.generate.vault import TICKS, VaultLog, VaultPlan
from pipeline.schema import KEY_OPERATIONS, LOG_VERSIONS, Topology

_EPOCH = date(1970, 1, 1)


def epoch(day: date) -> int:
    return int(datetime.combine(day, time(0), UTC).timestamp())


class Simulation:
    """A tenant and its incidents; `day(i)` gives every record of day i of the period."""

    def __init__(self, options: GenerateOptions, *, endless: bool = False) -> None:
        self.options = options
        horizon = options.days
        tenant = build_tenant(
            np.random.default_rng([options.seed, 1]),
            options.users,
            options.region,
            epoch(options.start),
            horizon,
        )
        self.world = World(tenant, options.seed, options.tz, options.region)
        byok_from = epoch(options.byok_from) if options.byok_from else None
        self.keys = KeyPlan(options.topology, byok_from, options.seed, tenant.key_ips)
        peak = expected_key_calls_per_peak_hour(self.world)
        peak += expected_service_key_calls_per_hour(options.users)
        self.skipped = skipped_scenarios(options)
        wanted = tuple(s for s in options.scenarios if s not in self.skipped)
        self.vault = VaultPlan.build(options.seed, tenant) if options.keyvault_logs else None
        self.vault_log: VaultLog | None = None  # set by generate_logs: gets every day
        ctx = Context(self.world, self.keys, peak, self.vault)
        self.injector = Injector(ctx, wanted, options.start, options.days, endless)

    def date_of(self, index: int) -> date:
        return self.options.start + timedelta(days=index)

    def day(self, index: int) -> pl.DataFrame:
        """Every record whose time falls on day `index`, with its `arrival` time."""
        when = self.date_of(index)
        rng = np.random.default_rng([self.options.seed, 2, (when - _EPOCH).days])
        today = Day(self.world, when, rng)
        requests = concat_events([people_events(today), *others_events(today)])
        events = concat_events(
            [
                requests,
                key_calls(rng, requests, self.keys),
                setup_checks(rng, today.start, self.keys),
                self.injector.events_for_day(index),
            ]
        )
        refused = [
            i.vault.fail_window
            for i in self.injector.incidents()
            if i.vault is not None and i.vault.fail_window is not None
        ]
        events = fail_key_calls(events, refused)
        if self.vault_log is not None:
            extra, lost = self.vault_incidents(index)
            self.vault_log.add_day((when - _EPOCH).days, events, extra, lost)
        return events.with_columns(arrival=pl.Series(arrivals(rng, events["sec"].to_numpy())))

    def vault_incidents(self, index: int | None = None) -> tuple[list[pl.DataFrame], set[int]]:
        """Incident records of the Key Vault log on day `index` (all days: None), and the
        hours whose blob is lost."""
        extra, lost = [], set()
        lo = epoch(self.date_of(index or 0)) * TICKS
        for incident in self.injector.incidents():
            part = incident.vault
            if part is None:
                continue
            if part.lost_hour is not None:
                lost.add(part.lost_hour)
            if index is not None and part.records.height:
                ticks = pl.col("ticks")
                extra.append(part.records.filter((ticks >= lo) & (ticks < lo + 86400 * TICKS)))
        return extra, lost


def skipped_scenarios(options: GenerateOptions) -> dict[str, str]:
    """Requested scenarios that cannot show in these logs, with the reason."""
    out = {}
    for name in options.scenarios:
        if name in KEY_SCENARIOS and options.topology == Topology.MICROSOFT_MANAGED:
            out[name] = "a Microsoft-managed key leaves no tenant-key calls in the logs"
        if name in ADMIN_SCENARIOS and "admin-action" not in LOG_VERSIONS[options.log_version]:
            out[name] = f"log version {options.log_version} has no admin-action column"
        if name in VAULT_SCENARIOS and not options.keyvault_logs:
            out[name] = "shows only in the Key Vault log: needs --keyvault-logs (byok-keyvault)"
    return out


_KEY_CODES = np.array([RT[n] for n in KEY_OPERATIONS], dtype=np.uint8)


def count_key_calls(events: pl.DataFrame) -> int:
    """How many of `events` are tenant-key operations."""
    return int(np.isin(events["rtype"].to_numpy(), _KEY_CODES).sum())


@dataclass(frozen=True)
class Chunk:
    """Lines ready to write: a file name and its events in arrival order."""

    name: str
    events: pl.DataFrame
    closes_at: int  # epoch second after which the file is complete (follow mode waits for it)


def daily_chunks(sim: Simulation, days: int) -> Iterator[Chunk]:
    """One `rmslog-YYYY-MM-DD.log` per UTC day with activity, records in arrival order."""
    for i in range(days):
        events = by_arrival(sim.day(i))
        if events.height:
            end = epoch(sim.date_of(i + 1))
            yield Chunk(f"rmslog-{sim.date_of(i).isoformat()}.log", events, end)


def blob_chunks(sim: Simulation, days: int | None) -> Iterator[Chunk]:
    """Numbered blobs, one per `blob_minutes` of arrivals; late records land in later blobs.

    Names are assigned in order over the blobs that hold records: 000000001.log, ...
    """
    period = sim.options.blob_minutes * 60
    carry = concat_events([]).with_columns(arrival=pl.lit(0, pl.Int64))
    number = 0
    i = 0
    while days is None or i < days:
        events = pl.concat([carry, sim.day(i)], how="vertical")
        end = epoch(sim.date_of(i + 1))
        done = by_arrival(events.filter(pl.col("arrival") < end))
        carry = events.filter(pl.col("arrival") >= end)
        for part, closes in _periods(done, period):
            number += 1
            yield Chunk(f"{number:09d}.log", part, closes)
        i += 1
    tail = by_arrival(carry)
    for part, closes in _periods(tail, period):
        number += 1
        yield Chunk(f"{number:09d}.log", part, closes)


def by_arrival(events: pl.DataFrame) -> pl.DataFrame:
    """Events in arrival order; ties keep their order (a stable sort).

    Sorting a unique key (arrival, then position) with NumPy's quicksort and taking
    each column is several times cheaper than a stable sort of the frame."""
    arrival = events["arrival"].to_numpy()
    if len(arrival) < 2:
        return events
    shift = len(arrival).bit_length()
    order = np.argsort(((arrival - arrival.min()) << shift) + np.arange(len(arrival)))
    return pl.DataFrame(
        {name: events[name].to_numpy()[order] for name in events.columns}, schema=events.schema
    )


def _periods(events: pl.DataFrame, period: int) -> Iterator[tuple[pl.DataFrame, int]]:
    """Split arrival-sorted events into consecutive non-empty periods."""
    if events.is_empty():
        return
    slot = events["arrival"].to_numpy() // period
    cuts = np.flatnonzero(np.diff(slot)) + 1
    bounds = np.r_[0, cuts, len(slot)]
    for lo, hi in itertools.pairwise(bounds):
        yield events.slice(int(lo), int(hi - lo)), int(slot[lo] + 1) * period
