"""End to end on a simulated BYOK Key Vault tenant (kv-sim's `--keyvault-logs`): every
Key Vault incident is found once by its rule, and nothing else fires on the vault."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from bench.accuracy import parse_ground_truth, score_findings
from pipeline.detect import run_detections
from pipeline.generate import GenerateOptions, generate_logs
from pipeline.ingest import ingest_paths
from pipeline.schema import Topology
from pipeline.warehouse import open_warehouse

KV_RULES = ["foreign-key-use", "key-log-mismatch", "key-management", "key-access-failures"]


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["jsonl", "records"])
def test_each_key_vault_incident_of_a_simulated_tenant_is_found_once(
    tmp_path: Path, layout: str
) -> None:
    logs = tmp_path / "logs"
    options = GenerateOptions(
        start=date(2026, 11, 2),
        days=10,
        users=60,
        seed=5,
        topology=Topology.BYOK_KEYVAULT,
        scenarios=tuple(KV_RULES),
        keyvault_logs=True,
        keyvault_format=layout,
    )
    generate_logs(logs, options)
    with open_warehouse(tmp_path / "w.duckdb") as con:
        summary = ingest_paths(con, [logs])
        assert summary.kv_files > 200 and summary.kv_rejected == 0 and summary.files_refused == 0
        assert summary.kv_stored == summary.kv_records  # nothing dropped, nothing doubled
        run_detections(con, KV_RULES)
        findings = con.sql("SELECT * FROM findings").pl()
        # The reconciliation agrees outside the incidents: the settled hours whose counts
        # differ are exactly the hours whose Key Vault blob was lost.
        differ = con.execute(
            "SELECT DISTINCT window_start FROM keyvault_reconciliation "
            "WHERE grain = 'hour' AND settled AND rms_calls <> kv_calls"
        ).fetchall()
    truth = parse_ground_truth(json.loads((logs / "ground-truth.json").read_text()))
    scores = score_findings(findings, truth, KV_RULES)
    assert {(s.rule, s.precision, s.recall) for s in scores} == {(r, 1.0, 1.0) for r in KV_RULES}, (
        findings.select("rule", "entity", "first_ts", "summary").rows()
    )
    assert len(findings) == len(truth.incidents)
    lost = truth.incidents.filter(pl.col("scenario") == "key-log-mismatch")
    assert {t for (t,) in differ} == set(lost.get_column("first_ts").dt.truncate("1h"))
