"""Exercises of 04_bertopic_rotten_tomatoes: 04.1 topic count, 04.2 c-TF-IDF, 04.3 outlier share
vs HDBSCAN's settings (real model), 04.4 reassigning outliers."""

from __future__ import annotations

import contextlib
import functools
import io
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from course_utils.core.models import short_name

from ._core import (
    _array,
    _call,
    _course,
    _encoder,
    _exercise,
    _experiment,
    _float,
    _held,
    _match,
    _sentences,
    _shape,
    _Wrong,
)

DATA = "Rotten Tomatoes"


@_exercise("04.1", "Count topics and outliers", 1, "topic_summary")
def check_topic_summary(topic_summary: Callable[..., Any]) -> str:
    """Exercise 04.1: ``topic_summary(topics)`` returns ``(number of topics, outlier
    share)``: topic ``-1`` (the outliers) is not a topic."""
    cases = [
        [-1, 0, 0, 2, 5, 5, -1, 7, 2, -1, 0, 5],
        [3, 3, 1, 1, 1, 0],
        [-1, -1, -1],
    ]
    for topics in cases:
        got = _call(topic_summary, list(topics), when=f"for {topics}")
        try:
            n, share = got
            n, share = _float(n), _float(share)
        except (TypeError, ValueError):
            raise _Wrong(
                f"expected a pair (number of topics, outlier share), got {got!r}"
            ) from None
        labels = np.asarray(topics)
        real = set(labels[labels != -1].tolist())
        e_n, e_share = len(real), float(np.mean(labels == -1))
        if n == e_n and math.isclose(share, e_share, abs_tol=1e-9):
            continue
        if n != e_n:
            if n == e_n + 1 and -1 in topics:
                raise _Wrong(f"for {topics} you count the outliers (-1) as a topic")
            if real and n == max(real) + 1:
                raise _Wrong(
                    f"for {topics} you count up to the largest id; topic ids may skip numbers"
                )
            raise _Wrong(
                f"for {topics} your number of topics is {'too high' if n > e_n else 'too low'}"
            )
        if math.isclose(share, e_share * len(topics)):
            raise _Wrong(f"for {topics} that is the number of outliers; the share is a fraction")
        if math.isclose(share, 100 * e_share):
            raise _Wrong(f"for {topics} the share is a percentage; give a fraction between 0 and 1")
        raise _Wrong(
            f"for {topics} your outlier share is {'too high' if share > e_share else 'too low'}"
        )
    return (
        "the topic count (-1 left out, ids not consecutive) and the outlier share on 3 assignments"
    )


def _ctfidf(
    counts: np.ndarray,
    labels: np.ndarray,
    *,
    l1: bool = True,
    plus_one: bool = True,
    total: bool = False,
    document_frequency: bool = False,
    outliers: bool = False,
) -> np.ndarray:
    """The reference c-TF-IDF (and, through its options, typical mistakes)."""
    clusters = np.unique(labels if outliers else labels[labels != -1])
    per = np.vstack([counts[labels == c].sum(0) for c in clusters]).astype(float)
    freq = (per > 0).sum(0) if document_frequency else per.sum(0)
    a = per.sum() if total else per.sum(1).mean()
    idf = np.log((1.0 if plus_one else 0.0) + a / np.maximum(freq, 1))
    tf = per / np.maximum(per.sum(1, keepdims=True), 1) if l1 else per
    scores = tf * idf
    return scores[clusters != -1]


