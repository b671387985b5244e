"""The simulated world's geography: cities, and the networks that belong to them.

Every address the simulator writes lies in one network of this plan, and every network
belongs to a place (city, country, coordinates, accuracy radius), as a GeoIP City
database would say. The plan is fixed per region (no randomness): the office, the home
city's broadband ISPs and mobile carriers, the corporate VPN's exits in other cities,
hotels and roaming carriers at trip destinations, partners' offices, attackers'
networks in distant countries, and Microsoft's own service front ends.

Ranges are public-looking (never private, carrier-grade NAT or documentation space);
they are invented for the simulation and say nothing about who really holds them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class City:
    name: str
    country: str  # ISO 3166 alpha-2
    country_name: str
    lat: float
    lon: float
    tz: str  # IANA zone: people on a trip work local hours


def _c(name: str, cc: str, country: str, lat: float, lon: float) -> City:
    return City(name, cc, country, lat, lon, _ZONES.get(name, ""))


_ZONES = {
    "New York": "America/New_York",
    "Berlin": "Europe/Berlin",
    "Singapore": "Asia/Singapore",
    "Chicago": "America/Chicago",
    "San Francisco": "America/Los_Angeles",
    "Boston": "America/New_York",
    "Atlanta": "America/New_York",
    "Dallas": "America/Chicago",
    "Ashburn": "America/New_York",
    "London": "Europe/London",
    "Toronto": "America/Toronto",
    "Frankfurt am Main": "Europe/Berlin",
    "Munich": "Europe/Berlin",
    "Hamburg": "Europe/Berlin",
    "Cologne": "Europe/Berlin",
    "Paris": "Europe/Paris",
    "Amsterdam": "Europe/Amsterdam",
    "Madrid": "Europe/Madrid",
    "Warsaw": "Europe/Warsaw",
    "Tokyo": "Asia/Tokyo",
    "Hong Kong": "Asia/Hong_Kong",
    "Sydney": "Australia/Sydney",
    "Kuala Lumpur": "Asia/Kuala_Lumpur",
    "Bangkok": "Asia/Bangkok",
    "Jakarta": "Asia/Jakarta",
    "Lagos": "Africa/Lagos",
    "Sao Paulo": "America/Sao_Paulo",
    "Moscow": "Europe/Moscow",
    "Lima": "America/Lima",
    "Johannesburg": "Africa/Johannesburg",
    "Hanoi": "Asia/Ho_Chi_Minh",
    "Boydton": "America/New_York",
    "San Antonio": "America/Chicago",
    "Dublin": "Europe/Dublin",
}


#: Every city the simulator knows; index = position (networks refer to it).
CITIES: tuple[City, ...] = (
    _c("New York", "US", "United States", 40.7128, -74.0060),
    _c("Berlin", "DE", "Germany", 52.5200, 13.4050),
    _c("Singapore", "SG", "Singapore", 1.3521, 103.8198),
    _c("Chicago", "US", "United States", 41.8781, -87.6298),
    _c("San Francisco", "US", "United States", 37.7749, -122.4194),
    _c("Boston", "US", "United States", 42.3601, -71.0589),
    _c("Atlanta", "US", "United States", 33.7490, -84.3880),
    _c("Dallas", "US", "United States", 32.7767, -96.7970),
    _c("Ashburn", "US", "United States", 39.0438, -77.4874),
    _c("London", "GB", "United Kingdom", 51.5074, -0.1278),
    _c("Toronto", "CA", "Canada", 43.6532, -79.3832),
    _c("Frankfurt am Main", "DE", "Germany", 50.1109, 8.6821),
    _c("Munich", "DE", "Germany", 48.1351, 11.5820),
    _c("Hamburg", "DE", "Germany", 53.5511, 9.9937),
    _c("Cologne", "DE", "Germany", 50.9375, 6.9603),
    _c("Paris", "FR", "France", 48.8566, 2.3522),
    _c("Amsterdam", "NL", "Netherlands", 52.3676, 4.9041),
    _c("Madrid", "ES", "Spain", 40.4168, -3.7038),
    _c("Warsaw", "PL", "Poland", 52.2297, 21.0122),
    _c("Tokyo", "JP", "Japan", 35.6762, 139.6503),
    _c("Hong Kong", "HK", "Hong Kong", 22.3193, 114.1694),
    _c("Sydney", "AU", "Australia", -33.8688, 151.2093),
    _c("Kuala Lumpur", "MY", "Malaysia", 3.1390, 101.6869),
    _c("Bangkok", "TH", "Thailand", 13.7563, 100.5018),
    _c("Jakarta", "ID", "Indonesia", -6.2088, 106.8456),
    _c("Lagos", "NG", "Nigeria", 6.5244, 3.3792),
    _c("Sao Paulo", "BR", "Brazil", -23.5505, -46.6333),
    _c("Moscow", "RU", "Russia", 55.7558, 37.6173),
    _c("Lima", "PE", "Peru", -12.0464, -77.0428),
    _c("Johannesburg", "ZA", "South Africa", -26.2041, 28.0473),
    _c("Hanoi", "VN", "Vietnam", 21.0278, 105.8342),
    _c("Boydton", "US", "United States", 36.6676, -78.3875),
    _c("San Antonio", "US", "United States", 29.4241, -98.4936),
    _c("Dublin", "IE", "Ireland", 53.3498, -6.2603),
)
CITY = {c.name: i for i, c in enumerate(CITIES)}


@dataclass(frozen=True)
class RegionPlan:
    """Where a region's tenant lives and goes."""

    home: str
    office: str  # first /24 of the office sites (one /24 per site)
    isps: tuple[tuple[str, tuple[str, ...]], ...]  # home broadband: name, its /16s
    carriers: tuple[tuple[str, tuple[str, ...]], ...]  # mobile: name, its /16 pools
    domestic: tuple[str, ...]  # business-trip destinations in the home country (or near)
    abroad: tuple[str, ...]  # international destinations (business and holidays)
    vpn_exits: tuple[str, ...]  # cities of the corporate VPN's exits
    partners: tuple[str, ...]  # cities of the partner organisations' offices
    key_service: tuple[str, str]  # the RMS key service's /24 and its datacentre city


