"""One public address for the course: pyproject.toml's [project.urls] Repository.

README badges, every notebook's Colab install line, and the deck's links must agree with it
(README, "Publishing under another address").
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import nbformat

import course_utils
from course_utils.tooling import slides

ROOT = Path(__file__).resolve().parents[1]
GITHUB = "https://github.com/"
# owner/name after each kind of link that must name the course's repository
COLAB_LINK = re.compile(r"colab\.research\.google\.com/github/([\w.-]+/[\w.-]+)/blob/[^)\s\"']+")
INSTALL_LINE = re.compile(
    r"%pip install[^\n]*git\+https://github\.com/([\w.-]+/[\w.-]+?)(?:\.git)?[\"'@\s]"
)
NOTEBOOK_LINK = re.compile(r"github\.com/([\w.-]+/[\w.-]+)/blob/[\w.-]+/notebooks/")


def declared_repo(root: Path = ROOT) -> str:
    """``owner/name`` from ``[project.urls] Repository`` in ``root/pyproject.toml``."""
    urls = tomllib.loads((root / "pyproject.toml").read_text())["project"]["urls"]
    assert urls["Repository"].startswith(GITHUB), "Repository must be a GitHub address"
    return urls["Repository"].removeprefix(GITHUB).rstrip("/")


def disagreements(root: Path = ROOT) -> list[str]:
    """Every README badge, notebook install line or deck link that names another repository,
    and every notebook whose setup cell has no install line."""
    repo = declared_repo(root)
    problems = []
    readme = (root / "README.md").read_text(encoding="utf-8")
    for pattern in (COLAB_LINK, NOTEBOOK_LINK):
        problems += [f"README.md: {m.group(0)}" for m in pattern.finditer(readme) if m[1] != repo]
    for path in sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        code = "\n".join(c.source for c in nb.cells if c.cell_type == "code") + "\n"
        installs = INSTALL_LINE.findall(code)
        if not installs:
            problems.append(f"{path.name}: no Colab install line (%pip install git+...)")
        problems += [f"{path.name}: installs from {found}" for found in installs if found != repo]
    deck = (root / "slides" / "deck.md").read_text(encoding="utf-8")
    for pattern in (COLAB_LINK, NOTEBOOK_LINK):  # the deck uses {{ colab NN }} placeholders
        problems += [f"slides/deck.md: literal link {m.group(0)}" for m in pattern.finditer(deck)]
    return problems


def test_every_link_uses_the_declared_repository() -> None:
    assert disagreements() == []


def test_readme_has_a_colab_badge_per_notebook() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    linked = {m.group(0).rsplit("/", 1)[1] for m in COLAB_LINK.finditer(readme)}
    notebooks = {p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    assert notebooks and linked == notebooks


def test_installed_metadata_and_deck_links_use_it() -> None:
    repo = declared_repo()
    assert course_utils.course_repo() == repo, "reinstall the package: its metadata is stale"
    assert slides.colab_url("00_llm_overview") == (
        f"https://colab.research.google.com/github/{repo}/blob/main/notebooks/00_llm_overview.ipynb"
    )
    assert slides.repo_url("01_x") == f"{GITHUB}{repo}/blob/main/notebooks/01_x.ipynb"
    deck = (ROOT / "slides" / "deck.md").read_text(encoding="utf-8")
    assert "{{ colab 00_llm_overview }}" in deck


def test_a_wrong_address_is_reported(tmp_path: Path) -> None:
    """The check can fail: a copy of the course with one stale badge and one stale install line."""
    (tmp_path / "pyproject.toml").write_text(
        '[project.urls]\nRepository = "https://github.com/new-owner/course"\n'
    )
    (tmp_path / "README.md").write_text(
        "[![Open In Colab](b.svg)](https://colab.research.google.com/github/new-owner/course"
        "/blob/main/notebooks/00_a.ipynb)\n"
        "[![Open In Colab](b.svg)](https://colab.research.google.com/github/old-owner/course"
        "/blob/main/notebooks/01_b.ipynb)\n"
    )
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "slides").mkdir()
    (tmp_path / "slides" / "deck.md").write_text(
        "[GitHub](https://github.com/old-owner/course/blob/main/notebooks/00_a.ipynb)\n"
    )
    for name, repo in (("00_a", "new-owner/course"), ("01_b", "old-owner/course")):
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(f'%pip install -q "git+{GITHUB}{repo}"')]
        nbformat.write(nb, tmp_path / "notebooks" / f"{name}.ipynb")
    nbformat.write(nbformat.v4.new_notebook(), tmp_path / "notebooks" / "02_c.ipynb")
    problems = disagreements(tmp_path)
    assert problems == [
        "README.md: colab.research.google.com/github/old-owner/course/blob/main/notebooks/"
        "01_b.ipynb",
        "01_b.ipynb: installs from old-owner/course",
        "02_c.ipynb: no Colab install line (%pip install git+...)",
        "slides/deck.md: literal link github.com/old-owner/course/blob/main/notebooks/",
    ]
