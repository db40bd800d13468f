"""Execute the course's notebooks top to bottom and summarise what each produced.

``python -m course_utils.tooling.runner`` (what ``make run`` calls, from the repository's
root) first checks that the data can be had (:func:`course_utils.core.data.check_available`: a
clear error in a second rather than a failure inside the first notebook), then executes every
notebook in ``notebooks/`` of the working folder in order, writes the executed copies to
``build/notebooks/`` and a summary to ``build/results.md`` and ``build/results.json``: per
notebook its wall time and the headline numbers that a hidden last cell recorded from its
variables (:mod:`course_utils.tooling.records`; the cell is removed again and the record kept
in the notebook's metadata), with the model and data that produced them.

``--inplace`` refreshes the committed notebooks' outputs instead (what maintainers run
before committing a notebook), after which volatile metadata is stripped; the summary is
written all the same. Each notebook's ``core_seconds`` is the kernel time of its core path, the
cells before "## Going further" (``bench/notebook_times.py`` reads it).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

from course_utils.core.data import DataError, check_available

RESULTS_METADATA_KEY = "course_results"  # = course_utils.core.notebook's (it imports torch)

NOTEBOOK_DIR = Path("notebooks")  # relative to the working folder: make runs from the root
BUILD_DIR = Path("build")
CELL_TIMEOUT_S = 1800
KERNEL_NAME = "python3"


@dataclass
class NotebookRun:
    """The outcome of executing one notebook."""

    notebook: str
    seconds: float
    ok: bool
    error: str = ""
    record: dict[str, Any] = field(default_factory=dict)
    saved: str = ""  # where the executed copy was written
    # the claims it printed (stability.check_claims): "enforced" (ok) and "reported" only
    claims: dict[str, list[str]] = field(default_factory=dict)
    # kernel time of the cells before the heading "Going further" (the core path): None without it
    core_seconds: float | None = None


CORE_END = "## Going further"  # the heading that ends each notebook's core path (one lab)


def cell_seconds(cell: nbformat.NotebookNode) -> float:
    """How long the kernel took for a code cell, from nbclient's execution timestamps (0 when
    the cell did not run)."""
    from datetime import datetime

    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return 0.0
    parse = datetime.fromisoformat
    return max(0.0, (parse(end.replace("Z", "+00:00")) - parse(start.replace("Z", "+00:00")))
               .total_seconds())  # fmt: skip


def core_seconds(nb: nbformat.NotebookNode) -> float | None:
    """Kernel seconds of the cells before :data:`CORE_END`; ``None`` when there is no such
    heading."""
    try:
        end = cells_before(nb, CORE_END)
    except ValueError:
        return None
    return sum(cell_seconds(c) for c in nb.cells[:end] if c.cell_type == "code")


def discover(folder: Path = NOTEBOOK_DIR) -> list[Path]:
    """The course notebooks, in teaching order (``NN_topic.ipynb``; not ``*.failed.ipynb``)."""
    return sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb") if not p.stem.endswith(".failed"))


_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
_WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def _bar_text(state: dict[str, Any], model_id: str) -> str | None:
    """A tqdm notebook bar's final state as a text bar, ``desc: 100%|██████████| 400/400``
    (the timing part left out: it differs every run); ``None`` when it is not a tqdm bar or
    its state was not stored (a bar closed with ``leave=False``)."""
    import html

    box = state.get(model_id, {}).get("state", {})
    children = [c.removeprefix("IPY_MODEL_") for c in box.get("children", [])]
    if len(children) != 3 or any(c not in state for c in children):
        return None
    left, bar, right = (state[c]["state"] for c in children)
    if "max" not in bar or not bar.get("max"):
        return None
    layout = state.get(str(box.get("layout", "")).removeprefix("IPY_MODEL_"), {})
    if layout.get("state", {}).get("visibility") == "hidden":  # closed with leave=False
        return None

    def text(value: str) -> str:
        return " ".join(html.unescape(value).split())

    share = min(max(float(bar.get("value", 0)) / float(bar["max"]), 0.0), 1.0)
    cells = round(10 * share)
    counts = text(right.get("value", "")).split("[")[0].strip()  # "40/40", not its timing
    return f"{text(left.get('value', ''))}|{'█' * cells}{' ' * (10 - cells)}| {counts}"


def settle_progress_bars(nb: nbformat.NotebookNode) -> int:
    """Save progress bars in their final state, as text: a saved notebook keeps no widget
    state, so GitHub, a reloaded JupyterLab and nbval would show each bar's first frame
    (``0%| 0/400``). Each tqdm widget output becomes a text output with the bar as it ended
    (from the widget state the executing client stored); a bar whose state is gone (closed
    with ``leave=False``) is dropped. Returns the number of bars rewritten or dropped."""
    state = nb.metadata.get("widgets", {}).get(_WIDGET_STATE, {}).get("state", {})
    changed = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for output in cell.outputs:
            view = output.get("data", {}).get(_WIDGET_VIEW)
            if view is None:
                kept.append(output)
                continue
            changed += 1
            final = _bar_text(state, view["model_id"])
            if final is not None:
                kept.append(nbformat.v4.new_output("display_data", data={"text/plain": final}))
        cell.outputs = kept
    return changed


#: What a reader must not find in a committed output: a progress bar's first frame, a path of
#: the machine that ran it, a library's raw warning (the course explains or avoids each one).
READER_PROBLEMS = {
    "a progress bar saved at 0%": re.compile(r"(?<![\d.])0%\|"),
    "an absolute path": re.compile(
        r"(?<![\w.~])(?:/(?:home|root|work|tmp|usr|opt|var|Users|private|content)/|[A-Z]:\\)"
        r"|site-packages"
    ),
    "a raw library warning": re.compile(r"\b[A-Z]\w*Warning: "),
}


def reader_problems(nb: nbformat.NotebookNode) -> list[str]:
    """``code cell N: <problem>: <excerpt>`` for every text output (streams, plain text,
    errors) that shows one of :data:`READER_PROBLEMS`."""
    found = []
    code_cells = (c for c in nb.cells if c.cell_type == "code")
    for number, cell in enumerate(code_cells, 1):
        for output in cell.get("outputs", []):
            texts = [output.get("text", "")] + [
                output.get("data", {}).get("text/plain", ""),
                "\n".join(output.get("traceback", [])),
            ]
            text = "\n".join(t if isinstance(t, str) else "".join(t) for t in texts)
            for problem, pattern in READER_PROBLEMS.items():
                match = pattern.search(text)
                if match:
                    start = max(match.start() - 30, 0)
                    excerpt = text[start : match.end() + 30].replace("\n", " ")
                    found.append(f"code cell {number}: {problem}: ...{excerpt}...")
    return found


def strip_volatile_metadata(nb: nbformat.NotebookNode) -> None:
    """Drop per-run metadata (execution timestamps, widget state) so diffs show content only."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)


