"""BERTopic, stage by stage: embed -> reduce (UMAP) -> cluster (HDBSCAN) -> c-TF-IDF -> words.

Taught in notebook 04 (BERTopic on Rotten Tomatoes). Every stage is an explicit component
built here, so the notebook can show and time each one:

* **embed**: :func:`load_embedding_model` resolves the encoder exactly as
  :func:`course_utils.models.load_encoder` does; :func:`embed_documents` embeds through the
  package's cached :func:`course_utils.embeddings.encode` with the pooling and normalisation
  that the model's own sentence-transformers configuration declares, so the vectors equal
  ``SentenceTransformer(path).encode(texts)`` and every notebook shares one cache.
* **reduce**: UMAP on an *exact* cosine k-nearest-neighbour graph (:func:`nearest_neighbours`,
  one blocked matrix product). Handing UMAP the graph skips NNDescent and its numba
  compilation, which dominates a cold UMAP call; ``random_state`` makes UMAP single-threaded
  and bitwise reproducible.
* **cluster**: HDBSCAN; ``min_cluster_size`` and ``min_samples`` are the outlier levers
  (:func:`cluster_sweep`), ``reduce_outliers`` strategies the after-the-fact one
  (:func:`compare_outlier_strategies`).
* **c-TF-IDF** and **represent**: ``CountVectorizer`` (English stop words) and
  ``ClassTfidfTransformer``; optional ``KeyBERTInspired`` and ``MaximalMarginalRelevance``
  aspects.

:class:`TimedBERTopic` records the wall time of each stage of its last fit. Models are saved
with safetensors only (:func:`save_topic_model`, :func:`load_topic_model`); interactive
figures are written as self-contained offline HTML (:func:`save_html`) and drawn as static
matplotlib figures beside them.
"""

from __future__ import annotations

import io
import logging
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from bertopic import BERTopic
from bertopic.representation import KeyBERTInspired, MaximalMarginalRelevance
from bertopic.vectorizers import ClassTfidfTransformer
from hdbscan import HDBSCAN
from matplotlib.figure import Figure
from sklearn.feature_extraction.text import CountVectorizer
from umap import UMAP

from course_utils.clustering import n_clusters, noise_share
from course_utils.embeddings import encode
from course_utils.models import Encoder, load_encoder, resolve_encoder

STAGES = ("embed", "reduce", "cluster", "c-TF-IDF", "represent")
OUTLIER_STRATEGIES = ("c-tf-idf", "embeddings", "distributions", "probabilities")
SAFE_FILES = ("topics.json", "config.json", "topic_embeddings.safetensors")


# ----------------------------------------------------------------------------- embed
class EmbeddingModel(NamedTuple):
    """The encoder twice over: ``encoder`` for cached :func:`encode`, ``sentence_model`` for
    BERTopic (KeyBERT embeds candidate words with it), plus the pooling it declares."""

    encoder: Encoder
    sentence_model: Any  # sentence_transformers.SentenceTransformer
    pooling: str
    normalize: bool
    max_length: int


def load_embedding_model(
    name: str | None = None, *, verbose: bool = True, device: Any = None
) -> EmbeddingModel:
    """Load the course encoder (or ``name``: a Hub id, a local folder, ``"bundled"``).

    Resolution is :func:`course_utils.models.resolve_encoder`'s (one printed line says what
    was chosen). The pooling (``mean`` or ``cls``), normalisation and maximum length are
    read from the model's sentence-transformers modules; other poolings raise ``ValueError``.
    ``device`` (e.g. ``env.device``; ``None``: the CPU) is where both copies of the model run.
    Taught in notebook 04, section "Stage 1 · embed".
    """
    from sentence_transformers import SentenceTransformer

    encoder = load_encoder(name, verbose=verbose, device=device)  # says what it chose, once
    choice = resolve_encoder(name)
    sentence_model = SentenceTransformer(
        choice.location,
        device=str(next(encoder.model.parameters()).device),
        local_files_only=choice.source != "hub",
        trust_remote_code=False,
    )
    pooling, normalize = _pooling_of(sentence_model)
    max_length = int(sentence_model.max_seq_length or encoder.tokenizer.model_max_length)
    return EmbeddingModel(encoder, sentence_model, pooling, normalize, max_length)


