"""A simulated tenant: people and their habits, documents, service identities, addresses.

Everything a log line can name lives in a few string dictionaries (user ids, c-info
strings, IP addresses); events refer to them by index, and the writer turns indices
into text in one vectorised pass. Entities are built with NumPy/Polars, never per row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from pipeline.generate.clients import (
    APPS,
    DESKTOP_PLATFORMS,
    DESKTOP_WEIGHTS,
    MOBILE_PLATFORMS,
    cinfo_table,
)
from pipeline.generate.ids import random_guids
from pipeline.generate.places import (
    ATTACKER_CITIES,
    ATTACKER_MIN_KM,
    CITIES,
    CITY,
    EXCHANGE_NETWORKS,
    HOSTS,
    RADIUS_KM,
    REGIONS,
    Network,
    RegionPlan,
    distance_km,
)

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

DOMAINS = ("contoso", "fabrikam", "adatum", "northwindtraders", "tailspintoys", "litwareinc")


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_FIRST = _words(
    "kim lee ana omar ivo mia raj zoe jorg li sam noa eva luca yuki amir sofia jan nora tom "
    "ines marek aiko chen david fatima hugo ingrid jamal kaito lars maria nils olga pablo "
    "quinn rosa sven tara uma victor wei xenia yusuf zara"
)
_LAST = _words(
    "berg ng silva haddad novak ito patel mueller kowalski diaz okafor tanaka jensen rossi "
    "fischer dubois kim nguyen larsen costa meyer ali sato garcia weber moreau lindqvist "
    "horvat khan schmidt bauer murphy obrien wagner yilmaz suzuki lopez nowak ahmed smith"
)
#: Document title words, some non-ASCII, one with an apostrophe (quoting is data).
_WORDS = (
    "Budget",
    "Roadmap",
    "Board minutes",
    "Salaries",
    "Merger",
    "Offer letter",
    "Forecast",
    "Contract",
    "Pricing",
    "Audit findings",
    "Strategy",
    "Projet-Été",
    "Bilanz",
    "見積書",
    "Résumé",
    "Übergabe",
    "Customer list",
    "Dave's notes",
    "Q3 review",
    "Patent draft",
    "Договор",
    "Incident report",
)
_QUALIFIERS = ("", " v2", " v3", " final", " (draft)", " 2027", "_signed", " - copy", " FINAL")
#: Extension -> the desktop app that opens it (index into APPS).
_EXTS = ((".docx", 0), (".xlsx", 1), (".pptx", 2), (".msg", 3), (".pdf", 4), (".ptxt", 4))
#: Per person: home broadband addresses over time (the ISP re-leases now and then).
HOME_LEASES = 3
#: Shares of the population (docs/simulator.md).
PHONE_SHARE = 0.8  # people with Office on a phone
VPN_SHARE = 0.15  # people whose laptop uses the corporate VPN away from the office
TRAVELLER_SHARE = 0.2  # people who take business trips
LATE_SHARE = 0.15  # people who work into the evening
NIGHT_SHARE = 0.04  # night-shift workers (22:00-06:00 local, at the office)
FINANCE_TEAM_EVERY = 7  # every 7th team is finance: month-end close peaks
#: Rhythm profiles.
DAY, LATE, NIGHT = 0, 1, 2
PROFILES = ("day", "late", "night")


@dataclass(frozen=True)
class People:
    """The tenant's employees, indexed by person (arrays of equal length)."""

    user: I32  # index into Tenant.user_ids
    team: I32
    activity: F64  # relative daily activity
    desktop: I32  # platform row
    mobile: I32  # platform row, -1 without a phone
    mobile_share: F64
    home_ip: I32  # first of HOME_LEASES addresses at the person's ISP
    isp: I32
    lease_days: I32  # days between re-leases of the home address
    carrier: I32
    phone_wifi: F64  # share of phone sessions on Wi-Fi (office, home, hotel)
    office_ip: I32  # first of the site's 4 NAT addresses
    wfh: F64  # chance of working from home on a working day
    leave_hour: F64  # local hour the person leaves the office (works on from home)
    profile: I32  # DAY, LATE or NIGHT
    vpn: npt.NDArray[np.bool_]  # laptop on the corporate VPN away from the office
    vpn_exit: I32  # preferred exit (index into the plan's exits)
    trips: F64  # chance of a business trip in a 14-day block
    finance: npt.NDArray[np.bool_]  # month-end close peaks
    creator: F64  # propensity to protect documents

    def __len__(self) -> int:
        return len(self.user)


