"""course_utils.topics: each BERTopic stage against a reference or a known answer."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.neighbors import NearestNeighbors

from course_utils import topics
from course_utils.models import bundled_model_path

# Three planted topics: documents draw words from one topic's vocabulary, and their
# embeddings are tight Gaussian blobs around one centre per topic (d = 16).
VOCAB = {
    0: "cat cats kitten purr meow whiskers feline litter",
    1: "rocket launch orbit nasa astronaut spacecraft moon booster",
    2: "pasta pizza tomato basil garlic oven dough cheese",
}
PER_TOPIC = 40
NOISE = 6  # documents far from every topic: the outliers


@pytest.fixture(scope="module")
def corpus() -> tuple[list[str], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    docs, rows, truth = [], [], []
    centres = rng.normal(size=(3, 16)) * 4
    for topic, words in VOCAB.items():
        vocab = words.split()
        for _ in range(PER_TOPIC):
            docs.append(" ".join(rng.choice(vocab, size=5)))
            rows.append(centres[topic] + rng.normal(scale=0.3, size=16))
            truth.append(topic)
    return docs, np.asarray(rows, dtype=np.float32), np.asarray(truth)


@pytest.fixture(scope="module")
def fitted(corpus):
    """The same small model fitted twice from scratch (what the determinism test needs)."""
    docs, emb, _ = corpus
    runs = []
    for _ in range(2):
        model = topics.build_topic_model(
            None, knn=topics.nearest_neighbours(emb, 10), n_neighbors=10, min_cluster_size=15
        )
        assigned, _ = model.fit_transform(docs, emb)
        runs.append((model, np.asarray(assigned)))
    return runs


def test_nearest_neighbours_match_brute_force() -> None:
    x = np.random.default_rng(1).normal(size=(300, 24)).astype(np.float32)
    idx, dist = topics.nearest_neighbours(x, 7, block=64)  # several blocks
    ref = NearestNeighbors(n_neighbors=7, metric="cosine", algorithm="brute").fit(x)
    ref_dist, ref_idx = ref.kneighbors(x)
    assert idx.shape == dist.shape == (300, 7) and dist.dtype == np.float32
    np.testing.assert_array_equal(idx[:, 0], np.arange(300))  # each point first
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(dist, ref_dist, atol=1e-5)
    assert np.all(np.diff(dist, axis=1) >= 0)


def test_nearest_neighbours_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="n >= k"):
        topics.nearest_neighbours(np.ones((3, 4)), 5)
    with pytest.raises(ValueError, match="all-zero"):
        topics.nearest_neighbours(np.zeros((4, 4)), 2)


def test_embeddings_equal_sentence_transformers(tmp_path, monkeypatch) -> None:
    from sentence_transformers import SentenceTransformer

    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    model = topics.load_embedding_model("bundled", verbose=False)
    assert (model.pooling, model.normalize, model.max_length) == ("mean", True, 256)
    texts = ["a gorgeous, witty, seductive movie .", "the plot is nothing but boilerplate ."]
    texts += ["if you sometimes like to go to the movies to have fun , wasabi is a good place"]
    ours = topics.embed_documents(texts, model)
    reference = SentenceTransformer(str(bundled_model_path()), device="cpu").encode(texts)
    assert ours.shape == (3, 384)
    np.testing.assert_allclose(ours, reference, atol=2e-6)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-6)
    assert list(tmp_path.glob("embeddings/*.npy"))  # written to the shared encode() cache
    np.testing.assert_array_equal(topics.embed_documents(texts, model), ours)  # cache hit


def test_unsupported_pooling_is_refused() -> None:
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling

    base = SentenceTransformer(str(bundled_model_path()), device="cpu")
    maxpool = SentenceTransformer(modules=[base[0], Pooling(384, pooling_mode="max")])
    with pytest.raises(ValueError, match="'max'"):
        topics._pooling_of(maxpool)


def test_fit_recovers_planted_topics_deterministically(fitted, corpus) -> None:
    (first, a), (second, b) = fitted
    _, _, truth = corpus
    np.testing.assert_array_equal(a, b)  # same assignments from two fresh fits
    np.testing.assert_array_equal(first.umap_model.embedding_, second.umap_model.embedding_)
    assert topics.topic_summary(a) == {"topics": 3, "outlier_share": 0.0}
    for topic in range(3):  # each found topic is one planted topic, named by its words
        planted = set(truth[a == topic])
        assert len(planted) == 1
        words = {w for w, _ in first.get_topic(topic)[:5]}
        assert words <= set(VOCAB[planted.pop()].split())


def test_stage_times_recorded(fitted) -> None:
    model = fitted[0][0]
    assert list(model.stage_seconds_) == ["reduce", "cluster", "c-TF-IDF", "represent"]
    assert all(s > 0 for s in model.stage_seconds_.values())
    line = topics.format_stage_times({"embed": 1.04, **model.stage_seconds_})
    assert line.startswith("embed [time: 1.0 s] | reduce [time: ")
    # every number sits inside the pattern the nbval sanitiser masks
    assert re.sub(r"\[time: [^\]]*\]", "T", line) == (
        "embed T | reduce T | cluster T | c-TF-IDF T | represent T | total T"
    )


def test_cluster_sweep_known_answer(fitted) -> None:
    reduced = fitted[0][0].umap_model.embedding_
    table = topics.cluster_sweep(reduced, [15, 100], [None], ["eom", "leaf"])
    assert list(table.columns) == [
        "selection",
        "min_cluster_size",
        "min_samples",
        "topics",
        "outlier_share",
        "largest_share",
    ]
    small = table[table.min_cluster_size == 15]
    assert small.topics.tolist() == [3, 3] and small.outlier_share.tolist() == [0.0, 0.0]
    big = table[table.min_cluster_size == 100]  # no cluster of 100: all 120 docs are outliers
    assert big.topics.tolist() == [0, 0] and big.outlier_share.tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match="selection"):
        topics.make_hdbscan(10, None, "biggest")


def test_outlier_strategies(corpus) -> None:
    from bertopic.dimensionality import BaseDimensionalityReduction

    docs, emb, truth = corpus
    rng = np.random.default_rng(2)
    docs = docs + [" ".join(rng.choice(["zebra", "quartz", "violin"], 4)) for _ in range(NOISE)]
    emb = np.vstack([emb, rng.normal(size=(NOISE, 16)).astype(np.float32) * 12])  # far away
    model = topics.build_topic_model(None, min_cluster_size=15)
    model.umap_model = BaseDimensionalityReduction()  # cluster the 16-d points directly
    assigned = np.asarray(model.fit_transform(docs, emb)[0])
    assert (assigned == -1).tolist() == [False] * len(truth) + [True] * NOISE
    table = topics.compare_outlier_strategies(
        model, docs, assigned, emb, {"embeddings": 0.0, "c-tf-idf": 0.0}
    )
    assert table.outlier_share_before.tolist() == [0.0476, 0.0476]  # 6 of 126
    # reference: an outlier moves iff its best cosine to a topic embedding is positive
    unit = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    centres = np.asarray(model.topic_embeddings_)[1:]  # row 0 is the outlier topic
    best = (unit[-NOISE:] @ (centres / np.linalg.norm(centres, axis=1, keepdims=True)).T).max(1)
    # the noise words occur in no topic, so c-TF-IDF finds no match for any of them
    assert table.outlier_share_after.tolist() == [round((best <= 0).sum() / len(emb), 4), 0.0476]
    strict = topics.compare_outlier_strategies(model, docs, assigned, emb, {"embeddings": 0.99})
    assert strict.outlier_share_after.tolist() == [0.0476]  # none is that close to a topic
    noisy = assigned.copy()
    noisy[:10] = -1  # ten documents of planted topic 0 marked as outliers...
    fixed = model.reduce_outliers(docs, list(noisy), strategy="embeddings", embeddings=emb)
    np.testing.assert_array_equal(np.asarray(fixed)[:10], assigned[:10])  # ...go back home
    moved = topics.reassign_outliers(model, docs, noisy, emb, threshold=0.5)
    assert moved[:10] == assigned[:10].tolist() and list(model.topics_) == moved
    assert model.topic_aspects_ == {}  # no stale aspects after the words are recomputed
    with pytest.raises(ValueError, match="unknown strategy"):
        topics.compare_outlier_strategies(model, docs, assigned, emb, {"nearest": 0.1})


def test_sentiment_by_topic_known_answer() -> None:
    table = topics.sentiment_by_topic([0, 0, 0, 1, 1, -1, 2], [1, 1, 0, 0, 0, 1, 1], min_size=2)
    expected = pd.DataFrame(
        {"size": [3, 2], "positive_share": [0.667, 0.0]}, index=pd.Index([0, 1], name="topic")
    )
    pd.testing.assert_frame_equal(table, expected)


def test_topic_table_and_labels(fitted) -> None:
    model, _ = fitted[0]
    table = topics.topic_table(model, top_n=2, n_words=3)
    assert table.index.tolist() == [0, 1] and table["size"].tolist() == [PER_TOPIC, PER_TOPIC]
    labels = topics.topic_labels(model, n_words=2)
    assert sorted(labels) == [0, 1, 2]
    assert labels[0] == "0: " + ", ".join(w for w, _ in model.get_topic(0)[:2])


def test_save_load_safetensors_roundtrip(fitted, corpus, tmp_path: Path) -> None:
    model, assigned = fitted[0]
    _, emb, _ = corpus
    folder = topics.save_topic_model(model, tmp_path / "model", "planted-test-model")
    names = {p.name for p in folder.iterdir()}
    assert {"topic_embeddings.safetensors", "ctfidf.safetensors"} <= names
    assert not any(n.endswith((".bin", ".pkl", ".pickle", ".pt")) for n in names)
    loaded = topics.load_topic_model(folder, embedding_model=None)
    as_lists = {t: [[w, float(v)] for w, v in ws] for t, ws in model.get_topics().items()}
    assert loaded.get_topics() == as_lists  # JSON round trip: same words and scores
    np.testing.assert_allclose(loaded.topic_embeddings_, model.topic_embeddings_, atol=1e-6)
    predicted, _ = loaded.transform([f"doc {i}" for i in range(len(emb))], embeddings=emb)
    np.testing.assert_array_equal(predicted, assigned)  # nearest topic embedding


def test_load_refuses_non_safetensors(tmp_path: Path) -> None:
    (tmp_path / "topics.json").write_text("{}")
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(FileNotFoundError, match="topic_embeddings.safetensors"):
        topics.load_topic_model(tmp_path, embedding_model=None)
    with pytest.raises(FileNotFoundError, match="not a safetensors"):
        topics.load_topic_model(tmp_path / "missing", embedding_model=None)


def test_html_is_self_contained(fitted, tmp_path: Path) -> None:
    model, _ = fitted[0]
    path = topics.save_html(model.visualize_barchart(top_n_topics=3), tmp_path / "bar.html")
    html = path.read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]+src=", html)  # no external script (no CDN)
    assert "plotly.js v" in html and len(html) > 1_000_000  # the library itself is inside


def test_static_figures(fitted, monkeypatch) -> None:
    import matplotlib.pyplot as plt

    model, assigned = fitted[0]
    labels = topics.topic_labels(model)
    ids, sim = topics.topic_similarity(model)
    assert ids == [0, 1, 2] and sim.shape == (3, 3)
    np.testing.assert_allclose(np.diag(sim), 1.0, atol=1e-6)
    reduced = fitted[0][0].umap_model.embedding_[:, :2]
    figures = [
        topics.plot_barchart(model, top_n=3),
        topics.plot_documents(reduced, assigned, labels),
        topics.plot_heatmap(model),
        topics.plot_hierarchy(model, labels),
    ]
    assert [len(f.axes) >= 1 for f in figures] == [True] * 4
    hierarchy_ticks = {t.get_text() for t in figures[3].axes[0].get_yticklabels()}
    assert hierarchy_ticks == set(labels.values())
    shown = []
    monkeypatch.setattr("IPython.display.display", shown.append)
    topics.show_static(figures[0])
    assert shown[0].data[:8] == b"\x89PNG\r\n\x1a\n"
    assert not plt.fignum_exists(figures[0].number)  # closed: never shown twice