@_exercise("04.2", "c-TF-IDF for two tiny clusters", 2, "class_tfidf")
def check_class_tfidf(class_tfidf: Callable[..., Any]) -> str:
    """Exercise 04.2: ``class_tfidf(counts, labels)`` is BERTopic's c-TF-IDF, one row per
    cluster (ascending id, ``-1`` left out)."""
    from scipy import sparse

    from course_utils.embeddings.keywords import class_tfidf as reference

    vocab = ["film", "funny", "ghost", "laugh", "night", "scary"]
    tiny = np.array(
        [
            [1, 0, 2, 0, 1, 1],
            [1, 0, 0, 0, 1, 2],
            [2, 1, 0, 2, 0, 0],
            [0, 2, 0, 1, 1, 0],
            [1, 1, 1, 0, 0, 0],
        ]
    )
    tiny_labels = np.array([0, 0, 1, 1, -1])
    rng = np.random.default_rng(11)
    more = rng.poisson(0.8, size=(12, 9))
    more_labels = np.array([0, 2, 5, 5, 2, 0, -1, 5, 2, 0, -1, 5])
    top: list[str] = []
    for counts, labels in ((tiny, tiny_labels), (more, more_labels)):
        got = _array(
            _call(class_tfidf, counts.copy(), labels.copy(), when=f"for counts {counts.shape}")
        )
        expected = reference(sparse.csr_matrix(counts), labels)[1]
        n_clusters = len(np.unique(labels[labels != -1]))
        if got.shape == (n_clusters + 1, counts.shape[1]):
            raise _Wrong("one row too many: the outliers (-1) are not a cluster; leave them out")
        _shape(
            got,
            expected.shape,
            f"your scores for {n_clusters} clusters and {counts.shape[1]} words",
        )
        if np.allclose(got, expected, atol=1e-9):
            if counts is tiny:
                top = [vocab[int(i)] for i in got.argmax(1)]
            continue
        why = _match(
            got,
            {
                "the term frequencies are raw counts; divide each cluster's counts by its total "
                "number of words": _ctfidf(counts, labels, l1=False),
                "the idf is log(A / f) without the 1 +": _ctfidf(counts, labels, plus_one=False),
                "A is the total number of words; it is the average number of words per cluster": (
                    _ctfidf(counts, labels, total=True)
                ),
                "f(t) counts the clusters containing the word; it is the word's total count over "
                "all clusters": _ctfidf(counts, labels, document_frequency=True),
                "the outliers' words are counted in f(t) and A; leave the -1 documents out": (
                    _ctfidf(counts, labels, outliers=True)
                ),
            },
            lambda a, b: np.allclose(a, b, atol=1e-9),
        )
        raise _Wrong(why or f"your scores differ from c-TF-IDF for counts of shape {counts.shape}")
    return (
        "c-TF-IDF on two tiny clusters (top words: " + ", ".join(top) + ") and on 3 clusters "
        "with non-consecutive ids and outliers"
    )


def _reassign(
    emb: np.ndarray,
    topics: np.ndarray,
    threshold: float,
    *,
    cosine: bool = True,
    members_too: bool = False,
    use_threshold: bool = True,
) -> np.ndarray:
    ids = np.unique(topics[topics != -1])
    centres = np.vstack([emb[topics == t].mean(0) for t in ids])
    if cosine:
        sim = (emb / np.linalg.norm(emb, axis=1, keepdims=True)) @ (
            centres / np.linalg.norm(centres, axis=1, keepdims=True)
        ).T
    else:
        sim = emb @ centres.T
    best = sim.argmax(1)
    ok = sim[np.arange(len(emb)), best] >= threshold if use_threshold else np.ones(len(emb), bool)
    movable = np.ones(len(emb), bool) if members_too else topics == -1
    return np.where(movable & ok, ids[best], topics)


@_exercise("04.4", "Reassign outliers to the nearest topic", 3, "reassign_outliers")
def check_reassign_outliers(reassign_outliers: Callable[..., Any]) -> str:
    """Exercise 04.4: ``reassign_outliers(embeddings, topics, threshold)`` moves each
    outlier to the topic whose centroid is most cosine-similar, if that similarity reaches
    ``threshold``; documents already in a topic stay."""
    rng = np.random.default_rng(12)
    d = 6
    centres = np.eye(d)[:3] * np.array([[4.0], [0.5], [1.5]])  # topics of very unequal norms
    ids = np.array([0, 2, 3])
    members = np.vstack([c + 0.35 * np.abs(c).max() * rng.standard_normal((8, d)) for c in centres])
    member_topics = np.repeat(ids, 8)
    # strays: clustered (on the UMAP map) into a topic whose centroid is not their nearest here
    member_topics[[0, 9, 17]] = [2, 3, 0]
    outliers = (
        rng.standard_normal((24, d))
        + 0.6 * np.abs(rng.standard_normal((24, 1))) * (np.eye(d)[rng.integers(0, 3, 24)])
    )
    emb = np.vstack([members, outliers])
    topics = np.concatenate([member_topics, -np.ones(24, dtype=int)])
    order = rng.permutation(len(topics))
    emb, topics = emb[order], topics[order]
    moved_counts = []
    for threshold in (0.3, 0.6, -1.0):
        raw = _call(
            reassign_outliers,
            emb.copy(),
            topics.copy(),
            threshold,
            when=f"at threshold {threshold}",
        )
        got = np.asarray(_array(raw)).ravel()
        _shape(got, topics.shape, "your new assignments")
        expected = _reassign(emb, topics, threshold)
        if np.array_equal(got, expected):
            moved_counts.append(int((expected != topics).sum()))
            continue
        changed = (got != topics) & (topics != -1)
        if changed.any():
            i = int(np.flatnonzero(changed)[0])
            raise _Wrong(
                f"document {i} was in topic {topics[i]} and moved: only outliers (-1) move"
            )
        why = _match(
            got,
            {
                "every outlier moved: the threshold is not applied": _reassign(
                    emb, topics, threshold, use_threshold=False
                ),
                "outliers go to the largest dot product; cosine similarity divides by both "
                "lengths": _reassign(emb, topics, threshold, cosine=False),
            },
            np.array_equal,
        )
        wrong = np.flatnonzero(got != expected)
        raise _Wrong(
            f"at threshold {threshold}, {why}"
            if why
            else f"at threshold {threshold}, {len(wrong)} outliers end up in another topic than "
            f"they should (e.g. document {wrong[0]})"
        )
    return (
        f"{moved_counts[0]}, {moved_counts[1]} and {moved_counts[2]} of 24 outliers moved at "
        "thresholds 0.3, 0.6 and -1 (all), to the right topics; members never move"
    )