def _pooling_of(sentence_model: Any) -> tuple[str, bool]:
    modules = [type(m).__name__ for m in sentence_model]
    pooler = next((m for m in sentence_model if type(m).__name__ == "Pooling"), None)
    mode = getattr(pooler, "pooling_mode", None)
    if mode not in ("mean", "cls"):
        raise ValueError(
            f"The model pools with {mode!r}; course_utils.embeddings.encode supports "
            "'mean' and 'cls' only. Pick a sentence-transformers model with mean or CLS pooling."
        )
    return mode, "Normalize" in modules


def embed_documents(
    docs: Sequence[str],
    model: EmbeddingModel,
    *,
    batch_size: int = 64,
    cache: bool = True,
    progress: bool = True,
) -> np.ndarray:
    """Sentence embeddings ``(len(docs), d)`` float32 through the package's cached encoder,
    pooled and normalised as the model's configuration says (equal, up to float rounding, to
    ``model.sentence_model.encode(docs)``). Taught in notebook 04, "Stage 1 · embed"."""
    tokenizer, encoder_model, _ = model.encoder
    return encode(
        docs,
        encoder_model,
        tokenizer,
        pooling=model.pooling,  # type: ignore[arg-type]
        normalize=model.normalize,
        max_length=model.max_length,
        batch_size=batch_size,
        cache=cache,
        progress=progress,
    )


