"""course_utils.topics.pipeline: each BERTopic stage against a reference or a known answer."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.neighbors import NearestNeighbors

from course_utils.core.models import bundled_model_path
from course_utils.topics import outliers as topic_outliers
from course_utils.topics import pipeline as topics
from course_utils.topics import plots as topic_plots
from course_utils.topics import store as topic_store
from course_utils.topics import timing as topic_timing

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
        assigned, seconds = topic_timing.fit_timed(model, docs, emb)
        runs.append((model, np.asarray(assigned), seconds))
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
    (first, a, _), (second, b, _) = fitted
    _, _, truth = corpus
    np.testing.assert_array_equal(a, b)  # same assignments from two fresh fits
    np.testing.assert_array_equal(first.umap_model.embedding_, second.umap_model.embedding_)
    assert topics.topic_summary(a) == {"topics": 3, "outlier_share": 0.0}
    for topic in range(3):  # each found topic is one planted topic, named by its words
        planted = set(truth[a == topic])
        assert len(planted) == 1
        words = {w for w, _ in first.get_topic(topic)[:5]}
        assert words <= set(VOCAB[planted.pop()].split())


def test_builder_equals_bertopic_written_out(corpus) -> None:
    """Notebook 04 writes its kept model out as BERTopic(umap_model=UMAP(...), ...) and
    claims it is built exactly as build_topic_model builds it: every setting equal."""
    from bertopic import BERTopic
    from bertopic.vectorizers import ClassTfidfTransformer
    from hdbscan import HDBSCAN
    from sklearn.feature_extraction.text import CountVectorizer
    from umap import UMAP

    knn = topics.nearest_neighbours(corpus[1], 15)
    written = BERTopic(
        umap_model=UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine",
                        low_memory=False, precomputed_knn=knn, random_state=42, n_jobs=1),
        hdbscan_model=HDBSCAN(min_cluster_size=50, min_samples=5, metric="euclidean",
                              cluster_selection_method="leaf", prediction_data=True),
        vectorizer_model=CountVectorizer(stop_words="english", min_df=1),
        ctfidf_model=ClassTfidfTransformer(),
        calculate_probabilities=True,
    )  # fmt: skip
    built = topics.build_topic_model(
        None, knn=knn, min_cluster_size=50, min_samples=5, selection="leaf",
        calculate_probabilities=True,
    )  # fmt: skip

    def settings(model):
        return {k: v for k, v in model.get_params(deep=True).items()
                if not hasattr(v, "get_params")}  # fmt: skip

    assert settings(written) == settings(built)
    other = topics.build_topic_model(
        None, knn=knn, min_cluster_size=50, calculate_probabilities=True
    )
    assert settings(written) != settings(other)  # the comparison sees a changed setting


def test_stage_times_recorded(fitted) -> None:
    model, _, seconds = fitted[0]
    assert list(seconds) == ["reduce", "cluster", "c-TF-IDF", "represent"]
    assert all(s > 0 for s in seconds.values())
    # only the fit is timed: later public calls leave the clock alone
    before = dict(topic_timing.stage_clock(model).seconds)
    model.ctfidf_model.transform(model.vectorizer_model.transform(["alpha beta"]))
    assert topic_timing.stage_clock(model).seconds == before
    line = topics.format_stage_times({"embed": 1.04, **seconds})
    assert line.startswith("embed [time: 1.0 s] | reduce [time: ")
    # every number sits inside the pattern the nbval sanitiser masks
    assert re.sub(r"\[time: [^\]]*\]", "T", line) == (
        "embed T | reduce T | cluster T | c-TF-IDF T | represent T | total T"
    )


def test_cluster_sweep_known_answer(fitted) -> None:
    reduced = fitted[0][0].umap_model.embedding_
    table = topic_outliers.cluster_sweep(reduced, [15, 100], [None], ["eom", "leaf"])
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
    table = topic_outliers.compare_outlier_strategies(
        model, docs, assigned, emb, {"embeddings": 0.0, "c-tf-idf": 0.0}
    )
    assert table.outlier_share_before.tolist() == [0.0476, 0.0476]  # 6 of 126
    # reference: an outlier moves iff its best cosine to a topic embedding is positive
    unit = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    centres = np.asarray(model.topic_embeddings_)[1:]  # row 0 is the outlier topic
    best = (unit[-NOISE:] @ (centres / np.linalg.norm(centres, axis=1, keepdims=True)).T).max(1)
    # the noise words occur in no topic, so c-TF-IDF finds no match for any of them
    assert table.outlier_share_after.tolist() == [round((best <= 0).sum() / len(emb), 4), 0.0476]
    strict = topic_outliers.compare_outlier_strategies(
        model, docs, assigned, emb, {"embeddings": 0.99}
    )
    assert strict.outlier_share_after.tolist() == [0.0476]  # none is that close to a topic
    noisy = assigned.copy()
    noisy[:10] = -1  # ten documents of planted topic 0 marked as outliers...
    fixed = model.reduce_outliers(docs, list(noisy), strategy="embeddings", embeddings=emb)
    np.testing.assert_array_equal(np.asarray(fixed)[:10], assigned[:10])  # ...go back home
    moved = topic_outliers.reassign_outliers(model, docs, noisy, emb, threshold=0.5)
    assert moved[:10] == assigned[:10].tolist() and list(model.topics_) == moved
    assert model.topic_aspects_ == {}  # no stale aspects after the words are recomputed
    with pytest.raises(ValueError, match="unknown strategy"):
        topic_outliers.compare_outlier_strategies(model, docs, assigned, emb, {"nearest": 0.1})


def test_sentiment_by_topic_known_answer() -> None:
    table = topics.sentiment_by_topic([0, 0, 0, 1, 1, -1, 2], [1, 1, 0, 0, 0, 1, 1], min_size=2)
    expected = pd.DataFrame(
        {"size": [3, 2], "positive_share": [0.667, 0.0]}, index=pd.Index([0, 1], name="topic")
    )
    pd.testing.assert_frame_equal(table, expected)


def test_topic_table_and_labels(fitted) -> None:
    model, _, _ = fitted[0]
    table = topics.topic_table(model, top_n=2, n_words=3)
    assert table.index.tolist() == [0, 1] and table["size"].tolist() == [PER_TOPIC, PER_TOPIC]
    labels = topic_plots.topic_labels(model, n_words=2)
    assert sorted(labels) == [0, 1, 2]
    assert labels[0] == "0: " + ", ".join(w for w, _ in model.get_topic(0)[:2])


def test_save_load_safetensors_roundtrip(fitted, corpus, tmp_path: Path) -> None:
    model, assigned, _ = fitted[0]
    _, emb, _ = corpus
    folder = topic_store.save_topic_model(model, tmp_path / "model", "planted-test-model")
    names = {p.name for p in folder.iterdir()}
    assert {"topic_embeddings.safetensors", "ctfidf.safetensors"} <= names
    assert not any(n.endswith((".bin", ".pkl", ".pickle", ".pt")) for n in names)
    loaded = topic_store.load_topic_model(folder, embedding_model=None)
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
        topic_store.load_topic_model(tmp_path, embedding_model=None)
    with pytest.raises(FileNotFoundError, match="not a safetensors"):
        topic_store.load_topic_model(tmp_path / "missing", embedding_model=None)


def test_html_is_self_contained(fitted, tmp_path: Path) -> None:
    model, _, _ = fitted[0]
    path = topic_plots.save_html(model.visualize_barchart(top_n_topics=3), tmp_path / "bar.html")
    html = path.read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]+src=", html)  # no external script (no CDN)
    assert "plotly.js v" in html and len(html) > 1_000_000  # the library itself is inside


def test_static_figures(fitted, monkeypatch) -> None:
    import matplotlib.pyplot as plt

    model, assigned, _ = fitted[0]
    labels = topic_plots.topic_labels(model)
    ids, sim = topic_plots.topic_similarity(model)
    assert ids == [0, 1, 2] and sim.shape == (3, 3)
    np.testing.assert_allclose(np.diag(sim), 1.0, atol=1e-6)
    reduced = fitted[0][0].umap_model.embedding_[:, :2]
    figures = [
        topic_plots.plot_barchart(model, top_n=3),
        topic_plots.plot_documents(reduced, assigned, labels),
        topic_plots.plot_heatmap(model),
        topic_plots.plot_hierarchy(model, labels),
    ]
    assert [len(f.axes) >= 1 for f in figures] == [True] * 4
    hierarchy_ticks = {t.get_text() for t in figures[3].axes[0].get_yticklabels()}
    assert hierarchy_ticks == set(labels.values())
    shown = []
    monkeypatch.setattr("IPython.display.display", shown.append)
    topic_plots.show_static(figures[0])
    assert shown[0].data[:8] == b"\x89PNG\r\n\x1a\n"
    assert not plt.fignum_exists(figures[0].number)  # closed: never shown twice


def test_outlier_rows_follow_the_topic_ids(fitted) -> None:
    """The row offset of topic 0 in ``topic_embeddings_``/``c_tf_idf_`` (what the notebook's
    similarity, heatmap and hierarchy read) comes from public attributes."""
    model, assigned, _ = fitted[0]
    ids = sorted(model.topic_sizes_)
    assert topic_outliers.outlier_rows(model) == int(-1 in set(assigned)) == int(ids[0] == -1)
    assert np.asarray(model.topic_embeddings_).shape[0] == len(ids)
    assert model.c_tf_idf_.shape[0] == len(ids)


def test_no_private_bertopic_api() -> None:
    """The course reads and drives BERTopic through its public API only: no subclass of
    BERTopic, no ``obj._name`` access to one of BERTopic's private attributes or methods."""
    import ast
    import json as jsonlib

    from bertopic import BERTopic

    private = {n for n in dir(BERTopic) if n.startswith("_") and not n.startswith("__")}
    private |= {"_outliers", "_topic_id_to_zeroshot_topic_idx"}
    root = Path(topics.__file__).parents[1]  # course_utils/
    from IPython.core.inputtransformer2 import TransformerManager

    sources = {str(f): f.read_text() for f in root.rglob("*.py")}
    for nb in (root.parent / "notebooks").glob("*.ipynb"):
        cells = jsonlib.loads(nb.read_text())["cells"]
        for i, cell in enumerate(c for c in cells if c["cell_type"] == "code"):
            sources[f"{nb.name} code cell {i}"] = TransformerManager().transform_cell(
                "".join(cell["source"])
            )
    found = []
    for name, text in sources.items():
        tree = ast.parse(text)
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in private:
                found.append(f"{name}: .{node.attr}")
            if isinstance(node, ast.ClassDef) and any(
                getattr(b, "id", getattr(b, "attr", "")) == "BERTopic" for b in node.bases
            ):
                found.append(f"{name}: class {node.name}(BERTopic)")
    assert not found, found


