from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest
from w3c_builder import Rec, write_log

from pipeline.errors import ExitCode, UsageError
from pipeline.settings import (
    Settings,
    effective_settings,
    load_settings,
    read_toml,
    setting_keys,
    store_settings,
    stored_settings,
    with_values,
)
from pipeline.warehouse import open_warehouse


def test_defaults_apply_when_no_settings_file_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RMSLOG_CONFIG", raising=False)
    assert load_settings() == Settings()


def test_a_toml_file_sets_the_tenant_working_hours(tmp_path: Path) -> None:
    cfg = tmp_path / "rmslog.toml"
    cfg.write_text('[tenant]\ntimezone = "Europe/Berlin"\nwork_days = [1, 2, 3, 4]\n')
    settings = load_settings(cfg)
    assert settings.timezone == "Europe/Berlin" and settings.work_days == (1, 2, 3, 4)
    assert settings.sql_params()["work_days"] == [1, 2, 3, 4]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[tenant]\ntimezone = "Mars/Olympus"\n', "unknown time zone"),
        ("[tenant]\nwork_start = 19\nwork_end = 18\n", "work_start < work_end"),
        ("[tenant]\nlunch = 12\n", "unknown [tenant] keys ['lunch']"),
    ],
)
def test_bad_settings_are_usage_errors(tmp_path: Path, body: str, message: str) -> None:
    cfg = tmp_path / "rmslog.toml"
    cfg.write_text(body)
    with pytest.raises(UsageError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_settings(cfg)


# --------------------------------------------------------------------------- stored settings


def test_a_toml_file_sets_rule_overrides_and_other_sections_are_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "rmslog.toml"
    cfg.write_text("[rules.denied-burst]\nmin_failures = 20\n", encoding="utf-8")
    assert read_toml(cfg).rule_overrides() == {"denied-burst.min_failures": "20"}
    cfg.write_text("[office]\nlunch = 12\n", encoding="utf-8")
    with pytest.raises(UsageError, match=r"unknown section \[office\]"):
        read_toml(cfg)


def test_settings_stored_in_the_warehouse_come_back_equal(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    assert stored_settings(warehouse) is None
    chosen = with_values(
        Settings(),
        {"tenant.timezone": "Asia/Singapore", "tenant.work_days": "1,2,3", "rules.x.y": "5"},
    )
    store_settings(warehouse, chosen)
    assert stored_settings(warehouse) == chosen
    assert effective_settings(warehouse).source == "warehouse"


def test_a_setting_is_one_field_its_key_parser_and_sql_name_follow() -> None:
    keys = setting_keys()
    assert set(keys) == {
        "tenant.timezone",
        "tenant.work_days",
        "tenant.work_start",
        "tenant.work_end",
        "tenant.service_accounts",
        "tenant.geoip",
        "tenant.corporate_networks",
        "tenant.service_networks",
    }
    assert set(Settings().sql_params()) == {k.split(".", 1)[1] for k in keys}
    with pytest.raises(UsageError, match=r"setting tenant\.work_start must be an integer"):
        with_values(Settings(), {"tenant.work_start": "eight"})
    with pytest.raises(UsageError, match=r"unknown setting 'tenant\.lunch'"):
        with_values(Settings(), {"tenant.lunch": "12"})


def test_settings_set_show_unset_and_import_through_the_cli(cli: Any, tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    assert cli("settings", "set", "tenant.timezone", "Europe/Berlin", "--db", db).exit_code == 0
    ok = cli("settings", "set", "rules.denied-burst.min_failures", "20", "--db", db)
    assert ok.exit_code == 0
    shown = json.loads(cli("settings", "show", "--db", db, "--json").stdout)
    assert shown["settings"]["tenant.timezone"] == "Europe/Berlin"
    assert shown["settings"]["rules.denied-burst.min_failures"] == "20"
    text = cli("settings", "show", "--db", db).stdout
    assert 'tenant.timezone = "Europe/Berlin"    # stored' in text
    assert "tenant.work_start = 8    # default" in text
    assert cli("settings", "unset", "rules.denied-burst.min_failures", "--db", db).exit_code == 0
    cfg = tmp_path / "t.toml"
    cfg.write_text('[tenant]\ntimezone = "Asia/Singapore"\nwork_end = 17\n', encoding="utf-8")
    assert cli("settings", "import", cfg, "--db", db).exit_code == 0
    shown = json.loads(cli("settings", "show", "--db", db, "--json").stdout)["settings"]
    assert shown["tenant.timezone"] == "Asia/Singapore" and shown["tenant.work_end"] == 17
    assert "rules.denied-burst.min_failures" not in shown


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("set", "tenant.lunch", "12"), "unknown setting 'tenant.lunch'"),
        (("set", "tenant.timezone", "Mars/Olympus"), "unknown time zone"),
        (("set", "rules.no-such-rule.x", "1"), "no rule 'no-such-rule'"),
        (("set", "rules.denied-burst.nope", "1"), "rule denied-burst has no parameter 'nope'"),
        (
            ("set", "rules.denied-burst.min_failures", "many"),
            "setting rules.denied-burst.min_failures: expected INTEGER, got 'many'",
        ),
        (("set", "rules.off-hours-reading.timezone", "UTC"), "has no parameter 'timezone'"),
        (("unset", "rules.denied-burst.min_failures"), "no stored rule override"),
    ],
)
def test_bad_settings_commands_exit_2_and_say_why(
    cli: Any, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    result = cli("settings", *args, "--db", tmp_path / "w.duckdb")
    assert result.exit_code == ExitCode.USAGE
    assert message in result.stderr


def test_detect_and_named_queries_use_the_stored_settings_not_a_stray_toml(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 01:00 UTC on a Wednesday is 09:00 in Singapore: working time there, night in UTC.
    records = [
        Rec(f"2026-11-04 01:{2 * i:02d}:00", "AcquireLicense", user="kim@x", content=f"{{d{i}}}")
        for i in range(12)
    ]
    db = tmp_path / "w.duckdb"
    assert cli("ingest", write_log(tmp_path / "a.log", records), "--db", db).exit_code == 0
    assert cli("settings", "set", "tenant.timezone", "Asia/Singapore", "--db", db).exit_code == 0
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rmslog.toml").write_text('[tenant]\ntimezone = "UTC"\n', encoding="utf-8")
    result = cli("detect", "--db", db, "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["findings_by_rule"]["off-hours-reading"] == 0
    assert "rmslog.toml differs from the settings stored in the warehouse" in result.stderr
    hours = cli("query", "--name", "key-calls-by-local-hour", "--db", db, "--format", "json")
    assert hours.exit_code == 0


def test_an_explicit_config_on_detect_is_stored_and_recorded_with_the_run(
    cli: Any, tmp_path: Path
) -> None:
    db = tmp_path / "w.duckdb"
    log = write_log(tmp_path / "a.log", [Rec("2026-11-04 01:00:00", "Certify", user="kim@x")])
    assert cli("ingest", log, "--db", db).exit_code == 0
    cfg = tmp_path / "t.toml"
    cfg.write_text('[tenant]\ntimezone = "Europe/Berlin"\n', encoding="utf-8")
    result = cli("detect", "--db", db, "--config", cfg)
    assert result.exit_code == 0 and "stored in the warehouse" in result.stderr
    with open_warehouse(db, read_only=True) as con:
        recorded = con.sql("SELECT settings FROM detect_runs").fetchall()[0][0]
        assert stored_settings(con) == Settings(timezone="Europe/Berlin")
    assert json.loads(recorded)["tenant.timezone"] == "Europe/Berlin"
