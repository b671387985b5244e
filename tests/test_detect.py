"""Detection rules: a hand-built positive and negative case each, and stable findings."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from w3c_builder import Rec, licence, write_log

from pipeline.detect import list_rules, rules, run_detections
from pipeline.errors import QueryError, UsageError
from pipeline.ingest import ingest_paths
from pipeline.settings import Settings
from pipeline.sqlfiles import read_sql_file

KIM, ANA, LEE = "kim@contoso.example", "ana@contoso.example", "lee@contoso.example"
ADMIN = "root.admin@contoso.example"
TARGETS = [KIM, ANA, LEE, "mia@contoso.example", "raj@contoso.example", "ivo@contoso.example"]
DOC = "{7a1e4c2b-3f5d-4b6a-9c8e-1d0f2e3a4b5c}"
BERLIN = Settings(timezone="Europe/Berlin")
CONTRACT_RULES = {
    "off-hours-reading",
    "impossible-travel",
    "denied-burst",
    "orphan-key-calls",
    "admin-browsing",
    "revoked-document-opened",
    "key-volume-spike",
    "source-changed",  # not a scenario: it judges the evidence (integrity_events)
}


def _at(start: str, minutes: float) -> str:
    t = datetime.fromisoformat(start) + timedelta(minutes=minutes)
    return t.strftime("%Y-%m-%d %H:%M:%S")


_FILES = iter(range(1_000_000))


def _detect(
    con: duckdb.DuckDBPyConnection,
    tmp_path: Path,
    records: list[Rec],
    rule: str,
    settings: Settings | None = None,
    **params: object,
) -> list[tuple[object, ...]]:
    """Ingest `records` as a new file, run one rule, return (entity, first, last, evidence)."""
    ingest_paths(con, [write_log(tmp_path / f"f{next(_FILES)}.log", records)])
    run_detections(con, [rule], {f"{rule}.{k}": str(v) for k, v in params.items()}, settings)
    return con.sql(
        "SELECT entity, first_ts, last_ts, evidence_row_ids FROM findings "
        "WHERE rule = $r ORDER BY first_ts",
        params={"r": rule},
    ).fetchall()


def _known(*users: str) -> list[Rec]:
    """Three ordinary working days (Wed-Fri before 2026-11-02) for each user: enough history
    (`min_history_days` 3) for rules to judge them on their past instead of learning."""
    return [
        Rec(f"2026-10-{d} 12:00:00", "Certify", user=u, ip="198.51.100.7")
        for u in users
        for d in (28, 29, 30)
    ]


def _reads(user: str, start: str, n: int, every: float = 3, **kw: object) -> list[Rec]:
    return [
        Rec(_at(start, i * every), "AcquireLicense", user=user, content=f"{{d-{i}}}", **kw)  # type: ignore[arg-type]
        for i in range(n)
    ]


# --------------------------------------------------------------------------- catalogue


def test_the_rules_are_the_generators_scenarios_each_with_a_complete_header() -> None:
    rules = list_rules()
    # new-network has no scenario of its own: it is scored against impossible-travel's.
    assert {r.id for r in rules} == CONTRACT_RULES | {"new-network"}
    for rule in rules:
        meta = rule.file.meta
        assert {"id", "title", "severity", "description", "columns"} <= set(meta), rule.file.path
        assert meta.get("scenario", rule.id) in CONTRACT_RULES
        assert meta["severity"] in ("low", "medium", "high")
        assert rule.file.path.stem == rule.id
        assert all(p.default is not None and p.description for p in rule.params), rule.id
        names = {p.name for p in rule.params}
        for key in ("lookback_days", "lookahead_days"):
            assert meta[key].isdigit() or meta[key] in {*names, "all"}, (rule.id, key, meta[key])


# --------------------------------------------------------------------------- off-hours-reading


def test_night_reading_surge_in_the_tenants_time_zone_is_a_finding(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    # Wednesday 2026-11-04 01:00 UTC = 02:00 in Berlin.
    records = _known(KIM) + _reads(KIM, "2026-11-04 01:00:00", 24, every=2)
    found = _detect(warehouse, tmp_path, records, "off-hours-reading", BERLIN)
    assert [(f[0], f[1], len(f[3])) for f in found] == [(KIM, datetime(2026, 11, 4, 1, 0), 24)]


def test_reading_at_8_in_berlin_is_working_time_there_though_it_is_7_utc(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    records = _known(KIM) + _reads(KIM, "2026-11-04 07:00:00", 24, every=2)
    assert _detect(warehouse, tmp_path, records, "off-hours-reading", BERLIN) == []
    # The same records are off-hours for a tenant on UTC.
    assert len(_detect(warehouse, tmp_path, [], "off-hours-reading", Settings())) == 1


def test_a_user_who_habitually_reads_at_night_is_compared_with_their_own_habit(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    habit = [r for day in range(2, 6) for r in _reads(KIM, f"2026-11-0{day} 22:00:00", 8)]
    tonight = _reads(KIM, "2026-11-06 22:00:00", 14)
    assert _detect(warehouse, tmp_path, habit + tonight, "off-hours-reading", BERLIN) == []
    surge = _reads(KIM, "2026-11-07 22:00:00", 60, every=1)
    found = _detect(warehouse, tmp_path, surge, "off-hours-reading", BERLIN)
    assert [f[1] for f in found] == [datetime(2026, 11, 7, 22, 0)]


def test_one_earlier_surge_does_not_raise_the_bar_for_the_next(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    first = _reads(KIM, "2026-11-03 01:00:00", 80, every=1)
    second = _reads(KIM, "2026-11-10 01:00:00", 20)
    records = _known(KIM) + first + second
    found = _detect(warehouse, tmp_path, records, "off-hours-reading", BERLIN)
    assert [f[1].day for f in found] == [3, 10]  # type: ignore[union-attr]


def test_a_night_shift_in_the_first_days_is_judged_on_the_nights_after_not_an_empty_past(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    # The collection starts with a night worker's shift: 25 reads a night, ten nights.
    shift = [r for d in range(2, 12) for r in _reads(KIM, f"2026-11-{d:02d} 23:00:00", 25, every=4)]
    assert _detect(warehouse, tmp_path, shift, "off-hours-reading", BERLIN) == []
    # A real surge later in the shift is still a finding, against the shift's own habit.
    surge = _reads(KIM, "2026-11-12 23:00:00", 90, every=1)
    found = _detect(warehouse, tmp_path, surge, "off-hours-reading", BERLIN)
    assert [f[1] for f in found] == [datetime(2026, 11, 12, 23, 0)]


def test_night_reads_from_a_hotel_on_a_trip_are_local_hours_there_not_night(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    # Kim's own networks for three days; then a day reading from a hotel abroad at what is
    # night in Berlin, and a night of reading from home.
    hotel = _reads(KIM, "2026-11-04 01:00:00", 30, ip="38.109.7.14")
    home = _reads(KIM, "2026-11-05 01:00:00", 30)
    found = _detect(warehouse, tmp_path, _known(KIM) + hotel + home, "off-hours-reading", BERLIN)
    assert [f[1] for f in found] == [datetime(2026, 11, 5, 1, 0)]


def test_with_too_few_days_around_either_the_user_is_in_a_learning_period(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    records = _reads(KIM, "2026-11-04 01:00:00", 30)
    ingest_paths(warehouse, [write_log(tmp_path / "night.log", records)])
    summary = run_detections(warehouse, ["off-hours-reading"], settings=BERLIN)
    assert summary.findings == 0
    assert summary.learning_by_rule == {"off-hours-reading": [KIM]}


def test_service_accounts_reading_at_night_are_allow_listed(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    service = "microsoftrmsonline@0b9f7c3e.rms.na.aadrm.com"
    records = _known(service) + _reads(service, "2026-11-04 01:00:00", 30)
    assert _detect(warehouse, tmp_path, records, "off-hours-reading", BERLIN) == []
    custom = Settings(timezone="Europe/Berlin", service_accounts=("backup-%",))
    assert len(_detect(warehouse, tmp_path, [], "off-hours-reading", custom)) == 1


# --------------------------------------------------------------------------- new-network
# (geography and impossible-travel: tests/test_geo.py)


def _day_one(user: str, ip: str, day: str = "2026-11-02") -> list[Rec]:
    return [Rec(_at(f"{day} 09:00:00", 30 * i), "Certify", user=user, ip=ip) for i in range(4)]


def test_one_account_on_a_new_network_within_minutes_is_a_finding(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    home = Rec("2026-11-03 10:00:00", "AcquireLicense", user=KIM, ip="198.51.100.7", row="h1")
    away = Rec("2026-11-03 10:12:00", "AcquireLicense", user=KIM, ip="185.220.101.4", row="a1")
    away2 = Rec("2026-11-03 10:14:00", "GetSingle", user=KIM, ip="185.220.101.4", row="a2")
    records = [*_known(KIM), *_day_one(KIM, "198.51.100.7"), home, away, away2]
    found = _detect(warehouse, tmp_path, records, "new-network")
    assert found == [
        (KIM, datetime(2026, 11, 3, 10, 0), datetime(2026, 11, 3, 10, 12), ["h1", "a1"])
    ]
    summary = warehouse.sql("SELECT summary FROM findings").fetchall()[0][0]
    assert "new to this user and to the tenant: 185.208.0.0/12" in summary  # the /12 block


def test_without_history_a_network_that_never_recurs_is_new_and_a_usual_one_is_not(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    first_day = [
        Rec("2026-11-02 10:00:00", "Certify", user=KIM, ip="198.51.100.7", row="h1"),
        Rec("2026-11-02 10:05:00", "Certify", user=KIM, ip="185.220.101.4", row="a1"),
        Rec("2026-11-02 10:00:00", "Certify", user=ANA, ip="198.51.100.8"),
        Rec("2026-11-02 10:05:00", "Certify", user=ANA, ip="203.0.113.9"),
    ]
    later = [
        r
        for day in ("2026-11-04", "2026-11-05", "2026-11-06")
        for r in _day_one(KIM, "198.51.100.7", day)
        + _day_one(ANA, "198.51.100.8", day)
        + _day_one(ANA, "203.0.113.9", day)  # ana's phone network is usual after all
    ]
    found = _detect(warehouse, tmp_path, first_day + later, "new-network")
    assert [(f[0], f[3]) for f in found] == [(KIM, ["h1", "a1"])]


def test_a_user_seen_on_too_few_days_is_in_a_learning_period_not_judged(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    hop = [
        Rec("2026-11-02 10:00:00", "Certify", user=KIM, ip="198.51.100.7"),
        Rec("2026-11-02 10:05:00", "Certify", user=KIM, ip="185.220.101.4"),
    ]
    ingest_paths(warehouse, [write_log(tmp_path / "hop.log", hop)])
    summary = run_detections(warehouse, ["new-network"])
    assert summary.findings == 0 and summary.learning_by_rule == {"new-network": [KIM]}
    assert summary.as_dict()["learning_by_rule"] == {"new-network": [KIM]}


def test_a_users_usual_second_network_and_a_slow_move_are_not_new(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    known_phone = _known(KIM) + [
        Rec(f"2026-10-{d} 15:00:00", "Certify", user=KIM, ip="203.0.113.9") for d in (28, 29, 30)
    ]
    today = [
        Rec("2026-11-03 10:00:00", "Certify", user=KIM, ip="198.51.100.7"),
        Rec("2026-11-03 10:05:00", "Certify", user=KIM, ip="203.0.113.9"),
        Rec("2026-11-03 10:07:00", "Certify", user=KIM, ip="10.1.2.3"),  # private: no location
        Rec("2026-11-03 10:09:00", "Certify", user=KIM, ip="100.64.1.2"),  # carrier-grade NAT
        Rec("2026-11-03 14:00:00", "Certify", user=KIM, ip="185.220.101.4"),  # 4 h later
    ]
    assert _detect(warehouse, tmp_path, known_phone + today, "new-network") == []
    # The same new network minutes after a known one is a finding: the quiet was not learning.
    soon = [Rec("2026-11-03 14:30:00", "Certify", user=KIM, ip="198.51.100.7")]
    assert len(_detect(warehouse, tmp_path, soon, "new-network")) == 1


def test_a_network_many_colleagues_use_is_new_to_nobody_like_a_carriers_pools(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    # A mobile carrier hands phones addresses from several /16 pools; each colleague lands
    # in a pool for the first time now and then, minutes after the office network.
    pools = ["172.56.", "172.58.", "172.32.", "208.54."]
    people = [f"p{i}@contoso.example" for i in range(16)]
    records = _known(*people)
    for i, person in enumerate(people):
        for d in range(2, 7):
            pool = pools[(i + d) % len(pools)]
            records += [
                Rec(f"2026-11-0{d} 09:00:00", "Certify", user=person, ip="198.51.100.7"),
                Rec(f"2026-11-0{d} 09:10:00", "Certify", user=person, ip=f"{pool}{i}.{d}"),
            ]
    assert _detect(warehouse, tmp_path, records, "new-network") == []
    # One of them on a network nobody in the tenant uses: a finding, for that person only.
    odd = [
        Rec("2026-11-06 11:00:00", "Certify", user=people[3], ip="198.51.100.7"),
        Rec("2026-11-06 11:04:00", "Certify", user=people[3], ip="45.141.7.9"),
    ]
    found = _detect(warehouse, tmp_path, odd, "new-network")
    assert [(f[0], f[1]) for f in found] == [(people[3], datetime(2026, 11, 6, 11, 0))]


def test_a_vpn_exit_many_use_each_day_is_usual_even_on_a_persons_first_day_on_it(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    vpn = "64.235.48.9"
    people = [f"v{i}@contoso.example" for i in range(10)]
    records = _known(KIM, *people) + [
        Rec(_at("2026-11-03 08:00:00", i), "Certify", user=p, ip=vpn) for i, p in enumerate(people)
    ]
    # Kim's first day on the VPN: moving between it and the office is no finding ...
    records += [
        Rec("2026-11-03 09:00:00", "Certify", user=KIM, ip="198.51.100.7"),
        Rec("2026-11-03 09:10:00", "Certify", user=KIM, ip=vpn),
    ]
    assert _detect(warehouse, tmp_path, records, "new-network") == []
    # ... but a session from an unrelated network minutes after the VPN is.
    odd = [
        Rec("2026-11-03 10:00:00", "Certify", user=KIM, ip=vpn, row="v1"),
        Rec("2026-11-03 10:05:00", "Certify", user=KIM, ip="45.141.7.9", row="x1"),
    ]
    found = _detect(warehouse, tmp_path, odd, "new-network")
    assert [(f[0], f[3]) for f in found] == [(KIM, ["v1", "x1"])]


def test_several_windows_of_one_person_on_one_day_are_one_finding_holding_them_all(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    records = _known(ANA)
    records += _failures(ANA, "2026-11-03 09:00:00", 12, 0.5)
    records += _failures(ANA, "2026-11-03 15:00:00", 14, 0.5)
    records += _failures(ANA, "2026-11-04 09:00:00", 12, 0.5)
    found = _detect(warehouse, tmp_path, records, "denied-burst")
    assert [(f[1], len(f[3])) for f in found] == [
        (datetime(2026, 11, 3, 9, 0), 26),
        (datetime(2026, 11, 4, 9, 0), 12),
    ]
    summary = warehouse.sql("SELECT summary FROM findings ORDER BY first_ts").fetchall()[0][0]
    assert summary.startswith("2 windows on 2026-11-03: 12 failed requests by ana")
    assert "| 14 failed requests" in summary


def test_usual_days_in_summaries_are_rounded_not_float_noise(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    # Quantiles of days with a read or two are float noise (0.40000000000000036) unrounded.
    nights = [r for d in (20, 21) for r in _reads(KIM, f"2026-10-{d} 21:00:00", 1)]
    records = _known(KIM) + nights + _reads(KIM, "2026-10-30 21:00:00", 24, every=2)
    _detect(warehouse, tmp_path, records, "off-hours-reading", BERLIN)
    summary = warehouse.sql("SELECT summary FROM findings").fetchall()[0][0]
    assert re.search(r"usual busy off-hours day: 0\.\d reads$", summary), summary


# --------------------------------------------------------------------------- denied-burst


def _failures(user: str, start: str, n: int, every: float) -> list[Rec]:
    return [
        Rec(_at(start, i * every), "AcquireLicense", user=user, result="AccessDenied")
        for i in range(n)
    ]


def test_burst_of_denied_requests_is_a_finding(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    records = _known(ANA) + _failures(ANA, "2026-11-03 10:00:00", 12, 0.5)
    found = _detect(warehouse, tmp_path, records, "denied-burst")
    assert [(f[0], len(f[3])) for f in found] == [(ANA, 12)]


@pytest.mark.parametrize(
    "ending",
    ["\n-- the end of the rule", ";\n-- the end of the rule\n", "; /* done; */\n", " -- end;"],
)
def test_a_rule_ending_in_a_comment_or_a_semicolon_gives_the_same_findings(
    warehouse: duckdb.DuckDBPyConnection,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    ending: str,
) -> None:
    records = _known(ANA) + _failures(ANA, "2026-11-03 10:00:00", 12, 0.5)
    shipped = next(r for r in rules.list_rules() if r.id == "denied-burst")
    copy = tmp_path / "rule" / "denied-burst.sql"
    copy.parent.mkdir()
    copy.write_text(shipped.file.sql.rstrip().rstrip(";") + ending, encoding="utf-8")
    monkeypatch.setattr(rules, "list_rules", lambda: [rules.Rule(read_sql_file(copy))])
    found = _detect(warehouse, tmp_path, records, "denied-burst")
    assert [(f[0], len(f[3])) for f in found] == [(ANA, 12)]


def test_failures_spread_over_the_day_are_not_a_burst(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    records = _known(ANA) + _failures(ANA, "2026-11-03 08:00:00", 12, 45)
    assert _detect(warehouse, tmp_path, records, "denied-burst") == []


# --------------------------------------------------------------------------- orphan-key-calls


def test_orphan_key_calls_are_a_finding_once_past_the_grace_period(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    orphan = Rec("2026-11-03 10:00:00", "KeyVaultDecryptRequest", corr="lonely", row="k1")
    assert _detect(warehouse, tmp_path, [orphan], "orphan-key-calls") == []  # may still arrive
    later = licence("2026-11-03 10:30:00", KIM, "c9", ("KeyVaultSignDigest",))
    found = _detect(warehouse, tmp_path, later, "orphan-key-calls")
    assert found == [("tenant-key", datetime(2026, 11, 3, 10), datetime(2026, 11, 3, 10), ["k1"])]


def test_attributed_key_calls_make_no_orphan_finding(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    records = licence("2026-11-03 10:00:00", KIM, "c1", ("KMSPDecrypt", "KMSPSignDigest"))
    records.append(Rec("2026-11-03 12:00:00", "Certify", user=KIM, corr="c2"))
    assert _detect(warehouse, tmp_path, records, "orphan-key-calls") == []


# --------------------------------------------------------------------------- admin-browsing


def _admin_views(start: str, targets: list[str], per_target: int = 2) -> list[Rec]:
    out = []
    for i, user in enumerate(targets):
        for j in range(per_target):
            ts = _at(start, 2 * (i * per_target + j))
            out.append(
                Rec(ts, "GetSingle", user=ADMIN, admin=True, acting=user, content=f"{{{user}-{j}}}")
            )
    return out


def test_admin_browsing_several_users_documents_is_a_finding(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    records = _known(ADMIN) + _admin_views("2026-11-03 15:00:00", TARGETS)
    found = _detect(warehouse, tmp_path, records, "admin-browsing")
    assert [(f[0], len(f[3])) for f in found] == [(ADMIN, 12)]


def test_admin_looking_at_own_documents_or_one_users_is_not_browsing(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    own = [
        Rec(_at("2026-11-03 15:00:00", i), "GetSingle", user=ADMIN, admin=True, acting=ADMIN)
        for i in range(10)
    ]
    one_user = _admin_views("2026-11-03 17:00:00", [KIM], per_target=3)
    whole_tenant = [
        Rec(_at("2026-11-03 19:00:00", i), "GetAllDocs", user=ADMIN, admin=True) for i in range(10)
    ]
    records = _known(ADMIN) + own + one_user + whole_tenant
    assert _detect(warehouse, tmp_path, records, "admin-browsing") == []


def test_a_helpdesk_admin_who_acts_for_many_users_daily_is_compared_with_that_habit(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    days = [2, 3, 4, 5, 6, 9, 10, 11, 12, 13]  # two working weeks
    habit = [r for d in days for r in _admin_views(f"2026-11-{d:02d} 09:00:00", TARGETS)]
    today = _admin_views("2026-11-16 09:00:00", [*TARGETS, "noa@contoso.example"])
    # The first days have no history before them: the days after show the habit.
    assert _detect(warehouse, tmp_path, habit + today, "admin-browsing") == []
    many = [f"user{i}@contoso.example" for i in range(20)]
    found = _detect(
        warehouse, tmp_path, _admin_views("2026-11-17 09:00:00", many), "admin-browsing"
    )
    assert [f[1].day for f in found] == [17]  # type: ignore[union-attr]


def test_a_busy_helpdesk_day_with_cases_spread_over_the_day_is_not_browsing(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    # Nine users helped on one day, one every 40 minutes: not one session of browsing.
    cases = [
        r
        for i, user in enumerate([*TARGETS, "noa@contoso.example", "eli@contoso.example", "al@x"])
        for r in _admin_views(_at("2026-11-03 08:00:00", 40 * i), [user])
    ]
    records = _known(ADMIN) + cases
    assert _detect(warehouse, tmp_path, records, "admin-browsing") == []


# ---------------------------------------------------------------- revoked-document-opened


def test_opening_a_document_after_its_revocation_is_a_finding(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    records = [
        Rec("2026-11-03 09:00:00", "AcquireLicense", user=ANA, content=DOC, owner=LEE, row="o0"),
        Rec("2026-11-03 10:00:00", "RevokeAccess", user=LEE, content=DOC, row="rv"),
        Rec("2026-11-03 11:00:00", "AcquireLicense", user=LEE, content=DOC, owner=LEE, row="o1"),
        Rec("2026-11-03 12:00:00", "AcquireLicense", user=ANA, content=DOC, owner=LEE, row="o2"),
        Rec(
            "2026-11-03 12:05:00",
            "AcquireLicense",
            user=KIM,
            content=DOC,
            owner=LEE,
            result="AccessDenied",
            row="o3",
        ),
    ]
    found = _detect(warehouse, tmp_path, records, "revoked-document-opened")
    assert found == [
        (DOC, datetime(2026, 11, 3, 10), datetime(2026, 11, 3, 12, 5), ["rv", "o2", "o3"])
    ]
    only_success = _detect(warehouse, tmp_path, [], "revoked-document-opened", include_denied=False)
    assert only_success[0][3] == ["rv", "o2"]


def test_a_document_revoked_again_weeks_later_is_a_finding_per_revocation(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    records = [
        Rec("2026-11-03 10:00:00", "RevokeAccess", user=LEE, content=DOC, row="rv1"),
        Rec("2026-11-03 12:00:00", "AcquireLicense", user=ANA, content=DOC, owner=LEE, row="o1"),
        Rec("2026-11-20 10:00:00", "RevokeAccess", user=LEE, content=DOC, row="rv2"),
        Rec("2026-11-20 11:00:00", "AcquireLicense", user=KIM, content=DOC, owner=LEE, row="o2"),
    ]
    found = _detect(warehouse, tmp_path, records, "revoked-document-opened")
    assert [(f[1], f[3]) for f in found] == [
        (datetime(2026, 11, 3, 10), ["rv1", "o1"]),
        (datetime(2026, 11, 20, 10), ["rv2", "o2"]),
    ]


def test_opening_before_revocation_or_by_the_owner_is_not_a_finding(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    records = [
        Rec("2026-11-03 09:00:00", "AcquireLicense", user=ANA, content=DOC, owner=LEE),
        Rec("2026-11-03 10:00:00", "RevokeAccess", user=LEE, content=DOC),
        Rec("2026-11-03 11:00:00", "AcquireLicense", user=LEE, content=DOC, owner=LEE),
    ]
    assert _detect(warehouse, tmp_path, records, "revoked-document-opened") == []


# --------------------------------------------------------------------------- key-volume-spike


def _key_hour(day: str, hour: int, n: int) -> list[Rec]:
    return [
        Rec(f"{day} {hour:02d}:{i * 60 // n:02d}:{i % 60:02d}", "KMSPDecrypt", corr=f"{day}-{i}")
        for i in range(n)
    ]


def test_key_calls_far_above_the_same_hour_on_earlier_working_days_are_a_spike(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    history = [r for d in ("02", "03", "04") for r in _key_hour(f"2026-11-{d}", 10, 60)]
    spike = _key_hour("2026-11-05", 10, 200)
    found = _detect(warehouse, tmp_path, history + spike, "key-volume-spike")
    assert [(f[0], f[1].date().isoformat(), len(f[3])) for f in found] == [  # type: ignore[union-attr]
        ("tenant-key", "2026-11-05", 200)
    ]


def test_a_spike_in_the_first_days_is_judged_on_the_days_after_and_one_spike_hides_no_other(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    days = [f"2026-11-{d:02d}" for d in range(2, 14)]
    records = [r for d in days for r in _key_hour(d, 10, 60)]
    records += _key_hour("2026-11-03", 15, 400) + _key_hour("2026-11-10", 15, 400)
    found = _detect(warehouse, tmp_path, records, "key-volume-spike")
    assert [f[1].date().day for f in found] == [3, 10]  # type: ignore[union-attr]


def test_usual_volume_or_too_little_history_is_not_a_spike(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    first_days = _key_hour("2026-11-02", 10, 60) + _key_hour("2026-11-03", 10, 300)
    assert _detect(warehouse, tmp_path, first_days, "key-volume-spike") == []  # 1 day of history
    usual = [r for d in ("04", "05") for r in _key_hour(f"2026-11-{d}", 10, 90)]
    usual += _key_hour("2026-11-06", 10, 400)  # below 2x the busiest comparable hour (300)
    assert _detect(warehouse, tmp_path, usual, "key-volume-spike") == []


# --------------------------------------------------------------------------- stability


def test_rerunning_and_more_data_update_a_finding_instead_of_duplicating_it(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    records = _known(ANA) + _failures(ANA, "2026-11-03 10:00:00", 12, 0.5)
    first = _detect(warehouse, tmp_path, records, "denied-burst")
    ids = warehouse.sql("SELECT finding_id FROM findings").fetchall()
    again = run_detections(warehouse, ["denied-burst"])
    assert again.new_by_rule == {"denied-burst": 0}
    more = _detect(
        warehouse, tmp_path, _failures(ANA, "2026-11-03 10:06:00", 5, 0.5), "denied-burst"
    )
    assert warehouse.sql("SELECT finding_id FROM findings").fetchall() == ids
    assert len(more[0][3]) == 17 and more[0][2] > first[0][2]  # type: ignore[operator]


def test_running_one_rule_leaves_other_rules_findings_alone(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    records = _known(ANA) + _failures(ANA, "2026-11-03 10:00:00", 12, 0.5)
    _detect(warehouse, tmp_path, records, "denied-burst")
    run_detections(warehouse, ["orphan-key-calls"])
    assert warehouse.sql("SELECT rule FROM findings").fetchall() == [("denied-burst",)]


# --------------------------------------------------------------------------- parameters


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"denied-burst.nope": "1"}, "rule denied-burst has no parameter 'nope'"),
        ({"min_failures": "1"}, "name it as rule.name"),
        (
            {"denied-burst.min_failures": "many"},
            "--param denied-burst.min_failures: expected INTEGER, got 'many'",
        ),
        ({"orphan-key-calls.min_calls": "2"}, "rule 'orphan-key-calls' is not among the rules run"),
        ({"off-hours-reading.timezone": "UTC"}, "is a tenant setting"),
    ],
)
def test_bad_parameters_are_refused_with_a_clear_message(
    warehouse: duckdb.DuckDBPyConnection, params: dict[str, str], message: str
) -> None:
    rules = ["denied-burst", "off-hours-reading"]
    with pytest.raises(UsageError, match=message):
        run_detections(warehouse, rules, params)


def test_an_unknown_rule_is_refused(warehouse: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(UsageError, match="unknown rule"):
        run_detections(warehouse, ["no-such-rule"])


def test_a_failing_rule_rolls_back_every_finding_of_the_run(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    records = _known(ANA) + _failures(ANA, "2026-11-03 10:00:00", 12, 0.5)
    _detect(warehouse, tmp_path, records, "denied-burst")
    warehouse.execute("DROP TABLE key_usage")
    with pytest.raises(QueryError, match="detection rule orphan-key-calls"):
        run_detections(
            warehouse, ["denied-burst", "orphan-key-calls"], {"denied-burst.min_failures": "50"}
        )
    assert warehouse.sql("SELECT count(*) FROM findings").fetchall() == [(1,)]


def test_the_readme_lists_every_rule_with_its_severity_and_parameter_defaults() -> None:
    readme = (Path(__file__).parent.parent / "docs" / "rules.md").read_text(encoding="utf-8")
    section = readme.split("\n## Detection rules\n", 1)[1].split("\n## ", 1)[0]
    rows = {
        line.split("|")[1].strip().strip("`"): line
        for line in section.splitlines()
        if line.startswith("| `")
    }
    for rule in list_rules():
        row = rows[rule.id]
        assert f"| {rule.severity} |" in row, rule.id
        for param in rule.params:
            assert f"`{param.name}` {param.default}" in row, (rule.id, param.name)
