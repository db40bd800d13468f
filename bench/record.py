"""Appending benchmark and search results: one JSON object per line, printed as written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def append_jsonl(path: Path, row: dict[str, Any]) -> None:
    """Print ``row`` as one JSON line and append it to ``path`` (a ``.jsonl`` results file)."""
    line = json.dumps(row)
    print(line, flush=True)
    with path.open("a") as f:
        f.write(line + "\n")
