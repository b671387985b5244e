"""Keyed pseudonyms for user ids and IP addresses, so a report can leave the team.

A pseudonym is `anon-` + the first 16 hex digits of HMAC-SHA256(key, value): the same
key gives the same pseudonym in every report (a person can be followed across reports
without being named), and without the key nobody can test a guess. DuckDB computes it
(`sha256` over BLOBs, RFC 2104 construction); Python only prepares the two padded keys,
which are bound as parameters and never written anywhere.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from pipeline.errors import UsageError

ENV_KEY = "RMSLOG_PSEUDONYM_KEY"
_BLOCK = 64  # SHA-256 block size in bytes


def load_pseudonym_key(key_file: Path | None = None) -> bytes:
    """The key from `key_file`, else from `$RMSLOG_PSEUDONYM_KEY`; a UsageError if neither."""
    if key_file is not None:
        try:
            key = key_file.read_bytes().strip()
        except OSError as e:
            raise UsageError(f"cannot read --pseudonym-key-file {key_file}: {e.strerror}") from e
        if not key:
            raise UsageError(f"--pseudonym-key-file {key_file} is empty")
        return key
    env = os.environ.get(ENV_KEY, "").strip()
    if not env:
        raise UsageError(
            f"--pseudonymize needs a key: set ${ENV_KEY} or pass --pseudonym-key-file FILE "
            "(keep the same key to get the same pseudonyms in every report)"
        )
    return env.encode("utf-8")


def pseudonym_params(key: bytes | None) -> dict[str, object]:
    """The `$pseudonymize`, `$key_inner`, `$key_outer` parameters of the report queries."""
    if key is None:
        return {"pseudonymize": False, "key_inner": b"", "key_outer": b""}
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    padded = key.ljust(_BLOCK, b"\0")
    return {
        "pseudonymize": True,
        "key_inner": bytes(b ^ 0x36 for b in padded),
        "key_outer": bytes(b ^ 0x5C for b in padded),
    }
