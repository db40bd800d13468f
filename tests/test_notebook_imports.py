"""What a learner's pip install gives: every module the notebooks and the course package import
comes from the standard library or from a distribution that ``course_utils``'s base
dependencies pull in, never from the ``[dev]`` extras (Colab installs no extras).

``make online`` runs notebooks 00 and 02-05 from a no-extras wheel; this check covers every
notebook and every module of the package, in a second.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from importlib import metadata
from pathlib import Path

import pytest
from IPython.core.inputtransformer2 import TransformerManager

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
MODULES = sorted((ROOT / "course_utils").rglob("*.py"))


def _name(requirement: str) -> str:
    return re.split(r"[\s;<>=!~\[(]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def base_closure(project: str = "course_utils") -> set[str]:
    """The distributions a plain ``pip install course_utils`` brings: its requirements without
    an extra marker, and theirs, recursively (markers of the requirements' own extras are
    skipped too)."""
    seen: set[str] = set()
    todo = [_name(r) for r in metadata.requires(project) or [] if "extra ==" not in r]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue  # an optional platform requirement that is not installed here
        todo += [_name(r) for r in requires if "extra ==" not in r]
    return seen


def imported_modules(source: str) -> set[str]:
    """Top-level names of the absolute imports in ``source`` (IPython syntax allowed)."""
    tree = ast.parse(TransformerManager().transform_cell(source))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def outside_base(modules: set[str]) -> list[str]:
    """The modules that neither the standard library nor the base closure provide."""
    provided = base_closure() | {"course-utils"}
    owners = metadata.packages_distributions()
    missing = []
    for module in sorted(modules - set(sys.stdlib_module_names) - {"course_utils", "__future__"}):
        dists = {d.lower().replace("_", "-") for d in owners.get(module, [])}
        if not dists & provided:
            missing.append(f"{module} (from {', '.join(sorted(dists)) or 'nothing installed'})")
    return missing


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_notebook_imports_only_what_a_plain_install_gives(path: Path) -> None:
    cells = json.loads(path.read_text())["cells"]
    modules = set().union(*(imported_modules("".join(c["source"])) for c in cells
                            if c["cell_type"] == "code"))  # fmt: skip
    assert outside_base(modules) == []


def test_the_package_imports_only_what_a_plain_install_gives() -> None:
    """``course_utils.tooling`` is the maintainers' machinery: it may import the dev extras
    (nbval, playwright), but only inside functions that the notebooks never call."""
    top_level = set()
    for path in MODULES:
        if "tooling" in path.parts or "vendor" in path.parts:
            continue
        tree = ast.parse(path.read_text())
        for node in tree.body:  # module level: what `import course_utils.x` executes
            if isinstance(node, ast.Import | ast.ImportFrom):
                top_level |= imported_modules(ast.unparse(node))
    assert outside_base(top_level) == []


def test_the_check_finds_a_dev_only_module() -> None:
    """pytest is a dev extra: a notebook that imported it would fail on Colab."""
    assert outside_base({"pytest", "numpy", "json"}) == ["pytest (from pytest)"]
