"""Notebooks 01 and 05 on a CUDA GPU: ``make gpu-check``.

Runs both notebooks top to bottom with the course runner on ``COURSE_DEVICE=cuda`` (every
assert and claim runs; 05 fine-tunes from scratch with mixed precision, in a fresh cache
folder), then writes ``build/gpu-check/results.json``: the GPU, torch and CUDA versions, each
notebook's wall time and status, and the AUCs notebook 05 recorded. Exit status 1 when a
notebook fails, 2 when this machine has no CUDA GPU (nothing is run then).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "build" / "gpu-check"
NOTEBOOKS = (
    "notebooks/01_attention_from_scratch.ipynb",
    "notebooks/05_classification_finetuning.ipynb",
)


def main() -> int:
    if not torch.cuda.is_available():
        print("gpu-check: no CUDA GPU on this machine (torch.cuda.is_available() is False); "
              "nothing was run.", file=sys.stderr)  # fmt: skip
        return 2
    OUT.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="course-gpu-") as cache:
        env = dict(os.environ, COURSE_DEVICE="cuda", COURSE_CACHE_DIR=cache)
        done = subprocess.run(
            [sys.executable, "-m", "course_utils.tooling.runner", *NOTEBOOKS, "--build-dir",
             str(OUT)], cwd=ROOT, env=env)  # fmt: skip
    summary = OUT / "results.json"
    runs = json.loads(summary.read_text()) if summary.is_file() else []
    result = {
        "device": torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "bf16": torch.cuda.is_bf16_supported(),
        "seconds_total": round(time.perf_counter() - start, 1),
        "notebooks": [
            {
                "notebook": r["notebook"],
                "ok": r["ok"],
                "seconds": round(r["seconds"], 1),
                "error": r.get("error", ""),
                "aucs": {k: v for k, v in (r.get("record") or {}).items() if "auc" in k},
            }
            for r in runs
        ],  # fmt: skip
    }
    (OUT / "gpu_check.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    ok = done.returncode == 0 and len(runs) == len(NOTEBOOKS) and all(r["ok"] for r in runs)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
