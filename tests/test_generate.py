"""The generator, read back with an independent reader (tests/logcheck.py)."""

from __future__ import annotations

import ipaddress
import math
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import maxminddb
import numpy as np
import polars as pl
import pytest
from logcheck import (
    KEY_OPERATIONS,
    read_folder,
    unquoted,
)
from w3c_builder import QUOTED  # the quoting convention, stated once for the tests

from pipeline.errors import ExitCode, UsageError
from pipeline.generate import (
    SCENARIOS,
    GenerateOptions,
    follow_logs,
    generate_logs,
    parse_scenarios,
    read_truth,
)
from pipeline.generate.activity import Day
from pipeline.generate.calendar import is_working_day
from pipeline.generate.engine import Simulation
from pipeline.generate.services import helpdesk_events
from pipeline.schema import LOG_VERSIONS, Topology

ROOT = Path(__file__).parent.parent
GUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
OPENS = ("AcquireLicense", "FECreateEndUserLicenseV1")
SIGNS = ("Certify", "GetClientLicensorCert", "FECreatePublishingLicenseV1")
SMALL = {"start": date(2026, 11, 2), "days": 14, "users": 30, "seed": 5}

Generate = Callable[..., Path]


@pytest.fixture(scope="module")
def generate(tmp_path_factory: pytest.TempPathFactory) -> Generate:
    """Generate once per distinct set of options in this module; returns the folder."""
    cache: dict[str, Path] = {}

    def run(**kw: Any) -> Path:
        options = GenerateOptions(**(SMALL | kw))
        key = repr(options)
        if key not in cache:
            cache[key] = tmp_path_factory.mktemp("gen")
            generate_logs(cache[key], options)
        return cache[key]

    return run


def _frame(folder: Path) -> pl.DataFrame:
    return unquoted(read_folder(folder).records)


def _truth(folder: Path) -> dict[str, Any]:
    return read_truth(folder / "ground-truth.json")


def _incident_rows(folder: Path) -> set[str]:
    return {r for i in _truth(folder)["incidents"] for r in i["row_ids"]}


# --- format -----------------------------------------------------------------


@pytest.mark.parametrize("version", list(LOG_VERSIONS))
def test_each_file_opens_with_the_rms_header_of_its_log_version(
    generate: Generate, version: str
) -> None:
    folder = generate(log_version=version, days=3)
    logs = read_folder(folder)
    expected_version = "1.0" if version == "1.0" else "1.1"
    for name, header in logs.headers.items():
        assert header == [
            "#Software: RMS",
            f"#Version: {expected_version}",
            "#Fields: " + " ".join(LOG_VERSIONS[version]),
        ], name
    assert set(logs.records.columns) == {"file", "line", *LOG_VERSIONS[version]}


def test_daily_layout_writes_one_file_per_utc_day_named_like_the_download_cmdlet(
    generate: Generate,
) -> None:
    folder = generate(days=5)
    names = sorted(p.name for p in folder.iterdir())
    logs = [f"rmslog-2026-11-0{d}.log" for d in range(2, 7)]
    assert names == ["geoip.mmdb", "ground-truth.json", *logs]
    frame = read_folder(folder).records
    assert (frame["file"] == "rmslog-" + frame["date"] + ".log").all()


@pytest.mark.slow
def test_ids_have_the_documented_guid_shapes(generate: Generate) -> None:
    raw = read_folder(generate(scenarios=SCENARIOS)).records
    assert raw["row-id"].str.contains(f"^{GUID}$").all()
    assert raw["correlation-id"].str.contains(f"^{GUID}$").all()
    assert raw["row-id"].n_unique() == raw.height
    for field in ("content-id", "template-id"):
        assert raw[field].str.contains(f"^(|\\{{{GUID}\\}})$").all(), field
    assert raw["content-id"].str.len_bytes().gt(0).any()


