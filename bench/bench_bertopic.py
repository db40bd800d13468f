"""Wall time of a BERTopic fit on all 10,662 Rotten Tomatoes sentences: BERTopic's true defaults
and notebook 04's pipeline, each cold (a fresh process) and warm (a second fit in that process).

Two contenders, the bundled all-MiniLM-L6-v2 for both:

* ``BERTopic defaults``: ``BERTopic(embedding_model=model).fit_transform(docs)``, nothing else
  set: BERTopic embeds the sentences itself on every fit, UMAP is unseeded and uses every core
  with its approximate neighbours (NNDescent). The warm fit is a second, fresh ``BERTopic`` in
  the same process (numba's kernels compiled, the model loaded; the embedding runs again, since
  BERTopic keeps no cache).
* ``course pipeline``: notebook 04's final model (``topics.build_topic_model`` with its settings:
  the course's cached ``encode()``, an exact 15-NN graph, seeded UMAP, leaf HDBSCAN, KeyBERT and
  MMR names). Cold: a fresh process with an empty embedding cache; warm: a second fit in that
  process, the embeddings read from the cache the first fit wrote.

Each fit's time is the wall time from the documents to the fitted model, embedding included.
Targets (issues 6 and 17): the course pipeline's fit <= 120 s cold and <= 30 s warm. Threads are
capped to ``--threads`` in every pool. Writes ``bench/results/bertopic.md`` and appends every run
(command, date, load average, versions) to ``bench/results/bertopic.jsonl``.

    python bench/bench_bertopic.py [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
TARGETS = {"cold": 120.0, "warm": 30.0}
FINAL = {"min_cluster_size": 50, "min_samples": 5, "selection": "leaf", "aspects": True}
CONTENDERS = ("BERTopic defaults", "course pipeline")


def child(contender: str) -> None:
    """Two fits in this process (cold, then warm); prints one JSON line."""
    start = time.perf_counter()
    from bertopic import BERTopic

    from course_utils.core.data import load_rotten_tomatoes
    from course_utils.topics import pipeline as topics

    rt = load_rotten_tomatoes()
    docs = [text for split in ("train", "validation", "test") for text in rt[split]["text"]]
    model = topics.load_embedding_model("bundled", verbose=False)
    setup_s = time.perf_counter() - start

    def fit_once() -> dict:
        t = time.perf_counter()
        if contender == "BERTopic defaults":
            assigned, _ = BERTopic(embedding_model=model.sentence_model).fit_transform(docs)
        else:
            embeddings = topics.embed_documents(docs, model)
            knn = topics.nearest_neighbours(embeddings, 15)
            topic_model = topics.build_topic_model(model.sentence_model, knn=knn, **FINAL)
            assigned, _ = topic_model.fit_transform(docs, embeddings)
        return {"fit_s": round(time.perf_counter() - t, 2), **topics.topic_summary(assigned)}

    cold = fit_once()
    warm = fit_once()
    print(json.dumps({"contender": contender, "setup_s": round(setup_s, 2), "cold": cold,
                      "warm": warm}))  # fmt: skip


def run(contender: str, threads: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-bertopic-") as cache:
        env = {**os.environ, "COURSE_CACHE_DIR": cache, "COURSE_THREADS": str(threads)}
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                    "RAYON_NUM_THREADS", "NUMBA_NUM_THREADS"):  # fmt: skip
            env[var] = str(threads)
        env.update(HF_HUB_OFFLINE="1", PYTHONHASHSEED="0")
        start = time.perf_counter()
        out = subprocess.run(
            [sys.executable, __file__, "--child", contender, "--threads", str(threads)],
            env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
    record = json.loads(out.stdout.strip().splitlines()[-1])
    record["process_s"] = round(time.perf_counter() - start, 2)
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--child", choices=CONTENDERS)
    args = parser.parse_args()
    if args.child:
        import torch

        torch.set_num_threads(args.threads)
        child(args.child)
        return
    load_before = os.getloadavg()[0]
    records = [run(contender, args.threads) for contender in CONTENDERS]
    load_after = os.getloadavg()[0]
    import bertopic
    import torch
    import umap

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from record import append_jsonl, run_context

    versions = {"bertopic": bertopic.__version__, "umap": umap.__version__,
                "torch": torch.__version__}  # fmt: skip
    row = {
        **run_context(load_before, versions, load_after),
        "threads": args.threads,
        "records": records,
    }

    append_jsonl(RESULTS / "bertopic.jsonl", row)
    course = next(r for r in records if r["contender"] == "course pipeline")
    lines = [
        "# bench_bertopic.py (the last run; every run: bertopic.jsonl)",
        "",
        f"command: `{row['command']}` | date: {row['date']} | {row['machine']} | threads "
        f"{args.threads} | 1-minute load average before / after: {load_before:.1f} / "
        f"{load_after:.1f}",
        f"versions: {row['versions']}",
        "model: sentence-transformers/all-MiniLM-L6-v2 (bundled) | data: Rotten Tomatoes, all "
        f"10,662 sentences | course settings: {FINAL}",
        "",
        "| contender | cold fit (fresh process) | warm fit (second, same process) | topics cold / "
        "warm | outlier share cold / warm |",
        "|---|---|---|---|---|",
        *(
            f"| {r['contender']} | {r['cold']['fit_s']:.1f} s | {r['warm']['fit_s']:.1f} s | "
            f"{r['cold']['topics']} / {r['warm']['topics']} | "
            f"{r['cold']['outlier_share']:.3f} / {r['warm']['outlier_share']:.3f} |"
            for r in records
        ),
        "",
        "Each fit includes embedding the sentences (BERTopic re-embeds on every fit; the course "
        "reads its cache on the warm fit). Course targets: "
        + ", ".join(
            f"{mode} <= {limit:.0f} s: {'met' if course[mode]['fit_s'] <= limit else 'missed'} "
            f"({course[mode]['fit_s']:.1f} s)"
            for mode, limit in TARGETS.items()
        ),
        "process wall (imports, data, model load, both fits): "
        + ", ".join(f"{r['contender']} {r['process_s']:.1f} s" for r in records),
    ]
    text = "\n".join(lines)
    print(text)
    (RESULTS / "bertopic.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