def _pools(first: str, second: int, count: int) -> tuple[str, ...]:
    return tuple(f"{first}.{second + k}" for k in range(count))


REGIONS: dict[str, RegionPlan] = {
    "na": RegionPlan(
        home="New York",
        office="162.115.4",
        isps=(
            ("Verizon Fios", _pools("71", 160, 4)),
            ("Spectrum", _pools("67", 80, 4)),
            ("Optimum", _pools("24", 185, 4)),
        ),
        carriers=(
            ("Verizon Wireless", _pools("174", 192, 12)),
            ("T-Mobile US", _pools("172", 56, 12)),
            ("AT&T Mobility", _pools("107", 64, 12)),
        ),
        domestic=("Chicago", "San Francisco", "Boston", "Atlanta", "Dallas"),
        abroad=("London", "Toronto", "Frankfurt am Main", "Tokyo", "Paris"),
        vpn_exits=("Ashburn", "Chicago", "Dallas"),
        partners=("Boston", "Chicago", "London"),
        key_service=("40.76.4", "Boydton"),
    ),
    "eu": RegionPlan(
        home="Berlin",
        office="193.175.12",
        isps=(
            ("Deutsche Telekom", _pools("87", 160, 4)),
            ("Vodafone Kabel", _pools("95", 88, 4)),
            ("Telefonica O2 DSL", _pools("89", 204, 4)),
        ),
        carriers=(
            ("Telekom Mobil", _pools("80", 184, 12)),
            ("Vodafone Mobil", _pools("109", 40, 12)),
            ("O2 Mobil", _pools("176", 96, 12)),
        ),
        domestic=("Munich", "Hamburg", "Frankfurt am Main", "Cologne", "Paris"),
        abroad=("London", "Madrid", "New York", "Warsaw", "Amsterdam"),
        vpn_exits=("Frankfurt am Main", "Amsterdam", "Paris"),
        partners=("Munich", "Paris", "London"),
        key_service=("40.114.7", "Amsterdam"),
    ),
    "ap": RegionPlan(
        home="Singapore",
        office="203.116.8",
        isps=(
            ("Singtel", _pools("116", 86, 4)),
            ("StarHub", _pools("101", 127, 4)),
            ("M1", _pools("118", 189, 4)),
        ),
        carriers=(
            ("Singtel Mobile", _pools("111", 65, 12)),
            ("StarHub Mobile", _pools("58", 182, 12)),
            ("M1 Mobile", _pools("121", 6, 12)),
        ),
        domestic=("Kuala Lumpur", "Jakarta", "Bangkok", "Hong Kong"),
        abroad=("Sydney", "Tokyo", "London", "Hong Kong"),
        vpn_exits=("Hong Kong", "Tokyo", "Sydney"),
        partners=("Kuala Lumpur", "Hong Kong", "Sydney"),
        key_service=("40.83.121", "Singapore"),
    ),
}
#: Cities a stolen session may come from (each at least ATTACKER_MIN_KM from the victim).
ATTACKER_CITIES = ("Lagos", "Sao Paulo", "Moscow", "Lima", "Johannesburg", "Hanoi", "Sydney")
ATTACKER_MIN_KM = 4000.0
#: Exchange Online's front ends (service identity) and their datacentre cities.
EXCHANGE_NETWORKS = (
    ("40.92.18", "San Antonio"),
    ("40.107.22", "Amsterdam"),
    ("52.100.155", "Dublin"),
    ("104.47.58", "Singapore"),
)
#: Accuracy radius (km) a GeoIP database gives each kind of network.
RADIUS_KM = {
    "office": 10,
    "home-isp": 25,
    "mobile": 150,
    "vpn-exit": 20,
    "hotel": 20,
    "roaming": 100,
    "partner": 20,
    "attacker": 50,
    "microsoft": 100,
}
#: Hosts the simulator uses in each network of a kind (addresses per network).
HOSTS = {"mobile": 48, "vpn-exit": 16, "hotel": 32, "roaming": 32, "attacker": 24, "partner": 8}
#: Cruise speed used to time flights (km/h); with taxiing, no flight averages above it.
FLIGHT_KMH = 800.0
FLIGHT_OVERHEAD_H = 0.6


