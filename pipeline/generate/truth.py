"""The ground truth written beside the logs: `ground-truth.json` (format rmslog-ground-truth/1).

    {"format": "rmslog-ground-truth/1",
     "options": {... every generator option, "timezone" resolved ...},
     "incidents": [{"scenario": "denied-burst", "entity": "kim.berg@contoso.com",
                    "first_ts": "2026-11-03T15:02:11", "last_ts": "2026-11-03T15:09:40",
                    "row_ids": ["5e0c2f1a-...", ...]}, ...],
     "skipped": [{"scenario": "admin-browsing", "reason": "..."}]}

Timestamps are UTC, naive ISO. `row_ids` are every record the incident injected,
including the tenant-key calls its requests caused, in time order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pipeline.errors import LogFormatError
from pipeline.generate.ids import keyed_guids, row_salt
from pipeline.generate.scenarios import Injected
from pipeline.generate.writer import write_atomic

FORMAT = "rmslog-ground-truth/1"
FILE_NAME = "ground-truth.json"


@dataclass(frozen=True)
class Incident:
    """One labelled incident, as the ground truth lists it."""

    scenario: str
    entity: str
    first_ts: datetime
    last_ts: datetime
    row_ids: tuple[str, ...]
    keyvault: dict[str, object] | None = None  # Key Vault scenarios: what the vault log shows

    @classmethod
    def of(cls, injected: Injected, seed: int) -> Incident:
        """The incident as logged by a run with `seed` (row ids are derived from it)."""
        events = injected.events.sort("sec", maintain_order=True)
        sec = events["sec"]
        row_ids = keyed_guids(events["row_key"].to_numpy(), row_salt(seed))
        if injected.vault is not None:  # the window is the incident's, not its RMS rows'
            first, last = injected.vault.window
            return cls(
                injected.scenario,
                injected.entity,
                _utc(first),
                _utc(last),
                tuple(row_ids.to_list()),
                injected.vault.detail(),
            )
        return cls(
            injected.scenario,
            injected.entity,
            _utc(int(sec.min())),  # type: ignore[arg-type]
            _utc(int(sec.max())),  # type: ignore[arg-type]
            tuple(row_ids.to_list()),
        )

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "scenario": self.scenario,
            "entity": self.entity,
            "first_ts": self.first_ts.isoformat(),
            "last_ts": self.last_ts.isoformat(),
            "row_ids": list(self.row_ids),
        }
        if self.keyvault is not None:
            out["keyvault"] = self.keyvault
        return out


def _utc(sec: int) -> datetime:
    return datetime.fromtimestamp(sec, UTC).replace(tzinfo=None)


def truth_document(
    options: dict[str, object],
    incidents: list[Incident],
    skipped: dict[str, str],
    world: dict[str, object] | None = None,
) -> dict[str, object]:
    doc: dict[str, object] = {
        "format": FORMAT,
        "options": options,
        "incidents": [i.as_dict() for i in incidents],
        "skipped": [{"scenario": s, "reason": r} for s, r in skipped.items()],
    }
    if world is not None:
        doc["world"] = world
    return doc


def write_truth(out_dir: Path, document: dict[str, object]) -> Path:
    """Write (atomically) and return `out_dir/ground-truth.json`."""
    path = out_dir / FILE_NAME
    text = _pretty(document, 0) + "\n"
    write_atomic(path, [text.encode("utf-8")])
    return path


def _pretty(value: object, depth: int) -> str:
    """JSON with the top two levels of objects and lists one entry per line and everything
    deeper on one line: readable, and encoded by the C encoder (`indent` is pure Python,
    too slow for tens of thousands of row ids)."""
    if depth >= 2 or not isinstance(value, dict | list) or not value:
        return json.dumps(value, ensure_ascii=False)
    pad = " " * (depth + 1)
    if isinstance(value, dict):
        items = [f"{pad}{json.dumps(k)}: {_pretty(v, depth + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * depth + "}"
    items = [pad + _pretty(v, depth + 1) for v in value]
    return "[\n" + ",\n".join(items) + "\n" + " " * depth + "]"


def read_truth(path: Path) -> dict[str, object]:
    """Load a ground-truth file, checking its format tag."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise LogFormatError(f"{path}: not a {FORMAT} file")
    return data
