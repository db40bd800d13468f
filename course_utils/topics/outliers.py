"""The outlier topic ``-1`` and its levers: HDBSCAN's settings and reassigning afterwards.

Taught in notebook 04, "Outliers: the levers": :func:`cluster_sweep` refits only HDBSCAN on
fixed UMAP output for each setting; :func:`compare_outlier_strategies` and
:func:`reassign_outliers` use BERTopic's ``reduce_outliers`` after the fact.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from bertopic import BERTopic

from course_utils.embeddings.clustering import noise_share
from course_utils.topics.pipeline import (
    make_hdbscan,
    manual_assignments,
    outlier_rows,
    topic_summary,
)

OUTLIER_STRATEGIES = ("c-tf-idf", "embeddings", "distributions", "probabilities")


def cluster_sweep(
    reduced: np.ndarray,
    min_cluster_sizes: Sequence[int],
    min_samples: Sequence[int | None] = (None,),
    selections: Sequence[str] = ("eom",),
) -> pd.DataFrame:
    """Refit only HDBSCAN on fixed UMAP output ``reduced`` ``(n, c)`` for each setting.

    One row per ``(selection, min_cluster_size, min_samples)``: topic count, outlier share
    and the largest topic's share of all documents. The cheap way to see the clustering
    levers (UMAP is not refitted). Taught in notebook 04, "Outliers: the levers".
    """
    rows = []
    for selection in selections:
        for size in min_cluster_sizes:
            for samples in min_samples:
                labels = make_hdbscan(size, samples, selection).fit(reduced).labels_
                sizes = np.bincount(labels[labels >= 0]) if (labels >= 0).any() else [0]
                rows.append(
                    {
                        "selection": selection,
                        "min_cluster_size": size,
                        "min_samples": size if samples is None else samples,
                        **topic_summary(labels),
                        "largest_share": round(float(np.max(sizes)) / len(labels), 4),
                    }
                )
    return pd.DataFrame(rows)


def compare_outlier_strategies(
    topic_model: BERTopic,
    docs: Sequence[str],
    topics: Sequence[int],
    embeddings: np.ndarray,
    thresholds: dict[str, float],
) -> pd.DataFrame:
    """Outlier share after ``reduce_outliers`` with each strategy and its threshold.

    ``thresholds`` maps strategies from :data:`OUTLIER_STRATEGIES` to the minimum
    similarity or probability a reassignment needs. ``"probabilities"`` requires a model
    fitted with ``calculate_probabilities=True``. Taught in notebook 04, "Outliers".
    """
    before = noise_share(np.asarray(topics))
    rows = []
    for strategy, threshold in thresholds.items():
        if strategy not in OUTLIER_STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}; use one of {OUTLIER_STRATEGIES}")
        extra: dict[str, Any] = {"embeddings": embeddings} if strategy == "embeddings" else {}
        if strategy == "probabilities":
            extra["probabilities"] = topic_model.probabilities_
        new = topic_model.reduce_outliers(
            list(docs), list(topics), strategy=strategy, threshold=threshold, **extra
        )
        rows.append(
            {
                "strategy": strategy,
                "threshold": threshold,
                "outlier_share_before": round(before, 4),
                "outlier_share_after": round(noise_share(np.asarray(new)), 4),
            }
        )
    return pd.DataFrame(rows)


def similarity_to_own_topic(
    topic_model: BERTopic, embeddings: np.ndarray, topics: Sequence[int]
) -> np.ndarray:
    """Cosine similarity of each *clustered* document (topic != -1) to its topic's embedding.

    ``embeddings`` ``(n, d)``; returns ``(m,)`` for the ``m`` clustered documents. Its low
    percentiles say how far from its topic a genuine member can be: a principled
    threshold for reassigning outliers. Taught in notebook 04, "Outliers".
    """
    labels = np.asarray(topics)
    members = labels != -1
    centres = np.asarray(topic_model.topic_embeddings_)[labels[members] + outlier_rows(topic_model)]
    docs = np.asarray(embeddings)[members]
    return np.einsum("ij,ij->i", docs, centres) / (
        np.linalg.norm(docs, axis=1) * np.linalg.norm(centres, axis=1)
    )


def reassign_outliers(
    topic_model: BERTopic,
    docs: Sequence[str],
    topics: Sequence[int],
    embeddings: np.ndarray,
    threshold: float,
    *,
    aspects: bool = False,
) -> list[int]:
    """Move an outlier to its most similar topic when the cosine similarity of the two
    embeddings reaches ``threshold`` (strategy ``"embeddings"``), then recompute every
    topic's words with the model's own vectorizer, c-TF-IDF and representations (topic
    embeddings keep their centroids). The KeyBERT/MMR aspects are recomputed only with
    ``aspects=True`` (it costs the represent stage again). Returns the new assignments;
    updates the model.
    """
    new = topic_model.reduce_outliers(
        list(docs),
        list(topics),
        strategy="embeddings",
        embeddings=embeddings,
        threshold=threshold,
    )
    with manual_assignments():
        topic_model.update_topics(
            list(docs),
            topics=new,
            top_n_words=topic_model.top_n_words,
            vectorizer_model=topic_model.vectorizer_model,
            ctfidf_model=topic_model.ctfidf_model,
            representation_model=topic_model.representation_model if aspects else None,
        )
    if not aspects:
        topic_model.topic_aspects_ = {}  # the old aspects describe the old assignments
    return [int(t) for t in new]
