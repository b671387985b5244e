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


def write_guids(raw: npt.NDArray[np.uint8], out: npt.NDArray[np.uint8], at: int) -> None:
    """Write GUID text for 16 bytes per row into columns at..at+35 of the byte matrix `out`."""
    n = len(raw)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    hexed = _HEX2[raw].view(np.uint8).reshape(n, 32)
    out[:, [at + 8, at + 13, at + 18, at + 23]] = ord("-")
    for src, dst, length in _RUNS:
        out[:, at + dst : at + dst + length] = hexed[:, src : src + length]


def fixed_strings(out: npt.NDArray[np.uint8]) -> pl.Series:
    """A byte matrix (one row per string, equal widths) as a string Series, no per-row work."""
    n, width = out.shape
    offsets = np.arange(0, width * (n + 1), width, dtype=np.int64)
    data = pa.py_buffer(np.ascontiguousarray(out))
    return pl.Series(
        pa.Array.from_buffers(pa.large_string(), n, [None, pa.py_buffer(offsets), data])
    )


def _format_guids(raw: npt.NDArray[np.uint8], braces: bool) -> pl.Series:
    """16 bytes per row -> version-4 GUID text (`{...}` when `braces`)."""
    off = 1 if braces else 0
    out = np.empty((len(raw), 36 + 2 * off), dtype=np.uint8)
    write_guids(raw, out, off)
    if braces:
        out[:, 0] = ord("{")
        out[:, -1] = ord("}")
    return fixed_strings(out)


def random_guids(rng: np.random.Generator, n: int, *, braces: bool = False) -> pl.Series:
    """`n` random version-4 GUIDs as lowercase strings (`{...}` when `braces`)."""
    raw = np.frombuffer(rng.bytes(16 * n), dtype=np.uint8).reshape(n, 16).copy()
    return _format_guids(raw, braces)


def random_keys(rng: np.random.Generator, n: int) -> npt.NDArray[np.int64]:
    """`n` random 63-bit keys; `keyed_guids` turns them into GUIDs when text is needed."""
    return rng.integers(0, np.iinfo(np.int64).max, n, dtype=np.int64)


def keyed_bytes(keys: npt.ArrayLike, salt: int) -> npt.NDArray[np.uint8]:
    """16 pseudo-random bytes per 64-bit key: the same key and salt, the same bytes."""
    k = np.asarray(keys).astype(np.int64).astype(np.uint64)
    with np.errstate(over="ignore"):
        base = _mix(np.full(1, salt & 0xFFFFFFFFFFFFFFFF, dtype=np.uint64))[0]
        hi = _mix(k ^ base)
        lo = _mix(hi + k + np.uint64(0x9E3779B97F4A7C15))
    return np.stack([hi, lo], axis=1).view(np.uint8).reshape(len(k), 16).copy()


def keyed_guids(keys: npt.ArrayLike, salt: int) -> pl.Series:
    """A GUID per 64-bit key: the same key and salt always give the same GUID."""
    return _format_guids(keyed_bytes(keys, salt), braces=False)


def guid(rng: np.random.Generator, *, braces: bool = False) -> str:
    """One random GUID."""
    return str(random_guids(rng, 1, braces=braces)[0])


def _mix(x: U64) -> U64:
    """SplitMix64 finaliser: a good 64-bit bijection (wraps modulo 2**64). Works in place
    on `x` when it is an array (callers pass temporaries): fewer allocations per row."""
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


def hash_bits(seed: int, *keys: npt.ArrayLike) -> U64:
    """64 reproducible pseudo-random bits per element of the broadcast integer `keys`."""
    with np.errstate(over="ignore"):
        h = _mix(np.asarray(seed & 0xFFFFFFFFFFFFFFFF, dtype=np.uint64) + np.uint64(0x9E3779B9))
        for key in keys:
            k = np.asarray(key).astype(np.int64).astype(np.uint64)
            h = _mix(h ^ (k + np.uint64(0x9E3779B97F4A7C15) + (h << np.uint64(6))))
    return np.asarray(h, dtype=np.uint64)


def hash_uniform(seed: int, *keys: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """A reproducible uniform [0, 1) value per element of the broadcast integer `keys`."""
    return (hash_bits(seed, *keys) >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def row_salt(seed: int) -> int:
    """Salt of row-id GUIDs for a seed (correlation ids use `corr_salt`)."""
    return 2 * seed


def corr_salt(seed: int) -> int:
    return 2 * seed + 1
