"""Timing BERTopic's stages through the components it is given, with its public API only.

Taught in notebook 04 (each stage's time printed beside its result). :func:`fit_timed` fits a
:func:`course_utils.topics.pipeline.build_topic_model` model and returns the wall seconds of each
stage: UMAP, HDBSCAN, the vectorizer and c-TF-IDF are subclasses whose public ``fit``/``transform``
record into one :class:`StageClock`; the rest of the fit is the ``represent`` stage.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
from bertopic import BERTopic
from bertopic.vectorizers import ClassTfidfTransformer
from hdbscan import HDBSCAN
from sklearn.feature_extraction.text import CountVectorizer
from umap import UMAP

STAGES = ("embed", "reduce", "cluster", "c-TF-IDF", "represent")  # embed runs before the fit


# -------------------------------------------------------------- timed components
class StageClock:
    """Wall seconds per stage of one topic model's fit, filled by its timed components.

    The components record only inside :meth:`recording` (what :func:`fit_timed` opens), so
    later calls (``transform``, ``reduce_outliers``) do not add to the fit's stages.
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._on = False

    @contextmanager
    def recording(self) -> Iterator[None]:
        """Start from zero and record the stages run inside the ``with`` block."""
        self.seconds, self._on = {}, True
        try:
            yield
        finally:
            self._on = False

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Add the block's wall time to ``name`` (when recording)."""
        start = time.perf_counter()
        try:
            yield
        finally:
            if self._on:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start


class TimedUMAP(UMAP):
    """UMAP whose public ``fit`` is timed as the ``reduce`` stage (see :class:`StageClock`)."""

    clock: StageClock | None = None

    def fit(self, X: Any, y: Any = None, *args: Any, **kwargs: Any) -> TimedUMAP:
        with _stage(self.clock, "reduce"), warnings.catch_warnings():
            # UMAP warns that a precomputed graph has no search index (see make_umap)
            warnings.filterwarnings("ignore", message="precomputed_knn", category=UserWarning)
            return super().fit(X, y, *args, **kwargs)


class TimedHDBSCAN(HDBSCAN):
    """HDBSCAN whose public ``fit`` is timed as the ``cluster`` stage."""

    clock: StageClock | None = None

    def fit(self, X: Any, y: Any = None, *args: Any, **kwargs: Any) -> TimedHDBSCAN:
        with _stage(self.clock, "cluster"):
            return super().fit(X, y, *args, **kwargs)


class TimedCountVectorizer(CountVectorizer):
    """CountVectorizer whose ``fit_transform``/``transform`` count towards ``c-TF-IDF``."""

    clock: StageClock | None = None

    def fit_transform(self, raw_documents: Any, y: Any = None) -> Any:
        with _stage(self.clock, "c-TF-IDF"):
            return super().fit_transform(raw_documents, y)

    def transform(self, raw_documents: Any) -> Any:
        with _stage(self.clock, "c-TF-IDF"):
            return super().transform(raw_documents)


class TimedClassTfidf(ClassTfidfTransformer):
    """ClassTfidfTransformer whose ``fit``/``transform`` count towards ``c-TF-IDF``."""

    clock: StageClock | None = None

    def fit(self, X: Any, multiplier: Any = None) -> TimedClassTfidf:
        with _stage(self.clock, "c-TF-IDF"):
            return super().fit(X, multiplier=multiplier)

    def transform(self, X: Any) -> Any:
        with _stage(self.clock, "c-TF-IDF"):
            return super().transform(X)


@contextmanager
def _stage(clock: StageClock | None, name: str) -> Iterator[None]:
    if clock is None:
        yield
    else:
        with clock.stage(name):
            yield


# -------------------------------------------------------------- the timed pipeline
def stage_clock(topic_model: BERTopic) -> StageClock:
    """The :class:`StageClock` shared by a :func:`build_topic_model` model's components."""
    clock = getattr(topic_model.umap_model, "clock", None)
    if not isinstance(clock, StageClock):
        raise TypeError("this topic model was not made by build_topic_model(): it has no clock")
    return clock


def fit_timed(
    topic_model: BERTopic, documents: Sequence[str], embeddings: np.ndarray
) -> tuple[list[int], dict[str, float]]:
    """``topic_model.fit_transform(documents, embeddings)``, timed stage by stage.

    Returns ``(topics, seconds)``: ``seconds`` has ``reduce`` (UMAP), ``cluster`` (HDBSCAN),
    ``c-TF-IDF`` (counting words and weighting them, every time BERTopic does) and
    ``represent``: the rest of the fit (topic words, optional representation models such as
    KeyBERTInspired and MMR, BERTopic's own bookkeeping), measured as the fit's total minus
    the timed stages. The ``embed`` stage runs before the fit (:func:`embed_documents`).
    Only BERTopic's public API is used: the timing sits in the components it is given.
    """
    clock = stage_clock(topic_model)
    with clock.recording():
        start = time.perf_counter()
        topics, _ = topic_model.fit_transform(list(documents), embeddings)
        total = time.perf_counter() - start
    seconds = {name: clock.seconds.get(name, 0.0) for name in STAGES[1:4]}
    seconds["represent"] = max(total - sum(seconds.values()), 0.0)
    return list(topics), seconds
