from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import UsageError
from pipeline.settings import Settings, load_settings


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
