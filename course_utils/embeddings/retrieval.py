"""Semantic search, retrieval-augmented prompts and extractive summaries from embeddings.

Taught in notebook 00 ("The key tasks": semantic search and retrieval-augmented answering,
summarisation). Everything here works on sentence embeddings (rows of a matrix, e.g. from
``course_utils.embeddings.sentence.encode``); similarity is cosine similarity.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Hit:
    """One retrieved sentence: its row in the index, its text and its cosine similarity."""

    index: int
    text: str
    score: float


def normalise_rows(vectors: np.ndarray) -> np.ndarray:
    """Scale each row to unit length, shape ``(n, d)`` kept; zero rows are an error."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[0] == 0:
        raise ValueError(f"expected a non-empty (n, d) matrix, got shape {vectors.shape}")
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    if (norms == 0).any():
        raise ValueError("a zero vector has no direction; cannot compute cosine similarity")
    return vectors / norms


class SemanticIndex:
    """A brute-force cosine-similarity index over sentence embeddings.

    ``embeddings`` has shape ``(n, d)``, one row per text in ``texts``. Exact search costs
    ``O(n d)`` per query, a few milliseconds for the 10,662 Rotten Tomatoes sentences.
    """

    def __init__(self, embeddings: np.ndarray, texts: Sequence[str]) -> None:
        if len(texts) != len(embeddings):
            raise ValueError(f"{len(embeddings)} embeddings but {len(texts)} texts")
        self.vectors = normalise_rows(embeddings)  # (n, d)
        self.texts = list(texts)

    def __len__(self) -> int:
        return len(self.texts)

    def search(self, queries: np.ndarray, k: int = 5) -> list[list[Hit]]:
        """The ``k`` most similar texts for each query row (``queries``: ``(q, d)``)."""
        q = normalise_rows(np.atleast_2d(queries))
        if q.shape[1] != self.vectors.shape[1]:
            raise ValueError(
                f"query dimension {q.shape[1]} != index dimension "
                f"{self.vectors.shape[1]} (embed queries with the same model)"
            )
        k = min(k, len(self))
        scores = q @ self.vectors.T  # (q, n)
        top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        return [
            [Hit(int(i), self.texts[i], float(row[i])) for i in idx]
            for row, idx in zip(scores, top, strict=True)
        ]


def rag_prompt(question: str, hits: Sequence[Hit]) -> str:
    """The prompt a retrieval-augmented system would give a generative LLM.

    The retrieved evidence is numbered so that the answer can cite it; the model is told to
    answer only from the evidence.
    """
    if not question.strip():
        raise ValueError("the question is empty")
    evidence = "\n".join(f"[{n}] {hit.text}" for n, hit in enumerate(hits, 1))
    return (
        "Answer the question using only the numbered evidence below, citing it like [1]. "
        "If the evidence is not enough, say so.\n\n"
        f"Evidence:\n{evidence}\n\nQuestion: {question.strip()}\nAnswer:"
    )


def centrality(embeddings: np.ndarray) -> np.ndarray:
    """Mean cosine similarity of each sentence to the others (degree centrality), shape ``(n,)``.

    The most central sentences say what most of the set says: the idea behind extractive
    summarisers such as LexRank.
    """
    v = normalise_rows(embeddings)
    n = len(v)
    if n < 2:
        raise ValueError("centrality needs at least two sentences")
    sims = v @ v.T
    return (sims.sum(axis=1) - np.diag(sims)) / (n - 1)


def extractive_summary(texts: Sequence[str], embeddings: np.ndarray, k: int = 3) -> list[str]:
    """The ``k`` most central sentences, in their original order (an extractive summary)."""
    if len(texts) != len(embeddings):
        raise ValueError(f"{len(embeddings)} embeddings but {len(texts)} texts")
    scores = centrality(embeddings)
    chosen = np.sort(np.argsort(-scores, kind="stable")[:k])
    return [texts[i] for i in chosen]


def summary_vs_random(
    embeddings: np.ndarray, k: int = 3, trials: int = 1000, seed: int = 0
) -> tuple[float, np.ndarray]:
    """Does centrality pick sentences that represent the set? A check that can fail.

    The sentences are split at random into two halves. The ``k`` most central sentences of the
    first half are chosen as :func:`extractive_summary` would, and scored by their mean cosine
    similarity to the *other* half, which played no part in choosing them. ``trials`` random
    choices of ``k`` sentences from the first half are scored the same way. Returns ``(the
    summary's score, the random choices' scores)``; a summary that represents the set beats
    most random choices. Taught in notebook 00, section 5.4.
    """
    v = normalise_rows(embeddings)
    if len(v) < 2 * k + 2:
        raise ValueError(f"summary_vs_random needs at least {2 * k + 2} sentences, got {len(v)}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(v))
    first, second = v[order[: len(v) // 2]], v[order[len(v) // 2 :]]
    to_other_half = (first @ second.T).mean(axis=1)  # each first-half sentence vs the other half
    chosen = np.argsort(-centrality(first), kind="stable")[:k]
    random_choices = np.stack([rng.choice(len(first), k, replace=False) for _ in range(trials)])
    return float(to_other_half[chosen].mean()), to_other_half[random_choices].mean(axis=1)
