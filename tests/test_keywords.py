"""course_utils.embeddings.keywords: c-TF-IDF, KeyBERT-style, LDA and the topic metrics, known
answers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from course_utils.embeddings import keywords as kw

VOCAB = ["apple", "banana", "car", "engine"]
# 4 documents: two about fruit (cluster 0), two about cars (cluster 1)
COUNTS = sparse.csr_matrix(np.array([[2, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 2], [0, 1, 1, 1]]))
LABELS = np.array([0, 0, 1, 1])


def test_class_tfidf_hand_computed() -> None:
    clusters, scores = kw.class_tfidf(COUNTS, LABELS)
    np.testing.assert_array_equal(clusters, [0, 1])
    # per cluster counts: [3, 2, 0, 0] and [0, 1, 2, 3]; 5 and 6 words, A = 5.5
    freq = np.array([3, 3, 2, 3])
    idf = np.log(1 + 5.5 / freq)
    expected = np.array([[3, 2, 0, 0], [0, 1, 2, 3]]) / np.array([[5], [6]]) * idf
    np.testing.assert_allclose(scores, expected)
    topics = kw.ctfidf_topics(COUNTS, LABELS, VOCAB, top_n=2)
    assert topics.words == [["apple", "banana"], ["engine", "car"]]


def test_noise_is_left_out() -> None:
    clusters, scores = kw.class_tfidf(COUNTS, np.array([0, 0, 1, -1]))
    np.testing.assert_array_equal(clusters, [0, 1])
    assert scores.shape == (2, 4) and scores[1, 1] == 0.0  # banana only in the noise doc
    with pytest.raises(ValueError, match="no clusters"):
        kw.class_tfidf(COUNTS, -np.ones(4, int))


def test_keybert_ranks_by_closeness_to_the_centroid() -> None:
    docs = np.array([[1.0, 0.0], [1.0, 0.2], [0.0, 1.0], [0.2, 1.0]])
    words = np.array([[1.0, 0.1], [1.0, 0.5], [0.1, 1.0], [0.6, 1.0]])
    topics = kw.keybert_topics(COUNTS, LABELS, docs, words, VOCAB, top_n=2, min_docs=1)
    assert topics.words == [["apple", "banana"], ["car", "engine"]]
    # with min_docs=2 only words in both documents of a cluster count: banana drops out of 1
    strict = kw.keybert_topics(COUNTS, LABELS, docs, words, VOCAB, top_n=4, min_docs=2)
    assert strict.words == [["apple", "banana"], ["car", "engine"]]
    loose = kw.keybert_topics(COUNTS, LABELS, docs, words, VOCAB, top_n=4, min_docs=1)
    assert loose.words[1] == ["car", "engine", "banana"]


def test_lda_separates_two_vocabularies() -> None:
    rng = np.random.default_rng(0)
    fruit = rng.poisson(3, size=(40, 2))
    cars = rng.poisson(3, size=(40, 2))
    counts = sparse.csr_matrix(
        np.block([[fruit, np.zeros_like(fruit)], [np.zeros_like(cars), cars]])
    )
    topics = kw.lda_topics(counts, VOCAB, 2, top_n=2, random_state=0)
    assert sorted(sorted(t) for t in topics.words) == [["apple", "banana"], ["car", "engine"]]


def test_npmi_known_answers() -> None:
    assert kw.npmi(0.5, 0.5, 0.5) == pytest.approx(1.0)  # always together
    assert kw.npmi(0.5, 0.5, 0.25) == pytest.approx(0.0)  # independent
    assert kw.npmi(0.5, 0.5, 0.0) == -1.0  # never together
    presence = sparse.csr_matrix(np.array([[1, 1, 0, 1], [1, 1, 0, 0], [0, 0, 1, 1], [0, 0, 1, 0]]))
    scores = kw.npmi_coherence(
        [["apple", "banana"], ["apple", "car"], ["apple", "engine"]], presence, VOCAB
    )
    assert scores == pytest.approx([1.0, -1.0, 0.0])
    with pytest.raises(ValueError, match="vocabulary"):
        kw.npmi_coherence([["apple", "kiwi"]], presence, VOCAB)


def test_topic_diversity() -> None:
    assert kw.topic_diversity([["a", "b"], ["c", "d"]]) == 1.0
    assert kw.topic_diversity([["a", "b"], ["a", "c"]]) == 0.75
    with pytest.raises(ValueError):
        kw.topic_diversity([[]])


def test_vectorizer_drops_stop_words_and_short_words() -> None:
    vec = kw.make_vectorizer(min_df=1)
    vec.fit(["the film is a gem", "a dull film , it 's bad"])
    assert vec.get_feature_names_out().tolist() == ["bad", "dull", "film", "gem"]


def test_keybert_equals_the_keybert_library_given_the_same_embeddings() -> None:
    """With min_docs=1, keybert_topics is KeyBERT: one document per cluster, its centroid as
    the document embedding, the same word embeddings (no model is run)."""
    from keybert import KeyBERT
    from keybert.backend import BaseEmbedder
    from sklearn.feature_extraction.text import CountVectorizer

    rng = np.random.default_rng(0)
    vocab = np.array([f"word{i:02d}" for i in range(30)])
    labels = np.repeat([0, 1, 2], 8)
    texts = [" ".join(rng.choice(vocab[10 * c : 10 * c + 14], size=5)) for c in labels]
    counts = CountVectorizer(vocabulary=vocab).transform(texts)
    doc_vectors, word_vectors = rng.normal(size=(24, 16)), rng.normal(size=(30, 16))
    ours = kw.keybert_topics(counts, labels, doc_vectors, word_vectors, vocab, top_n=5, min_docs=1)

    unit = doc_vectors / np.linalg.norm(doc_vectors, axis=1, keepdims=True)
    centroids = np.vstack([unit[labels == c].mean(0) for c in range(3)])
    cluster_docs = [
        " ".join(t for t, c in zip(texts, labels, strict=True) if c == k) for k in range(3)
    ]
    found = KeyBERT(model=BaseEmbedder()).extract_keywords(
        cluster_docs,
        vectorizer=CountVectorizer(vocabulary=vocab),
        doc_embeddings=centroids,
        word_embeddings=word_vectors,
        top_n=5,
    )
    assert ours.words == [[word for word, _ in keywords] for keywords in found]


def test_domain_stop_words_are_the_words_most_topics_share() -> None:
    topics = [
        ["film", "movie", "horror", "scary"],
        ["film", "comedy", "movie", "funny"],
        ["film", "music", "songs", "like"],
        ["documentary", "film", "like", "real"],
    ]
    assert kw.domain_stop_words(topics) == ["film", "like", "movie"]  # in >= 2 of 4 topics
    assert kw.domain_stop_words(topics, share=0.75) == ["film"]
    # weighted by topic size: "like" is in topics 3 and 4, which hold 8 of the 11 sentences
    assert kw.domain_stop_words(topics, share=0.7, weights=[1, 2, 4, 4]) == ["film", "like"]
    vectorizer = kw.make_vectorizer(min_df=1, extra_stop_words=["film"])
    vocab = vectorizer.fit(["the film was scary", "a funny film"]).get_feature_names_out()
    assert list(vocab) == ["funny", "scary"]  # "the", "was" (English) and "film" (domain) gone
    with pytest.raises(ValueError, match="at least one topic"):
        kw.domain_stop_words([])


def test_spanish_and_portuguese_snippets_are_found_english_is_not() -> None:
    texts = [
        "una película oscura , precisa , por momentos grandiosa y casi siempre conmovedora .",
        "apesar de seus graves problemas , o filme consegue entreter .",
        "there's an energy to y tu mamá también . much of it comes from the brave performances .",
        "a gripping , beautifully shot film that never lets go .",
        "que bueno",  # too short to tell
    ]
    assert kw.spanish_or_portuguese(texts).tolist() == [True, True, False, False, False]


def test_lda_per_cluster_describes_each_cluster_by_its_own_words() -> None:
    rng = np.random.default_rng(0)
    vocab = ["horror", "scary", "ghost", "comedy", "funny", "laugh", "the", "movie"]
    rows, labels = [], []
    for cluster, topical in enumerate([[0, 1, 2], [3, 4, 5]]):
        for _ in range(40):
            row = np.zeros(len(vocab))
            row[rng.choice(topical, size=3)] += 1
            row[6:] += rng.integers(0, 2, size=2)  # words every cluster uses a little
            rows.append(row)
            labels.append(cluster)
    labels.append(-1)  # noise is skipped
    rows.append(np.ones(len(vocab)))
    topics = kw.lda_per_cluster(sparse.csr_matrix(np.array(rows)), np.array(labels), vocab, top_n=3)
    assert topics.method == "LDA per cluster" and len(topics.words) == 2
    horror, comedy = {"horror", "scary", "ghost"}, {"comedy", "funny", "laugh"}
    assert len(set(topics.words[0]) & horror) >= 2 and not set(topics.words[0]) & comedy
    assert len(set(topics.words[1]) & comedy) >= 2 and not set(topics.words[1]) & horror