def distance_km(a: City, b: City) -> float:
    """Great-circle distance (haversine, mean Earth radius 6371 km)."""
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dp, dl = p2 - p1, math.radians(b.lon - a.lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def flight_seconds(a: City, b: City) -> int:
    """Gate-to-gate time of a flight: distance at FLIGHT_KMH plus taxiing."""
    return int(3600 * (distance_km(a, b) / FLIGHT_KMH + FLIGHT_OVERHEAD_H))


@dataclass(frozen=True)
class Network:
    """One network of the plan and where a GeoIP database places it."""

    cidr: str
    kind: str  # office, home-isp, mobile, vpn-exit, hotel, roaming, partner, attacker, microsoft
    name: str  # ISP, carrier or owner
    city: int  # index into CITIES
    radius_km: int

    def as_dict(self) -> dict[str, object]:
        c = CITIES[self.city]
        return {
            "network": self.cidr,
            "kind": self.kind,
            "name": self.name,
            "city": c.name,
            "country": c.country,
            "latitude": c.lat,
            "longitude": c.lon,
            "accuracy_radius": self.radius_km,
        }

    def geoip_record(self) -> dict[str, object]:
        """The GeoLite2-City record shape."""
        c = CITIES[self.city]
        return {
            "city": {"names": {"en": c.name}},
            "country": {"iso_code": c.country, "names": {"en": c.country_name}},
            "location": {
                "latitude": c.lat,
                "longitude": c.lon,
                "accuracy_radius": self.radius_km,
            },
        }


#: Distance between every two cities (km), indexed by city.
_DISTANCES = np.array([[distance_km(a, b) for b in CITIES] for a in CITIES])


def distances_km(a: npt.ArrayLike, b: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Great-circle distances between city indices `a` and `b` (vectorised)."""
    return np.asarray(_DISTANCES[np.asarray(a), np.asarray(b)], dtype=np.float64)