@dataclass(frozen=True)
class Documents:
    """Protected documents, sorted by owner's team, then owner."""

    content_id: pl.Series  # {GUID}
    owner: I32  # person
    team: I32
    issuer: pl.Series
    template_id: pl.Series  # {GUID} or ""
    file_name: pl.Series  # as logged: a name, a GUID (Office) or "" (untracked)
    published: I64  # epoch seconds
    popularity: F64
    consumable: npt.NDArray[np.bool_]  # False: later revoked, never opened in the period
    app: I32  # index into APPS for the desktop app that opens it

    def __len__(self) -> int:
        return len(self.owner)


@dataclass(frozen=True)
class Tenant:
    domain: str
    tenant_guid: str
    region: str
    user_ids: pl.Series  # 0 = "" (no user)
    cinfos: pl.Series  # 0 = ""; then the platform x app grid; then services
    ips: pl.Series
    people: People
    documents: Documents
    admins: I32  # people who administer the tenant
    helpdesk: I32  # people who answer "where did my document go" in admin mode
    externals: I32  # user indices of partner recipients
    external_ip: I32
    external_platform: I32
    service_user: int  # microsoftrmsonline@<tenant GUID>.rms.<region>.aadrm.com
    connector_user: int  # Aadrm_S-1-7-0, the RMS connector
    service_ips: I32
    connector_ip: int
    key_ips: I32  # the RMS key service's front ends (c-ip of tenant-key calls)
    plan: AddressPlan
    service_cinfo: int
    connector_cinfo: int

    def cinfo_of(self, platform: npt.ArrayLike, app: npt.ArrayLike) -> I32:
        """c-info index of an app on a platform row."""
        index: I32 = (1 + np.asarray(platform) * len(APPS) + np.asarray(app)).astype(np.int32)
        return index


@dataclass(frozen=True)
class AddressPlan:
    """The tenant's networks, and where each kind of address starts in `Tenant.ips`.

    Address blocks are contiguous: `first[k] + host` for host in 0..hosts-1."""

    networks: tuple[Network, ...]
    home_city: int
    carrier_first: I32  # (carrier, pool) -> first address of the pool
    carrier_hosts: int
    vpn_cities: I32  # city of each exit
    vpn_first: I32  # exit -> first address
    vpn_hosts: int
    hotel_first: I32  # city -> first hotel address (-1: no hotel there)
    hotel_hosts: int
    roaming_first: I32  # (city, pool) -> first roaming address (-1: none)
    roaming_hosts: int
    attacker_cities: I32
    attacker_first: I32  # attacker city -> first address
    attacker_hosts: int
    domestic: I32  # trip destinations (city indices)
    abroad: I32
    ip_city: I32  # address index -> city index (for the ground truth and scenarios)


class _Addresses:
    """Collects address strings and their networks; hands out indices in the final table."""

    def __init__(self) -> None:
        self.parts: list[pl.Series] = []
        self.cities: list[I32] = []
        self.networks: list[Network] = []
        self.size = 0

    def add(self, ips: pl.Series, city: int | I32 = -1) -> I32:
        idx = np.arange(self.size, self.size + len(ips), dtype=np.int32)
        self.parts.append(ips.cast(pl.String).alias("ip"))
        self.cities.append(np.broadcast_to(np.asarray(city, dtype=np.int32), len(ips)).copy())
        self.size += len(ips)
        return idx

    def network(self, cidr: str, kind: str, name: str, city: str) -> Network:
        net = Network(cidr, kind, name, CITY[city], RADIUS_KM[kind])
        self.networks.append(net)
        return net

    def hosts_24(
        self, rng: np.random.Generator, prefix: str, kind: str, name: str, city: str, hosts: int
    ) -> int:
        """`hosts` distinct addresses in the /24 `prefix`; returns the first index."""
        self.network(f"{prefix}.0/24", kind, name, city)
        last = rng.choice(np.arange(2, 255), hosts, replace=False)
        return int(self.add(dotted(prefix, last), CITY[city])[0])

    def hosts_16(
        self, rng: np.random.Generator, prefix: str, kind: str, name: str, city: str, hosts: int
    ) -> int:
        """`hosts` addresses in the /16 `prefix`; returns the first index."""
        self.network(f"{prefix}.0.0/16", kind, name, city)
        third, last = rng.integers(0, 256, hosts), rng.integers(1, 255, hosts)
        return int(self.add(dotted(prefix, third, last), CITY[city])[0])

    def table(self) -> pl.Series:
        return pl.concat(self.parts)