def test_quoted_fields_are_single_quoted_and_the_others_are_bare(generate: Generate) -> None:
    raw = read_folder(generate(scenarios=SCENARIOS)).records
    for field in raw.columns:
        if field in QUOTED:
            assert raw[field].str.contains(r"^'.*'$").all(), field
        elif field not in ("file", "line"):
            assert not raw[field].str.starts_with("'").any(), field
    assert raw["admin-action"].is_in(["''", "'True'"]).all()
    assert raw["date-published"].str.contains(r"^'(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)?'$").all()
    assert raw["c-ip"].str.contains(r"^\d{1,3}(\.\d{1,3}){3}$").all()
    assert raw["date"].str.contains(r"^\d{4}-\d\d-\d\d$").all()
    assert raw["time"].str.contains(r"^\d\d:\d\d:\d\d$").all()


@pytest.mark.slow
def test_file_names_include_non_ascii_text_and_apostrophes(generate: Generate) -> None:
    names = _frame(generate(users=60))["file-name"].drop_nulls().unique()
    assert names.str.contains(r"[^\x00-\x7f]").any()
    assert names.str.contains("'").any()  # inside the quotes: the reader strips one pair
    assert names.str.contains(f"^{GUID}$").any()  # Office files often show a GUID


@pytest.mark.slow
def test_service_identities_and_the_connector_work_around_the_clock(generate: Generate) -> None:
    frame = _frame(generate())
    service = frame.filter(pl.col("user-id").str.starts_with("microsoftrmsonline@"))
    assert (
        service["user-id"]
        .str.contains(r"^microsoftrmsonline@[0-9a-f-]{36}\.rms\.na\.aadrm\.com$")
        .all()
    )
    assert service["ts"].dt.hour().n_unique() == 24
    connector = frame.filter(pl.col("user-id") == "Aadrm_S-1-7-0")
    assert "GetConnectorAuthorizations" in connector["request-type"].to_list()
    assert connector["ts"].dt.hour().n_unique() == 24


# --- causality --------------------------------------------------------------


def test_every_key_call_outside_incidents_has_its_originating_request_within_a_second(
    generate: Generate,
) -> None:
    folder = generate(scenarios=SCENARIOS)
    frame = _frame(folder).filter(~pl.col("row-id").is_in(list(_incident_rows(folder))))
    keys = frame.filter(pl.col("request-type").is_in(KEY_OPERATIONS))
    origins = frame.filter(~pl.col("request-type").is_in(KEY_OPERATIONS))
    joined = keys.join(origins, on="correlation-id", how="left", suffix="_o")
    assert keys.height > 1000 and joined.height == keys.height
    assert joined["request-type_o"].is_in([*OPENS, *SIGNS]).all()
    assert (joined["result_o"] == "Success").all()
    gap = (joined["ts"] - joined["ts_o"]).dt.total_seconds()
    assert gap.is_between(0, 1).all()
    assert keys["user-id"].is_null().all()
    decrypts = joined.filter(pl.col("request-type") == "KMSPDecrypt")
    assert decrypts["request-type_o"].is_in(OPENS).all()


def test_failed_requests_cause_no_key_call(generate: Generate) -> None:
    frame = _frame(generate())
    denied = frame.filter(pl.col("result") == "AccessDenied")
    keys = frame.filter(pl.col("request-type").is_in(KEY_OPERATIONS))
    assert denied.height > 10
    assert not denied["correlation-id"].is_in(keys["correlation-id"].implode()).any()


def test_a_microsoft_managed_tenant_shows_no_key_calls(generate: Generate) -> None:
    frame = _frame(generate(topology=Topology.MICROSOFT_MANAGED))
    assert frame["request-type"].is_in(OPENS).sum() > 1000
    assert not frame["request-type"].str.contains("^(KMSP|KeyVault|Decrypt|SignDigest)").any()


def test_key_vault_tenants_use_key_vault_operations(generate: Generate) -> None:
    types = set(_frame(generate(topology=Topology.BYOK_KEYVAULT))["request-type"].to_list())
    assert {"KeyVaultDecryptRequest", "KeyVaultSignDigest"} <= types
    assert not any(t.startswith("KMSP") for t in types)


