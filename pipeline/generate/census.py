"""The benign variety of a simulated tenant, for the ground truth.

An evaluator counts false alarms per person-day and wants to know why a finding fired
on a clean tenant: who travelled where and when, who is on the VPN or the night shift,
which networks belong to which place, which helpdesk days were busy, who mistyped.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np

from pipeline.generate import calendar
from pipeline.generate.activity import World
from pipeline.generate.places import CITIES, distances_km
from pipeline.generate.tenant import PROFILES
from pipeline.generate.whereabouts import (
    HOLIDAY_ABROAD_KIND,
    NONE,
    TRIP_BLOCK_DAYS,
    TRIP_KINDS,
    block_of,
    trips,
)


def _ts(sec: int) -> str:
    return datetime.fromtimestamp(sec, UTC).replace(tzinfo=None).isoformat()


def people_list(world: World) -> list[dict[str, object]]:
    """Every employee's habits that explain ordinary variety."""
    t = world.tenant
    p = t.people
    plan = t.plan
    isps = [n.name for n in plan.networks if n.kind == "home-isp"]
    carriers = [n.name for n in plan.networks if n.kind == "mobile"]
    isp_names = list(dict.fromkeys(isps))
    carrier_names = list(dict.fromkeys(carriers))
    admins, helpdesk = set(t.admins.tolist()), set(t.helpdesk.tolist())
    out = []
    for i in range(len(p)):
        roles = (["admin"] if i in admins else []) + (["helpdesk"] if i in helpdesk else [])
        out.append(
            {
                "user_id": str(t.user_ids[int(p.user[i])]),
                "profile": PROFILES[int(p.profile[i])],
                "vpn": bool(p.vpn[i]),
                "traveller": bool(p.trips[i] > 0),
                "finance": bool(p.finance[i]),
                "phone": bool(p.mobile[i] >= 0),
                "home_isp": isp_names[int(p.isp[i])],
                "carrier": carrier_names[int(p.carrier[i])],
                "roles": roles,
            }
        )
    return out


def trip_list(world: World, first: date, days: int) -> list[dict[str, object]]:
    """Every trip and holiday that overlaps the period, in departure order."""
    t = world.tenant
    n = len(t.people)
    start = int(datetime.combine(first, datetime.min.time(), UTC).timestamp())
    end = start + days * 86400
    person = np.arange(n, dtype=np.int32)
    lo, hi = block_of(world.seed, person, start) - 1, block_of(world.seed, person, end) + 1
    width = int((hi - lo).max()) + 1
    pp = np.repeat(person, width)
    bb = np.repeat(lo, width) + np.tile(np.arange(width), n)
    tr = trips(t, world.seed, world.tz, pp, bb)
    keep = (tr.kind != NONE) & (tr.return_arrive > start) & (tr.depart < end)
    home = t.plan.home_city
    km = distances_km(np.full(len(tr.dest), home), tr.dest)
    out = []
    for i in np.flatnonzero(keep)[np.argsort(tr.depart[keep], kind="stable")]:
        kind = int(tr.kind[i])
        out.append(
            {
                "user_id": str(t.user_ids[int(t.people.user[pp[i]])]),
                "kind": TRIP_KINDS[kind],
                "from": CITIES[home].name,
                "to": CITIES[int(tr.dest[i])].name,
                "to_timezone": CITIES[int(tr.dest[i])].tz,
                "distance_km": round(float(km[i]), 1),
                "flies": bool(tr.arrive[i] > tr.depart[i]),
                "abroad": kind == HOLIDAY_ABROAD_KIND
                or CITIES[int(tr.dest[i])].country != CITIES[home].country,
                "depart": _ts(int(tr.depart[i])),
                "arrive": _ts(int(tr.arrive[i])),
                "return_depart": _ts(int(tr.return_depart[i])),
                "return_arrive": _ts(int(tr.return_arrive[i])),
            }
        )
    return out


def world_document(world: World, first: date, days: int, n_people: int) -> dict[str, object]:
    """The `world` section of the ground truth."""
    t = world.tenant
    users = t.user_ids
    benign = {
        "denial_clusters": [
            {
                "user_id": str(users[c["user"]]),
                "first_ts": _ts(c["first"]),
                "attempts": c["attempts"],
            }
            for c in world.benign.get("denial_clusters", [])
        ],
        "helpdesk_busy_days": [
            {"user_id": str(users[c["user"]]), "day": _ts(c["day"])[:10], "cases": c["cases"]}
            for c in world.benign.get("helpdesk_busy_days", [])
        ],
        "month_end_days": [
            d.isoformat()
            for d in (first + timedelta(days=k) for k in range(days))
            if calendar.is_month_end(d, world.region)
        ],
    }
    return {
        "person_days": n_people * days,
        "people": people_list(world),
        "trips": trip_list(world, first, days),
        "trip_block_days": TRIP_BLOCK_DAYS,
        "networks": [n.as_dict() for n in t.plan.networks],
        "service_identities": [str(users[t.service_user]), str(users[t.connector_user])],
        "benign": benign,
    }
