"""Saving and loading a fitted BERTopic model with safetensors only (no pickle anywhere).

Taught in notebook 04, "Save, load, predict": the saved folder keeps the topic embeddings and
c-TF-IDF, not UMAP or HDBSCAN, so a loaded model predicts new documents by cosine similarity to
the topic embeddings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bertopic import BERTopic

SAFE_FILES = ("topics.json", "config.json", "topic_embeddings.safetensors")


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