def _series(values: npt.ArrayLike) -> pl.Expr:
    return pl.lit(pl.Series(np.asarray(values)))


def dotted(prefix: str, *octets: npt.ArrayLike) -> pl.Series:
    """`prefix.o1.o2...` for arrays of octets, vectorised."""
    parts = [_series(np.asarray(o, dtype=np.int64)).cast(pl.String) for o in octets]
    return pl.select(pl.concat_str([pl.lit(prefix), *parts], separator=".").alias("ip"))["ip"]


def _pick(strings: tuple[str, ...] | pl.Series, idx: npt.ArrayLike) -> pl.Series:
    return pl.Series(strings).gather(np.asarray(idx))


def _names(rng: np.random.Generator, n: int, domain: str) -> pl.Series:
    """`first.last@domain`, numbered when the same name occurs twice (as directories do)."""
    frame = pl.DataFrame(
        {
            "f": _pick(_FIRST, rng.integers(0, len(_FIRST), n)),
            "l": _pick(_LAST, rng.integers(0, len(_LAST), n)),
        }
    ).with_columns(name=pl.concat_str("f", pl.lit("."), "l"))
    rank = pl.int_range(pl.len()).over("name")
    suffix = pl.when(rank > 0).then((rank + 1).cast(pl.String)).otherwise(pl.lit(""))
    return frame.select(pl.concat_str("name", suffix, pl.lit("@" + domain)).alias("u"))["u"]


def quad(*octets: npt.ArrayLike) -> pl.Series:
    """`a.b.c.d` for four arrays (or scalars) of octets, vectorised."""
    n = max(np.size(o) for o in octets)
    parts = [
        _series(np.broadcast_to(np.asarray(o, dtype=np.int64), n)).cast(pl.String) for o in octets
    ]
    return pl.select(pl.concat_str(parts, separator=".").alias("ip"))["ip"]


def _octets(prefix: str) -> tuple[int, ...]:
    return tuple(int(x) for x in prefix.split("."))


def _homes(rng: np.random.Generator, n: int, plan: RegionPlan, ips: _Addresses) -> tuple[I32, I32]:
    """Each person's ISP and HOME_LEASES addresses there (person-major)."""
    isp = rng.choice(len(plan.isps), n, p=[0.45, 0.35, 0.2]).astype(np.int32)
    for name, prefixes in plan.isps:
        for prefix in prefixes:
            ips.network(f"{prefix}.0.0/16", "home-isp", name, plan.home)
    octets = np.array([[_octets(p) for p in prefixes] for _, prefixes in plan.isps])
    k = n * HOME_LEASES
    owner = np.repeat(isp, HOME_LEASES)
    pick = octets[owner, rng.integers(0, octets.shape[1], k)]  # (address, 2): a.b of a /16
    first = ips.add(
        quad(pick[:, 0], pick[:, 1], rng.integers(0, 256, k), rng.integers(1, 255, k)),
        CITY[plan.home],
    )
    return isp, first[::HOME_LEASES].astype(np.int32)


