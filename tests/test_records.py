"""The runner's recorders (course_utils.tooling.records) against the notebooks they record."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from course_utils.core.notebook import results_from_notebook
from course_utils.tooling import records

ROOT = Path(__file__).resolve().parents[1]


def recorded_keys(notebook: str) -> set[str]:
    """The keys of the ``dict(...)`` that ``notebook``'s recorder returns."""
    tree = ast.parse(inspect.getsource(records.RECORDERS[notebook]))
    calls = [
        n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "dict"
    ]
    return {k.arg for k in calls[-1].keywords} - {"model", "data"}


@pytest.mark.parametrize("notebook", sorted(records.RECORDERS))
def test_each_recorder_records_what_the_committed_notebook_holds(notebook: str) -> None:
    """Same numbers under the same names as the committed outputs (the slides read them)."""
    committed = results_from_notebook(ROOT / "notebooks" / f"{notebook}.ipynb")
    assert committed is not None, f"{notebook} holds no record"
    assert recorded_keys(notebook) == set(committed["results"])


def test_a_recorder_names_what_it_misses() -> None:
    with pytest.raises(KeyError, match="02_bertviz_attention defines no 'best_layer'"):
        records.collect("02_bertviz_attention", {})
    with pytest.raises(KeyError, match="known: 00_llm_overview"):
        records.collect("99_nope", {})
    assert "globals()" in records.cell_source("02_bertviz_attention")
