"""Locations: a hand-built MaxMind City database, `ip_locations`, and impossible-travel's
geography (within-city hops, plausible flights, VPN exits, impossible journeys)."""

from __future__ import annotations

import ipaddress
import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet
from w3c_builder import Rec, write_log

from pipeline.detect import run_detections
from pipeline.errors import ExitCode, UsageError
from pipeline.geo import _SPECIAL, MICROSOFT_NETWORKS, open_locator, register_ip_locations
from pipeline.ingest import ingest_paths
from pipeline.settings import Settings, load_settings

KIM, ANA = "kim@contoso.example", "ana@contoso.example"
COLLEAGUES = [f"c{i}@contoso.example" for i in range(4)]

#: network -> (ISO code, country, city, latitude, longitude, accuracy radius km)
PLACES = {
    "198.51.100.0/24": ("DE", "Germany", "Berlin", 52.52, 13.40, 10),  # the office
    "172.56.0.0/16": ("DE", "Germany", "Berlin", 52.50, 13.45, 50),  # carrier pool
    "172.58.0.0/16": ("DE", "Germany", "Potsdam", 52.39, 13.06, 20),  # carrier pool
    "203.0.113.0/24": ("NL", "Netherlands", "Amsterdam", 52.37, 4.90, 5),  # VPN exit
    "192.0.2.0/24": ("US", "United States", "New York", 40.71, -74.01, 10),  # hotel
    "45.141.0.0/16": ("AU", "Australia", "Sydney", -33.87, 151.21, 20),
    "185.220.0.0/16": ("BR", "Brazil", "São Paulo", -23.55, -46.63, 20),
}
OFFICE, POOL, POTSDAM, VPN = "198.51.100.7", "172.56.3.4", "172.58.9.1", "203.0.113.5"
NEW_YORK, SYDNEY, SAO_PAULO = "192.0.2.44", "45.141.7.9", "185.220.101.4"