#: 04.3: the settings the learner's function runs, (min_cluster_size, min_samples), and the two
#: whose outlier shares the prediction compares (min_samples raised at a fixed cluster size).
OUTLIER_SETTINGS = ((25, 5), (25, 25), (10, None))
OUTLIER_CHOICES = ("up", "down", "same")


@functools.cache
def _reduced_map() -> tuple[np.ndarray, str]:
    """The test sentences' embeddings reduced as BERTopic does (UMAP to 5 dimensions, cosine,
    min_dist 0, seeded): the map HDBSCAN clusters in notebook 04."""
    import umap

    from course_utils.embeddings.sentence import encode

    tokenizer, model, name = _encoder()
    with contextlib.redirect_stdout(io.StringIO()):
        vectors = encode(list(_sentences("test")), model, tokenizer, pooling="mean", progress=False)
    reducer = umap.UMAP(
        n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=42, n_jobs=1
    )
    return reducer.fit_transform(vectors), name


def _hdbscan_labels(reduced: np.ndarray, min_cluster_size: int, min_samples: int | None):
    from hdbscan import HDBSCAN

    return (
        HDBSCAN(
            min_cluster_size=min_cluster_size,
            min_samples=min_samples,
            metric="euclidean",
            cluster_selection_method="eom",
        )
        .fit(reduced)
        .labels_
    )


@_experiment("04.3", "Outliers: predict, then move the lever", 2, "outlier_shares", OUTLIER_CHOICES)
def check_outlier_shares(outlier_shares: Callable[..., Any], prediction: str) -> str:
    """Exercise 04.3: ``outlier_shares(reduced, settings)`` clusters the reduced map with
    HDBSCAN once per ``(min_cluster_size, min_samples)`` and returns each run's share of
    outliers (label -1); the check compares the learner's shares with its own on the test
    sentences' UMAP map and tells whether raising ``min_samples`` moved the share the way the
    learner predicted."""
    reduced, name = _course(_reduced_map)
    settings = [tuple(s) for s in OUTLIER_SETTINGS]
    got = _array(_call(outlier_shares, reduced.copy(), list(settings))).ravel()
    _shape(got, (len(settings),), "your shares (one per setting)")
    labels = [_hdbscan_labels(reduced, m, s) for m, s in settings]
    expected = np.array([np.mean(lab == -1) for lab in labels])
    if not np.allclose(got, expected, atol=1e-9):
        why = _match(
            got,
            {
                "these are percentages; a share lies between 0 and 1": expected * 100,
                "it counts the outlier sentences; return their share of all sentences": (
                    expected * len(reduced)
                ),
                "min_samples seems to be left at its default, which equals min_cluster_size; "
                "pass both": [
                    np.mean(_hdbscan_labels(reduced, m, None) == -1) for m, _ in settings
                ],
                "it returns the share of clustered sentences; the outliers are the rest": (
                    1 - expected
                ),
            },
            lambda a, b: np.allclose(a, b, atol=1e-9),
        )
        raise _Wrong(why or "your shares differ from HDBSCAN's outlier share at these settings")
    low, high = expected[0], expected[1]
    outcome = "up" if high > low + 0.005 else "down" if high < low - 0.005 else "same"
    biggest = max(np.mean(labels[1] == c) for c in set(labels[1].tolist()) - {-1})
    clusters = len(set(labels[1].tolist()) - {-1})
    why = {
        "up": "min_samples is how many close neighbours a sentence needs to count as lying in a "
        "dense region; ask for more and fewer sentences qualify, so more are left as outliers",
        "down": "raising min_samples also changes which clusters survive; here the clusters it "
        "keeps are bigger, and they take in sentences that were outliers before",
        "same": "at these settings the map's dense regions hardly change with min_samples",
    }[outcome]
    if biggest > 0.8:
        why += (
            f"; note that with 'eom' at this size one cluster holds {biggest:.0%} of the "
            "sentences, so the lever has little left to move"
        )
    return (
        f"your shares match HDBSCAN's on the UMAP map of the {len(reduced):,} test sentences "
        f"({short_name(name)}, {DATA}): "
        + ", ".join(f"{m}/{s}: {v:.0%}" for (m, s), v in zip(settings, expected, strict=True))
        + f" (min_cluster_size/min_samples; {clusters} clusters at 25/25). Raising min_samples "
        f"from {settings[0][1]} to {settings[1][1]}: {outcome}. "
        f"{_held(prediction, outcome)}. Why: {why}"
    )
