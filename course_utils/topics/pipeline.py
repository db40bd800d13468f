"""BERTopic, stage by stage: embed -> reduce (UMAP) -> cluster (HDBSCAN) -> c-TF-IDF -> words.

Taught in notebook 04 (BERTopic on Rotten Tomatoes). Every stage is an explicit component
built here, so the notebook can show and time each one:

* **embed**: :func:`load_embedding_model` resolves the encoder exactly as
  :func:`course_utils.core.models.load_encoder` does; :func:`embed_documents` embeds through the
  package's cached :func:`course_utils.embeddings.sentence.encode` with the pooling and
  normalisation that the model's own sentence-transformers configuration declares, so the vectors
  equal ``SentenceTransformer(path).encode(texts)`` and every notebook shares one cache.
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

:func:`fit_timed` records the wall time of each stage of a fit (timed components, BERTopic's
public API only). Models are saved
with safetensors only (:func:`save_topic_model`, :func:`load_topic_model`); interactive
figures are written as self-contained offline HTML (:func:`save_html`) and drawn as static
matplotlib figures beside them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from bertopic import BERTopic
from bertopic.representation import KeyBERTInspired, MaximalMarginalRelevance

from course_utils.core.devices import model_device
from course_utils.core.models import Encoder, load_encoder, resolve_encoder
from course_utils.embeddings.clustering import n_clusters, noise_share
from course_utils.embeddings.sentence import encode
from course_utils.topics.timing import (
    STAGES,
    StageClock,
    TimedClassTfidf,
    TimedCountVectorizer,
    TimedHDBSCAN,
    TimedUMAP,
)


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

    Resolution is :func:`course_utils.core.models.resolve_encoder`'s (one printed line says what
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
        device=str(model_device(encoder.model)),
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
) -> TimedUMAP:
    """BERTopic's UMAP (cosine, ``min_dist=0``), seeded, optionally on a precomputed graph.

    ``knn`` is :func:`nearest_neighbours`' output for the documents the model will be fit
    on (with at least ``n_neighbors`` columns). Without a search index such a UMAP cannot
    ``transform`` *new* documents; the saved model predicts them from topic embeddings.
    """
    extra = {"precomputed_knn": knn} if knn is not None else {}
    return TimedUMAP(
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
) -> TimedHDBSCAN:
    """BERTopic's HDBSCAN (euclidean, prediction data kept).

    ``min_samples=None`` means ``min_samples = min_cluster_size`` (the HDBSCAN default).
    ``selection`` is ``"eom"`` (excess of mass, BERTopic's default: may pick a few huge
    clusters) or ``"leaf"`` (the finest stable clusters). Taught in notebook 04,
    "Outliers: the levers".
    """
    if selection not in ("eom", "leaf"):
        raise ValueError(f"selection must be 'eom' or 'leaf', got {selection!r}")
    return TimedHDBSCAN(
        min_cluster_size=min_cluster_size,
        min_samples=min_samples,
        metric="euclidean",
        cluster_selection_method=selection,
        prediction_data=True,
    )


def outlier_rows(topic_model: BERTopic) -> int:
    """1 when the fitted model has an outlier topic ``-1`` (its row comes first in
    ``topic_embeddings_`` and ``c_tf_idf_``), else 0."""
    return int(-1 in topic_model.topic_sizes_)


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
) -> BERTopic:
    """A ``BERTopic`` assembled from explicit, timed stages (see the module docstring and
    :func:`fit_timed`).

    The defaults reproduce BERTopic's own (``min_topic_size=10``), except that UMAP is seeded
    and may use a precomputed exact ``knn`` graph, and the ``CountVectorizer`` drops English
    stop words (BERTopic's default is a plain ``CountVectorizer``, which keeps them). The
    components are timed subclasses of ``UMAP``, ``HDBSCAN``, ``CountVectorizer`` and
    ``ClassTfidfTransformer`` sharing one clock; their settings (``get_params()``) are those of
    the plain classes, which notebook 04 writes out. ``min_df`` drops words seen in fewer
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
    clock = StageClock()
    umap_model = make_umap(
        n_components, n_neighbors=n_neighbors, knn=knn, random_state=random_state
    )
    hdbscan_model = make_hdbscan(min_cluster_size, min_samples, selection)
    vectorizer = TimedCountVectorizer(stop_words="english", min_df=min_df)
    ctfidf = TimedClassTfidf()
    for component in (umap_model, hdbscan_model, vectorizer, ctfidf):
        component.clock = clock
    return BERTopic(
        embedding_model=sentence_model,
        umap_model=umap_model,
        hdbscan_model=hdbscan_model,
        vectorizer_model=vectorizer,
        ctfidf_model=ctfidf,
        representation_model=representation,
        nr_topics=nr_topics,
        calculate_probabilities=calculate_probabilities,
    )


@contextmanager
def manual_assignments() -> Iterator[None]:
    """Silence BERTopic's warning about passing our own topic assignments to
    ``update_topics`` (it says: make that the last step, which the course does)."""
    log = logging.getLogger("BERTopic")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def update_topic_words(
    topic_model: BERTopic,
    docs: Sequence[str],
    assignments: Sequence[int],
    extra_stop_words: Sequence[str] = (),
) -> None:
    """Recompute every topic's c-TF-IDF words for ``assignments``, with ``extra_stop_words``
    (e.g. :func:`course_utils.embeddings.keywords.domain_stop_words`) dropped beside the English
    ones.

    Uses BERTopic's public ``update_topics``; the topics, their sizes and embeddings stay as
    they are (only the words change), and the extra representations (KeyBERT, MMR) are left
    out. Taught in notebook 04, "The domain's own stop words".
    """
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    vectorizer = TimedCountVectorizer(
        stop_words=sorted(ENGLISH_STOP_WORDS | set(extra_stop_words)),
        min_df=topic_model.vectorizer_model.min_df,
    )
    vectorizer.clock = getattr(topic_model.vectorizer_model, "clock", None)
    with manual_assignments():
        topic_model.update_topics(
            list(docs),
            topics=list(assignments),
            top_n_words=topic_model.top_n_words,
            vectorizer_model=vectorizer,
            ctfidf_model=topic_model.ctfidf_model,
        )
    topic_model.topic_aspects_ = {}  # KeyBERT/MMR words described the old word lists


def topic_words(topic_model: BERTopic, n_words: int = 10) -> list[list[str]]:
    """The top ``n_words`` c-TF-IDF words of every topic but the outliers, by topic id
    (BERTopic's padding of short topics with empty words left out)."""
    return [
        [word for word, _ in topic_model.get_topic(topic)[:n_words] if word]
        for topic in sorted(topic_model.get_topics())
        if topic != -1
    ]


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
