"""course_utils.embeddings.retrieval on hand-made vectors with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils.embeddings import retrieval

TEXTS = ["north", "north-east", "east", "south"]
VECS = np.array([[0, 1], [1, 1], [1, 0], [0, -1]], dtype=np.float32)


def test_search_ranks_by_cosine() -> None:
    index = retrieval.SemanticIndex(VECS * np.array([[3], [1], [5], [2]]), TEXTS)  # scale-free
    (hits,) = index.search(np.array([0.1, 1.0]), k=3)
    assert [h.text for h in hits] == ["north", "north-east", "east"]
    assert hits[0].score == pytest.approx(1 / np.sqrt(1.01), abs=1e-6)
    assert hits[1].index == 1 and hits[1].score == pytest.approx(1.1 / np.sqrt(2.02), abs=1e-6)
    two = index.search(np.array([[1.0, 0.0], [0.0, -1.0]]), k=1)
    assert [h[0].text for h in two] == ["east", "south"]


def test_search_errors() -> None:
    index = retrieval.SemanticIndex(VECS, TEXTS)
    with pytest.raises(ValueError, match="query dimension 3 != index dimension 2"):
        index.search(np.ones(3))
    with pytest.raises(ValueError, match="zero vector"):
        index.search(np.zeros(2))
    with pytest.raises(ValueError, match="4 embeddings but 3 texts"):
        retrieval.SemanticIndex(VECS, TEXTS[:3])


def test_rag_prompt_numbers_the_evidence() -> None:
    hits = [retrieval.Hit(0, "a fine film .", 0.9), retrieval.Hit(3, "dull .", 0.5)]
    prompt = retrieval.rag_prompt("  Is it good? ", hits)
    assert "[1] a fine film .\n[2] dull ." in prompt
    assert prompt.endswith("Question: Is it good?\nAnswer:")
    with pytest.raises(ValueError, match="empty"):
        retrieval.rag_prompt(" ", hits)


def test_centrality_and_summary() -> None:
    # three vectors around e1 and one orthogonal outlier: the middle one is most central
    vecs = np.array([[1, 0.1, 0], [1, 0, 0], [1, -0.1, 0], [0, 0, 1]], dtype=np.float32)
    scores = retrieval.centrality(vecs)
    assert scores.argmin() == 3 and scores.argmax() == 1
    assert scores[1] == pytest.approx(2 / np.sqrt(1.01) / 3, abs=1e-6)
    assert scores[3] == pytest.approx(0.0, abs=1e-7)
    texts = ["a", "b", "c", "d"]
    assert retrieval.extractive_summary(texts, vecs, k=2) in (["a", "b"], ["b", "c"])
    assert retrieval.extractive_summary(texts, vecs, k=1) == ["b"]


def test_summary_vs_random_scores_on_the_held_out_half() -> None:
    rng = np.random.default_rng(0)
    # a tight bundle around one direction plus scattered noise: the centre represents the set
    bundle = np.array([1.0, 0.0, 0.0]) + 0.1 * rng.standard_normal((40, 3))
    noise = rng.standard_normal((40, 3))
    score, random_scores = retrieval.summary_vs_random(np.vstack([bundle, noise]), k=3, trials=200)
    assert random_scores.shape == (200,)
    assert (random_scores < score).mean() >= 0.9  # central sentences beat random ones
    same, again = retrieval.summary_vs_random(np.vstack([bundle, noise]), k=3, trials=200)
    assert same == score and np.array_equal(again, random_scores)  # seeded
    # no structure at all: the "summary" is no better than chance, so the check can fail
    flat = rng.standard_normal((80, 16))
    score, random_scores = retrieval.summary_vs_random(flat, k=3, trials=500, seed=3)
    assert (random_scores < score).mean() < 0.99
    with pytest.raises(ValueError, match="at least 8 sentences"):
        retrieval.summary_vs_random(VECS, k=3)
