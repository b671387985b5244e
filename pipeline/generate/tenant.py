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
#: Address plan. Each region's offices and home broadband; hotels anywhere; Microsoft's own.
OFFICE_PREFIX = {"na": "198.51.100", "eu": "203.0.113", "ap": "192.0.2"}
HOME_SECOND_OCTET = {"na": 64, "eu": 80, "ap": 96}  # 100.<n..n+15>.x.y (shared address space)
EXCHANGE_PREFIXES = ("40.92.18", "40.107.22", "52.100.155", "104.47.58")
KEY_SERVICE_PREFIX = {"na": "40.76.4", "eu": "40.114.7", "ap": "40.83.121"}


@dataclass(frozen=True)
class People:
    """The tenant's employees, indexed by person (arrays of equal length)."""

    user: I32  # index into Tenant.user_ids
    team: I32
    activity: F64  # relative daily activity
    desktop: I32  # platform row
    mobile: I32  # platform row, -1 without a phone
    mobile_share: F64
    home_ip: I32
    office_ip: I32  # first of the site's 4 NAT addresses
    wfh: F64  # chance of working from home on a working day
    trips: F64  # chance of being on a trip in a given 4-day block
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
    travel_ips: I32
    foreign_ips: I32  # other regions' ranges: a stolen session's addresses
    service_cinfo: int
    connector_cinfo: int

    def cinfo_of(self, platform: npt.ArrayLike, app: npt.ArrayLike) -> I32:
        """c-info index of an app on a platform row."""
        index: I32 = (1 + np.asarray(platform) * len(APPS) + np.asarray(app)).astype(np.int32)
        return index


class _Addresses:
    """Collects address strings; hands out their indices in the final table."""

    def __init__(self) -> None:
        self.parts: list[pl.Series] = []
        self.size = 0

    def add(self, ips: pl.Series) -> I32:
        idx = np.arange(self.size, self.size + len(ips), dtype=np.int32)
        self.parts.append(ips.cast(pl.String).alias("ip"))
        self.size += len(ips)
        return idx

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


def _people(rng: np.random.Generator, n: int, region: str, ips: _Addresses) -> People:
    sites = int(np.clip(n // 400 + 1, 1, 4))
    hosts = np.repeat(np.arange(sites) * 10 + 11, 4) + np.tile(np.arange(4), sites)
    nat = ips.add(dotted(OFFICE_PREFIX[region], hosts))
    second = HOME_SECOND_OCTET[region] + rng.integers(0, 16, n)
    homes = ips.add(dotted("100", second, rng.integers(0, 256, n), rng.integers(1, 255, n)))
    mobile = np.where(rng.random(n) < 0.55, rng.choice(MOBILE_PLATFORMS, n), -1)
    return People(
        user=np.arange(1, n + 1, dtype=np.int32),
        team=np.sort(rng.integers(0, max(1, n // 10), n)).astype(np.int32),
        activity=np.clip(rng.gamma(2.0, 0.5, n), 0.1, 3.5),
        desktop=rng.choice(DESKTOP_PLATFORMS, n, p=DESKTOP_WEIGHTS).astype(np.int32),
        mobile=mobile.astype(np.int32),
        mobile_share=np.where(mobile >= 0, rng.uniform(0.05, 0.35, n), 0.0),
        home_ip=homes,
        office_ip=nat[4 * rng.integers(0, sites, n)],
        wfh=rng.choice([0.0, 0.1, 0.2, 0.4, 0.8], n, p=[0.3, 0.25, 0.25, 0.15, 0.05]),
        trips=np.where(rng.random(n) < 0.15, rng.uniform(0.05, 0.25, n), 0.0),
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
    rng: np.random.Generator, n_people: int, domain: str, ips: _Addresses
) -> tuple[pl.Series, I32, I32]:
    """Partner recipients of shared documents: ids, their own addresses, their platforms."""
    n = max(3, n_people // 12)
    partners = [d for d in DOMAINS if not domain.startswith(d)][:3]
    part = rng.integers(0, len(partners), n)
    emails = pl.concat(
        [_names(rng, n, f"{p}.com").filter(pl.Series(part == i)) for i, p in enumerate(partners)]
    )
    second = 112 + rng.integers(0, 16, len(emails))
    addr = ips.add(
        dotted("100", second, rng.integers(0, 256, len(emails)), rng.integers(1, 255, len(emails)))
    )
    platform = rng.choice(DESKTOP_PLATFORMS, len(emails), p=DESKTOP_WEIGHTS).astype(np.int32)
    return emails, addr, platform


def _hosts(rng: np.random.Generator, prefixes: tuple[str, ...], per_prefix: int) -> pl.Series:
    """`per_prefix` random host addresses in each /24 `prefix`."""
    return pl.concat([dotted(p, rng.integers(2, 254, per_prefix)) for p in prefixes])


def build_tenant(
    rng: np.random.Generator, n_users: int, region: str, start: int, horizon_days: int
) -> Tenant:
    """A tenant of `n_users` people with homes, devices, documents and partners."""
    domain = f"{DOMAINS[int(rng.integers(0, len(DOMAINS)))]}.com"
    tenant_guid = str(random_guids(rng, 1)[0])
    ips = _Addresses()
    people = _people(rng, n_users, region, ips)
    emails = _names(rng, n_users, domain)
    ext_ids, ext_ip, ext_platform = _externals(rng, n_users, domain, ips)
    service = f"microsoftrmsonline@{tenant_guid}.rms.{region}.aadrm.com"
    user_ids = pl.concat([pl.Series([""]), emails, ext_ids, pl.Series([service, "Aadrm_S-1-7-0"])])
    first_ext = n_users + 1
    service_ips = ips.add(_hosts(rng, EXCHANGE_PREFIXES, 4))
    connector_ip = int(ips.add(pl.Series([f"{OFFICE_PREFIX[region]}.5"]))[0])
    key_ips = ips.add(_hosts(rng, (KEY_SERVICE_PREFIX[region],), 3))
    hotels = dotted(
        "198", rng.integers(18, 20, 256), rng.integers(0, 256, 256), rng.integers(1, 255, 256)
    )
    travel_ips = ips.add(hotels)
    foreign = tuple(p for r, p in OFFICE_PREFIX.items() if r != region)
    foreign_ips = ips.add(_hosts(rng, foreign, 32))
    admins = np.sort(rng.choice(n_users, min(n_users, 2 + n_users // 1000), replace=False))
    cinfos = cinfo_table()
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
        travel_ips=travel_ips,
        foreign_ips=foreign_ips,
        service_cinfo=len(cinfos) - 2,
        connector_cinfo=len(cinfos) - 1,
    )
