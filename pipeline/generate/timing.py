"""When records reach storage: arrival times, and which blob each record lands in.

The service writes records as they arrive, so a blob holds records up to about a
minute out of order, and a small tail of records arrives up to ~15 minutes late
and lands in a later blob (the docs: 99.9% of records arrive within 15 minutes).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

#: Normal delay between a request and its record reaching storage: 0..JITTER-1 s.
JITTER_SECONDS = 60
#: Share of records that arrive late, and how late (seconds).
LATE_SHARE = 0.002
LATE_SECONDS = (60, 900)


def arrivals(rng: np.random.Generator, sec: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Arrival time of each record written at `sec`."""
    n = len(sec)
    delay = rng.integers(0, JITTER_SECONDS, n)
    late = rng.random(n) < LATE_SHARE
    delay = np.where(late, rng.integers(*LATE_SECONDS, n), delay)
    return np.asarray(sec + delay, dtype=np.int64)