def clear_outputs(nb: nbformat.NotebookNode) -> None:
    """Remove every output and execution count, so that nothing of an earlier run survives."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None


def failing_cell(nb: nbformat.NotebookNode) -> str:
    """``cell N, line `...``` for the first code cell with an error output, else ``""``.

    The line is the last line of the cell's source that the traceback points at (IPython marks
    it with ``---->``), or the cell's first line when the traceback does not say.
    """
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    for number, cell in enumerate(code_cells, 1):
        for output in cell.get("outputs", []):
            if output.get("output_type") != "error":
                continue
            line = ""
            for frame in output.get("traceback", []):
                plain = re.sub(r"\x1b\[[0-9;]*m", "", frame)
                marked = [x for x in plain.splitlines() if x.lstrip().startswith("---->")]
                if marked:
                    line = re.sub(r"^\s*---->\s*\d+\s*", "", marked[-1]).strip()
            line = line or next((x for x in cell.source.splitlines() if x.strip()), "")
            return f"code cell {number}, line `{line.strip()}`"
    return ""


def asserts_without_message(path: Path) -> list[str]:
    """``cell N: assert ...`` for every ``assert`` in the notebook's code that has no message.

    A bare ``assert`` fails as just "AssertionError:", so the run summary could not say what
    went wrong; every notebook check carries a message naming the measured value.
    """
    import ast

    from IPython.core.inputtransformer2 import TransformerManager

    to_python = TransformerManager().transform_cell  # %pip and !cmd become plain calls
    nb = nbformat.read(path, as_version=4)
    found = []
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    for number, cell in enumerate(code_cells, 1):
        source = to_python(cell.source)
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Assert) and node.msg is None:
                text = ast.get_source_segment(source, node) or "assert"
                found.append(f"cell {number}: {text.splitlines()[0]}")
    return found


def claims_printed(nb: nbformat.NotebookNode) -> dict[str, list[str]]:
    """The claims a run printed: ``{"enforced": [...], "reported": [...]}``. Enforced claims
    are the ``ok`` lines of :func:`course_utils.tooling.stability.check_claims`; reported ones
    its ``info`` lines, measured facts of another model than the one that ran."""
    found: dict[str, list[str]] = {"enforced": [], "reported": []}
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            for line in str(output.get("text", "")).splitlines():
                if line.startswith("  ok    "):
                    found["enforced"].append(line[8:])
                elif line.startswith("  info  "):
                    found["reported"].append(line[8:])
    return found


def cells_before(nb: nbformat.NotebookNode, heading: str) -> int:
    """The number of cells before the first Markdown cell that opens with ``heading``
    (e.g. ``"## 3."``); ``ValueError`` naming the headings when there is none."""
    headings = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            first = cell.source.lstrip().splitlines()[0] if cell.source.strip() else ""
            if first.startswith(heading):
                return index
            if first.startswith("#"):
                headings.append(first)
    raise ValueError(f"no heading opens with {heading!r}; the headings: {headings}")


def recorder_cell(nb: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode | None:
    """The hidden last cell that records ``name``'s headline numbers
    (:mod:`course_utils.tooling.records`), or ``None``: no recorder for this notebook, or the
    notebook still records them itself in a ``record_results`` cell."""
    from course_utils.tooling.records import RECORDERS, cell_source

    if name not in RECORDERS or any(
        c.cell_type == "code" and "record_results(" in c.source for c in nb.cells
    ):
        return None
    return nbformat.v4.new_code_cell(cell_source(name))


def _output_text(cell: nbformat.NotebookNode) -> str:
    """The error or text a cell printed, on one line."""
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            parts.append(f"{output.get('ename')}: {output.get('evalue')}")
        else:
            parts.append(str(output.get("text", "")))
    return " ".join(" ".join(parts).split()) or "no output"


def execute(path: Path, out_path: Path, until_heading: str | None = None) -> NotebookRun:
    """Execute ``path`` in a fresh kernel (cwd = its folder), save it to ``out_path``.

    ``until_heading`` runs only the cells before that heading (:func:`cells_before`): a part of
    the notebook, e.g. 05's frozen-encoder sections in ``make depth``.

    Outputs are cleared first, so a failed run's copy holds only what this run produced and the
    summary never reads an earlier run's results. A failed run never replaces ``path`` itself:
    when ``out_path`` is ``path`` (``--inplace``), it is saved beside it as ``NAME.failed.ipynb``.
    """
    nb = nbformat.read(path, as_version=4)
    if until_heading is not None:
        nb.cells = nb.cells[: cells_before(nb, until_heading)]
    clear_outputs(nb)
    nb.metadata.pop(RESULTS_METADATA_KEY, None)
    hidden = recorder_cell(nb, path.stem) if until_heading is None else None
    if hidden is not None:
        nb.cells.append(hidden)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name=KERNEL_NAME,
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    error = ""
    try:
        client.execute()
    except CellExecutionError as err:
        where = failing_cell(nb)
        error = f"{err.ename}: {err.evalue}" + (f" (in {where})" if where else "")
    except (CellTimeoutError, DeadKernelError) as err:  # keep going: the summary says so
        error = f"{type(err).__name__}: {err}"
    seconds = time.perf_counter() - start
    if hidden is not None:
        nb.cells.remove(hidden)
        found = [o["metadata"][RESULTS_METADATA_KEY] for o in hidden.get("outputs", [])
                 if RESULTS_METADATA_KEY in o.get("metadata", {})]  # fmt: skip
        if found:
            nb.metadata[RESULTS_METADATA_KEY] = found[0]
        elif hidden.get("outputs") or not error:  # it ran and failed: say so, not "code cell N"
            error = f"the runner's record of {path.stem} failed: {_output_text(hidden)}"
    settle_progress_bars(nb)
    core = core_seconds(nb) if until_heading is None else None
    strip_volatile_metadata(nb)
    if error and out_path.resolve() == path.resolve():
        out_path = path.with_name(f"{path.stem}.failed.ipynb")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out_path)
    record: dict[str, Any] = {}
    if not error:
        from course_utils.core.notebook import results_from_notebook  # torch: not at start-up

        record = results_from_notebook(out_path) or {}
    return NotebookRun(path.stem, seconds, not error, error, record, saved=str(out_path),
                       claims=claims_printed(nb), core_seconds=core)  # fmt: skip


def summarise(runs: list[NotebookRun]) -> str:
    """A Markdown table: notebook, status, wall time, model, data, claims, headline numbers."""
    from course_utils.core.notebook import format_number

    lines = [
        "# Course run summary",
        "",
        "| notebook | status | wall time (s) | model | data | claims checked / reported only "
        "| headline numbers |",
        "|---|---|---:|---|---|---|---|",
    ]
    for run in runs:
        rec = run.record
        numbers = ", ".join(f"{k}={format_number(v)}" for k, v in rec.get("results", {}).items())
        status = "ok" if run.ok else f"FAILED: {run.error}"
        cells = [run.notebook, status, f"{run.seconds:.1f}", rec.get("model", "-")]
        claims = f"{len(run.claims.get('enforced', []))} / {len(run.claims.get('reported', []))}"
        cells += [rec.get("data", "-"), claims, numbers or "-"]
        lines.append("| " + " | ".join(_table_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _table_cell(text: str) -> str:
    """One Markdown table cell: an error message may hold pipes and line breaks."""
    return " ".join(str(text).split()).replace("|", "\\|")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "notebooks",
        nargs="*",
        type=Path,
        help="notebooks to run (default: every notebooks/NN_*.ipynb)",
    )
    parser.add_argument(
        "--inplace",
        action="store_true",
        help="write outputs back into the notebooks instead of build/",
    )
    parser.add_argument("--build-dir", type=Path, default=BUILD_DIR)
    parser.add_argument(
        "--until-heading",
        help="run only the cells before the first heading that opens with this text (e.g. '## 3.')",
    )
    args = parser.parse_args(argv)
    if args.inplace and args.until_heading:
        parser.error("--inplace writes whole notebooks: it cannot run only a part")

    paths = [p.resolve() for p in args.notebooks] or discover()
    if not paths:
        print("No notebooks found.", file=sys.stderr)
        return 1
    try:
        print(f"data: {check_available().describe()}", flush=True)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    build = args.build_dir.resolve()
    runs = []
    for path in paths:
        out = path if args.inplace else build / "notebooks" / path.name
        print(f"running {path.name} ...", flush=True)
        run = execute(path, out, args.until_heading)
        print(
            f"  {'ok' if run.ok else 'FAILED: ' + run.error} [time: {run.seconds:.1f} s] "
            f"-> {run.saved}",
            flush=True,
        )
        runs.append(run)
    if runs:  # with --inplace too: the summary (times, claims) of a refresh
        build.mkdir(parents=True, exist_ok=True)
        (build / "results.md").write_text(summarise(runs), encoding="utf-8")
        (build / "results.json").write_text(
            json.dumps([run.__dict__ for run in runs], indent=2, default=str) + "\n",
            encoding="utf-8",
        )
        print(f"summary: {build / 'results.md'}")
    return 0 if all(run.ok for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