def _people(rng: np.random.Generator, n: int, plan: RegionPlan, ips: _Addresses) -> People:
    sites = int(np.clip(n // 400 + 1, 1, 4))
    office = _octets(plan.office)
    nats = []
    for site in range(sites):
        prefix = f"{office[0]}.{office[1]}.{office[2] + site}"
        ips.network(f"{prefix}.0/24", "office", "Head office", plan.home)
        nats.append(ips.add(dotted(prefix, np.arange(4) + 11 + 10 * site), CITY[plan.home]))
    nat = np.concatenate(nats)
    isp, homes = _homes(rng, n, plan, ips)
    mobile = np.where(rng.random(n) < PHONE_SHARE, rng.choice(MOBILE_PLATFORMS, n), -1)
    team = np.sort(rng.integers(0, max(1, n // 10), n)).astype(np.int32)
    u = rng.random(n)
    profile = np.where(u < NIGHT_SHARE, NIGHT, np.where(u < NIGHT_SHARE + LATE_SHARE, LATE, DAY))
    leave = np.where(profile == LATE, rng.uniform(19.0, 21.5, n), rng.uniform(16.0, 18.5, n))
    return People(
        user=np.arange(1, n + 1, dtype=np.int32),
        team=team,
        activity=np.clip(rng.gamma(2.0, 0.5, n), 0.1, 3.5),
        desktop=rng.choice(DESKTOP_PLATFORMS, n, p=DESKTOP_WEIGHTS).astype(np.int32),
        mobile=mobile.astype(np.int32),
        mobile_share=np.where(mobile >= 0, rng.uniform(0.1, 0.5, n), 0.0),
        home_ip=homes,
        isp=isp,
        lease_days=rng.choice([7, 14, 30, 90, 365], n, p=[0.05, 0.1, 0.25, 0.3, 0.3]).astype(
            np.int32
        ),
        carrier=rng.choice(len(plan.carriers), n, p=[0.4, 0.35, 0.25]).astype(np.int32),
        phone_wifi=rng.uniform(0.2, 0.7, n),
        office_ip=nat[4 * rng.integers(0, sites, n)],
        wfh=rng.choice([0.0, 0.1, 0.2, 0.4, 0.8], n, p=[0.3, 0.25, 0.25, 0.15, 0.05]),
        leave_hour=np.where(profile == NIGHT, 24.0, leave),
        profile=profile.astype(np.int32),
        vpn=rng.random(n) < VPN_SHARE,
        vpn_exit=rng.choice(len(plan.vpn_exits), n, p=[0.6, 0.25, 0.15]).astype(np.int32),
        trips=np.where(rng.random(n) < TRAVELLER_SHARE, rng.uniform(0.25, 0.6, n), 0.0),
        finance=(team % FINANCE_TEAM_EVERY) == 0,
        creator=rng.gamma(1.5, 0.67, n),
    )


def _choose(mask: npt.ArrayLike, then: pl.Series | str, otherwise: pl.Series | str) -> pl.Series:
    """Element-wise `then if mask else otherwise` on string columns."""
    t = pl.lit(then) if isinstance(then, pl.Series) else pl.lit(then, pl.String)
    o = pl.lit(otherwise) if isinstance(otherwise, pl.Series) else pl.lit(otherwise, pl.String)
    return pl.select(pl.when(_series(mask)).then(t).otherwise(o).alias("v"))["v"]


def _file_names(rng: np.random.Generator, n: int) -> tuple[pl.Series, I32]:
    """Document names (some non-ASCII, one with an apostrophe) and the app that opens each."""
    ext = rng.integers(0, len(_EXTS), n)
    words = _pick(_WORDS, rng.integers(0, len(_WORDS), n))
    quals = _pick(_QUALIFIERS, rng.integers(0, len(_QUALIFIERS), n))
    exts = _pick(tuple(e for e, _ in _EXTS), ext)
    names = pl.select(pl.concat_str(pl.lit(words), pl.lit(quals), pl.lit(exts)).alias("n"))["n"]
    return names, np.array([a for _, a in _EXTS], dtype=np.int32)[ext]


def _logged_names(rng: np.random.Generator, names: pl.Series, app: I32) -> pl.Series:
    """file-name as logged: only for tracked documents, and Office files often show a GUID."""
    n = len(names)
    tracked = rng.random(n) < 0.4
    as_guid = tracked & (app <= 2) & (rng.random(n) < 0.5)
    shown = _choose(as_guid, random_guids(rng, n), names)
    return _choose(tracked, shown, "")


def _skewed(k: int) -> npt.NDArray[np.float64]:
    w = 1.0 / np.arange(1, k + 1)
    return np.asarray(w / w.sum(), dtype=np.float64)


def _documents(
    rng: np.random.Generator,
    people: People,
    emails: pl.Series,
    domain: str,
    start: int,
    horizon_days: int,
) -> Documents:
    n = max(40, 8 * len(people))
    owner = np.sort(rng.choice(len(people), n, p=people.creator / people.creator.sum()))
    names, app = _file_names(rng, n)
    owner_email = emails.gather(people.user[owner])
    fed = pl.select(
        pl.concat_str(
            pl.lit("FederatedEmail."),
            pl.lit(random_guids(rng, n)),
            pl.lit(f"@{domain.split('.')[0]}.onmicrosoft.com"),
        ).alias("f")
    )["f"]
    templates = random_guids(rng, int(np.clip(4 + len(people) // 500, 4, 12)), braces=True)
    tpl = templates.gather(rng.choice(len(templates), n, p=_skewed(len(templates))))
    recent = rng.random(n) < 0.1
    published = np.where(
        recent,
        start + rng.integers(0, max(horizon_days, 28) * 86400, n),
        start - rng.integers(3600, 730 * 86400, n),
    )
    return Documents(
        content_id=random_guids(rng, n, braces=True),
        owner=owner.astype(np.int32),
        team=people.team[owner],
        issuer=_choose(rng.random(n) < 0.05, fed, owner_email),
        template_id=_choose(rng.random(n) < 0.85, tpl, ""),
        file_name=_logged_names(rng, names, app),
        published=published.astype(np.int64),
        popularity=rng.pareto(1.2, n) + 0.05,
        consumable=rng.random(n) >= 0.04,
        app=app,
    )


def _externals(
    rng: np.random.Generator, n_people: int, domain: str, plan: RegionPlan, ips: _Addresses
) -> tuple[pl.Series, I32, I32]:
    """Partner recipients of shared documents: ids, their offices' addresses, platforms."""
    n = max(3, n_people // 12)
    partners = [d for d in DOMAINS if not domain.startswith(d)][:3]
    part = rng.integers(0, len(partners), n)
    emails = pl.concat(
        [_names(rng, n, f"{p}.com").filter(pl.Series(part == i)) for i, p in enumerate(partners)]
    )
    hosts = HOSTS["partner"]
    first = np.array(
        [
            ips.hosts_24(rng, f"62.{200 + CITY[city]}.7", "partner", f"{p}.com", city, hosts)
            for p, city in zip(partners, plan.partners, strict=False)
        ]
    )
    org = np.sort(part)
    addr = (first[org] + rng.integers(0, hosts, len(emails))).astype(np.int32)
    platform = rng.choice(DESKTOP_PLATFORMS, len(emails), p=DESKTOP_WEIGHTS).astype(np.int32)
    return emails, addr, platform


def _address_plan(
    rng: np.random.Generator, plan: RegionPlan, ips: _Addresses
) -> tuple[I32, I32, I32, I32, I32, I32]:
    """Carriers, VPN exits, hotels, roaming carriers and attackers; their first addresses."""
    carrier_first = np.array(
        [
            [ips.hosts_16(rng, pool, "mobile", name, plan.home, HOSTS["mobile"]) for pool in pools]
            for name, pools in plan.carriers
        ],
        dtype=np.int32,
    )
    for i, net in enumerate(ips.networks):
        if net.kind == "mobile":  # carriers place pools less precisely, and not all alike
            ips.networks[i] = Network(net.cidr, net.kind, net.name, net.city, 100 + 50 * (i % 3))
    vpn_first = np.array(
        [
            ips.hosts_24(
                rng, f"64.235.{40 + CITY[c]}", "vpn-exit", "Corporate VPN", c, HOSTS["vpn-exit"]
            )
            for c in plan.vpn_exits
        ],
        dtype=np.int32,
    )
    hotel_first = np.full(len(CITIES), -1, dtype=np.int32)
    roaming_first = np.full((len(CITIES), 2), -1, dtype=np.int32)
    for c in dict.fromkeys(plan.domestic + plan.abroad):
        ci = CITY[c]
        hotel_first[ci] = ips.hosts_24(
            rng, f"38.{100 + ci}.7", "hotel", "Hotel Wi-Fi", c, HOSTS["hotel"]
        )
        for j in range(2):
            roaming_first[ci, j] = ips.hosts_16(
                rng,
                f"185.{100 + 2 * ci + j}",
                "roaming",
                f"Mobile carrier ({c})",
                c,
                HOSTS["roaming"],
            )
    home = CITIES[CITY[plan.home]]
    far = [c for c in ATTACKER_CITIES if distance_km(home, CITIES[CITY[c]]) >= ATTACKER_MIN_KM]
    attacker_first = np.array(
        [
            ips.hosts_16(
                rng, f"5.{100 + CITY[c]}", "attacker", "Hosting provider", c, HOSTS["attacker"]
            )
            for c in far
        ],
        dtype=np.int32,
    )
    attacker_cities = np.array([CITY[c] for c in far], dtype=np.int32)
    return carrier_first, vpn_first, hotel_first, roaming_first, attacker_first, attacker_cities


def build_tenant(
    rng: np.random.Generator, n_users: int, region: str, start: int, horizon_days: int
) -> Tenant:
    """A tenant of `n_users` people with homes, devices, documents and partners."""
    plan = REGIONS[region]
    domain = f"{DOMAINS[int(rng.integers(0, len(DOMAINS)))]}.com"
    tenant_guid = str(random_guids(rng, 1)[0])
    ips = _Addresses()
    people = _people(rng, n_users, plan, ips)
    emails = _names(rng, n_users, domain)
    ext_ids, ext_ip, ext_platform = _externals(rng, n_users, domain, plan, ips)
    service = f"microsoftrmsonline@{tenant_guid}.rms.{region}.aadrm.com"
    user_ids = pl.concat([pl.Series([""]), emails, ext_ids, pl.Series([service, "Aadrm_S-1-7-0"])])
    first_ext = n_users + 1
    service_ips = np.concatenate(
        [
            np.arange(4) + ips.hosts_24(rng, prefix, "microsoft", "Exchange Online", city, 4)
            for prefix, city in EXCHANGE_NETWORKS
        ]
    ).astype(np.int32)
    connector_ip = int(ips.add(pl.Series([f"{plan.office}.5"]), CITY[plan.home])[0])
    key_prefix, key_city = plan.key_service
    key_ips = (
        np.arange(3) + ips.hosts_24(rng, key_prefix, "microsoft", "Azure RMS", key_city, 3)
    ).astype(np.int32)
    carriers, vpn, hotels, roaming, attackers, attacker_cities = _address_plan(rng, plan, ips)
    n_admins = min(n_users, 2 + n_users // 400)
    admins = np.sort(rng.choice(n_users, n_admins, replace=False))
    cinfos = cinfo_table()
    address_plan = AddressPlan(
        networks=tuple(ips.networks),
        home_city=CITY[plan.home],
        carrier_first=carriers,
        carrier_hosts=HOSTS["mobile"],
        vpn_cities=np.array([CITY[c] for c in plan.vpn_exits], dtype=np.int32),
        vpn_first=vpn,
        vpn_hosts=HOSTS["vpn-exit"],
        hotel_first=hotels,
        hotel_hosts=HOSTS["hotel"],
        roaming_first=roaming,
        roaming_hosts=HOSTS["roaming"],
        attacker_cities=attacker_cities,
        attacker_first=attackers,
        attacker_hosts=HOSTS["attacker"],
        domestic=np.array([CITY[c] for c in plan.domestic], dtype=np.int32),
        abroad=np.array([CITY[c] for c in plan.abroad], dtype=np.int32),
        ip_city=np.concatenate(ips.cities).astype(np.int32),
    )
    return Tenant(
        domain=domain,
        tenant_guid=tenant_guid,
        region=region,
        user_ids=user_ids.alias("user_id"),
        cinfos=cinfos,
        ips=ips.table(),
        people=people,
        documents=_documents(rng, people, user_ids, domain, start, horizon_days),
        admins=admins.astype(np.int32),
        helpdesk=admins[: max(1, len(admins) // 2)].astype(np.int32),
        externals=np.arange(first_ext, first_ext + len(ext_ids), dtype=np.int32),
        external_ip=ext_ip,
        external_platform=ext_platform,
        service_user=first_ext + len(ext_ids),
        connector_user=first_ext + len(ext_ids) + 1,
        service_ips=service_ips,
        connector_ip=connector_ip,
        key_ips=key_ips,
        plan=address_plan,
        service_cinfo=len(cinfos) - 2,
        connector_cinfo=len(cinfos) - 1,
    )
