"""Near real time: keep writing blobs as simulated time advances, until told to stop.

The history (`days`) is written at once; after it, simulated time runs at `speed`
simulated seconds per wall second and each blob is written when its period has
passed. Blobs appear atomically (hidden temporary name, then rename), so a watcher
never reads half a blob. SIGINT or SIGTERM stops it cleanly after the current blob.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from pipeline.errors import UsageError
from pipeline.generate.census import world_document
from pipeline.generate.engine import Simulation, blob_chunks, count_key_calls, epoch
from pipeline.generate.geodb import write_geoip
from pipeline.generate.options import GenerateOptions
from pipeline.generate.result import GenerateResult
from pipeline.generate.timing import LATE_SECONDS
from pipeline.generate.truth import Incident, truth_document, write_truth
from pipeline.generate.writer import LineFormatter, Sink
from pipeline.interrupts import stop_on_signals

#: Longest sleep between checks of the stop flag, wall seconds.
POLL_SECONDS = 0.2


def _sleep_until(stop: threading.Event, deadline: float, clock: Callable[[], float]) -> bool:
    """Wait until `deadline` on `clock`; False when stopped first."""
    while not stop.is_set():
        left = deadline - clock()
        if left <= 0:
            return True
        stop.wait(min(left, POLL_SECONDS))
    return False


def follow_logs(
    out_dir: Path,
    options: GenerateOptions,
    *,
    speed: float = 60.0,
    stop: threading.Event | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> GenerateResult:
    """Write the history, then one blob per period as simulated time passes, until `stop`
    (or SIGINT/SIGTERM) is set. Returns what was written; the ground truth lists the
    incidents whose records are all written."""
    if options.layout != "blobs":
        raise UsageError("--follow writes numbered blobs; use --layout blobs")
    if options.keyvault_logs:
        raise UsageError(
            "--keyvault-logs is for batch generation only: Key Vault's hourly blobs grow "
            "during their hour, which --follow does not simulate; drop one of the two"
        )
    if speed <= 0:
        raise UsageError("--speed must be > 0 (simulated seconds per wall second)")
    sim = Simulation(options, endless=True)
    fmt = LineFormatter(sim.world.tenant, options.log_version, options.seed)
    sink = Sink(Path(out_dir), fmt, options.gzip)
    result = GenerateResult(Path(out_dir), timezone=options.tz)
    result.geoip = write_geoip(Path(out_dir), sim.world.tenant.plan.networks, epoch(options.start))
    truth = _LiveTruth(sim, options, result)
    live_from = epoch(options.start) + options.days * 86400
    wall0: float | None = None
    with stop_on_signals(stop) as stopped:
        try:
            for chunk in blob_chunks(sim, None):
                if chunk.closes_at > live_from:
                    if wall0 is None:
                        sink.flush()
                        wall0 = clock()
                    deadline = wall0 + (chunk.closes_at - live_from) / speed
                    if not _sleep_until(stopped, deadline, clock):
                        break
                sink.write(chunk.name, chunk.events)
                result.add(chunk.events, count_key_calls(chunk.events), chunk.closes_at)
                truth.update(sink)
                if stopped.is_set():
                    break
        finally:
            sink.close()
    result.files = list(sink.files)
    result.stopped = True
    truth.update(sink, force=True)
    return result


class _LiveTruth:
    """The ground truth of a live feed: incidents whose records are all written."""

    def __init__(self, sim: Simulation, options: GenerateOptions, result: GenerateResult) -> None:
        self.sim, self.options, self.result = sim, options, result
        self.done: dict[int, Incident] = {}

    def update(self, sink: Sink, *, force: bool = False) -> None:
        """Rewrite ground-truth.json when more incidents are completely written."""
        horizon = self.result.written_until
        fresh = False
        for injected in self.sim.injector.incidents():
            last = int(injected.events["sec"].max())  # type: ignore[arg-type]
            if id(injected) not in self.done and last + LATE_SECONDS[1] < horizon:
                self.done[id(injected)] = Incident.of(injected, self.options.seed)
                fresh = True
        if not (fresh or force):
            return
        sink.flush()
        incidents = sorted(self.done.values(), key=lambda i: (i.first_ts, i.scenario))
        self.result.incidents = incidents
        options = {**self.options.as_dict(), "follow": True}
        o = self.options
        days = max(o.days, (horizon - epoch(o.start)) // 86400)
        world = world_document(self.sim.world, o.start, days, o.users)
        document = truth_document(options, incidents, self.sim.skipped, world)
        self.result.ground_truth = write_truth(self.result.out_dir, document)
