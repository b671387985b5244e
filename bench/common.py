"""Shared benchmark inputs: generated logs and warehouses of a given size, cached on disk.

Benchmarks that need "a 10M-row warehouse" build it once here, under `bench/out/`
(ignored by git), so `make bench` does not generate and ingest it once per script.
Sizes are in days of a tenant of `users` users; `rows_for()` reports what came out.
"""

from __future__ import annotations

import os
import resource
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TypeVar

from pipeline.detect import run_detections
from pipeline.generate import SCENARIOS, GenerateOptions, generate_logs
from pipeline.ingest import ingest_paths
from pipeline.settings import Settings
from pipeline.warehouse import open_warehouse

OUT = Path(__file__).parent / "out"
T = TypeVar("T")

#: Default size: BENCH_SCALE=1.0 gives about 10M rows (the issues' yardstick).
SCALE = float(os.environ.get("BENCH_SCALE", "1.0"))


def tenant_options(days: int = 60, users: int = 6_500, seed: int = 42) -> GenerateOptions:
    """A tenant whose logs hold about 10M rows at SCALE 1.0 (rows grow with users), with
    one of every incident scenario a week, so detection benches see realistic findings."""
    return GenerateOptions(
        start=date(2026, 9, 1),
        days=days,
        users=max(10, int(users * SCALE)),
        seed=seed,
        scenarios=SCENARIOS,
    )


def ensure_logs(name: str, options: GenerateOptions) -> Path:
    """Generated logs under bench/out/<name>/logs, made once per options."""
    folder = OUT / name / "logs"
    stamp = OUT / name / "options.txt"
    if stamp.exists() and stamp.read_text() == repr(options):
        return folder
    shutil.rmtree(OUT / name, ignore_errors=True)
    generate_logs(folder, options)
    stamp.write_text(repr(options))
    return folder


def ensure_warehouse(name: str, options: GenerateOptions) -> Path:
    """A warehouse with those logs ingested, under bench/out/<name>/rmslog.duckdb."""
    logs = ensure_logs(name, options)
    db = OUT / name / "rmslog.duckdb"
    done = OUT / name / "ingested.txt"
    if not done.exists():
        db.unlink(missing_ok=True)
        with open_warehouse(db) as con:
            ingest_paths(con, [logs])
        done.write_text("ok")
    return db


def shared_warehouse() -> Path:
    """The one ~10M-row warehouse (at SCALE 1.0) that the detect, query and report benches
    share, with detection run once on the tenant's clock so reports carry findings."""
    options = tenant_options()
    db = ensure_warehouse(f"tenant-x{SCALE:g}", options)
    done = db.parent / "detected.txt"
    if not done.exists():
        with open_warehouse(db) as con:
            run_detections(con, settings=Settings(timezone=options.tz))
        done.write_text("ok")
    return db


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    """Run `fn` once; return its result and wall seconds."""
    t0 = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - t0


@contextmanager
def section(title: str) -> Iterator[None]:
    print(f"-- {title}", flush=True)
    yield


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