# ---------------------------------------------------------------------------- reduce
def nearest_neighbours(
    embeddings: np.ndarray, k: int = 15, *, block: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """Exact cosine k-nearest neighbours of every row, each row's own index first.

    ``embeddings`` ``(n, d)``; returns ``indices`` ``(n, k)`` int64 and cosine
    ``distances`` ``(n, k)`` float32 (``1 - cos``, the first column 0), sorted by distance,
    ties broken by index. Rows are processed ``block`` at a time (memory ``block * n``
    floats). This is the graph UMAP builds first; computed exactly it is one matrix product.
    Taught in notebook 04, "Stage 2 · reduce with UMAP".
    """
    x = np.asarray(embeddings, dtype=np.float32)
    if x.ndim != 2 or not 1 <= k <= len(x):
        raise ValueError(f"need an (n, d) matrix with n >= k >= 1; got {x.shape}, k={k}")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    if np.any(norms == 0):
        raise ValueError("embeddings contain all-zero rows; cosine distance is undefined")
    x = x / norms
    n = len(x)
    indices = np.empty((n, k), dtype=np.int64)
    distances = np.empty((n, k), dtype=np.float32)
    for start in range(0, n, block):
        rows = np.arange(start, min(start + block, n))
        dist = 1.0 - x[rows] @ x.T  # (b, n)
        dist[np.arange(len(rows)), rows] = -np.inf  # a point is its own nearest neighbour
        part = np.argpartition(dist, k - 1, axis=1)[:, :k]
        order = np.lexsort((part, np.take_along_axis(dist, part, 1)), axis=1)
        top = np.take_along_axis(part, order, 1)
        indices[rows] = top
        distances[rows] = np.maximum(np.take_along_axis(dist, top, 1), 0.0)
    return indices, distances


def make_umap(
    n_components: int = 5,
    *,
    n_neighbors: int = 15,
    knn: tuple[np.ndarray, np.ndarray] | None = None,
    min_dist: float = 0.0,
    random_state: int = 42,
) -> UMAP:
    """BERTopic's UMAP (cosine, ``min_dist=0``), seeded, optionally on a precomputed graph.

    ``knn`` is :func:`nearest_neighbours`' output for the documents the model will be fit
    on (with at least ``n_neighbors`` columns). Without a search index such a UMAP cannot
    ``transform`` *new* documents; the saved model predicts them from topic embeddings.
    """
    extra = {"precomputed_knn": knn} if knn is not None else {}
    return UMAP(
        n_neighbors=n_neighbors,
        n_components=n_components,
        min_dist=min_dist,
        metric="cosine",
        low_memory=False,
        random_state=random_state,
        n_jobs=1,  # what random_state forces anyway; said explicitly to silence the warning
        **extra,
    )


def make_hdbscan(
    min_cluster_size: int = 10, min_samples: int | None = None, selection: str = "eom"
) -> HDBSCAN:
    """BERTopic's HDBSCAN (euclidean, prediction data kept).

    ``min_samples=None`` means ``min_samples = min_cluster_size`` (the HDBSCAN default).
    ``selection`` is ``"eom"`` (excess of mass, BERTopic's default: may pick a few huge
    clusters) or ``"leaf"`` (the finest stable clusters). Taught in notebook 04,
    "Outliers: the levers".
    """
    if selection not in ("eom", "leaf"):
        raise ValueError(f"selection must be 'eom' or 'leaf', got {selection!r}")
    return HDBSCAN(
        min_cluster_size=min_cluster_size,
        min_samples=min_samples,
        metric="euclidean",
        cluster_selection_method=selection,
        prediction_data=True,
    )


# -------------------------------------------------------------- the timed pipeline
class TimedBERTopic(BERTopic):
    """BERTopic that records, in ``stage_seconds_``, the wall seconds of each stage of its
    last ``fit``/``fit_transform``: ``reduce``, ``cluster``, ``c-TF-IDF``, ``represent``
    (the ``embed`` stage runs before the fit, through :func:`embed_documents`)."""

    stage_seconds_: dict[str, float]
    _timing = False

    @contextmanager
    def _stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            if self._timing:
                seconds = time.perf_counter() - start
                self.stage_seconds_[name] = self.stage_seconds_.get(name, 0.0) + seconds

    def fit_transform(self, documents, embeddings=None, images=None, y=None):
        self.stage_seconds_ = {}
        self._timing = True
        try:
            return super().fit_transform(documents, embeddings=embeddings, images=images, y=y)
        finally:
            self._timing = False

    def _reduce_dimensionality(self, *args, **kwargs):
        with self._stage("reduce"), warnings.catch_warnings():
            # UMAP warns that a precomputed graph has no search index (see make_umap)
            warnings.filterwarnings("ignore", message="precomputed_knn", category=UserWarning)
            return super()._reduce_dimensionality(*args, **kwargs)

    def _cluster_embeddings(self, *args, **kwargs):
        with self._stage("cluster"):
            return super()._cluster_embeddings(*args, **kwargs)

    def _c_tf_idf(self, *args, **kwargs):
        with self._stage("c-TF-IDF"):
            return super()._c_tf_idf(*args, **kwargs)

    def _extract_words_per_topic(self, *args, **kwargs):
        with self._stage("represent"):
            return super()._extract_words_per_topic(*args, **kwargs)


def build_topic_model(
    sentence_model: Any,
    *,
    knn: tuple[np.ndarray, np.ndarray] | None = None,
    n_neighbors: int = 15,
    n_components: int = 5,
    min_cluster_size: int = 10,
    min_samples: int | None = None,
    selection: str = "eom",
    min_df: int = 1,
    aspects: bool = False,
    nr_topics: int | str | None = None,
    calculate_probabilities: bool = False,
    random_state: int = 42,
) -> TimedBERTopic:
    """A :class:`TimedBERTopic` assembled from explicit stages (see the module docstring).

    The defaults reproduce BERTopic's own (``min_topic_size=10``), except that UMAP is seeded
    and may use a precomputed exact ``knn`` graph. ``min_df`` drops words seen in fewer
    documents; ``aspects`` adds ``"KeyBERT"`` (KeyBERTInspired) and ``"MMR"``
    (MaximalMarginalRelevance, diversity 0.3) beside the c-TF-IDF words; ``nr_topics``
    merges topics after clustering (an int or ``"auto"``). Taught in notebook 04.
    """
    representation = (
        {
            # 30 candidate words per topic (default 100): a third of the word embeddings
            "KeyBERT": KeyBERTInspired(nr_candidate_words=30, random_state=random_state),
            "MMR": MaximalMarginalRelevance(diversity=0.3),
        }
        if aspects
        else None
    )
    return TimedBERTopic(
        embedding_model=sentence_model,
        umap_model=make_umap(
            n_components, n_neighbors=n_neighbors, knn=knn, random_state=random_state
        ),
        hdbscan_model=make_hdbscan(min_cluster_size, min_samples, selection),
        vectorizer_model=CountVectorizer(stop_words="english", min_df=min_df),
        ctfidf_model=ClassTfidfTransformer(),
        representation_model=representation,
        nr_topics=nr_topics,
        calculate_probabilities=calculate_probabilities,
    )


def describe_pipeline(topic_model: BERTopic) -> pd.DataFrame:
    """One row per stage: the component and the settings that matter (for display)."""
    umap, hdb, cv = topic_model.umap_model, topic_model.hdbscan_model, topic_model.vectorizer_model
    knn = getattr(umap, "precomputed_knn", (None,))[0] is not None
    aspects = topic_model.representation_model or {}
    rows = [
        ("embed", type(topic_model.embedding_model).__name__, "cached course_utils.encode"),
        (
            "reduce",
            "UMAP",
            f"n_neighbors={umap.n_neighbors}, n_components={umap.n_components}, "
            f"metric={umap.metric}, min_dist={umap.min_dist}, random_state={umap.random_state}"
            + (", exact kNN graph" if knn else ""),
        ),
        (
            "cluster",
            "HDBSCAN",
            f"min_cluster_size={hdb.min_cluster_size}, min_samples={hdb.min_samples}, "
            f"selection={hdb.cluster_selection_method}",
        ),
        (
            "c-TF-IDF",
            "CountVectorizer + ClassTfidfTransformer",
            f"stop_words={cv.stop_words}, min_df={cv.min_df}",
        ),
        ("represent", "c-TF-IDF words" + "".join(f" + {k}" for k in aspects), ""),
    ]
    return pd.DataFrame(rows, columns=["stage", "component", "settings"]).set_index("stage")


def format_stage_times(seconds: dict[str, float]) -> str:
    """``"embed [time: 0.4 s] | reduce [time: 12.0 s] | ..."`` in :data:`STAGES` order.

    The ``[time: ...]`` pattern is what the course's nbval sanitiser masks."""
    parts = [f"{s} [time: {seconds[s]:.1f} s]" for s in STAGES if s in seconds]
    return " | ".join(parts) + f" | total [time: {sum(seconds.values()):.1f} s]"


# --------------------------------------------------------------------------- topics
def topic_summary(topics: Sequence[int]) -> dict[str, float | int]:
    """``{"topics": count without -1, "outlier_share": share of -1}`` for assignments."""
    labels = np.asarray(topics)
    return {"topics": n_clusters(labels), "outlier_share": round(noise_share(labels), 4)}


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
    centres = np.asarray(topic_model.topic_embeddings_)[labels[members] + topic_model._outliers]
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
    bertopic_log = logging.getLogger("BERTopic")
    level = bertopic_log.level
    bertopic_log.setLevel(logging.ERROR)  # its warning says: do this last; we do
    try:
        topic_model.update_topics(
            list(docs),
            topics=new,
            top_n_words=topic_model.top_n_words,
            vectorizer_model=topic_model.vectorizer_model,
            ctfidf_model=topic_model.ctfidf_model,
            representation_model=topic_model.representation_model if aspects else None,
        )
    finally:
        bertopic_log.setLevel(level)
    if not aspects:
        topic_model.topic_aspects_ = {}  # the old aspects describe the old assignments
    return [int(t) for t in new]


def topic_table(topic_model: BERTopic, top_n: int = 8, n_words: int = 5) -> pd.DataFrame:
    """The ``top_n`` largest topics: size, and the first ``n_words`` words of each aspect."""
    info = topic_model.get_topic_info()
    info = info[info.Topic != -1].sort_values("Count", ascending=False, kind="stable").head(top_n)
    rows = []
    for topic, count in zip(info.Topic, info.Count, strict=True):
        row = {
            "topic": int(topic),
            "size": int(count),
            "c-TF-IDF": ", ".join(w for w, _ in topic_model.get_topic(topic)[:n_words]),
        }
        for aspect, reps in (topic_model.topic_aspects_ or {}).items():
            row[aspect] = ", ".join(str(w) for w, _ in reps[topic][:n_words])
        rows.append(row)
    return pd.DataFrame(rows).set_index("topic")


def sentiment_by_topic(
    topics: Sequence[int], labels: Sequence[int], min_size: int = 1
) -> pd.DataFrame:
    """Per topic (outliers ``-1`` included): size and share of positive (label 1) documents,
    sorted from most positive to most negative; topics smaller than ``min_size`` dropped.
    Taught in notebook 04, "Topics vs sentiment"."""
    frame = pd.DataFrame({"topic": np.asarray(topics), "positive": np.asarray(labels) == 1})
    table = frame.groupby("topic")["positive"].agg(size="size", positive_share="mean")
    table = table[table["size"] >= min_size]
    table["positive_share"] = table["positive_share"].round(3)
    return table.sort_values(["positive_share", "size"], ascending=[False, False], kind="stable")


# -------------------------------------------------------------------- save and load
def save_topic_model(topic_model: BERTopic, folder: str | Path, embedding_model: str) -> Path:
    """Save with safetensors (topic embeddings and c-TF-IDF; no pickle, no UMAP/HDBSCAN).

    ``embedding_model`` is the name stored as a pointer (e.g. the model's Hub id).
    Taught in notebook 04, "Save, load, predict".
    """
    folder = Path(folder)
    topic_model.save(
        folder, serialization="safetensors", save_ctfidf=True, save_embedding_model=embedding_model
    )
    return folder


def load_topic_model(folder: str | Path, embedding_model: Any) -> BERTopic:
    """Load a folder written by :func:`save_topic_model`; refuse anything but safetensors.

    (``BERTopic.load`` would fall back to ``torch.load`` on a ``.bin`` file or unpickle a
    file path; this never does.) The loaded model predicts new documents by cosine
    similarity to the topic embeddings, so ``transform`` needs ``embedding_model`` or
    precomputed embeddings.
    """
    folder = Path(folder)
    missing = [name for name in SAFE_FILES if not (folder / name).is_file()]
    if not folder.is_dir() or missing:
        raise FileNotFoundError(
            f"{folder} is not a safetensors BERTopic folder (missing: {', '.join(missing)}); "
            "save it with save_topic_model()."
        )
    return BERTopic.load(str(folder), embedding_model=embedding_model)


# ------------------------------------------------------------------------- figures
def save_html(fig: Any, path: str | Path) -> Path:
    """Write a plotly figure as one self-contained HTML file (plotly.js embedded, works
    offline, no CDN). Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.write_html(path, include_plotlyjs=True, full_html=True)
    return path


def show_static(fig: Figure) -> None:
    """Display ``fig`` as a PNG image whatever the matplotlib backend (``Agg`` included),
    then close it, so that an inline backend does not show it a second time."""
    from IPython.display import Image, display

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    display(Image(buffer.getvalue()))


def topic_labels(topic_model: BERTopic, n_words: int = 3) -> dict[int, str]:
    """Readable labels ``"3: pixar, animated, animation"`` from the c-TF-IDF words."""
    return {
        int(t): f"{t}: " + ", ".join(w for w, _ in topic_model.get_topic(t)[:n_words])
        for t in topic_model.get_topic_info().Topic
        if t != -1
    }


def plot_barchart(topic_model: BERTopic, top_n: int = 8, n_words: int = 5) -> Figure:
    """Static twin of ``visualize_barchart``: c-TF-IDF scores of each top topic's words."""
    topics = [t for t in topic_model.get_topic_info().Topic if t != -1][:top_n]
    cols = 4
    rows = -(-len(topics) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(12, 2.2 * rows), squeeze=False)
    for ax, topic in zip(axes.flat, topics, strict=False):
        words, scores = zip(*topic_model.get_topic(topic)[:n_words], strict=True)
        ax.barh(words[::-1], scores[::-1], color="tab:blue")
        ax.set_title(f"Topic {topic}", fontsize=10)
        ax.tick_params(labelsize=8)
    for ax in axes.flat[len(topics) :]:
        ax.axis("off")
    fig.suptitle("Topic word scores (c-TF-IDF)")
    fig.tight_layout()
    return fig


def plot_documents(
    reduced_2d: np.ndarray, topics: Sequence[int], labels: dict[int, str], top_n: int = 10
) -> Figure:
    """Static twin of ``visualize_documents``: the 2-D map, top topics coloured and named."""
    topics = np.asarray(topics)
    fig, ax = plt.subplots(figsize=(8, 6))
    ax.scatter(*reduced_2d[topics == -1].T, s=1, c="lightgrey", label="outliers (-1)")
    shown = [t for t in labels if t != -1][:top_n]
    others = ~np.isin(topics, [-1, *shown])
    ax.scatter(*reduced_2d[others].T, s=1, c="darkgrey")
    cmap = plt.get_cmap("tab10")
    for i, topic in enumerate(shown):
        points = reduced_2d[topics == topic]
        ax.scatter(*points.T, s=2, color=cmap(i % 10))
        ax.annotate(labels[topic], np.median(points, axis=0), fontsize=8, weight="bold")
    ax.set_title(f"Documents and topics (UMAP 2-D); the {len(shown)} largest topics named")
    ax.set_xticks([])
    ax.set_yticks([])
    return fig


def topic_similarity(topic_model: BERTopic) -> tuple[list[int], np.ndarray]:
    """Topic ids (outliers excluded) and the cosine similarity ``(t, t)`` of their topic
    embeddings (what ``visualize_heatmap`` shows)."""
    ids = [t for t in sorted(topic_model.get_topics()) if t != -1]
    vectors = np.asarray(topic_model.topic_embeddings_)[np.asarray(ids) + topic_model._outliers]
    vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return ids, vectors @ vectors.T


def plot_heatmap(topic_model: BERTopic) -> Figure:
    """Static twin of ``visualize_heatmap``: cosine similarity of topic embeddings."""
    ids, sim = topic_similarity(topic_model)
    fig, ax = plt.subplots(figsize=(7, 6))
    image = ax.imshow(sim, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(ids)), ids, fontsize=7)
    ax.set_yticks(range(len(ids)), ids, fontsize=7)
    ax.grid(False)
    fig.colorbar(image, ax=ax, label="cosine similarity")
    ax.set_title("Similarity of topic embeddings")
    return fig


