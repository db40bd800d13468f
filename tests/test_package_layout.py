"""The package's layout (issue 31): subpackages that read like the course, in layers.

Every import between ``course_utils``'s modules is read from the source (``import
course_utils...``, ``from course_utils... import``, relative imports; in functions and
``TYPE_CHECKING`` blocks too) into one graph. It has no cycle, and no module imports from a
subpackage on its own layer or above (:data:`LAYERS`, lowest first). Every notebook imports
from the ground floor, the exercises and the parts of the course it teaches or builds on
(:data:`NOTEBOOK_PARTS`) only.
"""

from __future__ import annotations

import ast
import json
import re
import tomllib
from pathlib import Path

import pytest
from IPython.core.inputtransformer2 import TransformerManager

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "course_utils"

# The layers, lowest first: a module imports from its own part and from parts of lower layers.
# "" is the package itself (course_utils/__init__.py: the version, the course's address).
LAYERS: list[set[str]] = [
    {""},
    {"core"},  # the ground floor: setup(), devices, data, models, paths, claims
    {"overview", "transformer", "embeddings"},  # 00; 01; 03
    {"views", "topics", "classification"},  # 02 on transformer; 04 and 05 on embeddings
    {"decoder"},  # 02 (and 00): its GPT-2 draws with views
    {"tooling", "exercises"},  # the course's machinery; the notebooks' exercise checks
]
LAYER = {part: n for n, parts in enumerate(LAYERS) for part in parts}
DATA = {"resources", "results", "vendor"}  # package data, no code

# What each notebook may import besides the ground floor and the exercises: the parts it
# teaches, and the earlier parts it builds on (each part's __init__ says which notebooks).
EVERY_NOTEBOOK = {"core", "exercises"}
NOTEBOOK_PARTS: dict[str, set[str]] = {
    "00": {"overview", "embeddings", "classification", "decoder"},  # previews of 02-05
    "01": {"transformer", "embeddings"},  # section 7 pools with embeddings.sentence.pool
    "02": {"views", "decoder", "transformer"},  # transformer: 01's BertEncoder
    "03": {"embeddings"},
    "04": {"topics", "embeddings"},  # embeddings: 03's keywords and sentence embeddings
    "05": {"classification", "embeddings"},  # embeddings: frozen features
}


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def part_of(module: str) -> str:
    """``course_utils.topics.pipeline`` -> ``topics``; the package itself -> ``""``."""
    bits = module.split(".")
    return bits[1] if len(bits) > 1 else ""


