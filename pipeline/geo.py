"""Where client addresses are: a MaxMind-format City database, looked up once per address.

Detection rules read the temporary table `ip_locations` (one row per distinct `c_ip` in
`requests`), which `register_ip_locations` fills before the rules run:

- `c_ip`: the address as stored;
- `network`: the IPv4 /16 or IPv6 /48 (`a.b.0.0/16`, `x:y:z::/48`), NULL when labelled;
- `block`: the IPv4 /12 or IPv6 /32 around it: the size of a provider's allocation, so a
  mobile carrier's address pools or a home ISP's re-leases mostly stay in one block;
- `label`: `private`, `loopback`, `link-local`, `carrier-grade-nat`, `microsoft`,
  `corporate`, `invalid`, or NULL for an ordinary public address;
- `country_code`, `country`, `city`: from the database (`country.iso_code`,
  `country.names.en`, `city.names.en`);
- `latitude`, `longitude`: degrees; `accuracy_radius`: kilometres (0 when not given).

Labelled addresses carry no location: a private or carrier-grade NAT address says nothing
about where a person is, a Microsoft service address is the service acting, and a declared
corporate network (a VPN exit, `corporate_networks` in the settings) is where the VPN
leaves, not where its user sits. Without a database every location column is NULL and only
`network` and `label` are filled, so a rule that needs geography finds nothing rather than
guessing.

Why a temporary table per detect run and not a warehouse table: the locations belong to the
database file the user has today (GeoLite2 is re-published weekly, so stored locations would
go stale and need re-keying whenever the file changes), and looking up the distinct
addresses is seconds even for a large tenant. Addresses are streamed from DuckDB in batches
and written back in batches, so memory stays bounded whatever the number of addresses.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from pipeline.errors import UsageError

#: Microsoft service ranges (a small selection of the Exchange Online, Microsoft 365 common
#: and Azure Information Protection ranges Microsoft publishes at endpoints.office.com):
#: requests from these are the service acting (Exchange Online opening mail for a user),
#: never a person's location. Extend with `service_networks` in the settings.
MICROSOFT_NETWORKS: tuple[str, ...] = (
    "13.107.6.152/31",
    "13.107.18.10/31",
    "13.107.128.0/22",
    "23.103.160.0/20",
    "40.92.0.0/15",
    "40.96.0.0/13",
    "40.104.0.0/15",
    "40.107.0.0/16",
    "52.96.0.0/14",
    "52.100.0.0/14",
    "52.108.0.0/14",
    "104.47.0.0/17",
    "131.253.33.215/32",
    "132.245.0.0/16",
    "150.171.32.0/22",
    "204.79.197.215/32",
    "2603:1006::/40",
    "2603:1016::/36",
    "2603:1026::/36",
    "2603:1036::/36",
    "2603:1046::/36",
    "2603:1056::/36",
    "2620:10c:5001::/48",
    "2a01:111:f400::/48",
)

#: Address blocks that are never a place, in the order they are checked.
_SPECIAL: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("loopback", ("127.0.0.0/8", "::1/128")),
    ("link-local", ("169.254.0.0/16", "fe80::/10")),
    ("private", ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")),
    ("carrier-grade-nat", ("100.64.0.0/10",)),
)


#: The columns of `ip_locations`, in order, with their types.
_COLUMNS: tuple[tuple[str, str], ...] = (
    ("c_ip", "VARCHAR"),
    ("network", "VARCHAR"),
    ("block", "VARCHAR"),
    ("label", "VARCHAR"),
    ("country_code", "VARCHAR"),
    ("country", "VARCHAR"),
    ("city", "VARCHAR"),
    ("latitude", "DOUBLE"),
    ("longitude", "DOUBLE"),
    ("accuracy_radius", "DOUBLE"),
)

_BATCH = 50_000

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: Iterable[str], what: str) -> tuple[Network, ...]:
    """CIDR strings as networks; a malformed one is a usage error naming `what`."""
    out = []
    for value in values:
        try:
            out.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError as e:
            raise UsageError(f"{what}: {value!r} is not an IP network ({e})") from None
    return tuple(out)


class Locator:
    """Labels and locations of single addresses (an open database, or none)."""

    def __init__(
        self,
        reader: Any | None,
        corporate: Iterable[Network] = (),
        service: Iterable[Network] = (),
    ) -> None:
        self._reader = reader
        labelled: list[tuple[str, tuple[Network, ...]]] = [
            (label, parse_networks(nets, "built-in ranges")) for label, nets in _SPECIAL
        ]
        labelled.append(("microsoft", (*parse_networks(MICROSOFT_NETWORKS, "built-in"), *service)))
        labelled.append(("corporate", tuple(corporate)))
        self._labelled = labelled
        # The same networks as integer ranges, each with its IP version: comparing two
        # integers is what `ip in network` does, without building objects per address.
        self._ranges = [
            (label, [(n.version, int(n.network_address), int(n.broadcast_address)) for n in nets])
            for label, nets in labelled
        ]

    @property
    def has_database(self) -> bool:
        return self._reader is not None

    def label(self, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
        version, value = ip.version, int(ip)
        for label, ranges in self._ranges:
            if any(v == version and lo <= value <= hi for v, lo, hi in ranges):
                return label
        return None

    def row(self, c_ip: str) -> tuple[Any, ...]:
        """One `ip_locations` row for `c_ip`."""
        try:
            ip = ipaddress.ip_address(c_ip.strip())
        except ValueError:
            return (c_ip, None, None, "invalid", None, None, None, None, None, None)
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        label = self.label(ip)
        if label is not None:
            return (c_ip, None, None, label, None, None, None, None, None, None)
        network, block = _prefixes(ip)
        record = self._reader.get(str(ip)) if self._reader is not None else None
        if not isinstance(record, dict):
            return (c_ip, network, block, None, None, None, None, None, None, None)
        country = record.get("country") or record.get("registered_country") or {}
        city = record.get("city") or {}
        location = record.get("location") or {}
        lat, lon = location.get("latitude"), location.get("longitude")
        radius = location.get("accuracy_radius")
        return (
            c_ip,
            network,
            block,
            None,
            country.get("iso_code"),
            (country.get("names") or {}).get("en"),
            (city.get("names") or {}).get("en"),
            float(lat) if lat is not None else None,
            float(lon) if lon is not None else None,
            float(radius) if radius is not None else (0.0 if lat is not None else None),
        )


def _prefixes(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> tuple[str, str]:
    """The address's network and block (`a.b.0.0/16` and `a.b.0.0/12`; `/48` and `/32` for
    IPv6), as `ipaddress.ip_network(..., strict=False)` writes them, by masking its integer."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id is not None:
        # A scoped address (`fe80::1%eth0`): the library's own parsing.
        return (
            str(ipaddress.ip_network(f"{ip}/48", strict=False)),
            str(ipaddress.ip_network(f"{ip}/32", strict=False)),
        )
    make: type[ipaddress.IPv4Address] | type[ipaddress.IPv6Address] = type(ip)
    bits, prefix, block_prefix = (32, 16, 12) if ip.version == 4 else (128, 48, 32)
    value, ones = int(ip), (1 << bits) - 1

    def masked(p: int) -> str:
        return f"{make(value & (ones ^ ((1 << (bits - p)) - 1)))}/{p}"

    return masked(prefix), masked(block_prefix)


