"""course_utils.embeddings.clustering: each method on hand-made blobs, metrics with known
answers."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score
from threadpoolctl import threadpool_limits

from course_utils.embeddings import clustering as cl


@pytest.fixture(autouse=True)
def one_thread():
    """One OpenMP/BLAS thread: tiny inputs gain nothing from more, and on a busy machine
    multi-threaded OpenMP code can crawl (t-SNE on 60 points: 30 s instead of 0.2 s)."""
    import sklearn.cluster  # noqa: F401 - load the OpenMP runtime so that the limit reaches it

    with threadpool_limits(1):
        yield


def three_blobs(n_per: int = 30, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]])
    truth = np.repeat(np.arange(3), n_per)
    return centres[truth] + rng.normal(scale=0.1, size=(3 * n_per, 2)), truth


@pytest.mark.filterwarnings("ignore:Graph is not fully connected")  # the blobs are apart
@pytest.mark.parametrize("method", cl.METHODS)
def test_every_method_finds_three_blobs(method: str) -> None:
    x, truth = three_blobs()
    kwargs = {"dbscan": {"eps": 0.5, "min_samples": 5}, "hdbscan": {"min_cluster_size": 10}}
    fit = cl.cluster(x, method, n_clusters=3, random_state=0, **kwargs.get(method, {}))
    assert fit.labels.shape == truth.shape and fit.seconds >= 0
    assert adjusted_rand_score(truth, fit.labels) == pytest.approx(1.0)


def test_metrics_known_answers() -> None:
    x, truth = three_blobs()
    perfect = cl.cluster_metrics(x, truth, truth)
    assert perfect["n_clusters"] == 3 and perfect["noise_share"] == 0.0
    assert perfect["ari"] == pytest.approx(1.0) and perfect["nmi"] == pytest.approx(1.0)
    assert perfect["silhouette"] > 0.9
    noisy = truth.copy()
    noisy[:9] = -1  # 9 of 90 points are noise: 10 %, left out of the silhouette
    m = cl.cluster_metrics(x, noisy, truth)
    assert m["noise_share"] == pytest.approx(0.1) and m["n_clusters"] == 3
    assert m["silhouette"] == pytest.approx(
        cl.cluster_metrics(x[9:], truth[9:], truth[9:])["silhouette"]
    )
    one = cl.cluster_metrics(x, np.zeros(len(x), int), truth)
    assert np.isnan(one["silhouette"]) and one["ari"] == 0.0 and one["nmi"] == 0.0
    # a clustering that splits each class in two: NMI = 2 log 3 / (log 3 + log 6)
    split = truth * 2 + (np.arange(len(truth)) % 2)
    assert cl.cluster_metrics(x, split, truth)["nmi"] == pytest.approx(
        2 * np.log(3) / (np.log(3) + np.log(6))
    )
    with pytest.raises(ValueError, match="labels"):
        cl.cluster_metrics(x, truth[:5], truth)


def test_noise_share_and_counts() -> None:
    labels = np.array([-1, -1, 0, 0, 1, 2, 2, -1])
    assert cl.noise_share(labels) == pytest.approx(3 / 8)
    assert cl.n_clusters(labels) == 3


def test_scaling_and_growth_exponent() -> None:
    x, _ = three_blobs(n_per=40)
    times = cl.scaling(x, ["kmeans", "ward"], sizes=(30, 60), n_clusters=3, progress=False)
    assert set(times) == {"kmeans", "ward"} and all(len(t) == 2 for t in times.values())
    assert cl.growth_exponent([10, 100, 1000], [0.01, 1.0, 100.0]) == pytest.approx(2.0)
    assert cl.growth_exponent([10, 100], [2.0, 20.0]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="sizes go up to"):
        cl.scaling(x, ["kmeans"], sizes=(1000,))


def test_unknown_method() -> None:
    with pytest.raises(ValueError, match="Unknown method 'optics'"):
        cl.cluster(np.ones((4, 2)), "optics")


@pytest.mark.filterwarnings("ignore:Graph is not fully connected")
def test_compare_clusterings_table() -> None:
    x, truth = three_blobs()
    fits, table = cl.compare_clusterings(
        x, truth, ("kmeans", "ward"), n_clusters=3, random_state=0, progress=False
    )
    assert list(fits) == ["kmeans", "ward"] and list(table.index) == ["kmeans", "ward"]
    assert table["n_clusters"].eq(3).all() and table["noise_share"].eq(0).all()
    assert table["ari"].eq(1.0).all() and table["time"].str.startswith("[time:").all()


def test_a_disconnected_graph_is_explained_not_warned() -> None:
    """Spectral clustering on two far-apart blobs: scikit-learn's 'Graph is not fully
    connected' warning becomes a note in plain words, and nothing reaches the output raw."""
    import warnings

    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(size=(60, 2)), rng.normal(size=(60, 2)) + 1000.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a raw warning would fail the test
        fit = cl.cluster(x, "spectral", n_clusters=2, n_neighbors=5)
    assert len(fit.notes) == 1 and "disconnected pieces" in fit.notes[0]
    assert set(fit.labels) == {0, 1}


def test_dendrogram_cut_gives_the_asked_number_of_clusters() -> None:
    import matplotlib.pyplot as plt
    from scipy.cluster.hierarchy import fcluster, linkage

    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(size=(50, 2)) + 10 * k for k in range(4)])
    fig, ax = plt.subplots()
    cut = cl.plot_dendrogram(ax, x, n_clusters=4, sample=200)
    merges = linkage(x, method="ward")  # the sample is all 200 points
    assert len(set(fcluster(merges, cut, "distance"))) == 4
    plt.close(fig)
    with pytest.raises(ValueError, match="n_clusters"):
        cl.plot_dendrogram(ax, x, n_clusters=1)
