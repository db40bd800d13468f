"""The path most learners take, run for real: ``make online`` (part of CI).

A learner on Colab or on a laptop with the Hub installs the package with pip, with no extras,
and runs the notebooks with nothing set: the course finds the Hub, downloads DistilBERT and
the Hub's Rotten Tomatoes, and (on 00 and 02) a generative model. This script does exactly
that, against the loopback Hub of ``tests/loopback_hub.py`` (``HF_ENDPOINT`` points at it):

1. build the course's wheel and install it, **with no extras**, into a fresh virtual
   environment (torch first, then the wheel under the lock's constraints: the install the
   README gives learners);
2. copy the notebooks that take a model from the Hub (00 and 02-05; 01 builds its encoder from
   the bundled model's weights by design, and reads the data through the same loader as 00)
   into an empty folder outside the repository and run them top to bottom with the installed
   runner: no ``COURSE_DATA_DIR``, no ``COURSE_MODEL``, no
   offline flag, an empty Hugging Face cache. Each notebook's summary must name
   ``distilbert-base-uncased`` and the Hub's data;
3. run their core path (the cells before "## Going further") again with ``HF_HUB_OFFLINE=1``
   on the cache the first run left ("day two, on the train"): same model, same data, from the
   local cache (every cell offline, whole notebooks, is ``make test``'s nbval; the core path
   loads everything a notebook takes from the Hub, and stays within CI's 75 minutes);
4. write ``build/online/results.md`` (both runs) and ``build/online/hub_calls.json`` (the
   endpoint shapes the libraries called); fail on any notebook error and on any request
   that matched no known endpoint shape.

``COURSE_PROFILE=ci`` (set here) caps notebook 05's encoder fine-tuning at one epoch
(:func:`course_utils.classification.train.profiled_config`; ``fit`` prints so); ``make run`` trains
in full. Arguments, if any, name the notebooks to run (default: all but 01). That every notebook,
01 included, imports only what a plain install gives is ``tests/test_notebook_imports.py``.
The data comes from ``$COURSE_DATA_DIR`` (CI: ``../shared/data/rotten_tomatoes``), read only
to build the loopback Hub's dataset repo; the notebooks never see that variable.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from course_utils.tooling.runner import CORE_END  # the offline pass runs each core path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "build" / "online"
# 01 takes no model from the Hub (it rebuilds the bundled all-MiniLM-L6-v2 from its weights);
# nbval runs it, and test_notebook_imports checks its imports against a plain install.
NOT_ONLINE = ("01_",)
EXPECTED_MODEL = "distilbert-base-uncased"
EXPECTED_DATA = "Hugging Face Hub: cornell-movie-review-data/rotten_tomatoes"


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def install_no_extras(base: Path, interpreter: str = sys.executable) -> Path:
    """A fresh virtual environment (of ``interpreter``) with the wheel and its base
    dependencies only (no ``[dev]``), installed as the README tells learners; returns its
    python."""
    wheels = base / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
          "-w", str(wheels), str(ROOT)], cwd=base)  # fmt: skip
    (wheel,) = wheels.glob("course_utils-*.whl")
    venv = base / "venv"
    _run([interpreter, "-m", "venv", str(venv)], cwd=base)
    python = venv / "bin" / "python"
    lock = ROOT / "constraints.txt"
    torch = next(line for line in lock.read_text().splitlines() if line.startswith("torch=="))
    _run([str(python), "-m", "pip", "install", "--quiet", torch], cwd=base)
    _run([str(python), "-m", "pip", "install", "--quiet", "-c", str(lock), str(wheel)], cwd=base)
    _run([str(python), "-m", "ipykernel", "install", "--sys-prefix", "--name", "python3"], cwd=base)
    return python


def start_hub(base: Path, data_dir: str) -> tuple[subprocess.Popen, str, Path]:
    """The loopback Hub in its own process: ``(process, url, file of recorded calls)``."""
    port_file, calls = base / "hub.url", base / "hub_calls.jsonl"
    hub = subprocess.Popen([sys.executable, str(ROOT / "tests" / "loopback_hub.py"), data_dir,
                            str(port_file), str(calls)])  # fmt: skip
    deadline = time.monotonic() + 300
    while not port_file.is_file() or not port_file.read_text():
        if hub.poll() is not None or time.monotonic() > deadline:
            sys.exit("the loopback Hub did not start")
        time.sleep(0.5)
    return hub, port_file.read_text(), calls


def learner_env(python: Path, base: Path, hub_url: str, offline: bool) -> dict[str, str]:
    """A fresh learner's environment: no course, Hub or Jupyter settings but the Hub's address
    (and, on day two, the offline flag); the fresh environment first; empty caches."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("COURSE_", "HF_", "JUPYTER", "TRANSFORMERS_"))}  # fmt: skip
    env.pop("PYTHONPATH", None)
    env.update(
        HF_ENDPOINT=hub_url,
        HF_HOME=str(base / "hf-home"),
        COURSE_CACHE_DIR=str(base / "course-cache"),
        COURSE_PROFILE="ci",
        JUPYTER_PATH=str(python.parent.parent / "share" / "jupyter"),
        PATH=f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    return env


def printed(saved: str) -> str:
    """Everything an executed notebook printed (its text outputs), to check what it names."""
    cells = json.loads(Path(saved).read_text())["cells"] if saved and Path(saved).is_file() else []
    outputs = [out for cell in cells for out in cell.get("outputs", [])]
    return "".join("".join(out.get("text", "")) for out in outputs)


def run_notebooks(python: Path, work: Path, names: list[str], env: dict[str, str],
                  label: str, core_only: bool = False) -> list[dict]:  # fmt: skip
    """Run the notebooks with the installed runner (``core_only``: the cells before
    :data:`CORE_END`); return the summary rows, each checked for the model and data it names:
    the runner's record for a whole run, the setup cell's lines for a core-path run."""
    build = work / f"build-{label}"
    until = ["--until-heading", CORE_END] if core_only else []
    subprocess.run([str(python), "-m", "course_utils.tooling.runner", *names, *until,
                    "--build-dir", str(build)], cwd=work, env=env)  # fmt: skip
    summary = build / "results.json"
    runs = json.loads(summary.read_text()) if summary.is_file() else []
    for row in runs:
        row["run"] = label
        record = row.get("record") or {}
        named = (printed(row.get("saved", "")) if core_only
                 else f"{record.get('model', '')} | {record.get('data', '')}")  # fmt: skip
        if (
            row["ok"]
            and (record or core_only)
            and (EXPECTED_MODEL not in named or EXPECTED_DATA not in named)
        ):
            row["ok"] = False
            row["error"] = f"results name {named[:300]!r}, not {EXPECTED_MODEL} on the Hub's data"
    OUT.mkdir(parents=True, exist_ok=True)
    if (build / "results.md").is_file():
        shutil.copy(build / "results.md", OUT / f"results-{label}.md")
    return runs


def main() -> int:
    data_dir = os.environ.get("COURSE_DATA_DIR") or str(ROOT.parent / "shared/data/rotten_tomatoes")
    start = time.perf_counter()
    shutil.rmtree(OUT, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix="course-online-") as tmp:
        base = Path(tmp)
        hub, url, calls_file = start_hub(base, data_dir)
        try:
            python = install_no_extras(base)
            installed_s = time.perf_counter() - start
            work = base / "my-course"  # an empty folder outside the repository
            work.mkdir()
            names = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")
                           if not p.stem.endswith((".failed",))
                           and not p.name.startswith(NOT_ONLINE))  # fmt: skip
            if sys.argv[1:]:
                names = [n for n in names if n in {Path(a).name for a in sys.argv[1:]}]
            for name in names:
                shutil.copy(ROOT / "notebooks" / name, work / name)
            print(f"online course: no-extras wheel installed in {installed_s:.0f} s; Hub at {url}",
                  flush=True)  # fmt: skip
            runs = []
            for label, offline in (("online", False), ("offline-cache", True)):
                env = learner_env(python, base, url, offline)
                runs += run_notebooks(python, work, names, env, label, core_only=offline)
            # a learner's folder holds the notebooks and what the runner wrote, nothing else:
            # caches, runs and exported views go to the course cache (course_utils.core.paths)
            stray = sorted({p.relative_to(work).parts[0] for p in work.rglob("*") if p.is_file()}
                           - {*names, "build-online", "build-offline-cache"})  # fmt: skip
            if stray:
                runs.append({"run": "folder", "notebook": "-", "ok": False,
                             "error": f"written into the learner's folder: {stray}"})  # fmt: skip
        finally:
            hub.terminate()
            hub.wait()
        calls = [json.loads(line) for line in calls_file.read_text().splitlines()]
    sys.path.insert(0, str(ROOT / "tests"))
    from loopback_hub import KNOWN_SHAPES

    shapes = sorted({c["shape"] for c in calls})
    unknown = [s for s in shapes if s not in KNOWN_SHAPES]
    (OUT / "hub_calls.json").write_text(json.dumps(
        {"shapes": shapes, "unknown": unknown, "requests": len(calls),
         "by_status": {str(s): sum(c["status"] == s for c in calls)
                       for s in sorted({c["status"] for c in calls})}}, indent=2))  # fmt: skip
    (OUT / "results.json").write_text(json.dumps(runs, indent=2))
    seconds = time.perf_counter() - start
    failed = [f"{r['run']}: {r['notebook']} ({r.get('error', '')[:300]})" for r in runs
              if not r["ok"]]  # fmt: skip
    for line in failed:
        print("FAILED", line)
    print(f"online course: {len(runs)} notebook runs ({len(names)} online, {len(names)} core "
          f"paths offline from the cache), {len(failed)} failed; {len(calls)} Hub requests, "
          f"shapes: "
          f"{', '.join(shapes)}; unknown: {unknown or 'none'}; {seconds:.0f} s "
          f"(summary: {OUT.relative_to(ROOT)}/)")  # fmt: skip
    return 1 if failed or unknown or len(runs) < 2 * len(names) else 0


if __name__ == "__main__":
    sys.exit(main())
