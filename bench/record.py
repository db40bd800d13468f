"""Recording benchmark and search results: one JSON object per line, printed as written, with
the context every result needs (command, date, load average, versions, machine) and a one-line
profile of where a contender spends its time."""

from __future__ import annotations

import cProfile
import datetime
import json
import os
import platform
import pstats
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def run_context(
    load_before: float, versions: dict[str, str], load_after: float | None = None
) -> dict[str, Any]:
    """What a result row starts with: the command, date, 1-minute load average before and after
    (``load_after`` defaults to now), the libraries' versions and the machine."""
    after = os.getloadavg()[0] if load_after is None else load_after
    return {
        "command": "python " + " ".join(sys.argv),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "load_average_before_after": [round(load_before, 2), round(after, 2)],
        "versions": versions,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs visible",
    }


def profile_line(fn: Callable[[], object], top: int) -> str:
    """The ``top`` functions by own time in one call of ``fn``, with their share of the call."""
    profiler = cProfile.Profile()
    profiler.enable()
    fn()
    profiler.disable()
    stats = pstats.Stats(profiler).stats
    total = sum(row[2] for row in stats.values())  # own time of every function
    rows = sorted(stats.items(), key=lambda item: -item[1][2])[:top]
    return ", ".join(f"{name[2]} {row[2] / total:.0%}" for name, row in rows)


def append_jsonl(path: Path, row: dict[str, Any]) -> None:
    """Print ``row`` as one JSON line and append it to ``path`` (a ``.jsonl`` results file)."""
    line = json.dumps(row)
    print(line, flush=True)
    with path.open("a") as f:
        f.write(line + "\n")