@pytest.mark.slow
def test_moving_to_byok_ramps_key_calls_up_over_weeks(generate: Generate) -> None:
    folder = generate(
        topology=Topology.BYOK_KEYVAULT, start=date(2026, 9, 1), days=42, byok_from=date(2026, 9, 8)
    )
    frame = _frame(folder)
    opens = frame.filter(pl.col("request-type").is_in(OPENS) & (pl.col("result") == "Success"))
    keys = frame.filter(pl.col("request-type") == "KeyVaultDecryptRequest")
    week = ((pl.col("ts") - datetime(2026, 9, 1)).dt.total_days() // 7).alias("week")
    share = (
        opens.with_columns(
            week, keyed=pl.col("correlation-id").is_in(keys["correlation-id"].implode())
        )
        .group_by("week")
        .agg(pl.col("keyed").mean())
        .sort("week")["keyed"]
        .to_list()
    )
    assert share[0] == 0.0  # Microsoft-managed before the move
    assert 0.05 < share[1] < share[2] < share[3] < 0.95  # clients switch gradually
    assert share[5] == 1.0  # everyone after about three weeks
    setup = frame.filter(pl.col("request-type") == "KeyVaultGetKeyInfoRequest")
    assert setup["ts"].dt.date().unique().to_list() == [date(2026, 9, 8)]


def test_legacy_byok_operations_carry_their_old_names_before_july_2016(generate: Generate) -> None:
    frame = _frame(generate(start=date(2016, 6, 25), days=10, log_version="1.1"))
    keys = frame.filter(pl.col("request-type").is_in(KEY_OPERATIONS))
    before = keys.filter(pl.col("ts") < datetime(2016, 7, 1))["request-type"].unique().sort()
    after = keys.filter(pl.col("ts") >= datetime(2016, 7, 1))["request-type"].unique().sort()
    assert before.to_list() == ["Decrypt", "SignDigest"]
    assert after.to_list() == ["KMSPDecrypt", "KMSPSignDigest"]


# --- rhythm and timing ------------------------------------------------------


@pytest.mark.slow
def test_people_work_local_hours_and_rest_at_weekends_and_holidays(generate: Generate) -> None:
    folder = generate(region="eu", start=date(2026, 12, 14), days=21)  # Christmas inside
    profile = {p["user_id"]: p["profile"] for p in _truth(folder)["world"]["people"]}
    opens = _frame(folder).filter(
        pl.col("request-type").is_in(OPENS) & pl.col("user-id").is_in(list(profile))
    )
    local = opens["ts"].dt.replace_time_zone("UTC").dt.convert_time_zone("Europe/Berlin")
    opens = opens.with_columns(
        hour=local.dt.hour(),
        day=local.dt.date(),
        profile=pl.col("user-id").replace_strict(profile),
    )
    day = opens.filter(pl.col("profile") == "day")
    assert day["hour"].is_between(8, 17).mean() > 0.8  # type: ignore[operator]
    assert opens.filter(pl.col("profile") != "night")["hour"].is_between(2, 4).sum() == 0
    night = opens.filter(pl.col("profile") == "night")["hour"]
    assert night.len() > 0 and ((night >= 21) | (night < 7)).mean() > 0.8  # type: ignore[operator]
    late = opens.filter(pl.col("profile") == "late")["hour"]
    assert (late >= 19).mean() > 2 * (day["hour"] >= 19).mean()  # type: ignore[operator]
    counts = dict(opens.group_by("day").len().iter_rows())
    workday = counts[date(2026, 12, 17)]  # a Thursday
    assert counts[date(2026, 12, 19)] < 0.2 * workday  # Saturday
    assert counts[date(2026, 12, 25)] < 0.2 * workday  # Christmas Day, a Friday
    assert counts[date(2026, 12, 24)] > 0.5 * workday  # Christmas Eve is a working day there


@pytest.mark.slow
def test_blobs_hold_records_a_minute_out_of_order_and_a_late_tail_in_later_blobs(
    generate: Generate,
) -> None:
    folder = generate(layout="blobs", blob_minutes=15, users=40, days=7)
    names = sorted(p.name for p in folder.iterdir() if p.suffix == ".log")
    assert names == [f"{i:09d}.log" for i in range(1, len(names) + 1)]
    assert all(len(h) == 3 for h in read_folder(folder).headers.values())  # each has a header
    frame = _frame(folder).with_columns(slot=pl.col("ts").dt.truncate("15m"))
    # Each blob holds 15 minutes of arrivals: most of its records are from that slot.
    slots = frame.group_by("file").agg(pl.col("slot").mode().first().alias("blob_slot"))
    frame = frame.join(slots, on="file", maintain_order="left")
    early = (frame["blob_slot"] - frame["ts"]).dt.total_seconds()
    assert early.max() <= 15 * 60  # type: ignore[operator]
    assert 0 < (early > 60).sum() < 0.01 * frame.height  # the late tail, in later blobs
    behind = (frame["ts"].cum_max() - frame["ts"]).dt.total_seconds()
    assert 60 < behind.max() <= 15 * 60  # type: ignore[operator]
    assert (behind > 60).mean() < 0.01  # type: ignore[operator]
    assert (behind > 0).mean() > 0.2  # type: ignore[operator]  # up to a minute out of order


# --- determinism ------------------------------------------------------------


def _bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("layout", ["daily", "blobs"])
def test_same_seed_and_options_give_byte_identical_output(tmp_path: Path, layout: str) -> None:
    options = GenerateOptions(
        **(SMALL | {"days": 4, "gzip": True, "layout": layout}), scenarios=SCENARIOS
    )
    generate_logs(tmp_path / "a", options)
    generate_logs(tmp_path / "b", options)
    assert _bytes(tmp_path / "a") == _bytes(tmp_path / "b")
    assert all(n.endswith((".gz", ".json", ".mmdb")) for n in _bytes(tmp_path / "a"))
    assert "geoip.mmdb" in _bytes(tmp_path / "a")


def test_another_seed_gives_another_tenant(generate: Generate) -> None:
    a = _frame(generate(days=2))
    b = _frame(generate(days=2, seed=6))
    assert not set(a["row-id"].to_list()) & set(b["row-id"].to_list())
    assert set(a["user-id"].drop_nulls().to_list()) != set(b["user-id"].drop_nulls().to_list())


# --- incidents and ground truth ---------------------------------------------


def test_ground_truth_rows_exist_and_match_each_incidents_entity_and_window(
    generate: Generate,
) -> None:
    folder = generate(scenarios=SCENARIOS)
    truth = _truth(folder)
    assert truth["format"] == "rmslog-ground-truth/1"
    assert truth["options"]["timezone"] == "America/New_York"
    assert truth["options"]["scenarios"] == list(SCENARIOS)
    incidents = truth["incidents"]
    assert sorted({i["scenario"] for i in incidents}) == sorted(SCENARIOS)
    assert len(incidents) == 2 * len(SCENARIOS)  # one of each per week
    frame = _frame(folder)
    for inc in incidents:
        rows = frame.filter(pl.col("row-id").is_in(inc["row_ids"]))
        assert rows.height == len(inc["row_ids"]), inc["scenario"]
        assert str(rows["ts"].min()).replace(" ", "T") == inc["first_ts"]
        assert str(rows["ts"].max()).replace(" ", "T") == inc["last_ts"]
        entity = inc["entity"]
        if inc["scenario"] in ("orphan-key-calls", "key-volume-spike"):
            assert entity == "tenant-key"
        elif inc["scenario"] == "revoked-document-opened":
            assert re.fullmatch(r"\{" + GUID + r"\}", entity)
            assert entity in rows["content-id"].to_list()
        else:
            assert entity in rows["user-id"].to_list()


def test_scenarios_the_logs_cannot_show_are_skipped_with_a_reason(tmp_path: Path) -> None:
    options = GenerateOptions(
        **(SMALL | {"days": 3}),
        topology=Topology.MICROSOFT_MANAGED,
        log_version="1.1",
        scenarios=SCENARIOS,
    )
    result = generate_logs(tmp_path, options)
    skipped = {s["scenario"]: s["reason"] for s in _truth(tmp_path)["skipped"]}
    assert set(skipped) == {"orphan-key-calls", "key-volume-spike", "admin-browsing"}
    assert "no admin-action column" in skipped["admin-browsing"]
    assert {i.scenario for i in result.incidents} == set(SCENARIOS) - set(skipped)


# --- the world: geography and ordinary variety ---------------------------------

WORLD = {"users": 80, "days": 30, "scenarios": SCENARIOS}  # spans a month-end close


def _located(folder: Path) -> pl.DataFrame:
    """People's records with the place geoip.mmdb gives their address and its network kind."""
    truth = _truth(folder)["world"]
    nets = [(ipaddress.ip_network(n["network"]), n["kind"]) for n in truth["networks"]]
    people = [p["user_id"] for p in truth["people"]]
    frame = _frame(folder).filter(pl.col("user-id").is_in(people))
    rows = []
    with maxminddb.open_database(str(folder / "geoip.mmdb")) as db:
        for ip in frame["c-ip"].unique().to_list():
            rec: Any = db.get(ip)
            addr = ipaddress.ip_address(ip)
            kind = next(k for n, k in nets if addr in n)
            loc = rec["location"]
            rows.append(
                (
                    ip,
                    rec["city"]["names"]["en"],
                    loc["latitude"],
                    loc["longitude"],
                    loc["accuracy_radius"],
                    kind,
                )
            )
    geo = pl.DataFrame(rows, schema=["c-ip", "city", "lat", "lon", "radius", "kind"], orient="row")
    return frame.join(geo, on="c-ip", how="left")


@pytest.mark.slow
def test_geoip_mmdb_locates_every_address_in_the_geolite2_city_record_shape(
    generate: Generate,
) -> None:
    folder = generate(**WORLD)
    ips = _frame(folder)["c-ip"].unique().to_list()
    with maxminddb.open_database(str(folder / "geoip.mmdb")) as db:
        assert db.metadata().database_type == "GeoLite2-City"
        for ip in ips:
            rec: Any = db.get(ip)
            assert rec is not None, ip
            assert set(rec) == {"country", "city", "location"}
            assert re.fullmatch(r"[A-Z]{2}", rec["country"]["iso_code"])
            assert rec["country"]["names"]["en"] and rec["city"]["names"]["en"]
            loc = rec["location"]
            assert -90 <= loc["latitude"] <= 90 and -180 <= loc["longitude"] <= 180
            assert 5 <= loc["accuracy_radius"] <= 250
        assert db.get("10.1.2.3") is None and db.get("100.64.1.1") is None


@pytest.mark.slow
def test_addresses_are_public_never_private_shared_or_documentation_space(
    generate: Generate,
) -> None:
    for ip in _frame(generate(**WORLD))["c-ip"].unique().to_list():
        assert ipaddress.ip_address(ip).is_global, ip  # False for 10/8, 100.64/10, 198.18/15 ...


def test_networks_sit_in_plausible_places_with_plausible_accuracy(generate: Generate) -> None:
    nets = _truth(generate(**WORLD))["world"]["networks"]
    kinds = {n["kind"] for n in nets}
    assert {"office", "home-isp", "mobile", "vpn-exit", "hotel", "roaming", "attacker"} <= kinds
    home = {n["city"] for n in nets if n["kind"] in ("office", "home-isp", "mobile")}
    assert home == {"New York"}
    assert len({n["name"] for n in nets if n["kind"] == "home-isp"}) == 3
    mobile = [n for n in nets if n["kind"] == "mobile"]
    assert len(mobile) >= 30 and all(100 <= n["accuracy_radius"] <= 200 for n in mobile)
    assert all(10 <= n["accuracy_radius"] <= 50 for n in nets if n["kind"] == "home-isp")
    assert "New York" not in {n["city"] for n in nets if n["kind"] == "vpn-exit"}
    assert all(n["country"] != "US" for n in nets if n["kind"] == "attacker")


@pytest.mark.slow
def test_phones_hop_across_many_carrier_networks_within_a_day(generate: Generate) -> None:
    frame = _located(generate(**WORLD)).filter(pl.col("kind") == "mobile")
    net16 = pl.col("c-ip").str.extract(r"^(\d+\.\d+)\.")
    per_day = frame.group_by("user-id", pl.col("ts").dt.date()).agg(
        nets=net16.n_unique(), n=pl.len()
    )
    busy = per_day.filter(pl.col("n") >= 6)
    assert busy.height > 50
    assert busy["nets"].median() >= 4  # type: ignore[operator]
    assert frame.select(net16.n_unique()).item() >= 30


def test_ordinary_variety_is_common_and_listed_in_the_ground_truth(generate: Generate) -> None:
    truth = _truth(generate(**WORLD))
    world = truth["world"]
    people = world["people"]
    assert world["person_days"] == 80 * 30 == len(people) * truth["options"]["days"]
    share = {k: sum(bool(p[k]) for p in people) / len(people) for k in ("vpn", "traveller")}
    assert 0.05 < share["vpn"] < 0.3 and 0.1 < share["traveller"] < 0.35
    profiles = {p["profile"] for p in people}
    assert profiles == {"day", "late", "night"}
    assert {p["home_isp"] for p in people} == {"Verizon Fios", "Spectrum", "Optimum"}
    kinds = {t["kind"] for t in world["trips"]}
    assert kinds == {"business", "holiday"}
    assert any(t["abroad"] for t in world["trips"]) and any(not t["abroad"] for t in world["trips"])
    benign = world["benign"]
    assert len(benign["denial_clusters"]) > 10
    assert isinstance(benign["helpdesk_busy_days"], list)  # rare: see the test below
    # Thanksgiving (26th, 27th) and a weekend fall inside November's close
    assert benign["month_end_days"] == ["2026-11-02", "2026-11-25", "2026-11-30", "2026-12-01"]


def test_helpdesk_admins_have_a_busy_day_of_four_to_nine_users_now_and_then() -> None:
    sim = Simulation(GenerateOptions(users=80, days=1))
    first = date(2026, 1, 5)
    days = [first + timedelta(days=k) for k in range(300)]
    working = [d for d in days if is_working_day(d, "na")]
    for k, day in enumerate(working):
        helpdesk_events(Day(sim.world, day, np.random.default_rng(k)))
    busy = sim.world.benign["helpdesk_busy_days"]
    share = len(busy) / (len(working) * len(sim.world.tenant.helpdesk))
    assert 0.04 < share < 0.12  # HELPDESK_BUSY_DAY = 8%
    assert all(4 <= b["cases"] <= 9 for b in busy)


@pytest.mark.slow
def test_trips_fly_no_faster_than_an_airliner_and_nobody_is_online_in_the_air(
    generate: Generate,
) -> None:
    folder = generate(**WORLD)
    frame = _located(folder)
    flights = [t for t in _truth(folder)["world"]["trips"] if t["flies"]]
    assert len(flights) >= 5
    for trip in flights:
        for leave, land in (("depart", "arrive"), ("return_depart", "return_arrive")):
            hours = datetime.fromisoformat(trip[land]) - datetime.fromisoformat(trip[leave])
            assert trip["distance_km"] / (hours.total_seconds() / 3600) < 900, trip
            during = frame.filter(
                (pl.col("user-id") == trip["user_id"])
                & pl.col("ts").is_between(
                    datetime.fromisoformat(trip[leave]),
                    datetime.fromisoformat(trip[land]),
                    closed="left",
                )
            )
            incident = _incident_rows(folder)
            assert during.filter(~pl.col("row-id").is_in(list(incident))).is_empty(), trip
        there = frame.filter(
            (pl.col("user-id") == trip["user_id"])
            & pl.col("ts").is_between(
                datetime.fromisoformat(trip["arrive"]),
                datetime.fromisoformat(trip["return_depart"]),
            )
            & ~pl.col("row-id").is_in(list(_incident_rows(folder)))
        )
        assert set(there["city"].to_list()) <= {trip["to"], *_vpn_cities(folder)}, trip


@pytest.mark.slow
def test_travellers_keep_the_destinations_local_hours(generate: Generate) -> None:
    folder = generate(**WORLD)  # New York: abroad is 5-14 hours ahead
    frame = _frame(folder).filter(pl.col("request-type").is_in(OPENS))
    far = [t for t in _truth(folder)["world"]["trips"] if t["kind"] == "business" and t["abroad"]]
    hours = []
    for trip in far:
        there = frame.filter(
            (pl.col("user-id") == trip["user_id"])
            & pl.col("ts").is_between(
                datetime.fromisoformat(trip["arrive"]),
                datetime.fromisoformat(trip["return_depart"]),
            )
        )
        local = there["ts"].dt.replace_time_zone("UTC").dt.convert_time_zone(trip["to_timezone"])
        hours += local.dt.hour().to_list()
    assert len(hours) > 20
    assert sum(8 <= h < 18 for h in hours) > 0.7 * len(hours)  # their day, not New York's


def _vpn_cities(folder: Path) -> set[str]:
    return {n["city"] for n in _truth(folder)["world"]["networks"] if n["kind"] == "vpn-exit"}


@pytest.mark.slow
def test_vpn_users_show_exits_in_other_cities_and_nobody_else_does(generate: Generate) -> None:
    folder = generate(**WORLD)
    vpn = {p["user_id"] for p in _truth(folder)["world"]["people"] if p["vpn"]}
    via = set(_located(folder).filter(pl.col("kind") == "vpn-exit")["user-id"].to_list())
    assert via and via <= vpn and len(via) >= 0.7 * len(vpn)


@pytest.mark.slow
def test_the_stolen_session_comes_from_a_distant_country_minutes_after_the_owner(
    generate: Generate,
) -> None:
    folder = generate(**WORLD)
    frame = _located(folder)
    thefts = [i for i in _truth(folder)["incidents"] if i["scenario"] == "impossible-travel"]
    assert len(thefts) >= 4
    for inc in thefts:
        rows = frame.filter(pl.col("row-id").is_in(inc["row_ids"])).sort("ts")
        stolen = rows.filter(pl.col("kind") == "attacker")
        own = rows.filter(pl.col("kind") != "attacker")
        assert stolen.height >= 3 and own.height >= 2
        a, b = own.row(0, named=True), stolen.row(0, named=True)
        km = _km(a["lat"], a["lon"], b["lat"], b["lon"]) - a["radius"] - b["radius"]
        minutes = (b["ts"] - own.filter(pl.col("ts") <= b["ts"])["ts"].max()).total_seconds() / 60
        assert km > 3000 and minutes < 10
        assert km / (minutes / 60) > 10 * 900


def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371 * math.asin(math.sqrt(h))


# --- options and CLI --------------------------------------------------------


def test_scenario_lists_accept_all_none_and_names() -> None:
    assert parse_scenarios("all") == SCENARIOS
    assert parse_scenarios("none") == ()
    assert parse_scenarios("denied-burst, orphan-key-calls") == ("denied-burst", "orphan-key-calls")
    with pytest.raises(UsageError, match="unknown value 'nope'"):
        parse_scenarios("denied-burst,nope")


def test_unknown_scenario_is_a_usage_error(cli: Any, tmp_path: Path) -> None:
    result = cli("generate", tmp_path, "--scenarios", "denied-burst,bogus")
    assert result.exit_code == ExitCode.USAGE
    assert "--scenarios: unknown value 'bogus'" in result.stderr


def test_byok_from_on_a_microsoft_managed_tenant_is_a_usage_error(cli: Any, tmp_path: Path) -> None:
    result = cli(
        "generate", tmp_path, "--topology", "microsoft-managed", "--byok-from", "2026-11-05"
    )
    assert result.exit_code == ExitCode.USAGE
    assert "--byok-from needs a BYOK --topology" in result.stderr


def test_follow_cannot_write_daily_files(cli: Any, tmp_path: Path) -> None:
    result = cli("generate", tmp_path, "--follow", "--layout", "daily")
    assert result.exit_code == ExitCode.USAGE
    assert "--follow writes numbered blobs" in result.stderr


def test_generate_reports_what_it_wrote_on_stderr(cli: Any, tmp_path: Path) -> None:
    result = cli("generate", tmp_path, "--days", "2", "--users", "10", "--scenarios", "all")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "in 2 files under" in result.stderr and "ground-truth.json" in result.stderr


# --- near real time ---------------------------------------------------------


def test_follow_continues_the_same_blobs_a_batch_run_writes(tmp_path: Path) -> None:
    options = GenerateOptions(**(SMALL | {"days": 2, "layout": "blobs"}), scenarios=SCENARIOS)
    batch_run = generate_logs(tmp_path / "batch", options)
    stop = threading.Event()
    threading.Thread(
        target=_stop_after, args=(tmp_path / "live", len(batch_run.files) + 24, stop)
    ).start()
    result = follow_logs(tmp_path / "live", options, speed=1e6, stop=stop)
    batch, live = _bytes(tmp_path / "batch"), _bytes(tmp_path / "live")
    # 48 hourly blobs (the connector polls every 15 minutes, so no hour is empty), maybe
    # a last blob of late arrivals in the batch run; the live run goes on instead.
    hourly = [f"{i:09d}.log" for i in range(1, 49)]
    assert all(batch[n] == live[n] for n in hourly)
    assert batch["geoip.mmdb"] == live["geoip.mmdb"]  # the same networks, written up front
    assert _truth(tmp_path / "live")["world"]["person_days"] >= 2 * SMALL["users"]
    assert len(live) > len(batch) > len(hourly) and result.stopped and result.records > 0
    history = _truth(tmp_path / "batch")["incidents"]
    assert history and all(i in _truth(tmp_path / "live")["incidents"] for i in history)
    assert not [p for p in (tmp_path / "live").iterdir() if p.name.startswith(".")]


def _stop_after(folder: Path, blobs: int, stop: threading.Event) -> None:
    """Set `stop` once `folder` holds `blobs` blobs (or after a minute)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(folder.glob("*.log"))) < blobs:
        time.sleep(0.02)
    stop.set()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
@pytest.mark.slow
def test_follow_writes_blobs_until_signalled_then_exits_cleanly(tmp_path: Path, sig: int) -> None:
    out = tmp_path / "feed"
    cmd = [sys.executable, "-m", "pipeline", "generate", str(out), "--days", "1"]
    cmd += ["--users", "8", "--follow", "--speed", "20000", "--scenarios", "all"]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(out.glob("*.log"))) < 30:
        time.sleep(0.1)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert "follow stopped at simulated" in stderr and "blobs under" in stderr
    names = sorted(p.name for p in out.glob("*.log"))
    assert len(names) >= 30 and names == [f"{i:09d}.log" for i in range(1, len(names) + 1)]
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no half-written blob
    read_folder(out)  # every blob parses whole
    assert read_truth(out / "ground-truth.json")["options"]["follow"] is True


# --- the committed sample ---------------------------------------------------


def test_committed_sample_logs_equal_a_fresh_make_sample_logs(cli: Any, tmp_path: Path) -> None:
    makefile = (ROOT / "Makefile").read_text()
    line = next(x for x in makefile.splitlines() if "rmslog generate sample-logs" in x)
    args = shlex.split(line.split("rmslog generate sample-logs", 1)[1])
    result = cli("generate", tmp_path, *args)
    assert result.exit_code == 0, result.output
    committed = ROOT / "sample-logs"
    assert _bytes(tmp_path) == _bytes(committed), "run `make sample-logs` and commit the result"
    size = sum(len(b) for b in _bytes(committed).values())
    assert 1_000_000 < size < 8_000_000  # a few MB
    kinds = {i["scenario"] for i in read_truth(committed / "ground-truth.json")["incidents"]}
    assert kinds == set(SCENARIOS)
