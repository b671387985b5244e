"""Tenant-key calls: what a successful licensing request makes the service do with the key.

Same correlation-id as the request, user-id `''`, within a second, from the key
service's front ends. Microsoft-managed keys leave no trace. A tenant that moves to
BYOK mid-period (`byok_from`) switches client by client over a few weeks: each
actor's switch time is a fixed function of the seed, so any chunk of days agrees.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final

import numpy as np
import numpy.typing as npt
import polars as pl

from pipeline.generate.events import FORBIDDEN, RT, SUCCESS, empty_events, make_events
from pipeline.generate.ids import hash_uniform
from pipeline.schema import Topology

#: Requests that use the key, and the key operations (decrypt, sign) each one causes.
OPENS: Final = ("AcquireLicense", "FECreateEndUserLicenseV1")
SIGNS: Final = ("Certify", "GetClientLicensorCert", "FECreatePublishingLicenseV1")
OPERATIONS: Final = {
    Topology.BYOK_LEGACY: ("KMSPDecrypt", "KMSPSignDigest"),
    Topology.BYOK_KEYVAULT: ("KeyVaultDecryptRequest", "KeyVaultSignDigest"),
}
#: Before July 2016 the legacy operations were logged as Decrypt / SignDigest.
LEGACY_NAMES_UNTIL: Final = int((date(2016, 7, 1) - date(1970, 1, 1)).days * 86400)
#: How long the move to BYOK takes to reach every client.
RAMP_SECONDS: Final = 21 * 86400
_OPEN_CODES = np.array([RT[n] for n in OPENS], dtype=np.uint8)
_SIGN_CODES = np.array([RT[n] for n in SIGNS], dtype=np.uint8)


@dataclass(frozen=True)
class KeyPlan:
    """The tenant's key topology over time."""

    topology: Topology
    byok_from: int | None  # epoch seconds; None = BYOK for the whole period
    seed: int
    ips: npt.NDArray[np.int32]  # c-ip of key calls

    @property
    def byok(self) -> bool:
        return self.topology != Topology.MICROSOFT_MANAGED

    def switched(self, user: npt.ArrayLike, sec: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Whether each actor's requests at `sec` already use the customer's key."""
        sec = np.asarray(sec)
        if not self.byok:
            return np.zeros(sec.shape, dtype=bool)
        if self.byok_from is None:
            return np.ones(sec.shape, dtype=bool)
        delay = hash_uniform(self.seed, 77, user) * RAMP_SECONDS
        return np.asarray(sec >= self.byok_from + delay)

    def share(self, sec: int) -> float:
        """Share of clients on the customer's key at `sec` (0 before BYOK, 1 after the ramp)."""
        if not self.byok:
            return 0.0
        if self.byok_from is None:
            return 1.0
        return float(np.clip((sec - self.byok_from) / RAMP_SECONDS, 0.0, 1.0))

    def names(
        self, sec: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]:
        """Decrypt and sign request-type codes in force at each `sec`."""
        dec, sign = OPERATIONS[self.topology]
        legacy = (self.topology == Topology.BYOK_LEGACY) & (sec < LEGACY_NAMES_UNTIL)
        return (
            np.where(legacy, RT["Decrypt"], RT[dec]).astype(np.uint8),
            np.where(legacy, RT["SignDigest"], RT[sign]).astype(np.uint8),
        )


def key_calls(rng: np.random.Generator, requests: pl.DataFrame, plan: KeyPlan) -> pl.DataFrame:
    """The key calls caused by `requests`: decrypt + sign per open, sign per protect."""
    if not plan.byok or requests.is_empty():
        return empty_events()
    rtype = requests["rtype"].to_numpy()
    sec = requests["sec"].to_numpy()
    ok = (requests["result"].to_numpy() == SUCCESS) & plan.switched(
        requests["user"].to_numpy(), sec
    )
    opens = ok & np.isin(rtype, _OPEN_CODES)
    signs = ok & (opens | np.isin(rtype, _SIGN_CODES))
    src = np.concatenate([np.flatnonzero(opens), np.flatnonzero(signs)])
    is_sign = np.arange(len(src)) >= int(opens.sum())
    at = sec[src]
    delay = rng.integers(0, 2, len(src))
    at = np.where((at + delay) // 86400 == at // 86400, at + delay, at)
    dec, sign = plan.names(at)
    return make_events(
        rng,
        at,
        np.where(is_sign, sign, dec),
        0,
        plan.ips[rng.integers(0, len(plan.ips), len(src))],
        corr_key=requests["corr_key"].to_numpy()[src],
    )


def orphan_calls(
    rng: np.random.Generator, sec: npt.NDArray[np.int64], plan: KeyPlan
) -> pl.DataFrame:
    """Key calls that no request caused: fresh correlation ids, mostly decrypts."""
    dec, sign = plan.names(sec)
    kind = np.where(rng.random(len(sec)) < 0.7, dec, sign)
    return make_events(rng, sec, kind, 0, plan.ips[rng.integers(0, len(plan.ips), len(sec))])


def setup_checks(rng: np.random.Generator, day_start: int, plan: KeyPlan) -> pl.DataFrame:
    """Key Vault checks the key when BYOK is set up (KeyVaultGetKeyInfoRequest)."""
    if plan.topology != Topology.BYOK_KEYVAULT or plan.byok_from is None:
        return empty_events()
    if not day_start <= plan.byok_from < day_start + 86400:
        return empty_events()
    sec = plan.byok_from + np.sort(rng.integers(0, 120, 3))
    return make_events(rng, sec, RT["KeyVaultGetKeyInfoRequest"], 0, plan.ips[0], result=SUCCESS)


def fail_key_calls(events: pl.DataFrame, windows: list[tuple[int, int]]) -> pl.DataFrame:
    """`events` as RMS logs them while the vault refuses RMS (each window `lo <= sec < hi`):
    every Key Vault key call fails (`Forbidden`), a sign that would have followed a failed
    decrypt is never made, and the request that caused a failed call fails too."""
    if not windows or events.is_empty():
        return events
    sec = events["sec"].to_numpy()
    rtype = events["rtype"].to_numpy()
    corr = events["corr_key"].to_numpy()
    inside = np.zeros(len(sec), dtype=bool)
    for lo, hi in windows:
        inside |= (sec >= lo) & (sec < hi)
    calls = inside & np.isin(rtype, _VAULT_CODES)
    decrypts = calls & (rtype == RT["KeyVaultDecryptRequest"])
    dropped = calls & (rtype == RT["KeyVaultSignDigest"]) & np.isin(corr, corr[decrypts])
    failed = calls & ~dropped
    caused = ~calls & np.isin(corr, corr[failed]) & (events["user"].to_numpy() != 0)
    result = events["result"].to_numpy().copy()
    result[failed | (caused & (result == SUCCESS))] = FORBIDDEN
    return events.with_columns(result=pl.Series(result, dtype=pl.UInt8)).filter(pl.Series(~dropped))


_VAULT_CODES = np.array(
    [RT[n] for n in ("KeyVaultDecryptRequest", "KeyVaultSignDigest", "KeyVaultGetKeyInfoRequest")],
    dtype=np.uint8,
)
