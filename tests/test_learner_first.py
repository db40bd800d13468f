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
        "from course_utils.checks import check_claims",  # the learner-facing claims: allowed
    ])  # fmt: skip
    assert found == [
        "code cell 0: an nbval marker in the source",
        "code cell 1: the maintainers' tooling",
        "code cell 2: a results record",
        "code cell 3: a spread table",
        "code cell 4: a browser page check",
        "code cell 5: a thread setting",
    ]
