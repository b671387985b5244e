"""Generate stage: a simulated tenant's RMS usage logs, deterministic for a seed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np

from pipeline.generate.activity import simulate
from pipeline.generate.tenant import build_tenant
from pipeline.generate.writer import write_daily
from pipeline.schema import KEY_OPERATIONS, LOG_VERSIONS, Topology


@dataclass(frozen=True)
class GenerateOptions:
    start: date = date(2026, 11, 2)
    days: int = 14
    users: int = 60
    seed: int = 7
    topology: Topology = Topology.BYOK_LEGACY
    region: str = "na"
    log_version: str = "1.1-admin"
    gzip: bool = False

    def __post_init__(self) -> None:
        if self.log_version not in LOG_VERSIONS:
            raise ValueError(f"unknown log version {self.log_version!r}")


@dataclass
class GenerateResult:
    out_dir: Path
    files: list[Path] = field(default_factory=list)
    records: int = 0
    key_calls: int = 0


def generate_logs(out_dir: Path, options: GenerateOptions | None = None) -> GenerateResult:
    """Simulate a tenant and write its usage logs under `out_dir`."""
    options = options or GenerateOptions()
    rng = np.random.default_rng(options.seed)
    tenant = build_tenant(rng, options.users, options.region)
    records = simulate(rng, tenant, options.start, options.days, options.topology)
    files = write_daily(Path(out_dir), records, options.log_version, gz=options.gzip)
    n_key = int(records["request_type"].is_in(KEY_OPERATIONS).sum())
    return GenerateResult(Path(out_dir), files, records.height, n_key)


__all__ = ["GenerateOptions", "GenerateResult", "generate_logs"]
