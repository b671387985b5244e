"""What a generation wrote."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from pipeline.generate.truth import Incident


@dataclass
class GenerateResult:
    """Files written, record counts, the incidents injected and the tenant's time zone."""

    out_dir: Path
    files: list[Path] = field(default_factory=list)
    records: int = 0
    key_calls: int = 0
    timezone: str = "UTC"
    incidents: list[Incident] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    ground_truth: Path | None = None
    geoip: Path | None = None  # geoip.mmdb: the simulated networks' locations
    written_until: int = 0  # epoch second up to which arrivals are written (blobs)
    stopped: bool = False  # follow mode: ended by a stop request
    vault_files: list[Path] = field(default_factory=list)  # --keyvault-logs: PT1H.json blobs
    vault_records: int = 0

    def add(self, events: pl.DataFrame, key_calls: int, closes_at: int) -> None:
        self.records += events.height
        self.key_calls += key_calls
        self.written_until = max(self.written_until, closes_at)


def describe(result: GenerateResult) -> str:
    """One paragraph for people (stderr): what was written, and where the truth is."""
    kind = "blobs" if result.files and result.files[0].name[0].isdigit() else "files"
    text = (
        f"wrote {result.records:,} records ({result.key_calls:,} tenant-key calls) "
        f"in {len(result.files)} {kind} under {result.out_dir}; "
        f"{len(result.incidents)} incident(s) in {result.ground_truth}; "
        f"tenant time zone {result.timezone}"
    )
    if result.geoip is not None:
        text += f"; network locations in {result.geoip}"
    if result.vault_files:
        text += (
            f"; {result.vault_records:,} Key Vault records in {len(result.vault_files)} "
            f"hourly PT1H.json blobs under {result.out_dir / 'insights-logs-auditevent'}"
        )
    for scenario, reason in result.skipped.items():
        text += f"\nskipped {scenario}: {reason}"
    if result.stopped:
        until = datetime.fromtimestamp(result.written_until, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        text = f"follow stopped at simulated {until} UTC; " + text
    return text
