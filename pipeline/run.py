"""A whole pipeline run: generate -> ingest -> detect -> report. What `rmslog demo` does."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.detect import DetectSummary, run_detections
from pipeline.generate import SCENARIOS, GenerateOptions, GenerateResult, generate_logs
from pipeline.ingest import IngestSummary, ingest_paths
from pipeline.report import ReportOptions, ReportResult, build_report
from pipeline.settings import Settings, store_settings
from pipeline.warehouse import open_warehouse


@dataclass(frozen=True)
class DemoResult:
    dir: Path
    db: Path
    generated: GenerateResult
    ingested: IngestSummary
    detected: DetectSummary
    report: ReportResult


#: The demo tenant: two weeks of a legacy-BYOK tenant with one of every incident a week.
DEMO_OPTIONS = GenerateOptions(scenarios=SCENARIOS)


def run_demo(directory: Path, options: GenerateOptions | None = None) -> DemoResult:
    """Simulate a tenant into `directory/logs`, ingest into `directory/rmslog.duckdb`,
    detect, and write the report into `directory/report`."""
    directory.mkdir(parents=True, exist_ok=True)
    generated = generate_logs(directory / "logs", options or DEMO_OPTIONS)
    db = directory / "rmslog.duckdb"
    with open_warehouse(db) as con:
        ingested = ingest_paths(con, [directory / "logs"])
        # The simulated tenant's working hours are in its own time zone: the warehouse
        # keeps them, so later `detect`, `report` and `query` runs use the same clock.
        # Its addresses are located with the database the simulator writes beside the logs.
        mmdb = directory / "logs" / "geoip.mmdb"
        settings = Settings(
            timezone=generated.timezone, geoip=str(mmdb.resolve()) if mmdb.is_file() else None
        )
        store_settings(con, settings)
        detected = run_detections(con, settings=settings)
        report = build_report(
            con, directory / "report", ReportOptions(settings=settings), label="demo"
        )
    return DemoResult(directory, db, generated, ingested, detected, report)
