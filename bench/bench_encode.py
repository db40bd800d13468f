"""Throughput of ``course_utils.embeddings.encode`` vs sentence-transformers' ``encode``.

Same model (the bundled all-MiniLM-L6-v2), same Rotten Tomatoes sentences, same threads,
measured in one run with the two contenders interleaved (machines are noisy). Prints
sentences/s for each, the ratio, and the minimum cosine between the two embeddings.
sentence-transformers runs at its default batch size (32) and at the course's (64); the
ratio is taken against the faster of the two.

    python bench/bench_encode.py [--n 2000] [--rounds 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from sentence_transformers import SentenceTransformer

from course_utils.data import load_rotten_tomatoes
from course_utils.embeddings import encode
from course_utils.models import bundled_model_path, load_encoder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="sentences per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
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


if __name__ == "__main__":
    main()
