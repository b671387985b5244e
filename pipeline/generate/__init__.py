"""Generate stage: a simulated tenant's RMS usage logs with labelled incidents.

`generate_logs(out_dir, options)` writes a period at once; `follow_logs(...)` keeps
writing blobs in near real time. Same seed and options give byte-identical files.
Beside the logs: `ground-truth.json` (see `pipeline.generate.truth`) and `geoip.mmdb`,
a MaxMind City database of every network the simulated tenant uses.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.generate.census import world_document
from pipeline.generate.engine import (
    Simulation,
    blob_chunks,
    count_key_calls,
    daily_chunks,
    epoch,
)
from pipeline.generate.follow import follow_logs
from pipeline.generate.geodb import FILE_NAME as GEOIP_FILE_NAME
from pipeline.generate.geodb import write_geoip
from pipeline.generate.options import LAYOUTS, GenerateOptions, parse_scenarios
from pipeline.generate.result import GenerateResult, describe
from pipeline.generate.scenarios import ALL_SCENARIOS, SCENARIOS, VAULT_SCENARIOS
from pipeline.generate.truth import (
    FILE_NAME,
    FORMAT,
    Incident,
    read_truth,
    truth_document,
    write_truth,
)
from pipeline.generate.vault import VaultLog
from pipeline.generate.writer import LineFormatter, Sink


def generate_logs(out_dir: Path, options: GenerateOptions | None = None) -> GenerateResult:
    """Simulate a tenant and write its usage logs and ground truth under `out_dir`."""
    options = options or GenerateOptions()
    out = Path(out_dir)
    sim = Simulation(options)
    fmt = LineFormatter(sim.world.tenant, options.log_version, options.seed)
    sink = Sink(out, fmt, options.gzip)
    result = GenerateResult(out, timezone=options.tz, skipped=sim.skipped)
    if sim.vault is not None:
        ips = sim.world.tenant.ips
        sim.vault_log = VaultLog(out, sim.vault, ips, options.seed, options.keyvault_format)
    if options.layout == "daily":
        chunks = daily_chunks(sim, options.days)
    else:
        chunks = blob_chunks(sim, options.days)
    try:
        for chunk in chunks:
            sink.write(chunk.name, chunk.events)
            result.add(chunk.events, count_key_calls(chunk.events), chunk.closes_at)
        if sim.vault_log is not None:
            sim.vault_log.close(sim.vault_incidents()[1])
            result.vault_files = list(sim.vault_log.files)
            result.vault_records = sim.vault_log.records
    finally:
        sink.close()
    result.files = list(sink.files)
    result.incidents = [Incident.of(i, options.seed) for i in sim.injector.incidents()]
    world = world_document(sim.world, options.start, options.days, options.users)
    if sim.vault is not None:
        world["keyvault"] = sim.vault.document()
    doc = truth_document(options.as_dict(), result.incidents, sim.skipped, world)
    result.ground_truth = write_truth(out, doc)
    result.geoip = write_geoip(out, sim.world.tenant.plan.networks, epoch(options.start))
    return result


__all__ = [
    "ALL_SCENARIOS",
    "FILE_NAME",
    "FORMAT",
    "GEOIP_FILE_NAME",
    "LAYOUTS",
    "SCENARIOS",
    "VAULT_SCENARIOS",
    "GenerateOptions",
    "GenerateResult",
    "Incident",
    "describe",
    "follow_logs",
    "generate_logs",
    "parse_scenarios",
    "read_truth",
]
