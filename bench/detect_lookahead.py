"""`rmslog detect` with every rule's look-ahead cut to at most N days: what the look-ahead
costs a detect run (bench only, not a product setting: its findings may differ).

    python bench/detect_lookahead.py DAYS rmslog detect args...

The baseline rules read 14 days after a day as well as 14 before it (a network is new only
if fewer than three colleagues use it in the days around; a user in their first days is
judged on the days after too), so a new day re-judges the 14 days before it. The scale
sweep runs the detect after one more day both ways (`bench_scale.py`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from pipeline.detect import rules
from pipeline.entry import main

_reach = rules.Rule.reach


def _cut(days: int) -> Callable[[rules.Rule, str, dict[str, object]], int | None]:
    def reach(self: rules.Rule, name: str, values: dict[str, object]) -> int | None:
        value = _reach(self, name, values)
        return min(value, days) if name == "lookahead_days" and value is not None else value

    return reach


if __name__ == "__main__":
    rules.Rule.reach = _cut(int(sys.argv[1]))  # type: ignore[method-assign]
    sys.argv = ["rmslog", *sys.argv[2:]]
    main()
