"""environment.yml (conda) and pyproject.toml (pip) name the same packages and ranges."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
CONDA_TO_PYPI = {"pytorch": "torch"}  # conda-forge names that differ from PyPI's
NOT_PACKAGES = {"python", "pip"}


def pyproject_requirements() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = project["dependencies"] + project["optional-dependencies"]["dev"]
    return {canonicalize_name(r.name): str(r.specifier) for r in map(Requirement, reqs)}


def conda_requirements() -> tuple[dict[str, str], list[str]]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
    found: dict[str, str] = {}
    pip_lines: list[str] = []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip_lines = dep["pip"]
            continue
        if dep.split("=")[0] in NOT_PACKAGES:
            continue
        req = Requirement(dep)
        found[canonicalize_name(CONDA_TO_PYPI.get(req.name, req.name))] = str(req.specifier)
    for line in pip_lines:
        if not line.startswith("-"):
            req = Requirement(line)
            found[canonicalize_name(req.name)] = str(req.specifier)
    return found, pip_lines


def test_same_packages_and_ranges() -> None:
    conda, _ = conda_requirements()
    pip = pyproject_requirements()
    assert sorted(set(pip) - set(conda)) == [], "in pyproject.toml but not environment.yml"
    assert sorted(set(conda) - set(pip)) == [], "in environment.yml but not pyproject.toml"
    mismatched = {n: (pip[n], conda[n]) for n in pip if pip[n] != conda[n]}
    assert mismatched == {}


def test_conda_forge_builds_of_compiled_packages() -> None:
    """hdbscan and umap-learn come from conda-forge, not pip (they need compilers)."""
    conda, pip_lines = conda_requirements()
    pip_names = {canonicalize_name(Requirement(x).name) for x in pip_lines if x[0] != "-"}
    assert {"hdbscan", "umap-learn"} <= set(conda) - pip_names


def test_installs_course_package_and_python_311() -> None:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
    _, pip_lines = conda_requirements()
    assert "-e ." in pip_lines


def test_pip_section_is_a_valid_requirements_file() -> None:
    """conda passes the pip list to `pip install -r`: each line must be a requirement or an
    editable install (an option such as --no-deps on its own line makes pip fail)."""
    _, pip_lines = conda_requirements()
    for line in pip_lines:
        if line.startswith("-"):
            assert line.split()[0] in {"-e", "--editable"}, f"not for pip -r: {line}"
        else:
            Requirement(line)  # raises InvalidRequirement
    assert "-e ." in pip_lines
