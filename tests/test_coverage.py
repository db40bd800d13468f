"""notebooks/README.md's coverage table: every lecture topic maps to a section that exists,
holds what the table says runs there, and was executed (its code cells carry outputs)."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "notebooks" / "README.md"
ROW = re.compile(
    r"^\| (?P<topic>[^|]+) \| (?P<nb>\d\d) · "
    r"\[(?P<section>[^\]]+)\]\((?P<file>[^)]+)\) \| (?P<runs>.+) \|$"
)


def rows() -> list[dict[str, str]]:
    text = TABLE.read_text(encoding="utf-8").split("## Where each lecture topic is taught")[1]
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    body = lines[1:]  # the header row; the |---| row does not start with "| "
    parsed = []
    for line in body:
        match = ROW.match(line)
        assert match, f"a coverage row that does not parse: {line!r}"
        parsed.append(match.groupdict())
    return parsed


def section_cells(notebook: nbformat.NotebookNode, title: str) -> list[nbformat.NotebookNode]:
    """The cells from the heading ``title`` up to the next heading of the same or a higher level."""
    start = level = None
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            heading = re.match(r"^(#+) (.*)$", line)
            if not heading:
                continue
            depth = len(heading.group(1))
            if start is None and heading.group(2).strip() == title:
                start, level = index, depth
            elif start is not None and index > start and depth <= level:
                return notebook.cells[start:index]
    assert start is not None, f"no heading {title!r}"
    return notebook.cells[start:]


def test_table_has_rows_for_every_notebook_and_none_missing() -> None:
    table = rows()
    assert len(table) >= 30
    notebooks = {p.name[:2] for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    assert {row["nb"] for row in table} == notebooks
    for row in table:
        assert (
            row["file"].startswith(row["nb"] + "_") and (ROOT / "notebooks" / row["file"]).is_file()
        )
        assert "missing" not in " ".join(row.values()).lower(), row
    assert "notebooks/README.md" in (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("row", rows(), ids=lambda row: f"{row['nb']}-{row['topic'][:40]}")
def test_each_section_exists_holds_what_runs_and_was_executed(row: dict[str, str]) -> None:
    notebook = nbformat.read(ROOT / "notebooks" / row["file"], as_version=4)
    cells = section_cells(notebook, row["section"])
    text = "\n".join(cell.source for cell in cells).lower()
    names = re.findall(r"`([^`]+)`", row["runs"])
    assert names, f"the row names nothing that runs: {row['runs']!r}"
    for name in names:
        assert name.lower() in text, f"{name!r} is not in {row['nb']} · {row['section']}"
    if "(prose)" not in row["runs"]:
        assert any(cell.cell_type == "code" and cell.get("outputs") for cell in cells), (
            f"{row['nb']} · {row['section']} has no executed code cell"
        )


def test_the_section_finder_stops_at_the_next_heading() -> None:
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("## 1 · A"), nbformat.v4.new_code_cell("a = 1"),
        nbformat.v4.new_markdown_cell("### 1.1 · B"), nbformat.v4.new_code_cell("b = 1"),
        nbformat.v4.new_markdown_cell("## 2 · C"), nbformat.v4.new_code_cell("c = 1"),
    ])  # fmt: skip
    assert [c.source for c in section_cells(notebook, "1 · A")][-1] == "b = 1"
    assert [c.source for c in section_cells(notebook, "1.1 · B")] == ["### 1.1 · B", "b = 1"]
    with pytest.raises(AssertionError, match="no heading"):
        section_cells(notebook, "3 · D")
