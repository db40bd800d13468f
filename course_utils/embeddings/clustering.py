"""Clustering (reduced) sentence embeddings, and measuring the clusters.

Taught in notebook 03, section "Clustering, measured": :func:`cluster` runs k-means,
agglomerative (Ward), DBSCAN, HDBSCAN or spectral clustering and times it;
:func:`cluster_metrics` reports the number of clusters, the noise share, the silhouette and
the agreement (ARI, NMI) with known labels; :func:`scaling` times methods as ``n`` grows.
Noise points (label ``-1``, DBSCAN/HDBSCAN only) are left out of the silhouette and count
as one more group in ARI/NMI.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

METHODS = ("kmeans", "ward", "dbscan", "hdbscan", "spectral")


@dataclass
class Clustering:
    """Labels ``(n,)`` (``-1`` = noise) of one method and its fit time in ``seconds``."""

    method: str
    labels: np.ndarray
    seconds: float
    notes: tuple[str, ...] = ()  # what the library warned about, in the course's words


def make_clusterer(method: str, *, n_clusters: int = 10, random_state: int = 42, **kwargs: Any):
    """A scikit-learn clusterer with the course's settings; ``kwargs`` override them.

    k-means (``n_init=10``), Ward and spectral (30-nearest-neighbour graph: with 10, the graph
    of a 10k-point UMAP map falls apart into disconnected pieces) take
    ``n_clusters``; DBSCAN (``eps=0.3``, ``min_samples=10``) and HDBSCAN
    (``min_cluster_size=50``) find the number themselves (``n_clusters`` and
    ``random_state`` are ignored) and may leave noise.
    """
    from sklearn import cluster

    if method == "kmeans":
        params = {"n_init": 10} | kwargs
        return cluster.KMeans(n_clusters, random_state=random_state, **params)
    if method == "ward":
        return cluster.AgglomerativeClustering(n_clusters, linkage="ward", **kwargs)
    if method == "dbscan":
        return cluster.DBSCAN(**({"eps": 0.3, "min_samples": 10} | kwargs))
    if method == "hdbscan":
        return cluster.HDBSCAN(**({"min_cluster_size": 50, "copy": True} | kwargs))
    if method == "spectral":
        params = {"affinity": "nearest_neighbors", "n_neighbors": 30} | kwargs
        return cluster.SpectralClustering(n_clusters, random_state=random_state, **params)
    raise ValueError(f"Unknown method {method!r}; choose one of {METHODS}.")


def cluster(x: np.ndarray, method: str, **kwargs: Any) -> Clustering:
    """Cluster the rows of ``x`` ``(n, d)``; see :func:`make_clusterer` for the settings."""
    x = np.asarray(x)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"cluster() needs an (n, d) matrix with n >= 2, got shape {x.shape}.")
    model = make_clusterer(method, **kwargs)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        labels = model.fit_predict(x)
    seconds = time.perf_counter() - start
    notes = []
    for warning in caught:
        if "not fully connected" in str(warning.message):
            notes.append(
                "the nearest-neighbour graph falls apart into disconnected pieces (scikit-learn "
                "warns 'Graph is not fully connected'); each piece is embedded on its own, so "
                "no cluster spans two pieces, and the clustering is still valid"
            )
        else:  # anything else is passed on unchanged
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
    return Clustering(method, np.asarray(labels), seconds, tuple(dict.fromkeys(notes)))


def noise_share(labels: np.ndarray) -> float:
    """Share of points labelled ``-1`` (noise)."""
    return float(np.mean(np.asarray(labels) == -1))


def n_clusters(labels: np.ndarray) -> int:
    """Number of clusters, noise (``-1``) not counted."""
    return len(set(np.asarray(labels).tolist()) - {-1})


def cluster_metrics(
    x: np.ndarray,
    labels: np.ndarray,
    truth: np.ndarray,
    *,
    silhouette_sample: int | None = None,
    random_state: int = 42,
) -> dict[str, float]:
    """Clusters found, noise share, silhouette (noise left out) and ARI/NMI against ``truth``.

    Silhouette is ``nan`` with fewer than two clusters. ``silhouette_sample`` computes it on
    a random subsample of that size (it costs ``O(n^2)``).
    """
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, silhouette_score

    labels, truth = np.asarray(labels), np.asarray(truth)
    if len(labels) != len(x) or len(truth) != len(x):
        raise ValueError(f"{len(x)} points but {len(labels)} labels and {len(truth)} truths.")
    kept = labels != -1
    sil = float("nan")
    if n_clusters(labels) >= 2:
        size = silhouette_sample if silhouette_sample and silhouette_sample < kept.sum() else None
        sil = float(
            silhouette_score(x[kept], labels[kept], sample_size=size, random_state=random_state)
        )
    return {
        "n_clusters": n_clusters(labels),
        "noise_share": noise_share(labels),
        "silhouette": sil,
        "ari": float(adjusted_rand_score(truth, labels)),
        "nmi": float(normalized_mutual_info_score(truth, labels)),
    }


def compare_clusterings(
    x: np.ndarray,
    truth: np.ndarray,
    methods: Sequence[str] = METHODS,
    *,
    n_clusters: int = 10,
    random_state: int = 42,
    progress: bool = True,
) -> tuple[dict[str, Clustering], pd.DataFrame]:
    """Cluster ``x`` with every method and score each with :func:`cluster_metrics` against
    ``truth``. Returns the fits and a table (one row per method, 3 decimals, ``time`` column).
    Taught in notebook 03, section "Clustering, measured"."""
    import pandas as pd
    from tqdm.auto import tqdm

    fits = {
        m: cluster(x, m, n_clusters=n_clusters, random_state=random_state)
        for m in tqdm(methods, desc="cluster", disable=not progress)
    }
    rows = [
        {"method": m, **cluster_metrics(x, f.labels, truth, random_state=random_state),
         "time": f"[time: {f.seconds:7.1f} s]"}
        for m, f in fits.items()
    ]  # fmt: skip
    return fits, pd.DataFrame(rows).set_index("method").round(3)


def scaling(
    x: np.ndarray,
    methods: Sequence[str] = METHODS,
    sizes: Sequence[int] = (500, 1000, 2000),
    *,
    random_state: int = 42,
    progress: bool = True,
    **kwargs: Any,
) -> dict[str, list[float]]:
    """Fit time in seconds of each method on the first ``n`` rows of a shuffled ``x``.

    Returns ``{method: [seconds for each n in sizes]}``. Methods are interleaved within each
    size so that a busy machine slows all of them alike.
    """
    from course_utils.core.progress import progress as progress_bar

    if max(sizes) > len(x):
        raise ValueError(f"sizes go up to {max(sizes)} but x has only {len(x)} rows.")
    order = np.random.default_rng(random_state).permutation(len(x))
    times: dict[str, list[float]] = {m: [] for m in methods}
    for n in progress_bar(sizes, desc="scaling", disable=not progress):
        for method in methods:
            fit = cluster(x[order[:n]], method, random_state=random_state, **kwargs)
            times[method].append(fit.seconds)
    return times


def growth_exponent(sizes: Sequence[int], seconds: Sequence[float]) -> float:
    """Slope of log(time) against log(n): ~1 for linear cost, ~2 for quadratic."""
    return float(np.polyfit(np.log(sizes), np.log(seconds), 1)[0])


def plot_dendrogram(
    ax: Any, x: np.ndarray, *, n_clusters: int = 10, sample: int = 500, random_state: int = 42
) -> float:
    """Ward's merge tree (agglomerative clustering) of a random sample of the rows of ``x``.

    The tree is truncated to its last 30 merges; the dashed line is the height at which
    cutting it leaves ``n_clusters`` clusters, which is what ``AgglomerativeClustering`` with
    that many clusters returns. Returns that height. Taught in notebook 03, "Clustering,
    measured".
    """
    from scipy.cluster.hierarchy import dendrogram, linkage

    rng = np.random.default_rng(random_state)
    rows = rng.choice(len(x), size=min(sample, len(x)), replace=False)
    merges = linkage(np.asarray(x, dtype=float)[rows], method="ward")
    if not 2 <= n_clusters <= len(rows):
        raise ValueError(f"n_clusters must be between 2 and the sample size, got {n_clusters}")
    cut = float((merges[-n_clusters, 2] + merges[-n_clusters + 1, 2]) / 2)
    dendrogram(merges, ax=ax, truncate_mode="lastp", p=30, no_labels=True, color_threshold=cut)
    ax.axhline(cut, ls="--", c="k", lw=0.8, label=f"cut: {n_clusters} clusters")
    ax.set(ylabel="Ward merge height", title=f"Ward's merge tree of {len(rows)} sampled points")
    ax.legend(fontsize=8)
    return cut
