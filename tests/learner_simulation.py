"""The whole course from the wheel, with another real model: ``tests/learner_simulation.py``.

(CI runs ``make online`` instead, ``tests/online_course.py``: a no-extras install against a
loopback Hub that serves the same weights as ``distilbert-base-uncased``. This script stays for
``COURSE_MODEL=<any model>`` runs, and its fast install is what ``test_installed_package`` uses.)

1. build the course's wheel and install it, not editable, into a fresh virtual environment
   (its dependencies are this environment's, reached through a ``.pth`` file: nothing is
   downloaded, and this checkout's editable install stays out of sight);
2. copy the six notebooks into an empty folder outside the repository;
3. execute every notebook top to bottom with the installed runner (``python -m
   course_utils.tooling.runner``): every ``assert`` and claim check runs, outputs are not compared;
4. write the run's summary to ``build/learner/results.md`` (and ``.json``) of the checkout.

Arguments, if any, name the notebooks to run (default: all six).

The model is ``$COURSE_MODEL``, default ``distilbert-layout``: the bundled all-MiniLM-L6-v2
rewritten exactly as a ``DistilBertModel`` (``course_utils.core.distilbert_layout``), so the
DistilBERT code paths (no token types, ``DistilBertTokenizer``, ``transformer.layer`` blocks,
the neuron view, top-block fine-tuning, BERTopic's embedding step) run with real weights.
The data is ``$COURSE_DATA_DIR`` (or the Hub); caches start empty. Exit status 1 when any
notebook fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "build" / "learner"


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def install_wheel(base: Path) -> Path:
    """A fresh virtual environment holding the wheel; returns its python."""
    wheels = base / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
          "-w", str(wheels), str(ROOT)], cwd=base)  # fmt: skip
    (wheel,) = wheels.glob("course_utils-*.whl")
    venv = base / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=base)
    python = venv / "bin" / "python"
    site = Path(
        _run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            cwd=base,
        ).strip()  # fmt: skip
    )
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "course-deps.pth").write_text("\n".join(sorted(deps)) + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
          "--no-index", str(wheel)], cwd=base)  # fmt: skip
    _run([str(python), "-m", "ipykernel", "install", "--sys-prefix", "--name", "python3"], cwd=base)
    return python


def learner_env(python: Path, cache: Path, model: str) -> dict[str, str]:
    """This process's environment as a fresh learner's: no course, Hub or Jupyter settings
    except where the data is (``$COURSE_DATA_DIR``), the fresh environment's python and kernel
    first, the given model and an empty cache folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COURSE_", "HF_", "JUPYTER"))}
    env.pop("PYTHONPATH", None)
    if "COURSE_DATA_DIR" in os.environ:
        env["COURSE_DATA_DIR"] = os.environ["COURSE_DATA_DIR"]
    env.update(
        COURSE_CACHE_DIR=str(cache),
        COURSE_MODEL=model,
        JUPYTER_PATH=str(python.parent.parent / "share" / "jupyter"),  # the fresh kernel first
        PATH=f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    return env


def main() -> int:
    model = os.environ.get("COURSE_MODEL", "distilbert-layout")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="course-learner-") as tmp:
        base = Path(tmp)
        python = install_wheel(base)
        work = base / "my-course"  # an empty folder outside the repository
        work.mkdir()
        names = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")
                       if not p.stem.endswith(".failed"))  # fmt: skip
        if sys.argv[1:]:  # e.g. 05_classification_finetuning.ipynb: only those notebooks
            names = [n for n in names if n in {Path(a).name for a in sys.argv[1:]}]
        for name in names:
            shutil.copy(ROOT / "notebooks" / name, work / name)
        env = learner_env(python, base / "cache", model)
        print(f"learner simulation: wheel in {python.parent.parent.name}/, notebooks in an empty "
              f"folder, COURSE_MODEL={model}", flush=True)  # fmt: skip
        done = subprocess.run(
            [str(python), "-m", "course_utils.tooling.runner", *names, "--build-dir", "build"],
            cwd=work, env=env,
        )  # fmt: skip
        shutil.rmtree(OUT, ignore_errors=True)
        OUT.mkdir(parents=True)
        for name in ("results.md", "results.json"):
            if (work / "build" / name).is_file():
                shutil.copy(work / "build" / name, OUT / name)
        summary = work / "build" / "results.json"
        runs = json.loads(summary.read_text()) if summary.is_file() else []
    seconds = time.perf_counter() - start
    failed = [r["notebook"] for r in runs if not r["ok"]]
    print(f"learner simulation: {len(runs)} notebooks, {len(failed)} failed, {seconds:.0f} s "
          f"(summary: {OUT.relative_to(ROOT)}/results.md)")  # fmt: skip
    return 1 if done.returncode or failed or len(runs) != len(names) else 0


if __name__ == "__main__":
    sys.exit(main())
