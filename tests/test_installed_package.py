"""The course as learners install it: a wheel, not this checkout.

Build the wheel, install it (not editable) into a fresh virtual environment that reuses this
environment's dependencies, and from an empty folder outside the repository import every
module and read the package's data files. The notebooks themselves run from a wheel (with no
extras, in an empty folder, writing nothing beside themselves but their build folders) in
``make online``: all six, online and then offline.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 600):
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout[-3000:]}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """``(python of the fresh environment, an empty working folder)``: the wheel installed as
    ``tests/learner_simulation.py`` installs it."""
    from learner_simulation import install_wheel

    base = tmp_path_factory.mktemp("installed")
    python = install_wheel(base)
    work = base / "work"
    work.mkdir()
    return python, work


def clean_env(python: Path, cache: Path) -> dict[str, str]:
    """A learner's environment (``learner_simulation.learner_env``) with the bundled model:
    the claims' bounds were measured on it."""
    from learner_simulation import learner_env

    return learner_env(python, cache, "bundled")


def test_every_module_imports_from_the_wheel(installed: tuple[Path, Path]) -> None:
    python, work = installed
    code = (
        "import importlib, pkgutil, course_utils\n"
        "names = [m.name for m in pkgutil.walk_packages(course_utils.__path__, 'course_utils.')\n"
        "         if not m.ispkg and not m.name.startswith('course_utils.tooling.')]\n"
        "for name in names: importlib.import_module(name)\n"
        "from course_utils.core import paths\n"
        "for part in ('resources/llm_timeline.csv', 'results/finetune_search.jsonl'):\n"
        "    assert paths.package_file(*part.split('/')).is_file(), part\n"
        "print(course_utils.__file__, len(names), course_utils.course_repo())\n"
    )
    out = run([str(python), "-c", code], cwd=work, env=clean_env(python, work / "cache")).stdout
    location, count, repo = out.split()
    assert Path(location).is_relative_to(python.parent.parent), location  # the wheel, not ROOT
    assert int(count) >= 20 and repo.count("/") == 1
