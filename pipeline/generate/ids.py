"""Vectorised identifiers and counter-based randomness for the simulator.

GUIDs are built as bytes in NumPy and handed to Arrow without a per-row step.
`hash_uniform` gives a reproducible number in [0, 1) for a tuple of integer keys
(user, day, ...): it lets every chunk of days agree on, say, where a user works
today without sharing a random stream, so output does not depend on chunking.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa

#: Two hex characters for every byte value, as one uint16 per byte.
_HEX2 = np.frombuffer(b"".join(f"{i:02x}".encode() for i in range(256)), dtype=np.uint16)
#: (source hex column, destination column) runs of a 36-character GUID.
_RUNS = ((0, 0, 8), (8, 9, 4), (12, 14, 4), (16, 19, 4), (20, 24, 12))

U64 = npt.NDArray[np.uint64]


def random_guids(rng: np.random.Generator, n: int, *, braces: bool = False) -> pl.Series:
    """`n` random version-4 GUIDs as lowercase strings (`{...}` when `braces`)."""
    raw = np.frombuffer(rng.bytes(16 * n), dtype=np.uint8).reshape(n, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    hexed = _HEX2[raw].view(np.uint8).reshape(n, 32)
    off = 1 if braces else 0
    width = 36 + 2 * off
    out = np.empty((n, width), dtype=np.uint8)
    out[:, [off + 8, off + 13, off + 18, off + 23]] = ord("-")
    for src, dst, length in _RUNS:
        out[:, off + dst : off + dst + length] = hexed[:, src : src + length]
    if braces:
        out[:, 0] = ord("{")
        out[:, -1] = ord("}")
    offsets = np.arange(0, width * (n + 1), width, dtype=np.int64)
    array = pa.Array.from_buffers(
        pa.large_string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(out)]
    )
    return pl.Series(array)


def guid(rng: np.random.Generator, *, braces: bool = False) -> str:
    """One random GUID."""
    return str(random_guids(rng, 1, braces=braces)[0])


def _mix(x: U64) -> U64:
    """SplitMix64 finaliser: a good 64-bit bijection (wraps modulo 2**64)."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def hash_uniform(seed: int, *keys: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """A reproducible uniform [0, 1) value per element of the broadcast integer `keys`."""
    with np.errstate(over="ignore"):
        h = _mix(np.asarray(seed & 0xFFFFFFFFFFFFFFFF, dtype=np.uint64) + np.uint64(0x9E3779B9))
        for key in keys:
            k = np.asarray(key).astype(np.int64).astype(np.uint64)
            h = _mix(h ^ (k + np.uint64(0x9E3779B97F4A7C15) + (h << np.uint64(6))))
    return (h >> np.uint64(11)).astype(np.float64) / float(1 << 53)
