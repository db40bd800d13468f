"""nbval still catches a wrong result: a broken kernel or loader, patched into the notebook's
kernel, makes `pytest --nbval` fail on the committed notebook 01.

The patch goes in through a ``sitecustomize`` module on ``PYTHONPATH``, which the kernel (a
child process of nbval) imports at start-up, before the notebook's own imports.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "01_attention_from_scratch.ipynb"

BREAKS = {
    # the kernel forgets to scale by sqrt(D): an assert against PyTorch fails
    "kernel": """
import math
import course_utils.transformer.attention as attention

_original = attention.scaled_dot_product_attention

def broken(q, k, v, *args, **kwargs):
    return _original(q * math.sqrt(q.size(-1)), k, v, *args, **kwargs)

attention.scaled_dot_product_attention = broken
""",
    # the loader returns the test split in another order: printed outputs differ
    "loader": """
import course_utils.core.data as data

_original = data.load_rotten_tomatoes

def broken(*args, **kwargs):
    ds = _original(*args, **kwargs)
    ds["test"] = ds["test"].select(range(len(ds["test"]) - 1, -1, -1))
    return ds

data.load_rotten_tomatoes = broken
""",
}


def run_nbval(tmp_path: Path, patch: str) -> subprocess.CompletedProcess:
    (tmp_path / "sitecustomize.py").write_text(patch)
    path = os.pathsep.join([str(tmp_path), str(ROOT)])
    env = os.environ | {"PYTHONPATH": path, "COURSE_MODEL": "bundled"}  # as `make nbval`
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval", "--nbval-current-env", "-p",
         "no:cacheprovider", "--nbval-sanitize-with", str(ROOT / "tests" / "nbval_sanitize.cfg"),
         str(NOTEBOOK), "-q", "-x", "--rootdir", str(tmp_path)],
        env=env, capture_output=True, text=True, cwd=NOTEBOOK.parent, timeout=600,
    )  # fmt: skip


@pytest.mark.usefixtures("rt_folder")
def test_a_broken_kernel_fails_an_assert(tmp_path: Path) -> None:
    done = run_nbval(tmp_path, BREAKS["kernel"])
    assert done.returncode != 0, done.stdout[-2000:]
    assert "Cell execution caused an exception" in done.stdout, done.stdout[-3000:]
    assert "AssertionError" in done.stdout, done.stdout[-3000:]


@pytest.mark.usefixtures("rt_folder")
def test_a_broken_loader_changes_a_checked_output(tmp_path: Path) -> None:
    done = run_nbval(tmp_path, BREAKS["loader"])
    assert done.returncode != 0, done.stdout[-2000:]
    assert "Cell outputs differ" in done.stdout, done.stdout[-3000:]
