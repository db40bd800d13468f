"""course_utils.overview.landscape: the model table is well-formed and the figures draw every
model."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pandas as pd
import pytest

matplotlib.use("Agg")

from course_utils.core.paths import package_file  # noqa: E402
from course_utils.overview import landscape  # noqa: E402


def test_timeline_table_is_complete() -> None:
    table = landscape.load_timeline()
    assert table["year"].is_monotonic_increasing
    assert set(table["family"]) == set(landscape.FAMILIES)
    for name in (
        "word2vec",
        "GloVe",
        "GPT",
        "BERT (large)",
        "GPT-2",
        "DistilBERT",
        "GPT-3",
        "T5 (11B)",
        "BART (large)",
        "Transformer (big)",
    ):
        assert name in set(table["model"]), name
    params = table.set_index("model")["parameters"]
    assert params["DistilBERT"] == 66e6 and params["GPT-3"] == 175e9
    assert (table["parameters"].dropna() > 0).all()
    assert table["source"].str.len().min() > 20


def test_family_summary_lists_models() -> None:
    summary = landscape.family_summary(landscape.load_timeline())
    assert list(summary.index) == list(landscape.FAMILIES)
    assert "DistilBERT" in summary.loc["encoder-only", "models in the table"]
    assert "GPT-3" in summary.loc["decoder-only", "models in the table"]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.drop(columns="source"), "missing column"),
        (lambda t: t.assign(family="mixture"), "unknown family"),
        (lambda t: t.assign(source=None), "needs a source"),
    ],
)
def test_bad_tables_are_rejected(tmp_path: Path, edit, message: str) -> None:
    path = tmp_path / "t.csv"
    edit(pd.read_csv(package_file(*landscape.TIMELINE_FILE))).to_csv(path, index=False)
    with pytest.raises(ValueError, match=message):
        landscape.load_timeline(path)


def test_figures_draw_every_model() -> None:
    table = landscape.load_timeline()
    timeline = landscape.plot_timeline(table)
    drawn = [t.get_text() for t in timeline.axes[0].texts]
    assert len(drawn) == len(table) and "TF-IDF (bag of words) (1972)" in drawn
    params = landscape.plot_parameters(table)
    assert len(params.axes[0].texts) == table["parameters"].notna().sum()
    rings = landscape.plot_ai_landscape()
    assert [t.get_text() for t in rings.axes[0].texts][-1] == "Large language models"
