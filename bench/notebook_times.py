"""How long each notebook takes a learner: its core path (before "Going further") and the whole.

Reading time comes from the notebook's text (markdown words and non-blank code lines, as
``tests/test_learner_first.py`` counts them) at a stated pace; running time is the kernel time a
course run recorded (``course_utils.tooling.runner`` writes ``seconds`` and ``core_seconds`` per
notebook to its ``results.json``). The table goes to ``bench/results/notebook_times.md`` and
between the markers in ``notebooks/README.md``. Several summaries may be given (a later one wins
for a notebook both hold):

    python bench/notebook_times.py build/results.json [more/results.json ...]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from test_learner_first import core_path, whole_path  # noqa: E402  the counts the tests use

WORDS_PER_MIN, CODE_LINES_PER_MIN = 200, 15  # a careful first read of prose and of code
START, END = "<!-- notebook-times:start -->", "<!-- notebook-times:end -->"


def reading_minutes(counts: dict) -> float:
    return counts["words"] / WORDS_PER_MIN + counts["code_lines"] / CODE_LINES_PER_MIN


def table(summaries: list[Path]) -> str:
    runs = {r["notebook"]: r for results in summaries for r in json.loads(results.read_text())}
    where = ", ".join(str(p.relative_to(ROOT) if p.is_relative_to(ROOT) else p.name)
                      for p in summaries)  # fmt: skip
    model = next(iter(runs.values()), {}).get("record", {}).get("model", "?")
    lines = [
        f"Reading at {WORDS_PER_MIN} words and {CODE_LINES_PER_MIN} lines of code a minute; "
        f"running: the kernel time of one run (`{where}`, model {model}). Written by "
        "`bench/notebook_times.py`.",
        "",
        "| notebook | core: words / code lines | core: read + run (min) "
        "| whole: words / code lines | whole: read + run (min) |",
        "|---|---|---|---|---|",
    ]
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        run = runs.get(path.stem)
        if run is None or not run.get("ok") or run.get("core_seconds") is None:
            raise SystemExit(f"{where}: no complete timed run of {path.stem}")
        core, whole = core_path(path), whole_path(path)
        core_min = reading_minutes(core) + run["core_seconds"] / 60
        whole_min = reading_minutes(whole) + run["seconds"] / 60
        lines.append(
            f"| {path.stem} | {core['words']:,} / {core['code_lines']} | "
            f"{reading_minutes(core):.0f} + {run['core_seconds'] / 60:.0f} = {core_min:.0f} | "
            f"{whole['words']:,} / {whole['code_lines']} | "
            f"{reading_minutes(whole):.0f} + {run['seconds'] / 60:.0f} = {whole_min:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    given = sys.argv[1:] or [str(ROOT / "build" / "results.json")]
    text = table([Path(p).resolve() for p in given])
    (ROOT / "bench" / "results" / "notebook_times.md").write_text(
        "# Time per notebook: core path and whole\n\n" + text + "\n"
    )
    readme = ROOT / "notebooks" / "README.md"
    old = readme.read_text()
    head, rest = old.split(START)
    _, tail = rest.split(END)
    readme.write_text(f"{head}{START}\n{text}\n{END}{tail}")
    print(text)


if __name__ == "__main__":
    main()
