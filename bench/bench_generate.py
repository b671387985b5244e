"""Generator speed: rows/s for the 10M-row tenant (BENCH_SCALE=1.0), against the target.

Target: at least 1M rows/s on this 2-core machine. Also measured in the same run, as a
floor: writing the same number of bytes with one plain `write` per file (no simulation,
no formatting). Prints rows/s, the ratio to the target (>= 1.0 meets it) and the ratio
to the I/O floor. Develop with BENCH_SCALE=0.02 or so.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from common import OUT, SCALE, peak_rss_mib, section, tenant_options, timed

from pipeline.generate import generate_logs

TARGET_ROWS_PER_S = 1_000_000


def _io_floor(files: list[Path], folder: Path) -> float:
    """Seconds to write the same bytes to new files, one write per file (reads not timed)."""
    folder.mkdir(parents=True, exist_ok=True)
    seconds = 0.0
    for i, path in enumerate(files):
        data = path.read_bytes()
        t0 = time.perf_counter()
        (folder / f"{i}.bin").write_bytes(data)
        seconds += time.perf_counter() - t0
    return seconds


def main() -> None:
    options = tenant_options()
    out = OUT / "bench-generate"
    shutil.rmtree(out, ignore_errors=True)
    with section(f"generate {options.days} days x {options.users:,} users (BENCH_SCALE={SCALE})"):
        cpu0 = os.times()
        result, seconds = timed(lambda: generate_logs(out / "logs", options))
        cpu = sum(os.times()[:2]) - sum(cpu0[:2])
        size = sum(f.stat().st_size for f in result.files)
        rate = result.records / seconds
        print(f"rows: {result.records:,} in {len(result.files)} files, {size / 1e9:.2f} GB")
        print(f"time: {seconds:.2f} s wall, {cpu:.2f} s CPU; {rate:,.0f} rows/s")
        print(f"ratio to target ({TARGET_ROWS_PER_S:,} rows/s): {rate / TARGET_ROWS_PER_S:.2f}x")
        print(f"peak RSS while generating: {peak_rss_mib():,.0f} MiB")
    with section("I/O floor: the same bytes written again, one write per file"):
        floor = _io_floor(result.files, out / "floor")
        print(f"time: {floor:.2f} s; ratio generate/floor: {seconds / floor:.2f}x")
    shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
