"""Write the self-checking exercises into notebooks: ``python solutions/insert_cells.py NB...``.

For each notebook ``notebooks/NN_name.ipynb`` given, the "## Exercises" section is replaced by
an intro cell and, per exercise of notebook ``NN`` (``solutions/starters.py``), a markdown
cell with the task and a code cell with the starter (tags ``["exercise"]``, metadata
``{"exercise": "NN.k"}``, no outputs, no execution count).

The section replaced: from the "## Exercises" heading (a line of its own, possibly in the middle
of a cell, e.g. after "## Summary") to the next level-1/2 heading. Within the heading's cell,
the text before the heading stays in that cell and any text after the next heading moves to a
new markdown cell after the exercises. The cells after the heading's cell that belong to the
section are the markdown cells without a level-1/2 heading and the code cells this script made
(tag "exercise"); the first other cell (a heading, or a code cell such as ``record_results``)
ends it and is kept. Without an "## Exercises" heading, the section goes just before the cell
that starts with "## Summary" (after it, when "## Summary" is not the cell's first line), else
at the end. No other cell changes; running the script twice changes nothing the second time.

The notebook is written as nbformat writes it (JSON, indent 1, sorted keys, UTF-8, trailing
newline). Options: ``--check`` writes nothing and exits 1 if a notebook would change;
``--with-outputs`` also stores each starter's output (its "not done yet" line, from running
the starter in a fresh namespace), which is what nbval will compare once the cells are in.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import importlib.util
import io
import json
import re
import sys
from pathlib import Path
from typing import Any

STARTERS_FILE = Path(__file__).resolve().with_name("starters.py")  # next to this script
EXERCISES_HEADING = re.compile(r"^##\s+Exercises\s*$")
TOP_HEADING = re.compile(r"^#{1,2}\s")  # a level-1 or level-2 heading ends the section
SUMMARY_HEADING = re.compile(r"^##\s+Summary\b")
TAG = "exercise"


def load_starters() -> Any:
    """``solutions/starters.py`` as a module (it is not a package)."""
    spec = importlib.util.spec_from_file_location("exercise_starters", STARTERS_FILE)
    assert spec and spec.loader, STARTERS_FILE
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def source_of(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def as_lines(text: str) -> list[str]:
    """nbformat's on-disk form of a cell's source: lines, each but the last ending in \\n."""
    return text.splitlines(keepends=True)


def markdown_cell(
    cell_id: str, text: str, metadata: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "cell_type": "markdown",
        "id": cell_id,
        "metadata": metadata or {},
        "source": as_lines(text),
    }


def code_cell(cell_id: str, text: str, exercise_id: str) -> dict[str, Any]:
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": cell_id,
        "metadata": {"exercise": exercise_id, "tags": [TAG]},
        "outputs": [],
        "source": as_lines(text),
    }


def starter_output(source: str) -> list[dict[str, Any]]:
    """The stream output of running a starter cell in a fresh namespace."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        exec(compile(source, "<starter>", "exec"), {"__name__": "__main__"})
    text = buffer.getvalue()
    return [{"name": "stdout", "output_type": "stream", "text": as_lines(text)}] if text else []


def exercise_cells(
    number: str, notebook: str, with_outputs: bool = False, first_count: int = 1
) -> list[dict[str, Any]]:
    """The intro cell, then a task cell and a starter cell per exercise of notebook ``number``.

    With ``with_outputs``, each starter cell holds its output and an execution count (from
    ``first_count`` on): nbval rejects a cell with outputs but no count ("unrun")."""
    starters = load_starters()
    ids = starters.by_notebook(number)
    if not ids:
        raise SystemExit(f"no exercises for notebook {number} in {STARTERS_FILE}")
    cells = [markdown_cell(f"exercises-{number}", starters.intro(notebook))]
    for exercise_id in ids:
        slug = exercise_id.replace(".", "-")
        cells.append(
            markdown_cell(
                f"exercise-{slug}-task", starters.TASKS[exercise_id], {"exercise": exercise_id}
            )
        )
        cell = code_cell(f"exercise-{slug}", starters.STARTERS[exercise_id], exercise_id)
        if with_outputs:
            cell["outputs"] = starter_output(starters.STARTERS[exercise_id])
            cell["execution_count"] = first_count
            first_count += 1
        cells.append(cell)
    return cells


