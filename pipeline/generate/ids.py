"""Vectorised random identifiers (GUIDs) for the simulator: NumPy bytes -> Arrow strings."""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_DASHES = (8, 13, 18, 23)


def random_guids(rng: np.random.Generator, n: int, *, braces: bool = False) -> pl.Series:
    """`n` random version-4 GUIDs as lowercase strings (`{...}` when `braces`)."""
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    nibbles = np.empty((n, 32), dtype=np.uint8)
    nibbles[:, 0::2] = raw >> 4
    nibbles[:, 1::2] = raw & 0x0F
    chars = _HEX[nibbles]
    width = 36 + (2 if braces else 0)
    out = np.full((n, width), ord("-"), dtype=np.uint8)
    off = 1 if braces else 0
    src = 0
    dst = off
    for stop in (*_DASHES, 36):
        length = stop - (dst - off)
        out[:, dst : dst + length] = chars[:, src : src + length]
        src += length
        dst += length + 1
    if braces:
        out[:, 0] = ord("{")
        out[:, -1] = ord("}")
    buf = pa.py_buffer(np.ascontiguousarray(out).tobytes())
    fixed = pa.Array.from_buffers(pa.binary(width), n, [None, buf])
    strings = fixed.cast(pa.binary()).cast(pa.string())
    return pl.Series(strings)
