"""Locations in the report: city and country beside each IP where a location database is set.

The oracle is the generated tenant's own `geoip.mmdb`, read here with `maxminddb` directly
(not through `pipeline.geo`), and the built-in service label "Microsoft".
"""

from __future__ import annotations

import html
import shutil
from pathlib import Path
from typing import Any

import maxminddb
import polars as pl
import pytest

from pipeline.errors import ExitCode
from pipeline.report import ReportOptions, build_report, collect_report_data
from pipeline.settings import Settings
from pipeline.warehouse import open_warehouse

SERVICE_IP = "40.107.22.248"  # Exchange Online (a built-in Microsoft range) in the small tenant


@pytest.fixture(scope="module")
def located_db(small_logs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small generated tenant, ingested, with one hand-made finding whose evidence is
    the busiest address's first request and one request of a Microsoft service address."""
    from pipeline.ingest import ingest_paths

    db = tmp_path_factory.mktemp("located") / "audit.duckdb"
    with open_warehouse(db) as con:
        ingest_paths(con, [small_logs])
        busiest = con.sql(
            "SELECT c_ip FROM requests WHERE c_ip NOT LIKE '40.%' "
            "GROUP BY c_ip ORDER BY count(*) DESC, c_ip LIMIT 1"
        ).fetchall()[0][0]
        ids = [
            con.execute("SELECT min(row_id) FROM requests WHERE c_ip = $ip", {"ip": ip}).fetchall()[
                0
            ][0]
            for ip in (busiest, SERVICE_IP)
        ]
        assert None not in ids, "the small tenant no longer holds the addresses this test uses"
        con.execute(
            "INSERT INTO findings BY NAME SELECT 'f-located' AS finding_id, 'handmade' AS rule, "
            "'low' AS severity, (SELECT min(ts) FROM requests) AS first_ts, "
            "(SELECT max(ts) FROM requests) AS last_ts, 'someone' AS entity, "
            "'two addresses' AS summary, $ids AS evidence_row_ids",
            {"ids": ids},
        )
    return db


def _mmdb(small_logs: Path) -> Path:
    return small_logs / "geoip.mmdb"


def _expected(small_logs: Path, ip: str) -> str:
    """ "City, CC" for `ip` as the database itself says."""
    with maxminddb.open_database(str(_mmdb(small_logs))) as reader:
        record: Any = reader.get(ip)
    assert isinstance(record, dict), f"{ip} is not in the generated geoip.mmdb"
    return f"{record['city']['names']['en']}, {record['country']['iso_code']}"


def _build(db: Path, out: Path, settings: Settings, **kw: Any) -> Path:
    options = ReportOptions(settings=settings, formats=("csv",), **kw)
    with open_warehouse(db, read_only=True) as con:
        return build_report(con, out, options).html


def test_top_ips_carry_the_city_and_country_the_database_gives(
    located_db: Path, small_logs: Path
) -> None:
    settings = Settings(geoip=str(_mmdb(small_logs)))
    with open_warehouse(located_db, read_only=True) as con:
        top = collect_report_data(con, ReportOptions(settings=settings))["top-ips"]
    assert top.columns[:2] == ["c_ip", "location"]
    public = top.filter(
        ~pl.col("c_ip").str.starts_with("40.") & ~pl.col("c_ip").str.starts_with("104.")
    )
    assert public.height >= 5
    for ip, location in public.select("c_ip", "location").rows():
        assert location == _expected(small_logs, ip), ip
    service = top.filter(pl.col("c_ip") == SERVICE_IP)
    assert service.get_column("location").to_list() == ["Microsoft"]


def test_the_html_shows_locations_beside_ips_in_top_ips_and_evidence(
    located_db: Path, small_logs: Path, tmp_path: Path
) -> None:
    page = _build(located_db, tmp_path, Settings(geoip=str(_mmdb(small_logs)))).read_text(
        encoding="utf-8"
    )
    evidence = pl.read_csv(tmp_path / "report-all-finding-evidence.csv")
    rows = evidence.filter(pl.col("finding_id") == "f-located").select("c_ip", "location").rows()
    busiest = rows[0][0]
    assert rows == [(busiest, _expected(small_logs, busiest)), (SERVICE_IP, "Microsoft")]
    top_ips = page[page.index("<h3>IP addresses</h3>") : page.index("<h3>Documents</h3>")]
    assert "<th>IP</th><th>Location</th>" in top_ips
    cell = f'<td class="code">{busiest}</td><td>{html.escape(_expected(small_logs, busiest))}</td>'
    assert cell in top_ips
    finding = page[page.index('id="finding-f-located"') :]
    assert (
        f'<td class="code">{busiest}</td><td>{html.escape(_expected(small_logs, busiest))}</td>'
        in finding
    )
    assert f'<td class="code">{SERVICE_IP}</td><td>Microsoft</td>' in finding
    top_csv = pl.read_csv(tmp_path / "report-all-top-ips.csv")
    assert top_csv.columns[:2] == ["c_ip", "location"]


def test_without_a_location_database_there_is_no_location_column(
    located_db: Path, tmp_path: Path
) -> None:
    page = _build(located_db, tmp_path, Settings()).read_text(encoding="utf-8")
    assert "Location</th>" not in page
    for table in ("top-ips", "finding-evidence"):
        header = (tmp_path / f"report-all-{table}.csv").read_text(encoding="utf-8").splitlines()[0]
        assert "location" not in header.split(","), table


def test_pseudonymised_ips_keep_their_location(located_db: Path, small_logs: Path) -> None:
    settings = Settings(geoip=str(_mmdb(small_logs)))
    options = ReportOptions(settings=settings, pseudonym_key=b"k" * 32)
    with open_warehouse(located_db, read_only=True) as con:
        top = collect_report_data(con, options)["top-ips"]
    assert top.get_column("c_ip").str.starts_with("anon-").all()
    assert top.get_column("location").null_count() == 0
    assert "Microsoft" in top.get_column("location").to_list()


@pytest.mark.slow
def test_report_geoip_option_locates_for_that_run_only(
    located_db: Path, small_logs: Path, tmp_path: Path, cli: Any
) -> None:
    db = tmp_path / "copy.duckdb"
    shutil.copy(located_db, db)
    result = cli(
        "report",
        "--db",
        db,
        "--out",
        tmp_path / "r",
        "--geoip",
        _mmdb(small_logs),
        "--no-detect",
        "--format",
        "csv",
    )
    assert result.exit_code == 0, result.stderr
    assert "<th>Location</th>" in (tmp_path / "r" / "report-all.html").read_text(encoding="utf-8")
    shown = cli("settings", "show", "--db", db, "--json")
    assert shown.exit_code == 0 and str(_mmdb(small_logs)) not in shown.stdout
    result = cli("report", "--db", db, "--out", tmp_path / "plain", "--no-detect")
    assert result.exit_code == 0, result.stderr
    assert "Location</th>" not in (tmp_path / "plain" / "report-all.html").read_text(
        encoding="utf-8"
    )


def test_report_geoip_option_naming_a_missing_file_is_a_usage_error(
    located_db: Path, tmp_path: Path, cli: Any
) -> None:
    db = tmp_path / "copy.duckdb"
    shutil.copy(located_db, db)
    missing = tmp_path / "nowhere.mmdb"
    result = cli("report", "--db", db, "--out", tmp_path / "r", "--geoip", missing, "--no-detect")
    assert result.exit_code == int(ExitCode.USAGE)
    assert f"location database {missing} does not exist" in result.stderr


HOSTILE_CITY = "=1+1<img src=x onerror=alert(1)>"


def test_a_hostile_place_name_is_escaped_in_html_and_neutralised_in_csv(
    located_db: Path, tmp_path: Path
) -> None:
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    with open_warehouse(located_db, read_only=True) as con:
        top = collect_report_data(con, ReportOptions())["top-ips"]
    busiest = top.get_column("c_ip")[0]
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-City")
    writer.insert_network(
        IPSet([f"{busiest}/32"]),
        {"country": {"iso_code": "XX"}, "city": {"names": {"en": HOSTILE_CITY}}},
    )
    mmdb = tmp_path / "hostile.mmdb"
    writer.to_db_file(str(mmdb))
    page = _build(located_db, tmp_path, Settings(geoip=str(mmdb))).read_text(encoding="utf-8")
    assert "<img src=x" not in page
    assert f"<td>{html.escape(HOSTILE_CITY)}, XX</td>" in page
    csv = (tmp_path / "report-all-top-ips.csv").read_text(encoding="utf-8")
    assert f'{busiest},"\'{HOSTILE_CITY}, XX",' in csv


def test_the_per_country_table_adds_up_to_every_key_call_and_names_the_databases_country(
    located_db: Path, small_logs: Path, tmp_path: Path
) -> None:
    settings = Settings(geoip=str(_mmdb(small_logs)))
    with open_warehouse(located_db, read_only=True) as con:
        data = collect_report_data(con, ReportOptions(settings=settings))
    countries = data["key-calls-by-country"]
    assert countries.columns == ["country_code", "country", "key_calls", "share", "ips", "users"]
    assert countries.get_column("key_calls").sum() == data["summary"]["key_calls"][0]
    busiest = data["top-ips"].filter(~pl.col("c_ip").str.starts_with("40."))["c_ip"][0]
    with maxminddb.open_database(str(_mmdb(small_logs))) as reader:
        record: Any = reader.get(busiest)
    code = record["country"]["iso_code"]
    row = countries.filter(pl.col("country_code") == code)
    assert row.height == 1 and row["country"][0] == record["country"]["names"]["en"]
    page = _build(located_db, tmp_path, settings).read_text(encoding="utf-8")
    table = page[page.index('id="key-calls-by-country"') :]
    assert f"({code})</td>" in table[: table.index("</table>")]


def test_without_a_location_database_the_per_country_table_is_empty_and_not_shown(
    located_db: Path, tmp_path: Path
) -> None:
    with open_warehouse(located_db, read_only=True) as con:
        data = collect_report_data(con, ReportOptions())
    assert data["key-calls-by-country"].height == 0
    page = _build(located_db, tmp_path, Settings()).read_text(encoding="utf-8")
    assert 'id="key-calls-by-country"' not in page
