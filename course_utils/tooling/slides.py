"""Build the lecture deck from ``slides/deck.md`` and the committed notebooks' own outputs.

``python -m course_utils.tooling.slides`` (what ``make slides`` calls) fills the deck's placeholders
from the executed notebooks, so the slides never drift from what the notebooks compute:

* ``{{ figure NAME }}``: the image output of the notebook cell tagged ``slide:NAME``;
* ``{{ result NOTEBOOK KEY }}``: a headline number the notebook stored with
  :func:`course_utils.core.notebook.record_results`, as ``0.912`` (``1.4e-05`` when tiny), or in an
  optional Python format spec: ``{{ result NOTEBOOK KEY .1% }}`` gives ``55.9%``;
* ``{{ source NOTEBOOK }}``: the model and data that produced that notebook's numbers;
  ``{{ model NOTEBOOK }}`` and ``{{ data NOTEBOOK }}``: each on its own;
* ``{{ colab NOTEBOOK }}`` / ``{{ repo NOTEBOOK }}``: links built from
  :func:`course_utils.course_repo`;
* ``{{ lecture SPLIT COLUMN }}``: the lecture's own DistilBERT number, from the one cited table
  :data:`course_utils.classification.evaluate.LECTURE_DISTILBERT` (e.g. ``{{ lecture test raw }}``);
* ``{{ bound NOTEBOOK QUANTITY }}``: the limit a notebook's claim puts on a quantity
  (:data:`course_utils.tooling.stability.BOUNDS`), so a slide quoting it cannot drift from the
  check.

No number is typed into the deck's prose: ``tests/test_typed_numbers.py`` fails on any digit
outside placeholders, code, math and a short allow-list.

Marp CLI (pinned in ``slides/package.json``) then renders a self-contained HTML deck (images
inlined, math typeset by MathJax at build time, no CDN) and a PDF through headless Chromium.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from course_utils import course_repo
from course_utils.core.notebook import format_number, results_from_notebook
from course_utils.tooling.browser import chromium_path

# relative to the working folder: `make slides` runs from the repository's root
SLIDES_DIR = Path("slides")
NOTEBOOK_DIR = Path("notebooks")
BUILD_DIR = Path("build") / "slides"
TAG_PREFIX = "slide:"
PLACEHOLDER = re.compile(
    r"\{\{\s*(figure|result|source|model|data|colab|repo|lecture|bound)\s+([^}]*?)\s*\}\}"
)


class SlidesError(RuntimeError):
    """The deck refers to something the notebooks do not provide, or the build failed."""


@dataclass(frozen=True)
class Figure:
    """A figure taken from a notebook cell tagged ``slide:<name>``."""

    name: str
    notebook: str
    png: bytes


def collect(notebooks: list[Path]) -> tuple[dict[str, Figure], dict[str, dict[str, Any]]]:
    """Figures (by tag) and result records (by notebook name) from executed notebooks."""
    figures: dict[str, Figure] = {}
    records: dict[str, dict[str, Any]] = {}
    for path in notebooks:
        record = results_from_notebook(path)
        if record is not None:
            records[path.stem] = record
        for cell in nbformat.read(path, as_version=4).cells:
            for tag in cell.get("metadata", {}).get("tags", []):
                if not tag.startswith(TAG_PREFIX):
                    continue
                name = tag[len(TAG_PREFIX) :]
                pngs = [
                    o["data"]["image/png"]
                    for o in cell.get("outputs", [])
                    if "image/png" in o.get("data", {})
                ]
                if not pngs:
                    raise SlidesError(
                        f"{path.name}: the cell tagged {tag} has no image output; "
                        "execute the notebook first."
                    )
                if name in figures:
                    raise SlidesError(
                        f"Figure '{name}' is tagged in both "
                        f"{figures[name].notebook} and {path.stem}."
                    )
                figures[name] = Figure(name, path.stem, base64.b64decode(pngs[-1]))
    return figures, records


def format_value(value: Any, spec: str | None = None) -> str:
    """A recorded value as the deck shows it: ``spec`` if given, else as the run summary prints
    it (:func:`course_utils.core.notebook.format_number`, the course's one number format)."""
    if spec is not None:
        try:
            return format(value, spec)
        except (TypeError, ValueError) as err:
            raise SlidesError(f"Cannot format {value!r} with '{spec}': {err}") from err
    return format_number(value)


def colab_url(notebook: str) -> str:
    """The Open-in-Colab address of a course notebook."""
    return f"https://colab.research.google.com/github/{course_repo()}/blob/main/notebooks/{notebook}.ipynb"


def repo_url(notebook: str) -> str:
    """The GitHub address of a course notebook."""
    return f"https://github.com/{course_repo()}/blob/main/notebooks/{notebook}.ipynb"


def render(
    template: str, figures: dict[str, Figure], records: dict[str, dict[str, Any]]
) -> tuple[str, list[str]]:
    """Fill the placeholders; return the Markdown and the names of the figures it uses."""
    used: list[str] = []

    def record_of(notebook: str) -> dict[str, Any]:
        if notebook not in records:
            raise SlidesError(
                f"The deck needs results of '{notebook}', but that notebook has "
                "no recorded results (run it with the course runner, or fix the name)."
            )
        return records[notebook]

    def fill(match: re.Match[str]) -> str:
        kind, args = match.group(1), match.group(2).split()
        if kind == "figure":
            if args[0] not in figures:
                raise SlidesError(
                    f"The deck needs figure '{args[0]}': tag a notebook cell "
                    f"'{TAG_PREFIX}{args[0]}' and execute it."
                )
            used.append(args[0])
            return f"figures/{args[0]}.png"
        if kind == "result":
            results = record_of(args[0])["results"]
            if args[1] not in results:
                raise SlidesError(
                    f"'{args[0]}' recorded no '{args[1]}' (it has: {', '.join(results)})."
                )
            return format_value(results[args[1]], args[2] if len(args) > 2 else None)
        if kind == "source":
            rec = record_of(args[0])
            return f"{rec['model']} on {rec['data']}"
        if kind in ("model", "data"):
            return str(record_of(args[0])[kind])
        if kind == "lecture":
            from course_utils.classification.evaluate import LECTURE_DISTILBERT

            key = (args[0], args[1].replace("_", "-"))
            if key not in LECTURE_DISTILBERT:
                raise SlidesError(
                    f"The lecture's table has no {key} (it has: {sorted(LECTURE_DISTILBERT)})."
                )
            return format_value(LECTURE_DISTILBERT[key], args[2] if len(args) > 2 else ".3f")
        if kind == "bound":
            from course_utils.tooling.stability import bounds_for

            limits = [b.limit for b in bounds_for(args[0]) if b.quantity == args[1]]
            if len(limits) != 1:
                raise SlidesError(
                    f"'{args[0]}' has {len(limits)} bounds on '{args[1]}' (one is needed)."
                )
            return format_value(limits[0], args[2] if len(args) > 2 else None)
        return colab_url(args[0]) if kind == "colab" else repo_url(args[0])

    return PLACEHOLDER.sub(fill, template), used


def inline_images(html: str, figure_dir: Path) -> str:
    """Replace ``figures/NAME.png`` references with data URIs so the HTML stands alone."""

    def embed(match: re.Match[str]) -> str:
        data = (figure_dir / f"{match.group(1)}.png").read_bytes()
        return "data:image/png;base64," + base64.b64encode(data).decode("ascii")

    return re.sub(r"figures/([\w.-]+)\.png", embed, html)


def marp(args: list[str], cwd: Path) -> None:
    """Run the pinned Marp CLI (installing it from the lock file on first use)."""
    binary = (SLIDES_DIR / "node_modules" / ".bin" / "marp").resolve()  # runs with cwd=out_dir
    if not binary.exists():
        npm = shutil.which("npm")
        if npm is None:
            raise SlidesError(
                "Node.js and npm are needed to build the slides (apt-get install nodejs npm)."
            )
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--silent"], cwd=SLIDES_DIR, check=True
        )
    env = {**os.environ, "CHROME_PATH": chromium_path()}
    done = subprocess.run([str(binary), *args], cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SlidesError(f"marp {' '.join(args)} failed:\n{done.stderr.strip()}")


def build(out_dir: Path = BUILD_DIR, notebooks: list[Path] | None = None) -> dict[str, Any]:
    """Build ``deck.html`` and ``deck.pdf`` in ``out_dir``; return a manifest of the build."""
    if not (SLIDES_DIR / "deck.md").is_file():
        raise SlidesError(
            f"No {SLIDES_DIR / 'deck.md'} here: build the deck from the repository's root."
        )
    notebooks = notebooks or sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
    figures, records = collect(notebooks)
    markdown, used = render((SLIDES_DIR / "deck.md").read_text(encoding="utf-8"), figures, records)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    (out_dir / "figures").mkdir(parents=True)
    for name in used:
        (out_dir / "figures" / f"{name}.png").write_bytes(figures[name].png)
    (out_dir / "deck.md").write_text(markdown, encoding="utf-8")
    marp(["deck.md", "--html", "-o", "deck.html"], out_dir)
    marp(["deck.md", "--pdf", "--allow-local-files", "-o", "deck.pdf"], out_dir)
    html_path = out_dir / "deck.html"
    html_path.write_text(
        inline_images(html_path.read_text(encoding="utf-8"), out_dir / "figures"), encoding="utf-8"
    )
    manifest = {
        "slides": len(re.findall(r"^---\s*$", markdown, flags=re.M)) - 1,
        "figures": [
            {
                "figure": n,
                "notebook": figures[n].notebook,
                "model": records.get(figures[n].notebook, {}).get("model", "-"),
                "data": records.get(figures[n].notebook, {}).get("data", "-"),
            }
            for n in dict.fromkeys(used)
        ],
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the lecture deck (HTML and PDF).")
    parser.add_argument("--out", type=Path, default=BUILD_DIR)
    args = parser.parse_args(argv)
    try:
        manifest = build(args.out.resolve())
    except SlidesError as err:
        print(f"slides: {err}", file=sys.stderr)
        return 1
    print(f"{manifest['slides']} slides -> {args.out / 'deck.html'}, {args.out / 'deck.pdf'}")
    for fig in manifest["figures"]:
        print(
            f"  figure {fig['figure']:<24} from {fig['notebook']} ({fig['model']}; {fig['data']})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