def resolve(importer: str, is_package: bool, node: ast.AST, modules: set[str]) -> set[str]:
    """The modules of ``modules`` that one import statement of ``importer`` names."""
    found = set()
    if isinstance(node, ast.Import):
        for alias in node.names:
            name = alias.name
            while name and name not in modules:  # import a.b.c: the longest known prefix
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            base = importer.split(".")
            base = base if is_package else base[:-1]
            base = base[: len(base) - (node.level - 1)]
            module = ".".join(base + ([node.module] if node.module else []))
        else:
            module = node.module or ""
        if not module.startswith("course_utils"):
            return found
        for alias in node.names:
            if f"{module}.{alias.name}" in modules:  # from package import module
                found.add(f"{module}.{alias.name}")
            elif module in modules:
                found.add(module)
    return found


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """module -> the course_utils modules it imports (anywhere in the file)."""
    files = sorted(package.rglob("*.py"))
    modules = {module_name(f, package.parent): f for f in files}
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        targets: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                targets |= resolve(name, path.name == "__init__.py", node, set(modules))
        graph[name] = targets - {name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def against_layers(graph: dict[str, set[str]]) -> list[str]:
    """Imports from one part to another part on the same layer or a higher one."""
    wrong = []
    for source, targets in sorted(graph.items()):
        for target in sorted(targets):
            a, b = part_of(source), part_of(target)
            if a == b:
                continue
            if LAYER[b] > LAYER[a]:
                wrong.append(f"{source} -> {target}: up, from layer {LAYER[a]} to {LAYER[b]}")
            elif LAYER[b] == LAYER[a]:
                wrong.append(f"{source} -> {target}: sideways, within layer {LAYER[a]}")
    return wrong


def notebook_imports(path: Path) -> set[str]:
    """The course_utils modules and packages that a notebook's code cells import."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    found = set()
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        tree = ast.parse(TransformerManager().transform_cell("".join(cell["source"])))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name.startswith("course_utils")}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "course_utils"
            ):
                module = node.module
                found |= {f"{module}.{a.name}" if module == "course_utils" else module
                          for a in node.names}  # fmt: skip
    return found


GRAPH = import_graph()
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_no_module_at_the_top_of_the_package() -> None:
    assert sorted(p.name for p in PACKAGE.glob("*.py")) == ["__init__.py"]


def test_every_part_is_on_a_layer_and_listed_in_pyproject() -> None:
    parts = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert parts == set(LAYER) - {""}
    assert {part_of(m) for m in GRAPH} <= set(LAYER)
    listed = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    assert sorted(listed) == sorted(["course_utils", *(f"course_utils.{p}" for p in parts | DATA)])


def test_the_parts_say_what_they_teach_and_stay_light() -> None:
    """Each part's __init__ is a docstring (what it teaches, which notebook) and no imports."""
    for part in set(LAYER) - {"", "tooling", "exercises"}:
        init = PACKAGE / part / "__init__.py"
        tree = ast.parse(init.read_text(encoding="utf-8"))
        doc = ast.get_docstring(tree)
        assert doc and re.search(r"[Nn]otebooks? 0\d", doc), (
            f"{part}: no docstring naming its notebook"
        )
        assert not [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))], part


def test_no_import_cycle() -> None:
    found = cycles(GRAPH)
    edges = [f"{a} -> {b}" for c in found for a in c for b in sorted(GRAPH[a] & set(c))]
    assert not found, "modules that import each other:\n" + "\n".join(edges)


def test_no_import_up_or_sideways_between_layers() -> None:
    wrong = against_layers(GRAPH)
    assert not wrong, "imports against the layers (LAYERS):\n" + "\n".join(wrong)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_notebook_imports_its_own_parts_and_the_ground_floor(path: Path) -> None:
    allowed = NOTEBOOK_PARTS[path.name[:2]] | EVERY_NOTEBOOK
    imported = notebook_imports(path)
    assert imported, "no course_utils import found"
    assert sorted(m for m in imported if part_of(m) not in allowed) == []


def test_the_checks_find_a_cycle_an_upward_import_and_a_sideways_one() -> None:
    graph = {
        "course_utils.core.a": {"course_utils.core.b"},
        "course_utils.core.b": {"course_utils.core.a", "course_utils.topics.x"},
        "course_utils.topics.x": {"course_utils.classification.y"},
        "course_utils.classification.y": set(),
    }
    assert cycles(graph) == [["course_utils.core.a", "course_utils.core.b"]]
    assert against_layers(graph) == [
        "course_utils.core.b -> course_utils.topics.x: up, from layer 1 to 3",
        "course_utils.topics.x -> course_utils.classification.y: sideways, within layer 3",
    ]


def test_the_graph_reads_every_kind_of_import(tmp_path: Path) -> None:
    package = tmp_path / "course_utils"
    (package / "core").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "core" / "__init__.py").write_text("")
    (package / "core" / "a.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "from . import b\n"
        "if TYPE_CHECKING:\n"
        "    from course_utils.core.c import C\n"
        "def f():\n"
        "    import course_utils.core.d as d\n"
        "    from course_utils import __version__\n"
    )
    for name in "bcd":
        (package / "core" / f"{name}.py").write_text("")
    graph = import_graph(package)
    assert graph["course_utils.core.a"] == {
        "course_utils",
        "course_utils.core.b",
        "course_utils.core.c",
        "course_utils.core.d",
    }
