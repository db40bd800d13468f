"""Reference solutions of notebook 04's exercises (04_bertopic_rotten_tomatoes), as a learner
fills in the starter cells. Run ``python solutions/ex04_bertopic_rotten_tomatoes.py`` to check
them all."""

import numpy as np

from course_utils import exercises

#: exercise id -> (check function, the function the learner writes)
EXERCISES = {
    "04.1": ("check_topic_summary", "topic_summary"),
    "04.2": ("check_class_tfidf", "class_tfidf"),
    "04.4": ("check_reassign_outliers", "reassign_outliers"),
    "04.3": ("check_outlier_shares", "outlier_shares"),
}

#: The predictions of the predict-first exercises, written before running them.
PREDICTIONS = {"04.3": "up"}


# --- 04.1 -----------------------------------------------------------------------------------
def topic_summary(topics: list[int]) -> tuple[int, float]:
    """(number of topics, -1 not counted; share of documents in topic -1)."""
    n_topics = len(set(topics) - {-1})
    share = sum(t == -1 for t in topics) / len(topics)
    return n_topics, share


# --- 04.2 -----------------------------------------------------------------------------------
def class_tfidf(counts: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(n_docs, V) counts, (n_docs,) clusters (-1 left out) -> (n_clusters, V) c-TF-IDF."""
    clusters = np.unique(labels[labels != -1])
    per_cluster = np.vstack([counts[labels == c].sum(0) for c in clusters]).astype(float)
    tf = per_cluster / per_cluster.sum(1, keepdims=True)
    f = per_cluster.sum(0)  # each word's count over all clusters
    A = per_cluster.sum(1).mean()  # average number of words per cluster
    return tf * np.log(1 + A / np.maximum(f, 1))


# --- 04.4 -----------------------------------------------------------------------------------
def reassign_outliers(embeddings: np.ndarray, topics: np.ndarray,
                      threshold: float) -> np.ndarray:  # fmt: skip
    """Move each outlier (-1) to the most cosine-similar topic centroid if >= threshold."""
    ids = np.unique(topics[topics != -1])
    centroids = np.vstack([embeddings[topics == t].mean(0) for t in ids])
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    sims = unit @ centroids.T  # (n, topics)
    best = sims.argmax(1)
    move = (topics == -1) & (sims.max(1) >= threshold)
    return np.where(move, ids[best], topics)


# --- 04.3 -----------------------------------------------------------------------------------
def outlier_shares(reduced: np.ndarray, settings: list[tuple[int, int | None]]) -> list[float]:
    """HDBSCAN's share of outliers (label -1) for each (min_cluster_size, min_samples)."""
    from hdbscan import HDBSCAN

    shares = []
    for min_cluster_size, min_samples in settings:
        labels = (
            HDBSCAN(
                min_cluster_size=min_cluster_size,
                min_samples=min_samples,
                metric="euclidean",
                cluster_selection_method="eom",
            )
            .fit(reduced)
            .labels_
        )
        shares.append(float(np.mean(labels == -1)))
    return shares


if __name__ == "__main__":
    verdicts = exercises.verify_all(globals(), EXERCISES)
    raise SystemExit(0 if all(verdicts.values()) else 1)
