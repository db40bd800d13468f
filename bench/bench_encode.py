"""Throughput of ``course_utils.embeddings.sentence.encode`` vs sentence-transformers' ``encode``.

Same model (the bundled all-MiniLM-L6-v2), same Rotten Tomatoes sentences, and every thread
pool capped to ``--threads`` before anything is imported (PyTorch's intra-op pool, OpenMP, MKL,
OpenBLAS and the Rust tokenizer's Rayon pool), measured in one run with the contenders warmed up
and interleaved (machines are noisy). Prints sentences/s for each, the ratio, the minimum cosine
between the two embeddings, and one profile line per contender (the functions where it spends
its time) that says where the difference comes from. sentence-transformers runs at its default
batch size (32) and at the course's (64); the ratio is taken against the faster of the two.
Appends the result, with the command, date, load average and versions, to
``bench/results/encode.jsonl``.

    python bench/bench_encode.py [--n 2000] [--rounds 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path


def cap_threads(threads: int) -> None:
    """Every pool to ``threads``: call before torch, numpy or tokenizers are imported."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "RAYON_NUM_THREADS"):
        os.environ[var] = str(threads)
    os.environ["TOKENIZERS_PARALLELISM"] = "true" if threads > 1 else "false"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="sentences per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    cap_threads(args.threads)
    load_before = os.getloadavg()[0]
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from record import append_jsonl, profile_line, run_context

    from course_utils.core.data import load_rotten_tomatoes
    from course_utils.core.models import bundled_model_path, load_encoder
    from course_utils.embeddings.sentence import encode

    torch.set_num_threads(args.threads)

    texts = load_rotten_tomatoes()["train"].shuffle(seed=0)["text"][: args.n]
    tokenizer, model, name = load_encoder("bundled", verbose=False)
    st = SentenceTransformer(str(bundled_model_path()), device="cpu")

    def ours() -> np.ndarray:
        return encode(texts, model, tokenizer, normalize=True, cache=False, progress=False)

    def theirs(batch_size: int = 32) -> np.ndarray:
        return st.encode(texts, batch_size=batch_size, normalize_embeddings=True)

    contenders = {
        "sentence-transformers (batch 32)": theirs,
        "sentence-transformers (batch 64)": lambda: theirs(64),
        "course_utils (batch 64)": ours,
    }
    for fn in contenders.values():  # warm-up: allocator, kernels, tokenizer
        fn()
    seconds: dict[str, list[float]] = {label: [] for label in contenders}
    for _ in range(args.rounds):
        for label, fn in contenders.items():
            start = time.perf_counter()
            fn()
            seconds[label].append(time.perf_counter() - start)
    a, b = ours(), theirs()
    cosine = float((a * b).sum(1).min())  # both rows are unit length
    rate = {k: args.n / float(np.median(v)) for k, v in seconds.items()}
    best_st = max(v for k, v in rate.items() if k.startswith("sentence-transformers"))
    print(
        f"model: {name} | data: Rotten Tomatoes train, {args.n} sentences | "
        f"threads: {torch.get_num_threads()} | rounds: {args.rounds} (interleaved, median)"
    )
    for label, value in rate.items():
        print(f"  {label:<34} {value:8.1f} sentences/s")
    print(
        f"  ratio course_utils / faster sentence-transformers: "
        f"{rate['course_utils (batch 64)'] / best_st:.2f}x"
    )
    print(f"  min cosine between the two embeddings: {cosine:.6f}")
    profiles = {label: profile_line(fn, top=4) for label, fn in contenders.items()}
    for label, line in profiles.items():
        print(f"  profile, {label}: {line}")
    # Where the gain comes from: the same kernels (the profile lines), but fewer tokens through
    # them. Both sort the texts before batching; sentence-transformers by characters, the course
    # by tokens, so its batches carry less padding.
    lengths = np.array([len(ids) for ids in tokenizer(texts, truncation=True)["input_ids"]])

    def padded(order: np.ndarray, batch: int) -> int:
        return int(sum(lengths[order[i : i + batch]].max() * len(order[i : i + batch])
                       for i in range(0, len(order), batch)))  # fmt: skip

    by_tokens = np.argsort(-lengths, kind="stable")
    by_chars = np.argsort([-len(t) for t in texts], kind="stable")
    tokens = {
        "real": int(lengths.sum()),
        "course_utils (batch 64), sorted by tokens": padded(by_tokens, 64),
        "sentence-transformers (batch 32), sorted by characters": padded(by_chars, 32),
        "sentence-transformers (batch 64), sorted by characters": padded(by_chars, 64),
    }
    print("  tokens through the model, padding included: "
          + ", ".join(f"{k} {v:,}" for k, v in tokens.items()))  # fmt: skip
    import sentence_transformers
    import transformers

    append_jsonl(
        Path(__file__).resolve().parent / "results" / "encode.jsonl",
        {
            **run_context(
                load_before,
                {
                    "torch": torch.__version__,
                    "transformers": transformers.__version__,
                    "sentence_transformers": sentence_transformers.__version__,
                },
            ),
            "threads": args.threads,
            "sentences": args.n,
            "sentences_per_s": {k: round(v, 1) for k, v in rate.items()},
            "ratio_course_over_best_st": round(rate["course_utils (batch 64)"] / best_st, 3),
            "min_cosine": cosine,
            "profile": profiles,
            "tokens_with_padding": tokens,
        },
    )


if __name__ == "__main__":
    main()
