"""The lecture deck: placeholders filled from notebooks, and the built deck renders offline."""

from __future__ import annotations

import base64
import json
import os
import re
from pathlib import Path

import nbformat
import pytest
from pypdf import PdfReader

from course_utils.core import notebook
from course_utils.tooling import slides
from course_utils.tooling.browser import check_page

PNG_1X1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg=="
)


def fake_notebook(path: Path, tag: str | None, record: dict | None) -> Path:
    cell = nbformat.v4.new_code_cell("plot()")
    if tag:
        cell.metadata["tags"] = [tag]
        cell.outputs = [
            nbformat.v4.new_output(
                "display_data", data={"image/png": base64.b64encode(PNG_1X1).decode()}
            )
        ]
    if record:
        cell.outputs.append(
            nbformat.v4.new_output(
                "display_data", data={"text/plain": "Results"}, metadata={"course_results": record}
            )
        )
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), path)
    return path


def test_render_fills_every_kind_of_placeholder(tmp_path: Path) -> None:
    record = {"notebook": "05_x", "model": "m", "data": "d", "results": {"auc": 0.91234, "n": 7}}
    nb = fake_notebook(tmp_path / "05_x.ipynb", "slide:roc", record)
    figures, records = slides.collect([nb])
    text, used = slides.render(
        "![]({{ figure roc }}) {{result 05_x auc}} {{ result 05_x n }} {{ source 05_x }} "
        "{{ colab 05_x }}",
        figures,
        records,
    )
    assert used == ["roc"]
    assert text.startswith("![](figures/roc.png) 0.9123 7 m on d https://colab.research.google")
    assert figures["roc"].png == PNG_1X1 and figures["roc"].notebook == "05_x"


def test_render_formats_values_and_names_model_and_data(tmp_path: Path) -> None:
    results = {"share": 0.5587, "ppl": 266.621, "err": 1.44e-05, "zero": 0.0, "head": "L3-H1"}
    record = {"notebook": "02_x", "model": "m", "data": "d", "results": results}
    figures, records = slides.collect([fake_notebook(tmp_path / "02_x.ipynb", None, record)])
    text, _ = slides.render(
        "{{ result 02_x share .1% }} {{ result 02_x ppl .1f }} {{ result 02_x err }} "
        "{{ result 02_x zero }} {{ result 02_x head }} | {{ model 02_x }} | {{ data 02_x }}",
        figures,
        records,
    )
    assert text == "55.9% 266.6 1.44e-05 0.0000 L3-H1 | m | d"
    # the deck and the run summary print a result the same way (one formatter)
    assert slides.format_value(0.87771) == notebook.format_number(0.87771) == "0.8777"
    with pytest.raises(slides.SlidesError, match="Cannot format 'L3-H1' with '.1f'"):
        slides.render("{{ result 02_x head .1f }}", figures, records)


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ figure nope }}", "tag a notebook cell 'slide:nope'"),
        ("{{ result 05_x nope }}", "recorded no 'nope' .*has: auc"),
        ("{{ source 09_missing }}", "no recorded results"),
        ("{{ model 09_missing }}", "no recorded results"),
        ("{{ lecture test nope }}", "lecture's table has no"),
        ("{{ bound 04_bertopic_rotten_tomatoes final_topics }}", "has 2 bounds on 'final_topics'"),
    ],
)
def test_render_errors_name_what_is_missing(tmp_path: Path, template: str, message: str) -> None:
    record = {"notebook": "05_x", "model": "m", "data": "d", "results": {"auc": 0.9}}
    figures, records = slides.collect([fake_notebook(tmp_path / "05_x.ipynb", None, record)])
    with pytest.raises(slides.SlidesError, match=message):
        slides.render(template, figures, records)


def test_lecture_and_bound_placeholders_read_the_one_table_and_the_claims() -> None:
    from course_utils.classification.evaluate import LECTURE_DISTILBERT
    from course_utils.tooling.stability import bounds_for

    text, _ = slides.render(
        "{{ lecture test raw }} {{ lecture train fine_tuned .2f }} "
        "{{ bound 03_contextual_embeddings max_abs_ari }}",
        {},
        {},
    )
    (ari,) = [
        b.limit for b in bounds_for("03_contextual_embeddings") if b.quantity == "max_abs_ari"
    ]
    expected = [
        f"{LECTURE_DISTILBERT['test', 'raw']:.3f}",
        f"{LECTURE_DISTILBERT['train', 'fine-tuned']:.2f}",
        slides.format_value(ari),
    ]
    assert text.split() == expected


def test_tagged_cell_without_image_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "01_y.ipynb"
    cell = nbformat.v4.new_code_cell("x", metadata={"tags": ["slide:heatmap"]})
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), path)
    with pytest.raises(slides.SlidesError, match="slide:heatmap has no image output"):
        slides.collect([path])


@pytest.mark.skipif(os.environ.get("COURSE_SKIP_BROWSER") == "1", reason="COURSE_SKIP_BROWSER=1")
def test_built_deck_renders_offline(tmp_path: Path) -> None:
    """Build the real deck; every slide renders with no network, error or missing image."""
    out = tmp_path / "slides"
    manifest = slides.build(out)
    html = out / "deck.html"
    check = check_page(html, ("section", "mjx-container", "img"))
    assert check.console_errors == [] and check.blocked_requests == []
    assert check.broken_images == []
    assert check.counts["section"] == manifest["slides"] >= 15
    assert check.counts["mjx-container"] >= 5  # the math was typeset at build time
    assert check.counts["img"] == len(
        re.findall(r"!\[[^\]]*\]\(figures/", (out / "deck.md").read_text())
    )
    assert "figures/" not in html.read_text()  # every image is inlined
    assert len(PdfReader(out / "deck.pdf").pages) == manifest["slides"]
    for fig in json.loads((out / "manifest.json").read_text())["figures"]:
        assert (out / "figures" / f"{fig['figure']}.png").is_file()
        assert fig["model"] != "-", f"figure {fig['figure']} does not say which model made it"


def test_a_bad_format_keeps_its_cause() -> None:
    from course_utils.tooling.slides import SlidesError, format_value

    with pytest.raises(SlidesError, match="Cannot format") as info:
        format_value("text", ".2f")
    assert isinstance(info.value.__cause__, ValueError)