def plot_hierarchy(topic_model: BERTopic, labels: dict[int, str]) -> Figure:
    """Static twin of ``visualize_hierarchy``: Ward linkage of the topics' c-TF-IDF rows on
    cosine distance, as BERTopic computes it."""
    from scipy.cluster import hierarchy
    from sklearn.metrics.pairwise import cosine_similarity

    ids = [t for t in sorted(topic_model.get_topics()) if t != -1]
    rows = topic_model.c_tf_idf_[np.asarray(ids) + topic_model._outliers]
    distance = np.clip(1 - cosine_similarity(rows), 0, None)  # (t, t)
    with warnings.catch_warnings():  # BERTopic feeds the square matrix's rows to Ward too
        warnings.filterwarnings("ignore", category=hierarchy.ClusterWarning)
        linkage = hierarchy.linkage(distance, "ward", optimal_ordering=True)
    fig, ax = plt.subplots(figsize=(8, 0.22 * len(ids) + 1))
    hierarchy.dendrogram(
        linkage,
        orientation="left",
        labels=[labels[t] for t in ids],
        ax=ax,
        color_threshold=0,
        above_threshold_color="tab:blue",
    )
    ax.tick_params(axis="y", labelsize=7)
    ax.grid(False)
    ax.set_title("Hierarchy of topics (Ward linkage on c-TF-IDF)")
    return fig


def plot_topic_map(topics_figure: Any, labels: dict[int, str]) -> Figure:
    """Static twin of ``visualize_topics``: the same intertopic-distance coordinates and
    bubble sizes, read from the plotly figure ``topics_figure`` it returned."""
    trace = topics_figure.data[0]
    x, y = np.asarray(trace.x, dtype=float), np.asarray(trace.y, dtype=float)
    sizes = np.asarray(trace.marker.size, dtype=float)
    topic_ids = [int(c[0]) for c in trace.customdata]
    fig, ax = plt.subplots(figsize=(7, 6))
    area = 1000 * sizes / sizes.max()  # marker sizes are topic sizes; area in points^2
    ax.scatter(x, y, s=area, alpha=0.4, color="tab:blue", edgecolor="black")
    for xi, yi, topic in zip(x, y, topic_ids, strict=True):
        ax.annotate(labels.get(topic, str(topic)).split(":")[0], (xi, yi), fontsize=7)
    ax.set_title("Intertopic distance map (bubble area ~ topic size)")
    ax.set_xticks([])
    ax.set_yticks([])
    return fig
