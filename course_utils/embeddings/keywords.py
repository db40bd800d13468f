"""Describing clusters with words: c-TF-IDF, KeyBERT-style keywords and LDA, measured.

Taught in notebook 03, section "Topic extraction, measured" (notebook 04 builds BERTopic on
the same ideas). All three methods share one vocabulary (:func:`make_vectorizer`) so their
topics can be scored alike: :func:`npmi_coherence` (do a topic's words occur together in
the corpus?) and :func:`topic_diversity` (do topics use different words?).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse


@dataclass
class Topics:
    """Top words per topic (``words[t]`` best first), the method's name and fit ``seconds``."""

    method: str
    words: list[list[str]]
    seconds: float


def make_vectorizer(min_df: int = 5, extra_stop_words: Sequence[str] = ()):
    """The shared bag-of-words: lower-case words of 3+ letters, English stop words (and
    ``extra_stop_words``, e.g. :func:`domain_stop_words`) dropped, words in fewer than
    ``min_df`` documents dropped (scikit-learn ``CountVectorizer``)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

    stop = sorted(ENGLISH_STOP_WORDS | set(extra_stop_words)) if extra_stop_words else "english"
    return CountVectorizer(
        lowercase=True, stop_words=stop, token_pattern=r"\b[a-z]{3,}\b", min_df=min_df
    )


def domain_stop_words(
    topics: Sequence[Sequence[str]],
    share: float = 0.5,
    top_n: int = 10,
    weights: Sequence[float] | None = None,
) -> list[str]:
    """Words among the ``top_n`` words of at least ``share`` of the topics, most shared first;
    with ``weights`` (e.g. topic sizes), of topics holding that share of the total weight.

    In film reviews these are the domain's own filler (*film*, *movie*, *like*): frequent in
    every cluster, they name none. Adding them to the stop words (:func:`make_vectorizer`'s
    ``extra_stop_words``) lets each topic's own words through. Taught in notebook 03, "Topic
    extraction, measured", and used again in notebook 04.
    """
    if not topics:
        raise ValueError("domain_stop_words() needs at least one topic.")
    weights = [1.0] * len(topics) if weights is None else [float(w) for w in weights]
    if len(weights) != len(topics):
        raise ValueError(f"{len(weights)} weights for {len(topics)} topics")
    counts: dict[str, float] = {}
    for words, weight in zip(topics, weights, strict=True):
        for word in dict.fromkeys(words[:top_n]):
            counts[word] = counts.get(word, 0.0) + weight
    needed = share * sum(weights)
    return sorted((w for w, n in counts.items() if n >= needed), key=lambda w: (-counts[w], w))


#: Function words of Spanish and Portuguese that English sentences rarely use.
IBERIAN_WORDS = frozenset(
    [
        "que",
        "una",
        "uno",
        "del",
        "los",
        "las",
        "por",
        "para",
        "como",
        "con",
        "pero",
        "muy",
        "más",
        "sus",
        "esta",
        "este",
        "esos",
        "película",
        "filme",
        "filmes",
        "donde",
        "también",
        "sin",
        "cuando",
        "hay",
        "puede",
        "lo",
        "es",
        "el",
        "la",
        "en",
        "y",
        "um",
        "uma",
        "com",
        "não",
        "dos",
        "das",
        "ao",
        "mais",
        "seus",
        "sua",
        "seu",
        "entre",
        "de",
    ]
)


def spanish_or_portuguese(texts: Sequence[str], min_share: float = 0.25) -> np.ndarray:
    """``(n,)`` booleans: sentences of 4+ words of which at least ``min_share`` are Spanish or
    Portuguese function words (:data:`IBERIAN_WORDS`) and under a fifth English stop words.

    A heuristic, good enough to find the few dozen Spanish and Portuguese review snippets in
    Rotten Tomatoes (notebook 03 names the cluster they form). Not a language identifier.
    """
    import re

    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    flags = []
    for text in texts:
        words = re.findall(r"[a-záéíóúâêôãõçñü]+", text.lower())
        if len(words) < 4:
            flags.append(False)
            continue
        iberian = sum(w in IBERIAN_WORDS for w in words) / len(words)
        english = sum(w in ENGLISH_STOP_WORDS for w in words) / len(words)
        flags.append(iberian >= min_share and english < 0.2)
    return np.asarray(flags, dtype=bool)


def _clusters(labels: np.ndarray) -> np.ndarray:
    found = np.unique(labels)
    found = found[found != -1]
    if len(found) == 0:
        raise ValueError("no clusters: every label is -1 (noise).")
    return found


def _top(scores: np.ndarray, vocab: np.ndarray, top_n: int) -> list[str]:
    order = np.lexsort((vocab, -scores))  # best first, ties alphabetical (deterministic)
    return vocab[order[:top_n]].tolist()


def class_tfidf(counts: sparse.spmatrix, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """c-TF-IDF (as BERTopic): one "document" per cluster, its words weighted by rarity.

    ``counts`` ``(n_docs, V)`` word counts, ``labels`` ``(n_docs,)`` cluster ids (``-1`` =
    noise, left out). For cluster ``c`` and word ``t``: ``tf(t, c) * log(1 + A / f(t))``
    with ``tf`` the L1-normalised counts of the cluster, ``f(t)`` the count of ``t`` over
    all clusters and ``A`` the average number of words per cluster.
    Returns ``(clusters, scores)`` with ``scores`` of shape ``(n_clusters, V)``.
    """
    labels = np.asarray(labels)
    counts = sparse.csr_matrix(counts)
    if counts.shape[0] != len(labels):
        raise ValueError(f"{counts.shape[0]} documents but {len(labels)} labels.")
    clusters = _clusters(labels)
    per_class = np.vstack([np.asarray(counts[labels == c].sum(0)) for c in clusters])
    freq = per_class.sum(0)  # (V,)
    avg_words = per_class.sum(1).mean()
    idf = np.log(1.0 + avg_words / np.maximum(freq, 1))
    tf = per_class / np.maximum(per_class.sum(1, keepdims=True), 1)
    return clusters, tf * idf


def ctfidf_topics(
    counts: sparse.spmatrix, labels: np.ndarray, vocab: Sequence[str], top_n: int = 10
) -> Topics:
    """The ``top_n`` c-TF-IDF words of each cluster (see :func:`class_tfidf`)."""
    start = time.perf_counter()
    _, scores = class_tfidf(counts, labels)
    vocab = np.asarray(vocab)
    words = [_top(row, vocab, top_n) for row in scores]
    return Topics("c-TF-IDF", words, time.perf_counter() - start)


def keybert_topics(
    counts: sparse.spmatrix,
    labels: np.ndarray,
    doc_vectors: np.ndarray,
    word_vectors: np.ndarray,
    vocab: Sequence[str],
    *,
    top_n: int = 10,
    min_docs: int = 3,
) -> Topics:
    """KeyBERT-style keywords: the cluster's words whose embedding is closest to the cluster.

    A cluster's vector is the mean of its documents' embeddings ``doc_vectors``
    ``(n_docs, d)``; candidates are the words of ``vocab`` found in at least ``min_docs`` of
    its documents; they are ranked by the cosine similarity of their embedding
    ``word_vectors`` ``(V, d)`` (same encoder) with the cluster's vector. With
    ``min_docs=1`` this is exactly what the ``keybert`` library's
    ``KeyBERT.extract_keywords`` returns for one document per cluster given the same
    document (centroid) and word embeddings (tested); ``min_docs`` only drops words a
    cluster uses once or twice, which are often typos or names.
    """
    start = time.perf_counter()
    labels = np.asarray(labels)
    vocab = np.asarray(vocab)
    counts = sparse.csr_matrix(counts)
    if word_vectors.shape[0] != len(vocab) or counts.shape[1] != len(vocab):
        raise ValueError("counts, word_vectors and vocab disagree on the vocabulary size.")
    words_unit = word_vectors / np.linalg.norm(word_vectors, axis=1, keepdims=True)
    docs_unit = doc_vectors / np.linalg.norm(doc_vectors, axis=1, keepdims=True)
    present = (counts > 0).astype(np.int32)
    topics = []
    for c in _clusters(labels):
        members = labels == c
        centroid = docs_unit[members].mean(0)
        centroid /= np.linalg.norm(centroid)
        doc_freq = np.asarray(present[members].sum(0)).ravel()
        candidates = np.flatnonzero(doc_freq >= min_docs)
        topics.append(_top(words_unit[candidates] @ centroid, vocab[candidates], top_n))
    return Topics("KeyBERT-style", topics, time.perf_counter() - start)


def lda_topics(
    counts: sparse.spmatrix,
    vocab: Sequence[str],
    n_topics: int,
    *,
    top_n: int = 10,
    max_iter: int = 10,
    random_state: int = 42,
) -> Topics:
    """Latent Dirichlet allocation (scikit-learn, batch variational Bayes) on word counts.

    Ignores the clusters: LDA finds ``n_topics`` word distributions by itself; the top
    words of each are returned.
    """
    from sklearn.decomposition import LatentDirichletAllocation

    start = time.perf_counter()
    lda = LatentDirichletAllocation(
        n_topics, learning_method="batch", max_iter=max_iter, random_state=random_state
    )
    lda.fit(counts)
    vocab = np.asarray(vocab)
    words = [_top(row, vocab, top_n) for row in lda.components_]
    return Topics("LDA", words, time.perf_counter() - start)


def lda_per_cluster(
    counts: sparse.spmatrix,
    labels: np.ndarray,
    vocab: Sequence[str],
    *,
    n_topics: int = 2,
    top_n: int = 10,
    max_iter: int = 10,
    random_state: int = 42,
) -> Topics:
    """LDA inside each cluster, as the lecture does: ``n_topics`` topics are fitted on the
    cluster's sentences alone and the cluster is described by the words of its dominant topic
    (the one carrying most of the cluster's words). Noise (``-1``) is skipped. Taught in
    notebook 03, "Topic extraction, measured", beside the corpus-wide :func:`lda_topics`.
    """
    from sklearn.decomposition import LatentDirichletAllocation

    start = time.perf_counter()
    counts = sparse.csr_matrix(counts)
    vocab = np.asarray(vocab)
    words = []
    for cluster in _clusters(np.asarray(labels)):
        rows = counts[np.asarray(labels) == cluster]
        lda = LatentDirichletAllocation(
            n_topics, learning_method="batch", max_iter=max_iter, random_state=random_state
        )
        weights = lda.fit_transform(rows).sum(axis=0)  # words each topic explains
        words.append(_top(lda.components_[int(np.argmax(weights))], vocab, top_n))
    return Topics("LDA per cluster", words, time.perf_counter() - start)


def npmi(p_i: float, p_j: float, p_ij: float) -> float:
    """Normalised pointwise mutual information ``log(p_ij / (p_i p_j)) / -log(p_ij)``.

    1 = the words always occur together, 0 = independent, -1 = never together (``p_ij=0``).
    """
    if p_ij <= 0.0:
        return -1.0
    if p_ij >= 1.0:
        return 1.0
    return float(np.log(p_ij / (p_i * p_j)) / -np.log(p_ij))


def npmi_coherence(
    topics: Sequence[Sequence[str]], counts: sparse.spmatrix, vocab: Sequence[str]
) -> list[float]:
    """Per topic, the mean NPMI of all pairs of its words, co-occurrence counted per document.

    ``counts`` ``(n_docs, V)`` is the reference corpus (presence is what counts); every word
    must be in ``vocab``. Higher is more coherent (-1..1).
    """
    index = {w: i for i, w in enumerate(vocab)}
    present = (sparse.csc_matrix(counts) > 0).astype(np.float64)
    n_docs = present.shape[0]
    scores = []
    for words in topics:
        missing = [w for w in words if w not in index]
        if missing or len(words) < 2:
            raise ValueError(f"topic {list(words)} needs 2+ words, all in the vocabulary.")
        cols = present[:, [index[w] for w in words]]
        joint = (cols.T @ cols).toarray() / n_docs  # (k, k) co-occurrence probabilities
        p = np.diag(joint)
        pairs = [
            npmi(p[a], p[b], joint[a, b])
            for a in range(len(words))
            for b in range(a + 1, len(words))
        ]
        scores.append(float(np.mean(pairs)))
    return scores


def topic_diversity(topics: Sequence[Sequence[str]]) -> float:
    """Share of unique words among all topics' top words (1 = no word shared)."""
    total = sum(len(t) for t in topics)
    if total == 0:
        raise ValueError("topic_diversity() got no words.")
    return len({w for t in topics for w in t}) / total
