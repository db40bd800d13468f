"""environment.yml (conda) and pyproject.toml (pip) name the same packages and ranges."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
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


# --- the lock file ------------------------------------------------------------------------


def lock_pins() -> dict[str, str]:
    """``constraints.txt`` as {canonical name: exact version}; every line must be ``name==v``."""
    pins: dict[str, str] = {}
    for number, line in enumerate((ROOT / "constraints.txt").read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        req = Requirement(line)
        (spec,) = req.specifier  # exactly one specifier
        assert spec.operator == "==" and "+" not in spec.version, f"line {number}: {line!r}"
        pins[canonicalize_name(req.name)] = spec.version
    return pins


def test_lock_pins_every_declared_requirement_within_its_range() -> None:
    pins = lock_pins()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for line in project["dependencies"] + project["optional-dependencies"]["dev"]:
        req = Requirement(line)
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is not in constraints.txt: run `make lock`"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"constraints.txt pins {req.name}=={pins[name]}, outside {req.specifier}"
        )
    assert "course-utils" not in pins  # the course itself is never pinned


def test_make_installs_from_the_lock() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "LOCK ?= constraints.txt" in makefile
    assert "--no-deps -r $(LOCK)" in makefile  # the exact set, no resolver search
    assert '-c $(LOCK)) -e ".[dev]"' in makefile
    assert "pip check" in makefile
    assert "TORCH_VERSION ?= $(or $(shell sed -n 's/^torch==//p' constraints.txt" in makefile


def test_the_environment_that_make_built_matches_the_lock() -> None:
    """In make's .venv (CI's), every locked package is installed at exactly the locked version."""
    import sys
    from importlib.metadata import distributions

    if Path(sys.prefix).resolve() != (ROOT / ".venv").resolve():
        pytest.skip("not make's .venv: the ranges of pyproject.toml apply there, not the lock")
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in distributions()}
    drift = {
        name: (version, installed.get(name))
        for name, version in lock_pins().items()
        if installed.get(name, "").split("+")[0] != version
    }
    assert drift == {}, "installed versions differ from constraints.txt: run `make install`"