@pytest.fixture(scope="module")
def mmdb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A GeoLite2-City-shaped database of the places above (IPv6 tree, IPv4 mapped)."""
    writer = MMDBWriter(
        ip_version=6,
        ipv4_compatible=True,
        database_type="GeoLite2-City",
        languages=["en"],
        description="rmslog test places",
    )
    for network, (iso, country, city, lat, lon, radius) in PLACES.items():
        writer.insert_network(
            IPSet([network]),
            {
                "country": {"iso_code": iso, "names": {"en": country}},
                "city": {"names": {"en": city}},
                "location": {"latitude": lat, "longitude": lon, "accuracy_radius": radius},
            },
        )
    path = tmp_path_factory.mktemp("geo") / "geoip.mmdb"
    writer.to_db_file(str(path))
    return path


def _at(start: str, minutes: float) -> str:
    t = datetime.fromisoformat(start) + timedelta(minutes=minutes)
    return t.strftime("%Y-%m-%d %H:%M:%S")


def _known(*users: str) -> list[Rec]:
    """Three days at the Berlin office before 2026-11-02: history, so nobody is learning."""
    return [
        Rec(f"2026-10-{d} {h:02d}:00:00", "Certify", user=u, ip=OFFICE)
        for u in users
        for d in (28, 29, 30)
        for h in (9, 15)
    ]


def _travel(
    con: duckdb.DuckDBPyConnection,
    tmp_path: Path,
    records: list[Rec],
    settings: Settings,
    rule: str = "impossible-travel",
) -> list[tuple[Any, ...]]:
    ingest_paths(con, [write_log(tmp_path / f"f{len(list(tmp_path.iterdir()))}.log", records)])
    run_detections(con, [rule], settings=settings)
    return con.sql(
        "SELECT entity, first_ts, last_ts, summary, evidence_row_ids FROM findings "
        "WHERE rule = $r ORDER BY first_ts",
        params={"r": rule},
    ).fetchall()


# --------------------------------------------------------------------------- ip_locations


def test_addresses_get_places_from_the_database_and_special_ranges_a_label(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path, mmdb: Path
) -> None:
    ips = [OFFICE, SYDNEY, "10.1.2.3", "100.64.1.2", "52.96.10.1", "127.0.0.1", "169.254.1.1"]
    ips += ["fd00::1", "8.8.8.8", "2001:db8::1", "not-an-ip", VPN]
    records = [
        Rec(_at("2026-11-02 09:00:00", i), "Certify", user=KIM, ip=ip) for i, ip in enumerate(ips)
    ]
    ingest_paths(warehouse, [write_log(tmp_path / "a.log", records)])
    assert register_ip_locations(warehouse, mmdb, corporate_networks=["203.0.113.0/24"]) == 12
    rows = {
        r[0]: r[1:]
        for r in warehouse.sql(
            "SELECT c_ip, network, label, country_code, city, accuracy_radius FROM ip_locations"
        ).fetchall()
    }
    assert rows[OFFICE] == ("198.51.0.0/16", None, "DE", "Berlin", 10.0)
    assert rows[SYDNEY] == ("45.141.0.0/16", None, "AU", "Sydney", 20.0)
    assert rows["8.8.8.8"] == ("8.8.0.0/16", None, None, None, None)  # public, not in the db
    assert rows["2001:db8::1"] == ("2001:db8::/48", None, None, None, None)
    labels = {ip: rows[ip][1] for ip in rows if rows[ip][1]}
    assert labels == {
        "10.1.2.3": "private",
        "fd00::1": "private",
        "100.64.1.2": "carrier-grade-nat",
        "52.96.10.1": "microsoft",
        "127.0.0.1": "loopback",
        "169.254.1.1": "link-local",
        "not-an-ip": "invalid",
        VPN: "corporate",
    }
    # Labelled addresses have no network and no place, even where the database knows one.
    assert rows[VPN][0] is None and rows[VPN][2] is None


def test_without_a_database_addresses_keep_networks_and_labels_but_no_place(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    records = [
        Rec("2026-11-02 09:00:00", "Certify", user=KIM, ip=ip) for ip in (OFFICE, "10.0.0.1")
    ]
    ingest_paths(warehouse, [write_log(tmp_path / "a.log", records)])
    register_ip_locations(warehouse, None)
    assert warehouse.sql(
        "SELECT c_ip, network, label, latitude FROM ip_locations ORDER BY c_ip"
    ).fetchall() == [("10.0.0.1", None, "private", None), (OFFICE, "198.51.0.0/16", None, None)]


def test_networks_blocks_and_labels_are_those_the_ipaddress_library_gives() -> None:
    # The locator masks integers instead of building networks per address; the answers
    # must be the library's, for both IP versions, edges of ranges and odd spellings.
    rng = random.Random(7)
    addresses = [str(ipaddress.IPv4Address(rng.getrandbits(32))) for _ in range(3000)]
    addresses += [str(ipaddress.IPv6Address(rng.getrandbits(128))) for _ in range(1000)]
    addresses += [
        "10.1.2.3", "172.31.255.255", "172.32.0.0", "100.64.0.0", "100.127.255.255",
        "127.0.0.1", "::1", "fe80::1", "fe80::1%eth0", "::ffff:10.0.0.1", "::ffff:8.8.8.8",
        "40.96.0.0", "40.103.255.255", "40.104.0.0", "2603:1006::1", "2a01:111:f400::5",
        " 8.8.8.8 ", "8.8.255.255", "2001:db8:ffff::1", "9.9.9.255", "not-an-ip",
    ]  # fmt: skip
    corporate, service = ("8.8.0.0/16", "2001:db8::/32"), ("9.9.9.0/24",)
    networks = [
        (label, [ipaddress.ip_network(n) for n in nets])
        for label, nets in (
            *_SPECIAL,
            ("microsoft", (*MICROSOFT_NETWORKS, *service)),
            ("corporate", corporate),
        )
    ]

    def expected(c_ip: str) -> tuple[str | None, str | None, str | None]:
        try:
            ip = ipaddress.ip_address(c_ip.strip())
        except ValueError:
            return None, None, "invalid"
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        for label, nets in networks:
            if any(ip.version == n.version and ip in n for n in nets):
                return None, None, label
        wide, narrow = (16, 12) if ip.version == 4 else (48, 32)
        return (
            str(ipaddress.ip_network(f"{ip}/{wide}", strict=False)),
            str(ipaddress.ip_network(f"{ip}/{narrow}", strict=False)),
            None,
        )

    with open_locator(None, corporate, service) as locator:
        got = {a: locator.row(a)[1:4] for a in addresses}
    assert got == {a: expected(a) for a in addresses}
    assert got["172.32.0.0"] == ("172.32.0.0/16", "172.32.0.0/12", None)
    assert got["fe80::1%eth0"][2] == "link-local"


def test_a_missing_or_malformed_database_or_network_is_refused_naming_it(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    with pytest.raises(UsageError, match=r"location database .*nope\.mmdb does not exist"):
        register_ip_locations(warehouse, tmp_path / "nope.mmdb")
    junk = tmp_path / "junk.mmdb"
    junk.write_bytes(b"not a database")
    with pytest.raises(UsageError, match="not a MaxMind-format database"):
        register_ip_locations(warehouse, junk)
    with pytest.raises(UsageError, match=r"corporate_networks.*'10\.0\.0\.0/33'"):
        Settings(corporate_networks=("10.0.0.0/33",))


def test_the_settings_file_names_the_database_relative_to_itself(tmp_path: Path) -> None:
    config = tmp_path / "conf" / "rmslog.toml"
    config.parent.mkdir()
    config.write_text(
        '[tenant]\ngeoip = "geo/City.mmdb"\ncorporate_networks = ["203.0.113.0/24"]\n',
        encoding="utf-8",
    )
    settings = load_settings(config)
    assert settings.geoip_path() == tmp_path / "conf" / "geo" / "City.mmdb"
    assert settings.corporate_networks == ("203.0.113.0/24",)


# --------------------------------------------------------------------------- impossible-travel


def test_hopping_between_networks_within_one_city_is_never_travel(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path, mmdb: Path
) -> None:
    # Laptop at the office, phone on a carrier whose pools sit in Berlin and in Potsdam
    # (27 km away, inside the accuracy radius of neither but far below any travel).
    day = [
        Rec(
            _at("2026-11-02 08:00:00", 3 * i),
            "Certify",
            user=KIM,
            ip=(OFFICE, POOL, POTSDAM)[i % 3],
        )
        for i in range(60)
    ]
    assert _travel(warehouse, tmp_path, _known(KIM) + day, Settings(geoip=str(mmdb))) == []


def test_a_plausible_flight_is_not_a_finding_nor_is_the_phone_roaming_home_after_it(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path, mmdb: Path
) -> None:
    # Berlin 07:00 UTC, New York 17:00 UTC: 6,400 km in ten hours, 640 km/h.
    trip = [
        Rec("2026-11-02 07:00:00", "Certify", user=KIM, ip=OFFICE),
        Rec("2026-11-02 17:00:00", "Certify", user=KIM, ip=NEW_YORK),
    ]
    # In New York the hotel network and the phone (still on its Berlin carrier) alternate.
    trip += [
        Rec(_at("2026-11-02 17:05:00", 5 * i), "Certify", user=KIM, ip=(POOL, NEW_YORK)[i % 2])
        for i in range(12)
    ]
    assert _travel(warehouse, tmp_path, _known(KIM) + trip, Settings(geoip=str(mmdb))) == []


def test_a_corporate_vpn_exit_in_another_city_is_not_travel_when_declared_or_learned(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path, mmdb: Path
) -> None:
    # Kim's laptop leaves through the Amsterdam VPN exit, the phone stays in Berlin.
    hops = [
        Rec(_at("2026-11-03 09:00:00", 4 * i), "Certify", user=KIM, ip=(OFFICE, VPN)[i % 2])
        for i in range(10)
    ]
    records = _known(KIM) + hops
    declared = Settings(geoip=str(mmdb), corporate_networks=("203.0.113.0/24",))
    assert _travel(warehouse, tmp_path, records, declared) == []
    # Undeclared, one person alone in Amsterdam minutes after Berlin is impossible ...
    alone = _travel(warehouse, tmp_path, [], Settings(geoip=str(mmdb)))
    assert [f[0] for f in alone] == [KIM]
    assert "Berlin, DE" in alone[0][3] and "Amsterdam, NL" in alone[0][3]
    # ... but an exit that colleagues use too is the tenant's, familiar to everyone.
    colleagues = [
        Rec(_at("2026-11-03 08:00:00", i), "Certify", user=c, ip=VPN)
        for i, c in enumerate(COLLEAGUES)
    ]
    assert _travel(warehouse, tmp_path, colleagues, Settings(geoip=str(mmdb))) == []


def test_impossible_journeys_are_one_finding_a_day_naming_both_places(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path, mmdb: Path
) -> None:
    records = [
        *_known(KIM, ANA),
        Rec("2026-11-03 10:00:00", "Certify", user=KIM, ip=OFFICE, row="b1"),
        Rec("2026-11-03 10:15:00", "AcquireLicense", user=KIM, ip=SYDNEY, row="s1"),
        Rec("2026-11-03 10:16:00", "AcquireLicense", user=KIM, ip=SYDNEY, row="s2"),
        Rec("2026-11-03 11:00:00", "Certify", user=KIM, ip=OFFICE, row="b2"),
        Rec("2026-11-03 11:10:00", "AcquireLicense", user=KIM, ip=SAO_PAULO, row="p1"),
        # Ana: the same city all day, then São Paulo at once (the same second).
        Rec("2026-11-04 09:00:00", "Certify", user=ANA, ip=POOL, row="a1"),
        Rec("2026-11-04 09:00:00", "Certify", user=ANA, ip=SAO_PAULO, row="a2"),
    ]
    found = _travel(warehouse, tmp_path, records, Settings(geoip=str(mmdb)))
    assert [(f[0], f[1], f[2], f[4]) for f in found] == [
        (
            KIM,
            datetime(2026, 11, 3, 10),
            datetime(2026, 11, 3, 11, 10),
            ["b1", "s1", "s2", "b2", "p1"],
        ),
        (ANA, datetime(2026, 11, 4, 9), datetime(2026, 11, 4, 9), ["a1", "a2"]),
    ]
    kim, ana = found[0][3], found[1][3]
    assert kim.startswith("2 windows on 2026-11-03: ")
    berlin = "in Berlin, DE (198.51.100.7) at 2026-11-03 10:00 UTC"
    assert f"{berlin} and in Sydney, AU (45.141.7.9) 15 minutes later" in kim
    assert "km/h" in kim and "São Paulo, BR" in kim
    assert "in São Paulo, BR (185.220.101.4) 0 minutes later" in ana and "at once" in ana


def test_without_a_database_travel_cannot_fire_and_new_network_stands_in(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    records = [
        *_known(KIM),
        Rec("2026-11-03 10:00:00", "Certify", user=KIM, ip=OFFICE),
        Rec("2026-11-03 10:15:00", "AcquireLicense", user=KIM, ip=SYDNEY),
    ]
    assert _travel(warehouse, tmp_path, records, Settings()) == []
    found = _travel(warehouse, tmp_path, [], Settings(), rule="new-network")
    assert [(f[0], f[1]) for f in found] == [(KIM, datetime(2026, 11, 3, 10))]


def test_detect_takes_the_database_on_the_command_line_and_says_which_it_used(
    cli: Any, tmp_path: Path, mmdb: Path
) -> None:
    records = [
        *_known(KIM),
        Rec("2026-11-03 10:00:00", "Certify", user=KIM, ip=OFFICE),
        Rec("2026-11-03 10:15:00", "AcquireLicense", user=KIM, ip=SYDNEY),
    ]
    db = tmp_path / "w.duckdb"
    assert cli("ingest", write_log(tmp_path / "a.log", records), "--db", db).exit_code == 0
    result = cli("detect", "--db", db, "--rule", "impossible-travel", "--geoip", mmdb)
    assert result.exit_code == 0
    assert "impossible-travel: 1 finding(s)" in result.stderr
    assert f"database {mmdb}" in result.stderr
    missing = cli("detect", "--db", db, "--geoip", tmp_path / "none.mmdb")
    assert missing.exit_code == ExitCode.USAGE
    assert "none.mmdb does not exist" in missing.stderr
