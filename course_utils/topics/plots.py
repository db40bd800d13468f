"""Figures of a fitted BERTopic model: interactive plotly pages saved offline, static twins.

Taught in notebook 04, "Visualisations": each of BERTopic's interactive figures is written as
one self-contained HTML file (:func:`save_html`, plotly.js embedded) and drawn beside it as a
static matplotlib figure that GitHub and the PDF deck can show.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from bertopic import BERTopic
from matplotlib.figure import Figure

from course_utils.topics.pipeline import outlier_rows


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
    """Static twin of ``visualize_documents``: the 2-D map, top topics coloured and named.

    Each name sits at its topic's median point, moved down as far as needed so that no two
    names overlap (:func:`separate_labels`), with a thin line back to that point.
    """
    topics = np.asarray(topics)
    fig, ax = plt.subplots(figsize=(8, 6))
    ax.scatter(*reduced_2d[topics == -1].T, s=1, c="lightgrey", label="outliers (-1)")
    shown = [t for t in labels if t != -1][:top_n]
    others = ~np.isin(topics, [-1, *shown])
    ax.scatter(*reduced_2d[others].T, s=1, c="darkgrey")
    cmap = plt.get_cmap("tab10")
    names = []
    for i, topic in enumerate(shown):
        points = reduced_2d[topics == topic]
        ax.scatter(*points.T, s=2, color=cmap(i % 10))
        centre = np.median(points, axis=0)
        names.append(
            ax.annotate(
                labels[topic], centre, xytext=centre, fontsize=8, weight="bold",
                bbox={"boxstyle": "round,pad=0.2", "fc": "white", "alpha": 0.8, "lw": 0},
                arrowprops={"arrowstyle": "-", "lw": 0.6, "color": cmap(i % 10)},
            )
        )  # fmt: skip
    ax.set_title(f"Documents and topics (UMAP 2-D); the {len(shown)} largest topics named")
    ax.set_xticks([])
    ax.set_yticks([])
    separate_labels(ax, names)
    return fig


def separate_labels(ax: Any, names: Sequence[Any], max_moves: int = 200) -> None:
    """Move annotations (``ax.annotate`` results) down until no two of their boxes overlap.

    Labels are placed top to bottom; one that hits an already placed label moves just below
    it, again until it is clear. Deterministic, so a figure is the same every run.
    """
    from matplotlib.text import Text

    renderer = ax.figure.canvas.get_renderer()
    to_data = ax.transData.inverted()

    def extent(name: Any) -> Any:  # the text alone, not the line back to its point
        name.update_positions(renderer)
        return Text.get_window_extent(name, renderer)

    placed: list[Any] = []
    for name in sorted(names, key=lambda n: -n.xyann[1]):
        for _ in range(max_moves):
            box = extent(name)
            hit = next((other for other in placed if box.overlaps(other)), None)
            if hit is None:
                break
            step = box.y1 - hit.y0 + 2.0  # display units: top of this box below the other
            (_, y_top), (_, y_low) = to_data.transform([(0.0, 0.0), (0.0, -step)])
            x, y = name.xyann
            name.xyann = (x, y + (y_low - y_top))
        placed.append(extent(name))


def topic_similarity(topic_model: BERTopic) -> tuple[list[int], np.ndarray]:
    """Topic ids (outliers excluded) and the cosine similarity ``(t, t)`` of their topic
    embeddings (what ``visualize_heatmap`` shows)."""
    ids = [t for t in sorted(topic_model.get_topics()) if t != -1]
    vectors = np.asarray(topic_model.topic_embeddings_)[np.asarray(ids) + outlier_rows(topic_model)]
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
    rows = topic_model.c_tf_idf_[np.asarray(ids) + outlier_rows(topic_model)]
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