def test_domain_stop_words_leave_the_topics_and_change_their_words(corpus) -> None:
    from course_utils.embeddings import keywords as kw

    docs, emb, _ = corpus
    model = topics.build_topic_model(
        None, knn=topics.nearest_neighbours(emb, 10), n_neighbors=10, min_cluster_size=15
    )
    assigned, _ = topic_timing.fit_timed(model, docs, emb)
    before = topics.topic_words(model)
    assert kw.domain_stop_words(before) == []  # the planted topics share no word
    dropped = {before[0][0], before[1][0]}  # each topic's best word
    sizes, vectors = dict(model.topic_sizes_), np.asarray(model.topic_embeddings_).copy()
    topics.update_topic_words(model, docs, assigned, extra_stop_words=sorted(dropped))
    after = topics.topic_words(model)
    assert not dropped & {w for words in after for w in words}
    assert after[2][:3] == before[2][:3]  # a topic without those words keeps its own
    assert dict(model.topic_sizes_) == sizes  # same topics, same members
    np.testing.assert_array_equal(np.asarray(model.topic_embeddings_), vectors)


def test_document_map_names_never_overlap() -> None:
    """Ten topics whose median points nearly coincide: every name gets a box of its own."""
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    points = rng.normal(scale=0.01, size=(200, 2))
    assigned = np.repeat(np.arange(10), 20)
    labels = {t: f"{t}: word{t}, other{t}, third{t}" for t in range(10)}
    fig = topic_plots.plot_documents(points, assigned, labels)
    renderer = fig.canvas.get_renderer()
    from matplotlib.text import Text

    fig.canvas.draw()
    boxes = [Text.get_window_extent(t, renderer) for t in fig.axes[0].texts]
    assert len(boxes) == 10
    assert not [(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1 :] if a.overlaps(b)]
    plt.close(fig)