@contextmanager
def open_locator(
    geoip: Path | None,
    corporate_networks: Iterable[str] = (),
    service_networks: Iterable[str] = (),
) -> Iterator[Locator]:
    """A locator over the `.mmdb` at `geoip` (None: labels only, no locations)."""
    corporate = parse_networks(corporate_networks, "corporate_networks")
    service = parse_networks(service_networks, "service_networks")
    if geoip is None:
        yield Locator(None, corporate, service)
        return
    if not geoip.is_file():
        raise UsageError(f"location database {geoip} does not exist")
    import maxminddb

    try:
        reader = maxminddb.open_database(str(geoip))
    except (OSError, ValueError, maxminddb.InvalidDatabaseError) as e:
        raise UsageError(f"{geoip}: not a MaxMind-format database: {e}") from e
    try:
        yield Locator(reader, corporate, service)
    finally:
        reader.close()


def register_ip_locations(
    con: duckdb.DuckDBPyConnection,
    geoip: Path | None = None,
    corporate_networks: Iterable[str] = (),
    service_networks: Iterable[str] = (),
) -> int:
    """(Re)create the temporary table `ip_locations` for every distinct `c_ip` in `requests`.

    Returns how many addresses it holds. Each address is looked up once."""
    with open_locator(geoip, corporate_networks, service_networks) as locator:
        table = ", ".join(f"{name} {type_}" for name, type_ in _COLUMNS)
        con.execute(f"CREATE OR REPLACE TEMP TABLE ip_locations ({table}, PRIMARY KEY (c_ip))")
        # One list per column, unnested side by side: no data frame library (polars,
        # pyarrow) is loaded for a few thousand short rows.
        columns = ", ".join(
            f"unnest(CAST(${i} AS {type_}[]))" for i, (_, type_) in enumerate(_COLUMNS, 1)
        )
        insert = f"INSERT INTO ip_locations SELECT {columns}"
        # A second cursor streams the addresses while this connection (which owns the
        # temporary table) writes: they never sit in Python all at once.
        source = con.cursor()
        total = 0
        try:
            source.execute("SELECT DISTINCT c_ip FROM requests WHERE c_ip IS NOT NULL")
            while batch := source.fetchmany(_BATCH):
                rows = [locator.row(ip) for (ip,) in batch]
                con.execute(insert, [list(column) for column in zip(*rows, strict=True)])
                total += len(rows)
        finally:
            source.close()
    return total
