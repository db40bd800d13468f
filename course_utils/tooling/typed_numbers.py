"""Find numbers typed by hand into prose: the deck's and the notebooks' markdown.

A measured number belongs in a code cell's output or a ``{{ result ... }}`` placeholder, never in
prose, where nothing checks it against the run beside it. Two scans share one notion of prose
(:func:`prose`: code, math, links' targets, HTML comments and placeholders removed):

* :func:`measured_numbers` finds numbers that *look measured* (decimals, percentages, durations,
  speed-ups) in a notebook's markdown; references to sections and exercises are not numbers.
* :func:`stray_digits` finds *any* digit in the deck's prose, because a slide has room for no
  qualification; years, model names and the course's notebook numbers are allowed.

Both take an explicit allow-list of phrases, each with its reason where it is defined
(``tests/test_typed_numbers.py``), so an allowed setting is a decision someone wrote down.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_NON_PROSE = [
    re.compile(r"```.*?```", re.S),  # fenced code
    re.compile(r"\$\$.*?\$\$", re.S),  # display math
    re.compile(r"\$[^$\n]+\$"),  # inline math
    re.compile(r"`[^`\n]*`"),  # inline code
    re.compile(r"\{\{.*?\}\}", re.S),  # placeholders filled from recorded results
    re.compile(
        r"<!--(?!\s*_?footer:).*?-->", re.S
    ),  # HTML comments, except footers shown on slides
    re.compile(r"!\[[^\]]*\]\([^)]*\)"),  # images
    re.compile(r"(?<=\])\([^)]*\)"),  # link targets (the link text stays)
    re.compile(r"https?://\S+"),
]

# Decimals (0.5, 1,066.2), percentages (10%, 0.5 %), durations (84 s, 6 minutes), ratios (3.6x).
MEASURED = re.compile(
    r"(?<![\w.])(?:"
    r"\d[\d,]*\.\d+(?:\s?(?:%|×|x\b|s\b|ms\b))?"
    r"|\d[\d,]*\s?%"
    r"|\d[\d,]*(?:\.\d+)?\s?(?:s|ms|seconds?|minutes?|min|hours?)\b"
    r"|\d[\d,]*(?:\.\d+)?\s?×|×\s?\d[\d,.]*"
    r")"
)
# "section 5.2", "exercise 05.2", "Exercise 00.1", "notebook 03": names, not measurements.
REFERENCE = re.compile(r"(?i)\b(?:sections?|exercises?|notebooks?|§)\s+\d+(?:\.\d+)?")
HEADING = re.compile(r"^#+ .*$", re.M)


def prose(text: str) -> str:
    """``text`` with code, math, placeholders, comments, images and link targets blanked out."""
    for pattern in _NON_PROSE:
        text = pattern.sub(" ", text)
    return text


def _blank(text: str, phrases: Iterable[str]) -> str:
    for phrase in phrases:
        text = text.replace(phrase, " ")
    return text


def _context(text: str, start: int, end: int) -> str:
    return " ".join(text[max(0, start - 40) : end + 20].split())


def measured_numbers(markdown: str, allowed: Iterable[str] = ()) -> list[str]:
    """Numbers in ``markdown``'s prose that look measured, each with its context.

    Headings and references to sections, exercises and notebooks are skipped, as is every
    phrase in ``allowed`` (exact text, e.g. ``"weight decay 0.01"``).
    """
    text = _blank(HEADING.sub(" ", prose(markdown)), allowed)
    text = REFERENCE.sub(" ", text)
    return [_context(text, m.start(), m.end()) for m in MEASURED.finditer(text)]


# Four-digit years, model and method names with digits, and the course's notebook numbers.
_DECK_NAMES = re.compile(
    r"\b(?:19|20)\d\d\b"
    r"|\b(?:GPT-\d|T5|word2vec|MiniLM-L\d+|L\d+-H\d+|F1)\b"
    r"|^\|\s*0\d\b|^#+ Part \d\b|^\d+\.\s",
    re.M,
)


def stray_digits(markdown: str, allowed: Iterable[str] = ()) -> list[str]:
    """Every digit left in ``markdown``'s prose once placeholders, code, math, years, model names,
    notebook numbers, numbered-list markers and the ``allowed`` phrases are removed."""
    text = _DECK_NAMES.sub(" ", _blank(prose(markdown), allowed))
    text = REFERENCE.sub(" ", text)
    return [_context(text, m.start(), m.end()) for m in re.finditer(r"\d+", text)]
