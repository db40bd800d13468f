"""The notebooks on encoders of other depths: ``make depth`` (issue 33's depth matrix).

Runs notebooks 00, 02, 03, 04 and 05 top to bottom (every assert and claim runs; outputs are
not compared) with ``COURSE_MODEL`` pointing at a real pretrained model of another shape made
from the bundled all-MiniLM-L6-v2: its first 2 layers in BERT layout (``cut_layers``). The
6 layers in DistilBERT layout run in ``make online``, where the loopback Hub serves them as
``distilbert-base-uncased``. ``COURSE_PROFILE=ci`` shortens 05's fine-tuning.

For each notebook the summary lists the claims that were enforced (``ok``) and those reported
only, as measured facts of another model (``info``): ``build/depth/results.md``. Exit status 1
when any cell of any notebook fails. Arguments: notebook names (default: 00 02 03 04 05).
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
    from course_utils.models import bundled_model_path

    wanted = [a[:2] for a in sys.argv[1:]] or list(NOTEBOOKS)
    names = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")
                   if p.name[:2] in wanted and not p.stem.endswith(".failed"))  # fmt: skip
    start = time.perf_counter()
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="course-depth-") as tmp:
        base = Path(tmp)
        model = cut_layers(bundled_model_path(), base / "all-MiniLM-L6-v2-first-2-layers", 2)
        work = base / "work"
        work.mkdir()
        for name in names:
            shutil.copy(ROOT / "notebooks" / name, work / name)
        env = dict(os.environ, COURSE_MODEL=str(model), COURSE_PROFILE="ci",
                   COURSE_CACHE_DIR=str(base / "cache"), HF_HUB_OFFLINE="1")  # fmt: skip
        build = work / "build"
        subprocess.run([sys.executable, "-m", "course_utils.tooling.runner", *names,
                        "--build-dir", str(build)], cwd=work, env=env)  # fmt: skip
        summary = build / "results.json"
        runs = json.loads(summary.read_text()) if summary.is_file() else []
        for run in runs:
            rows.append({"model": model.name, "notebook": run["notebook"], "ok": run["ok"],
                         "seconds": round(run["seconds"], 1), "error": run.get("error", ""),
                         **run["claims"]})  # fmt: skip
    (OUT / "results.json").write_text(json.dumps(rows, indent=2))
    lines = ["| model | notebook | ok | time (s) | claims enforced | reported only |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    lines += [f"| {r['model']} | {r['notebook']} | {r['ok']} | {r['seconds']} | "
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