def heading_line(text: str, pattern: re.Pattern[str]) -> int | None:
    """Index of the first line of ``text`` matching ``pattern`` (outside code fences)."""
    fenced = False
    for i, line in enumerate(text.splitlines()):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and pattern.match(line):
            return i
    return None


def is_ours(cell: dict[str, Any]) -> bool:
    return TAG in cell.get("metadata", {}).get("tags", []) or "exercise" in cell.get("metadata", {})


def next_count(cells: list[dict[str, Any]], index: int) -> int:
    """One more than the last execution count before ``cells[index]`` (1 if none)."""
    counts = [c.get("execution_count") for c in cells[:index] if c["cell_type"] == "code"]
    return max([n for n in counts if isinstance(n, int)], default=0) + 1


def in_section(cell: dict[str, Any]) -> bool:
    """Whether a cell after the heading's cell still belongs to the exercises section."""
    if cell["cell_type"] == "markdown":
        return heading_line(source_of(cell), TOP_HEADING) is None
    return cell["cell_type"] == "code" and is_ours(cell)


def replace_section(
    nb: dict[str, Any], number: str, notebook: str, with_outputs: bool = False
) -> dict[str, Any]:
    """A copy of ``nb`` with its exercises section replaced (see the module docstring)."""
    nb = copy.deepcopy(nb)
    cells: list[dict[str, Any]] = nb["cells"]
    start = next(
        (
            i
            for i, c in enumerate(cells)
            if c["cell_type"] == "markdown"
            and heading_line(source_of(c), EXERCISES_HEADING) is not None
        ),
        None,
    )
    if start is None:
        summary = next(
            (
                (i, heading_line(source_of(c), SUMMARY_HEADING))
                for i, c in enumerate(cells)
                if c["cell_type"] == "markdown"
                and heading_line(source_of(c), SUMMARY_HEADING) is not None
            ),
            None,
        )
        at = len(cells) if summary is None else summary[0] + (summary[1] != 0)
        cells[at:at] = exercise_cells(number, notebook, with_outputs, next_count(cells, at))
        return nb

    lines = source_of(cells[start]).splitlines(keepends=True)
    pos = heading_line("".join(lines), EXERCISES_HEADING)
    assert pos is not None
    before = "".join(lines[:pos]).rstrip()
    after_heading = "".join(lines[pos + 1 :])
    nxt = heading_line(after_heading, TOP_HEADING)
    tail = "".join(after_heading.splitlines(keepends=True)[nxt:]).strip() if nxt is not None else ""

    end = start + 1
    if nxt is None:  # the section goes on into the following cells
        while end < len(cells) and in_section(cells[end]):
            end += 1
    replacement: list[dict[str, Any]] = []
    if before:
        kept = dict(cells[start])
        kept["source"] = as_lines(before)
        replacement.append(kept)
    replacement += exercise_cells(number, notebook, with_outputs, next_count(cells, start))
    if tail:
        replacement.append(markdown_cell(f"exercises-{number}-after", tail))
    cells[start:end] = replacement
    return nb


def dumps(nb: dict[str, Any]) -> str:
    """As nbformat writes a notebook."""
    return json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def notebook_number(path: Path) -> tuple[str, str]:
    match = re.match(r"^(\d\d)_", path.name)
    if not match:
        raise SystemExit(f"{path}: the name must start with the notebook number, e.g. 01_...")
    return match[1], path.stem


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a notebook would change"
    )
    parser.add_argument(
        "--with-outputs", action="store_true", help="store each starter's 'not done yet' output too"
    )
    args = parser.parse_args(argv)
    changed = []
    for path in args.notebooks:
        number, notebook = notebook_number(path)
        text = path.read_text(encoding="utf-8")
        result = dumps(replace_section(json.loads(text), number, notebook, args.with_outputs))
        if result == text:
            print(f"{path}: up to date")
            continue
        changed.append(path)
        if args.check:
            print(f"{path}: exercises section differs")
        else:
            path.write_text(result, encoding="utf-8")
            print(f"{path}: exercises written")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
