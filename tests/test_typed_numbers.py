"""No measured number is typed by hand into the deck or the notebooks' markdown.

Numbers come from code output or a deck placeholder; each phrase allowed below says why it is
not a measurement (a setting, a specification, a quoted example), and the settings are checked
against the code that uses them, so the prose cannot drift from the code either.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from course_utils.classification.train import TrainConfig
from course_utils.tooling.typed_numbers import measured_numbers, prose, stray_digits

ROOT = Path(__file__).resolve().parents[1]
DECK = ROOT / "slides" / "deck.md"

# phrase in a notebook's markdown -> why it is not a measured number (True when checked here)
SETTINGS = TrainConfig()
MARKDOWN_ALLOWED = {
    # 05, the fine-tuning recipe: the values fit() and the Trainer cell use
    f"weight decay {SETTINGS.weight_decay}": SETTINGS.weight_decay == 0.01,
    f"over {SETTINGS.warmup_ratio:.0%} of the steps": SETTINGS.warmup_ratio == 0.1,
    f"clipping at {SETTINGS.max_grad_norm}": SETTINGS.max_grad_norm == 1.0,
    # 05: the decision threshold of accuracy and F1 (evaluate.classification_metrics)
    "threshold 0.5": True,
    # 05 exercises: the specification a learner's code is checked against
    "so 1.0 is\nin the last bin": True,
    "(within 2%": True,
    # 00: a quoted example prompt, not a result
    "a film is 2 hours long": True,
}
# the deck: "2-D" names a map, not a number
DECK_ALLOWED = ["2-D"]


def markdown_cells() -> list[tuple[str, int, str]]:
    cells = []
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        cells += [
            (path.stem, i, c.source)
            for i, c in enumerate(notebook.cells)
            if c.cell_type == "markdown"
        ]
    return cells


def test_notebook_markdown_states_no_measured_number() -> None:
    found = [
        f"{name} cell {i}: ...{hit}..."
        for name, i, source in markdown_cells()
        for hit in measured_numbers(source, MARKDOWN_ALLOWED)
    ]
    assert not found, "numbers typed into markdown (print them from code instead):\n" + "\n".join(
        found
    )


def test_every_allowed_phrase_is_used_and_matches_the_code() -> None:
    text = "\n".join(prose(source) for _, _, source in markdown_cells())
    for phrase, matches_code in MARKDOWN_ALLOWED.items():
        assert phrase in text, f"allowed phrase no longer in any notebook (drop it): {phrase!r}"
        assert matches_code, f"the prose says {phrase!r} but the code uses another value"


def test_deck_prose_has_no_digit_outside_placeholders() -> None:
    body = DECK.read_text(encoding="utf-8").split("\n---\n", 1)[1]  # after Marp's front matter
    found = stray_digits(body, DECK_ALLOWED)
    assert not found, "digits typed into the deck (use a placeholder):\n" + "\n".join(found)


@pytest.mark.parametrize(
    "text",
    [
        "Fine-tuning reaches test AUC 0.921 here.",
        "It trained in 84 s on one thread.",
        "The exact graph is 3.6× faster.",
        "About 10% of the sentences stay outliers.",
        "Training takes about 6 minutes.",
    ],
)
def test_a_measured_number_in_markdown_is_found(text: str) -> None:
    assert measured_numbers(text), text


@pytest.mark.parametrize(
    "text",
    [
        "### 5.1 Text classification",
        "as section 5.2 showed, and exercise 05.2 asks",
        "the score `0.921` in code, or $p = 0.5$ in math",
        "[a link](https://example.org/v1.2/page)",
        "layers 1 to 6 and 384 dimensions",  # integers with no unit: not flagged in markdown
    ],
)
def test_references_code_math_and_links_are_not_numbers(text: str) -> None:
    assert measured_numbers(text) == [], text


def test_a_typed_number_in_the_deck_is_found() -> None:
    assert stray_digits("- fine-tuned test AUC 0.911, frozen 0.882") != []
    assert stray_digits("| 22.7 M parameters |") != []
    assert stray_digits('<!-- _footer: "scored on 2,000 sentences" -->') != []  # footers show
    assert (
        stray_digits("AUC {{ result 05 finetuned_test_auc }} (Vaswani et al., 2017), GPT-2") == []
    )
    assert stray_digits("<!-- _class: lead -->\n1. a numbered step\n| 03 Contextual |") == []
