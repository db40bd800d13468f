"""Files the notebooks read ship inside the package; files they write go to one folder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from course_utils.core import paths
from course_utils.decoder import training as decoder_training
from course_utils.embeddings import sentence as embeddings
from course_utils.views import neuron as neuron_view
from course_utils.views import offline as offline_views

PACKAGE = Path(paths.__file__).resolve().parents[1]  # course_utils/
SHIPPED = [
    ("resources", "llm_timeline.csv"),
    ("resources", "polysemy_sentences.csv"),
    ("resources", "README.md"),
    ("results", "attention.json"),
    ("results", "finetune_search.jsonl"),
    ("results", "spread.jsonl"),
    ("vendor", "require-2.3.6.js"),
]


@pytest.mark.parametrize("parts", SHIPPED, ids="/".join)
def test_every_file_a_notebook_reads_is_package_data(parts: tuple[str, str]) -> None:
    path = paths.package_file(*parts)
    assert path.is_file() and path.stat().st_size > 0


def test_a_missing_package_file_says_how_to_fix_it() -> None:
    with pytest.raises(FileNotFoundError, match="missing from the installed course_utils.*Rein"):
        paths.package_file("resources", "no-such-table.csv")


def test_no_module_reaches_up_from_its_file_to_the_repository() -> None:
    """Path arithmetic from __file__ works in a checkout and breaks once installed."""
    offenders = [
        f"{path.relative_to(PACKAGE)}:{n}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"__file__\)?\.resolve\(\)\.parent|__file__.*parents?\[", line)
    ]
    assert offenders == []


def test_one_folder_for_everything_the_course_writes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(paths.CACHE_ENV_VAR, str(tmp_path))
    assert paths.course_dir() == tmp_path
    folders = {
        embeddings.default_cache_dir(),
        decoder_training.default_cache_dir(),
        neuron_view.neuron_cache_dir(),
        offline_views.views_dir(),
        paths.course_subdir("runs"),
    }
    assert {f.parent for f in folders} == {tmp_path} and len(folders) == 5


def test_default_course_folder_is_the_user_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(paths.CACHE_ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert paths.course_dir() == tmp_path / "course_utils"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert paths.course_dir() == tmp_path / "home" / ".cache" / "course_utils"


def test_shown_paths_never_name_the_machine(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv(paths.CACHE_ENV_VAR, str(tmp_path / "cache"))
    inside = paths.course_subdir("views") / "head.html"
    assert paths.shown(inside) == "<course dir>/views/head.html"
    assert paths.shown(tmp_path / "elsewhere" / "x.html") == "x.html"
