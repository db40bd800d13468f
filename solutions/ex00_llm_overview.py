"""Reference solutions of notebook 00's exercises (00_llm_overview), as a learner fills in the
starter cells. Run ``python solutions/ex00_llm_overview.py`` to check them all."""

import math
import re
from collections import Counter

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from course_utils import exercises

#: exercise id -> (check function, the function the learner writes)
EXERCISES = {
    "00.1": ("check_top_k_cosine", "top_k_cosine"),
    "00.2": ("check_softmax_with_temperature", "softmax_with_temperature"),
    "00.4": ("check_bigram_log_prob", "bigram_log_prob"),
    "00.3": ("check_word_search", "word_search"),
}

#: The predictions of the predict-first exercises, written before running them.
PREDICTIONS = {"00.3": "meaning"}


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


# --- 00.4 -----------------------------------------------------------------------------------
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


# --- 00.3 -----------------------------------------------------------------------------------
QUESTION = "a scary horror movie that keeps you awake at night"
PARAPHRASE = "frightening fright flick, too creepy to sleep after"


WORD = re.compile(r"[a-z0-9']+")  # a word: WORD.findall(text.lower())
STOP_WORDS = ENGLISH_STOP_WORDS  # the words to leave out


def word_search(query: str, texts: list[str], k: int) -> list[int]:
    """Indices of the k sentences sharing the most distinct content words with the query."""

    def words(text: str) -> set[str]:
        return {w for w in WORD.findall(text.lower()) if w not in STOP_WORDS}

    wanted = words(query)
    scores = np.array([len(wanted & words(text)) for text in texts])
    return np.argsort(-scores, kind="stable")[:k].tolist()  # stable: ties in corpus order


if __name__ == "__main__":
    verdicts = exercises.verify_all(globals(), EXERCISES)
    raise SystemExit(0 if all(verdicts.values()) else 1)
