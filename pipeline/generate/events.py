"""Simulated events: one row per log record, as small integers that index the tenant's
dictionaries (user ids, c-info strings, addresses, documents), plus two 64-bit keys
that become the row-id and correlation-id GUIDs when the record is written.

Keeping events numeric until the very end is what makes the simulator fast: the
writer turns a whole chunk into text with one vectorised gather per field.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt
import polars as pl

from pipeline.generate.ids import random_keys
from pipeline.schema import REQUEST_TYPES

#: Every request type name; an event's `rtype` indexes this tuple.
RT_NAMES: Final = tuple(rt.name for rt in REQUEST_TYPES)
RT: Final = {name: i for i, name in enumerate(RT_NAMES)}
#: Results; an event's `result` indexes this tuple. `Forbidden`: the tenant key refused
#: RMS (Key Vault answered 403), only in the `key-access-failures` incident.
RESULTS: Final = ("Success", "AccessDenied", "Forbidden")
SUCCESS, DENIED, FORBIDDEN = 0, 1, 2
#: How an event shows its document: not at all, every field, or only content-id
#: (RevokeAccess rows lack owner-email through date-published).
DOC_NONE, DOC_FULL, DOC_ID_ONLY = 0, 1, 2

SCHEMA: Final = pl.Schema(
    {
        "sec": pl.Int64,  # epoch seconds, UTC
        "rtype": pl.UInt8,
        "user": pl.Int32,  # 0 = no user
        "result": pl.UInt8,
        "doc": pl.Int32,  # -1 = none
        "docmode": pl.UInt8,
        "cinfo": pl.Int32,  # 0 = none
        "ip": pl.Int32,
        "admin": pl.Boolean,
        "acting": pl.Int32,  # 0 = none
        "row_key": pl.Int64,  # becomes the row-id GUID when written (ids.keyed_guids)
        "corr_key": pl.Int64,  # becomes the correlation-id GUID; shared by caused key calls
    }
)

ArrayLike = npt.ArrayLike


def make_events(
    rng: np.random.Generator,
    sec: ArrayLike,
    rtype: ArrayLike,
    user: ArrayLike,
    ip: ArrayLike,
    *,
    result: ArrayLike = SUCCESS,
    doc: ArrayLike = -1,
    docmode: ArrayLike = DOC_NONE,
    cinfo: ArrayLike = 0,
    admin: ArrayLike = False,
    acting: ArrayLike = 0,
    corr_key: ArrayLike | None = None,
    keep: ArrayLike | None = None,
) -> pl.DataFrame:
    """Events with fresh row keys (and correlation keys unless given); scalars broadcast.
    With `keep` (a mask over `sec`), only those rows: people in the air make no request."""
    sec = np.asarray(sec, dtype=np.int64)
    columns: dict[str, ArrayLike] = {
        "sec": sec,
        "rtype": rtype,
        "user": user,
        "result": result,
        "doc": doc,
        "docmode": docmode,
        "cinfo": cinfo,
        "ip": ip,
        "admin": admin,
        "acting": acting,
    }
    if corr_key is not None:
        columns["corr_key"] = corr_key
    if keep is not None:
        mask = np.asarray(keep, dtype=bool)
        if not mask.all():
            columns = {k: np.asarray(v)[mask] if np.ndim(v) else v for k, v in columns.items()}
    n = len(np.asarray(columns["sec"]))
    data = {
        name: pl.Series(name, np.broadcast_to(np.asarray(columns[name]), n), dtype=SCHEMA[name])
        for name in SCHEMA
        if name not in ("row_key", "corr_key")
    }
    data["row_key"] = pl.Series("row_key", random_keys(rng, n))
    corr = (
        random_keys(rng, n) if corr_key is None else np.asarray(columns["corr_key"], dtype=np.int64)
    )
    data["corr_key"] = pl.Series("corr_key", corr)
    return pl.DataFrame(data, schema=SCHEMA)


def empty_events() -> pl.DataFrame:
    return pl.DataFrame(schema=SCHEMA)


def concat_events(parts: list[pl.DataFrame]) -> pl.DataFrame:
    """Concatenate event frames, in the order given (deterministic)."""
    parts = [p for p in parts if p.height]
    return pl.concat(parts, how="vertical") if parts else empty_events()


def rtype_codes(names: tuple[str, ...]) -> npt.NDArray[np.uint8]:
    return np.array([RT[n] for n in names], dtype=np.uint8)
