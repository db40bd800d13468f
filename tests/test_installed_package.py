"""The course as learners install it: a wheel, not this checkout.

Build the wheel, install it (not editable) into a fresh virtual environment that reuses this
environment's dependencies, and from an empty folder outside the repository import every
module and execute notebooks 00 and 03 top to bottom with the installed runner (their asserts
run; outputs are not compared). This is what Colab's setup cell does, minus the network.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ("00_llm_overview.ipynb", "03_contextual_embeddings.ipynb")


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
        "names = [m.name for m in pkgutil.iter_modules(course_utils.__path__) if not m.ispkg]\n"
        "for name in names: importlib.import_module(f'course_utils.{name}')\n"
        "from course_utils import paths\n"
        "for part in ('resources/llm_timeline.csv', 'results/finetune_search.jsonl'):\n"
        "    assert paths.package_file(*part.split('/')).is_file(), part\n"
        "print(course_utils.__file__, len(names), course_utils.course_repo())\n"
    )
    out = run([str(python), "-c", code], cwd=work, env=clean_env(python, work / "cache")).stdout
    location, count, repo = out.split()
    assert Path(location).is_relative_to(python.parent.parent), location  # the wheel, not ROOT
    assert int(count) >= 20 and repo.count("/") == 1


def test_notebooks_00_and_03_run_from_an_empty_folder(
    installed: tuple[Path, Path], rt_folder: Path
) -> None:
    python, work = installed
    for name in NOTEBOOKS:
        shutil.copy(ROOT / "notebooks" / name, work / name)
    env = clean_env(python, work / "cache")
    env["COURSE_DATA_DIR"] = str(rt_folder)
    done = subprocess.run(
        [str(python), "-m", "course_utils.tooling.runner", *NOTEBOOKS, "--build-dir", "build"],
        cwd=work, env=env, capture_output=True, text=True, timeout=1500,
    )  # fmt: skip
    runs = json.loads((work / "build" / "results.json").read_text())
    failed = {r["notebook"]: r["error"] for r in runs if not r["ok"]}
    assert done.returncode == 0 and not failed, f"{failed}\n{done.stdout}\n{done.stderr[-3000:]}"
    assert [r["notebook"] for r in runs] == [Path(n).stem for n in NOTEBOOKS]
    assert all(r["record"]["model"].startswith("sentence-transformers/all-MiniLM-L6") for r in runs)
    written = {p.relative_to(work).parts[0] for p in work.rglob("*") if p.is_file()}
    assert written <= {*NOTEBOOKS, "build", "cache"}, written  # nothing written elsewhere in cwd
