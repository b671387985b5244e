"""The simulated world's GeoIP database: `geoip.mmdb` beside the logs.

A MaxMind DB (the format of GeoLite2 City and DB-IP Lite City) holding every network
the simulator uses, each with the GeoLite2-City record shape::

    {"country": {"iso_code": "US", "names": {"en": "United States"}},
     "city": {"names": {"en": "New York"}},
     "location": {"latitude": 40.7128, "longitude": -74.006, "accuracy_radius": 25}}

so the demo and the tests exercise the same lookup path as a downloaded database.
The writer's build time is pinned to the period's first day: same options, same bytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mmdb_writer import MMDBWriter
from netaddr import IPSet

from pipeline.files import write_atomically
from pipeline.generate.places import Network

FILE_NAME = "geoip.mmdb"
DATABASE_TYPE = "GeoLite2-City"


class _PinnedWriter(MMDBWriter):
    """MMDBWriter with a fixed build epoch (the stock one stamps the current time)."""

    def __init__(self, build_epoch: int) -> None:
        super().__init__(
            ip_version=4,
            database_type=DATABASE_TYPE,
            languages=["en"],
            description="rmslog simulator: the simulated tenant's networks (not real data)",
        )
        self.build_epoch = build_epoch

    def _build_meta(self) -> dict[str, Any]:
        return super()._build_meta() | {"build_epoch": self.build_epoch}


def write_geoip(out_dir: Path, networks: tuple[Network, ...], build_epoch: int) -> Path:
    """Write (atomically) `out_dir/geoip.mmdb` for `networks`; returns its path."""
    writer = _PinnedWriter(build_epoch)
    for net in networks:
        writer.insert_network(IPSet([net.cidr]), net.geoip_record())
    path = out_dir / FILE_NAME
    write_atomically(path, lambda tmp: writer.to_db_file(str(tmp)))
    return path
