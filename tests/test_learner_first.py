"""The test machinery stays out of the learner's sight (issue 29): no notebook cell carries an
nbval marker in its source (nbval reads cell tags), imports ``course_utils.tooling``, records its
results (the runner does: ``course_utils.tooling.records``), shows a spread table, checks pages
in a browser (the tests do) or sets thread pools (``setup(threads=...)`` does)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
MACHINERY = {
    "an nbval marker in the source": r"NBVAL_",
    "the maintainers' tooling": r"\btooling\b",
    "a results record": r"record_results\(",
    "a spread table": r"spread_table\(",
    "a browser page check": r"check_page\(",
    "a thread setting": r"threadpool_limits|set_num_threads|NUMBA_NUM_THREADS|OMP_NUM_THREADS",
}
NBVAL_TAGS = {"nbval-ignore-output", "nbval-skip", "nbval-check-output", "raises-exception"}


def machinery(sources: list[str]) -> list[str]:
    return [f"code cell {i}: {what}" for i, source in enumerate(sources)
            for what, pattern in MACHINERY.items() if re.search(pattern, source)]  # fmt: skip


def code_cells(path: Path) -> list[dict]:
    return [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_test_machinery_in_a_notebook(path: Path) -> None:
    assert machinery(["".join(c["source"]) for c in code_cells(path)]) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_nbval_markers_are_known_cell_tags(path: Path) -> None:
    tags = {t for c in code_cells(path) for t in c["metadata"].get("tags", [])}
    assert {t for t in tags if "nbval" in t or "raises" in t} <= NBVAL_TAGS
    assert "nbval-ignore-output" in tags  # the measured numbers are still kept from nbval


def test_the_check_finds_each_kind_of_machinery() -> None:
    found = machinery([
        "# NBVAL_IGNORE_OUTPUT\nx = 1",
        "from course_utils.tooling import stability",
        'record_results("00", model=m, data=d)',
        'stability.spread_table("00")',
        "check_page(views / name)",
        "threadpool_limits(1)",
        "from course_utils.core.checks import check_claims",  # the learner-facing claims: allowed
    ])  # fmt: skip
    assert found == [
        "code cell 0: an nbval marker in the source",
        "code cell 1: the maintainers' tooling",
        "code cell 2: a results record",
        "code cell 3: a spread table",
        "code cell 4: a browser page check",
        "code cell 5: a thread setting",
    ]


# One lab's core path (issue 29): everything before the heading "Going further" fits a 60-75
# minute lab after the lecture: about 1,500 words of prose and 150 lines of code at most.
CORE_HEADING = re.compile(r"^#+\s.*Going further", re.MULTILINE)
CORE_WORDS, CORE_CODE_LINES = 1500, 150


def counts(cells: list[dict]) -> dict:
    """Words of markdown and non-blank code lines in ``cells``."""
    sources = [("".join(c["source"]), c["cell_type"]) for c in cells]
    words = sum(len(source.split()) for source, kind in sources if kind == "markdown")
    lines = sum(1 for source, kind in sources if kind == "code"
                for line in source.splitlines() if line.strip())  # fmt: skip
    return {"words": words, "code_lines": lines}


def core_path(path: Path) -> dict:
    """:func:`counts` of the cells before the "Going further" heading (with ``no_heading``, of
    the whole notebook, when it has no such heading)."""
    cells = json.loads(path.read_text())["cells"]
    for end, cell in enumerate(cells):
        if cell["cell_type"] == "markdown" and CORE_HEADING.search("".join(cell["source"])):
            return counts(cells[:end])
    return {**counts(cells), "no_heading": True}


def whole_path(path: Path) -> dict:
    """:func:`counts` of the whole notebook, exercises included."""
    return counts(json.loads(path.read_text())["cells"])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_core_path_fits_one_lab(path: Path) -> None:
    core = core_path(path)
    assert "no_heading" not in core, "no 'Going further' heading marks where the core path ends"
    assert core["words"] <= CORE_WORDS and core["code_lines"] <= CORE_CODE_LINES, core


def test_the_core_path_count_stops_at_going_further(tmp_path: Path) -> None:
    cells = [{"cell_type": "markdown", "source": ["# Title\n", "one two three"]},
             {"cell_type": "code", "source": ["x = 1\n", "\n", "# a comment\n", "y = 2"]},
             {"cell_type": "markdown", "source": ["## Going further\n", "many more words here"]},
             {"cell_type": "code", "source": ["z = 3"]}]  # fmt: skip
    (tmp_path / "nb.ipynb").write_text(json.dumps({"cells": cells}))
    assert core_path(tmp_path / "nb.ipynb") == {"words": 5, "code_lines": 3}
    (tmp_path / "nb.ipynb").write_text(json.dumps({"cells": cells[:2]}))
    assert core_path(tmp_path / "nb.ipynb")["no_heading"]
