"""The notebooks on encoders of other depths: ``make depth`` (issue 33's depth matrix).

Runs the core path of notebooks 00, 02, 03, 04 and 05 (the cells before each one's heading
"## Going further"; 05's core fine-tunes for one epoch under ``COURSE_PROFILE=ci``) with
``COURSE_MODEL`` pointing at a real pretrained model of another shape made from the bundled
all-MiniLM-L6-v2: its first 2 layers in BERT layout (``cut_layers``). Every assert and claim
runs; outputs are not compared. The 6 layers in DistilBERT layout run in ``make online``,
where the loopback Hub serves them as ``distilbert-base-uncased``.

For each notebook the summary lists the claims that were enforced (``ok``) and those reported
only, as measured facts of another model (``info``): ``build/depth/results.md``. Exit status 1
when any cell of any notebook fails. Arguments: notebook names (default: 00 02 03 04 05);
``--whole`` runs every notebook to its end (the "Going further" sections too: not part of CI,
which keeps its 75 minutes).
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

from course_utils.tooling.runner import CORE_END  # the heading that ends each core path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "build" / "depth"
NOTEBOOKS = ("00", "02", "03", "04", "05")
COPIED = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
          "modules.json", "sentence_bert_config.json", "config_sentence_transformers.json",
          "1_Pooling/config.json")  # fmt: skip


def cut_layers(source: Path, folder: Path, layers: int) -> Path:
    """A BERT folder with the first ``layers`` blocks of ``source`` (embeddings, blocks and
    pooler unchanged): a real pretrained model of another depth, for ``COURSE_MODEL``."""
    from safetensors.torch import load_file, save_file

    config = json.loads((source / "config.json").read_text())
    if layers >= config["num_hidden_layers"]:
        raise ValueError(f"{source} has {config['num_hidden_layers']} layers; cut to fewer")
    config["num_hidden_layers"] = layers
    state = load_file(str(source / "model.safetensors"))
    kept = {k: v for k, v in state.items()
            if not k.startswith("encoder.layer.") or int(k.split(".")[2]) < layers}  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    save_file(kept, str(folder / "model.safetensors"), metadata={"format": "pt"})
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    for name in COPIED:
        if (source / name).is_file():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / name, folder / name)
    return folder


def main() -> int:
    from course_utils.core.models import bundled_model_path

    args = [a for a in sys.argv[1:] if a != "--whole"]
    part = {} if "--whole" in sys.argv[1:] else dict.fromkeys(NOTEBOOKS, CORE_END)
    wanted = [a[:2] for a in args] or list(NOTEBOOKS)
    names = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")
                   if p.name[:2] in wanted and not p.stem.endswith(".failed"))  # fmt: skip
    start = time.perf_counter()
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    rows = []
    # The cut model in a fixed folder: the same weights and path give the same cache keys, so a
    # second run reuses its embeddings; the course cache (make's build/cache, where make test
    # left the model-independent TinyGPT) is shared: every entry is keyed by the model's weights.
    model = cut_layers(bundled_model_path(), OUT / "all-MiniLM-L6-v2-first-2-layers", 2)
    cache = os.environ.get("COURSE_CACHE_DIR") or str(OUT / "cache")
    with tempfile.TemporaryDirectory(prefix="course-depth-") as tmp:
        work = Path(tmp) / "work"
        work.mkdir()
        for name in names:
            shutil.copy(ROOT / "notebooks" / name, work / name)
        env = dict(os.environ, COURSE_MODEL=str(model), COURSE_PROFILE="ci",
                   COURSE_CACHE_DIR=cache, HF_HUB_OFFLINE="1")  # fmt: skip
        for name in names:
            build = work / f"build-{name[:2]}"
            until = ["--until-heading", part[name[:2]]] if name[:2] in part else []
            subprocess.run([sys.executable, "-m", "course_utils.tooling.runner", name, *until,
                            "--build-dir", str(build)], cwd=work, env=env)  # fmt: skip
            summary = build / "results.json"
            for run in json.loads(summary.read_text()) if summary.is_file() else []:
                rows.append({"model": model.name, "notebook": run["notebook"], "ok": run["ok"],
                             "cells": f"before {part[name[:2]]!r}" if until else "all",
                             "seconds": round(run["seconds"], 1), "error": run.get("error", ""),
                             **run["claims"]})  # fmt: skip
    (OUT / "results.json").write_text(json.dumps(rows, indent=2))
    lines = ["| model | notebook | cells | ok | time (s) | claims enforced | reported only |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    lines += [f"| {r['model']} | {r['notebook']} | {r['cells']} | {r['ok']} | {r['seconds']} | "
              f"{len(r['enforced'])} | {len(r['reported'])} |" for r in rows]  # fmt: skip
    (OUT / "results.md").write_text("\n".join(lines) + "\n")
    failed = [f"{r['notebook']}: {r['error'][:300]}" for r in rows if not r["ok"]]
    print("\n".join(lines))
    for line in failed:
        print("FAILED", line)
    print(f"depth matrix: {len(rows)} notebooks, {len(failed)} failed, "
          f"{time.perf_counter() - start:.0f} s")  # fmt: skip
    return 1 if failed or len(rows) != len(names) else 0


if __name__ == "__main__":
    sys.exit(main())
