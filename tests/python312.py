"""The course on Python 3.12, Colab's version: ``make py312`` (not part of CI: it downloads
PyPI's torch build for 3.12, several GB, where no local wheel exists).

A fresh Python 3.12 virtual environment gets the wheel with no extras, as Colab's setup cell
installs it (``tests/online_course.py``'s install); then every module of ``course_utils``
is imported and notebook 01 runs top to bottom from an empty folder with the installed
runner. The interpreter is ``$PYTHON312`` or the first ``python3.12`` found (Debian 12 has
no such package; pyenv's is used where present). Summary: ``build/py312/result.json``.
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

from online_course import ROOT, _run, install_no_extras

OUT = ROOT / "build" / "py312"
CANDIDATES = (*sorted(map(str, Path.home().glob(".pyenv/versions/3.12*/bin/python3.12"))),
              "python3.12")  # fmt: skip


def find_python312() -> str:
    """The first candidate that runs and is 3.12 (a pyenv shim may exist yet not run)."""
    for candidate in (os.environ.get("PYTHON312", ""), *CANDIDATES):
        found = shutil.which(candidate) if candidate else None
        if found:
            check = subprocess.run([found, "-c", "import sys; print(sys.version_info[:2])"],
                                   capture_output=True, text=True)  # fmt: skip
            if check.returncode == 0 and check.stdout.strip() == "(3, 12)":
                return found
    sys.exit("no Python 3.12 found: set PYTHON312 to its interpreter")


IMPORT_ALL = """
import importlib, pkgutil, sys, course_utils
names = [m.name for m in pkgutil.walk_packages(course_utils.__path__, "course_utils.")]
for name in names:
    importlib.import_module(name)
print(sys.version.split()[0], len(names))
"""


def main() -> int:
    interpreter = find_python312()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="course-py312-") as tmp:
        base = Path(tmp)
        python = install_no_extras(base, interpreter)
        installed = time.perf_counter() - start
        work = base / "my-course"
        work.mkdir()
        shutil.copy(ROOT / "notebooks" / "01_attention_from_scratch.ipynb", work)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("COURSE_", "JUPYTER"))}
        data = os.environ.get("COURSE_DATA_DIR") or str(ROOT.parent / "shared/data/rotten_tomatoes")
        env.update(COURSE_DATA_DIR=data, COURSE_CACHE_DIR=str(base / "cache"), HF_HUB_OFFLINE="1",
                   JUPYTER_PATH=str(python.parent.parent / "share" / "jupyter"),
                   PATH=f"{python.parent}{os.pathsep}{env.get('PATH', '')}")  # fmt: skip
        version, modules = _run([str(python), "-c", IMPORT_ALL], cwd=work, env=env).split()
        done = subprocess.run([str(python), "-m", "course_utils.tooling.runner",
                               "01_attention_from_scratch.ipynb", "--build-dir", "build"],
                              cwd=work, env=env)  # fmt: skip
        summary = work / "build" / "results.json"
        runs = json.loads(summary.read_text()) if summary.is_file() else []
        torch = _run([str(python), "-c", "import torch; print(torch.__version__)"], cwd=work)
    result = {"python": version, "modules_imported": int(modules), "torch": torch.strip(),
              "install_s": round(installed, 1),
              "notebooks": [{k: r[k] for k in ("notebook", "ok", "seconds", "error")}
                            for r in runs]}  # fmt: skip
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "result.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0 if done.returncode == 0 and runs and all(r["ok"] for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
