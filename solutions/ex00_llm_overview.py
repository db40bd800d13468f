"""Reference solutions of notebook 00's exercises (00_llm_overview), as a learner fills in the
starter cells. Run ``python solutions/ex00_llm_overview.py`` to check them all."""

import math
from collections import Counter

import numpy as np

from course_utils import exercises

#: exercise id -> (check function, the function the learner writes)
EXERCISES = {
    "00.1": ("check_top_k_cosine", "top_k_cosine"),
    "00.2": ("check_softmax_with_temperature", "softmax_with_temperature"),
    "00.3": ("check_bigram_log_prob", "bigram_log_prob"),
}


# --- 00.1 -----------------------------------------------------------------------------------
def top_k_cosine(query: np.ndarray, matrix: np.ndarray, k: int):
    """Indices of the k rows of matrix most cosine-similar to query, most similar first."""
    sims = matrix @ query / (np.linalg.norm(matrix, axis=1) * np.linalg.norm(query))
    return np.argsort(-sims)[:k]


# --- 00.2 -----------------------------------------------------------------------------------
def softmax_with_temperature(logits: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(logits / temperature), also for very large logits."""
    z = logits / temperature
    e = np.exp(z - z.max())  # subtracting the max changes nothing but avoids overflow
    return e / e.sum()


# --- 00.3 -----------------------------------------------------------------------------------
def bigram_log_prob(corpus: list[list[str]], sentence: list[str]) -> float:
    """Natural log of P(sentence) under an add-one-smoothed bigram model of corpus."""
    pairs, starts = Counter(), Counter()
    for words in corpus:
        tokens = ["<s>", *words, "</s>"]
        for v, w in zip(tokens, tokens[1:], strict=False):
            pairs[v, w] += 1
            starts[v] += 1
    vocab_size = len({w for words in corpus for w in words}) + 1  # + "</s>"
    tokens = ["<s>", *sentence, "</s>"]
    return sum(
        math.log((pairs[v, w] + 1) / (starts[v] + vocab_size))
        for v, w in zip(tokens, tokens[1:], strict=False)
    )


if __name__ == "__main__":
    verdicts = exercises.verify_all(globals(), EXERCISES)
    raise SystemExit(0 if all(verdicts.values()) else 1)
